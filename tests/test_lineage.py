"""Defect lineage by id: every vacancy energy is taken against its own parent, on the hard hosts.

The energies here are synthetic and built independently of lrox's ids and orbits: each
configuration's energy is a sum over its defects of an electrostatic site potential of the
pristine host at the defect's position (equal on equivalent sites, different on inequivalent
ones), plus a pair term. A vacancy energy taken against the wrong parent (another Ti site with
the same label, as the label-keyed lookup did) or a ΔE_vac against another O orbit's isolated
vacancy then shows up as a wrong number.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from descriptors.records.extractor import records_from_result
from structures.configurations import enumerate_configurations
from structures.framework import DefectFramework
from structures.hosts import load_host
from structures.sublattices import parse_dopant, parse_vacancy

PROVENANCE = {"backend": "mock", "level_of_theory": "synthetic", "settings_hash": "s", "settings": {}, "o2_correction": "none"}
HALF_O2 = -4.5  # eV, the synthetic ½E(O2)
PAIR_STRENGTH = 0.3  # eV·Å: the synthetic defect–defect interaction is PAIR_STRENGTH / distance


def site_potential(host_structure, frac) -> float:
    """Σ q_j / r_j over the pristine host's ions within 7 Å of a position (formal charges)."""
    cart = host_structure.lattice.get_cartesian_coords(frac)
    total = 0.0
    for neighbour in host_structure.get_sites_in_sphere(cart, 7.0):
        r = float(np.linalg.norm(neighbour.coords - cart))
        if r > 0.1:
            total += neighbour.properties["oxi"] / r
    return total


def synthetic_result(framework, configurations) -> tuple[dict, dict]:
    """A screen result whose relaxed energies are the synthetic ones; also the energy per config."""
    host = framework.structure
    energy = {}
    for config in configurations:
        e = -100.0 + sum((1.0 if d.kind == "vacancy" else 0.5) * site_potential(host, d.frac_coords) for d in config.defects)
        if config.pair_distance is not None:
            e += PAIR_STRENGTH / config.pair_distance
        energy[config.id] = e
    documents = [
        {"kind": "relax", "label": f"relax {c.id}", "configuration_id": c.id, "status": "success", "energy": energy[c.id], "provenance": PROVENANCE}
        for c in configurations
    ]
    documents.append({"kind": "reference", "label": "reference O2", "species": "O2", "status": "success", "energy_per_atom": HALF_O2, "provenance": PROVENANCE})
    result = {
        "screen": "lineage",
        "host": framework.host.name,
        "supercell": list(framework.dims),
        "backend": "mock",
        "level_of_theory": "synthetic",
        "settings_hash": "s",
        "configurations": [c.summary() for c in configurations],
        "documents": documents,
        "n_failed": 0,
    }
    return result, energy


def check_every_vacancy_energy_uses_its_own_parent(framework, configurations):
    result, _ = synthetic_result(framework, configurations)
    rows = records_from_result(result)[2]
    e_vac = {r["configuration_id"]: r for r in rows if r["name"] == "e_vac_o"}
    delta = {r["configuration_id"]: r for r in rows if r["name"] == "delta_e_vac_o"}
    by_id = {c.id: c for c in configurations}
    checked_pairs = 0
    for config in configurations:
        vacancies = [d for d in config.defects if d.kind == "vacancy"]
        if len(vacancies) != 1:
            continue
        vacancy = vacancies[0]
        expected = site_potential(framework.structure, vacancy.frac_coords) + HALF_O2
        if config.pair_distance is not None:
            expected += PAIR_STRENGTH / config.pair_distance
        row = e_vac[config.id]
        assert row["status"] == "ok", row["flags"]
        assert row["value"] == pytest.approx(expected, abs=1e-9), config.name
        parent = by_id[row["details"]["relative_to"]]
        assert [d.point for d in parent.defects] == [d.point for d in config.defects if d.kind != "vacancy"] or parent.id == config.parent_ids[config.defects.index(vacancy)]
        if config.pair_distance is not None:  # ΔE against the isolated vacancy of the same O orbit
            assert delta[config.id]["value"] == pytest.approx(PAIR_STRENGTH / config.pair_distance, abs=1e-9), config.name
            checked_pairs += 1
    return checked_pairs


def test_li_rich_host_pairs_use_their_own_parent_and_their_own_isolated_vacancy():
    framework = DefectFramework.from_host(load_host("lirich"), (1, 1, 1))
    configs = enumerate_configurations(framework, [parse_dopant("Ti:Mn")], [parse_vacancy("O")], pair_cutoff=3.0, pair_kinds=("dopant-vacancy",))
    singles = [c for c in configs if len(c.defects) == 1 and c.defects[0].species == "Ti"]
    # the hard case: many inequivalent Ti sites and O sites share a label
    assert len(singles) > 1 and len({d.host_label for c in singles for d in c.defects}) == 1
    assert check_every_vacancy_energy_uses_its_own_parent(framework, configs) > 10
    # and a chemist can tell every configuration apart by its name
    assert len({c.name for c in configs}) == len(configs)
    assert not any(" V on " in c.name or c.name.startswith("V on") for c in configs)


def test_user_p1_cell_where_every_o_is_o_1a(tmp_path):
    structure = load_host("li2mno3").structure.copy()
    for key in list(structure.site_properties):
        structure.remove_site_property(key)
    structure.perturb(0.08, min_distance=0.04)  # no symmetry left: a user's relaxed P1 cell
    path = tmp_path / "POSCAR"
    structure.to(filename=str(path), fmt="poscar")
    host = load_host(path)
    assert {site.properties["label"] for site in host.structure if site.specie.symbol == "O"} == {"O(1a)"}
    framework = DefectFramework.from_host(host, (1, 1, 1))
    configs = enumerate_configurations(framework, [parse_dopant("Ti:Mn")], [parse_vacancy("O")], pair_cutoff=3.0, pair_kinds=("dopant-vacancy",))
    assert Counter(len(c.defects) for c in configs)[1] == 4 + 12  # every Mn and every O is its own orbit
    assert check_every_vacancy_energy_uses_its_own_parent(framework, configs) > 10
    assert len({c.name for c in configs}) == len(configs)


def test_lineage_ids_name_the_configuration_minus_one_defect(li2mno3_96):
    configs = enumerate_configurations(li2mno3_96, [parse_dopant("Al:tm")], [parse_vacancy("O")], pair_cutoff=3.0)
    by_id = {c.id: c for c in configs}
    pristine = configs[0]
    for config in configs[1:]:
        for k, defect in enumerate(config.defects):
            parent = by_id[config.parent_ids[k]]  # every parent was enumerated too
            single = by_id[config.defect_ids[k]]
            assert len(parent.defects) == len(config.defects) - 1
            assert len(single.defects) == 1 and single.defects[0].kind == defect.kind
            if len(config.defects) == 1:
                assert parent is pristine and single is config


def test_a_result_without_lineage_fails_the_vacancy_energy_instead_of_guessing(li2mno3_96):
    configs = enumerate_configurations(li2mno3_96, [], [parse_vacancy("O")])
    result, _ = synthetic_result(li2mno3_96, configs)
    for summary in result["configurations"]:
        summary.pop("parent_ids")
    rows = [r for r in records_from_result(result)[2] if r["name"] == "e_vac_o"]
    assert rows and all(r["status"] == "failed" and r["value"] is None and "lineage" in r["flags"][0] for r in rows)


def test_the_same_defects_in_a_smaller_cell_are_the_configurations_enumerated_there():
    """GPAW statics may run in a 48-atom cell beside 96-atom NEBs: every configuration that fits is
    the one enumerated in the small cell (same id), and a pair that would meet its own periodic
    image there is refused, never silently replaced by another pair."""
    from structures.configurations import same_defects_in

    host = load_host("li2mno3")
    big, small = DefectFramework.from_host(host, (2, 1, 2)), DefectFramework.from_host(host, (2, 1, 1))
    specs = ([parse_dopant("Ti:Mn")], [parse_vacancy("O")])
    in_big = enumerate_configurations(big, *specs, pair_cutoff=5.5)
    in_small = {c.id: c for c in enumerate_configurations(small, *specs, pair_cutoff=5.5)}
    mapped = {c.id: same_defects_in(c, big, small) for c in in_big}
    fitting = [c for c in in_big if mapped[c.id] is not None]
    assert {c.id for c in in_big if len(c.defects) <= 1} <= {c.id for c in fitting}  # every single fits
    for config in fitting:
        rebuilt = mapped[config.id]
        assert rebuilt.id in in_small and rebuilt.supercell == [2, 1, 1]
        assert [d.kind for d in rebuilt.defects] == [d.kind for d in config.defects]
        assert [d.species for d in rebuilt.defects] == [d.species for d in config.defects]
        if config.pair_distance is not None:
            a, b = rebuilt.defects
            assert small.structure.lattice.get_all_distances(a.frac_coords, b.frac_coords)[0, 0] == pytest.approx(config.pair_distance, abs=0.05)
    refused = [c for c in in_big if mapped[c.id] is None]
    assert refused and all(len(c.defects) == 2 for c in refused)  # pairs longer than the small cell allows
