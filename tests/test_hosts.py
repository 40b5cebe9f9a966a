"""Built-in hosts match their literature structures; user files get the same labels."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from structures.errors import LroxInputError
from structures.hosts import builtin_host_names, load_host
from structures.labels import LI_LAYER, TM_LAYER


def _bond_lengths(structure: Structure, element: str, cutoff: float = 2.5) -> list[float]:
    i = next(k for k, s in enumerate(structure) if s.specie.symbol == element)
    return sorted(n.nn_distance for n in structure.get_neighbors(structure[i], cutoff) if n.specie.symbol == "O")


def test_li2mno3_is_c2m_with_the_honeycomb_wyckoff_sites():
    host = load_host("li2mno3")
    s = host.structure
    assert SpacegroupAnalyzer(s, symprec=1e-3).get_space_group_symbol() == "C2/m"
    assert s.composition.reduced_formula == "Li2MnO3"
    labels = set(s.site_properties["label"])
    assert labels == {
        "Li(2b, TM layer)",
        "Li(2c, Li layer)",
        "Li(4h, Li layer)",
        "Mn(4g, TM layer)",
        "O(4i)",
        "O(8j)",
    }
    # octahedral Mn4+: Mn–O 1.90–1.92 Å in the refined structure
    assert np.allclose(_bond_lengths(s, "Mn"), 1.91, atol=0.02)
    assert len(_bond_lengths(s, "Mn")) == 6


def test_tm_layer_is_one_third_li_in_a_honeycomb():
    s = load_host("li2mno3").structure
    tm_layer = [site.specie.symbol for site in s if site.properties["layer"] == TM_LAYER]
    li_layer = [site.specie.symbol for site in s if site.properties["layer"] == LI_LAYER]
    assert tm_layer.count("Li") * 3 == len(tm_layer)
    assert set(li_layer) == {"Li"}


@pytest.mark.parametrize(
    ("name", "tm", "tm_o"),
    [("licoo2", "Co", 1.92), ("linio2", "Ni", 1.97), ("limno2", "Mn", 2.03)],
)
def test_r3m_hosts(name, tm, tm_o):
    s = load_host(name).structure
    assert SpacegroupAnalyzer(s, symprec=1e-3).get_space_group_symbol() == "R-3m"
    assert set(s.site_properties["label"]) == {"Li(3b, Li layer)", f"{tm}(3a, TM layer)", "O(6c)"}
    assert np.allclose(_bond_lengths(s, tm), tm_o, atol=0.01)


def test_lirich_model_is_charge_balanced_and_reproducible():
    host = load_host("li1.2ni0.2mn0.6o2")
    s = host.structure
    assert s.composition.reduced_composition.as_dict() == {"Li": 6, "Ni": 1, "Mn": 3, "O": 10}
    assert sum(site.properties["oxi"] for site in s) == 0
    # Ni sits in the TM layer only, Li layer is all Li
    assert all(site.properties["layer"] == TM_LAYER for site in s if site.specie.symbol == "Ni")
    assert {site.specie.symbol for site in s if site.properties["layer"] == LI_LAYER} == {"Li"}
    assert load_host("lirich").fingerprint() == host.fingerprint()


def test_lirich_ordering_is_the_lowest_ewald_energy_one():
    from pymatgen.analysis.ewald import EwaldSummation

    s = load_host("li1.2ni0.2mn0.6o2").structure

    def ewald(structure):
        t = structure.copy()
        t.add_oxidation_state_by_site([site.properties["oxi"] for site in t])
        return EwaldSummation(t, compute_forces=False).total_energy

    chosen = ewald(s)
    # swapping any Ni with a TM-layer Mn (keeping charge) must not lower the energy
    ni = [i for i, site in enumerate(s) if site.specie.symbol == "Ni"]
    mn = [i for i, site in enumerate(s) if site.specie.symbol == "Mn"][:4]
    for i in ni[:2]:
        for j in mn:
            trial = s.copy()
            trial.replace(i, "Mn", properties={**s[i].properties, "oxi": 4})
            trial.replace(j, "Ni", properties={**s[j].properties, "oxi": 2})
            # same composition needs a compensating swap: Mn4+ on a Ni2+ site raises the charge by +2,
            # Ni2+ on a Mn4+ site lowers it by 2: neutral
            assert sum(site.properties["oxi"] for site in trial) == 0
            assert ewald(trial) >= chosen - 1e-6


def test_every_builtin_loads_with_labels_everywhere():
    for name in builtin_host_names():
        s = load_host(name).structure
        assert all(s.site_properties["label"])
        assert all(w for w in s.site_properties["wyckoff"])


def test_user_poscar_gets_wyckoff_and_layer_labels(tmp_path):
    reference = load_host("licoo2").structure
    path = tmp_path / "LCO.vasp"
    reference.to(filename=str(path), fmt="poscar")
    host = load_host(path)
    assert host.name == "LCO"
    labels = set(host.structure.site_properties["label"])
    assert {lab.split("(")[0] for lab in labels} == {"Li", "Co", "O"}
    assert any("Li layer" in lab for lab in labels) and any("TM layer" in lab for lab in labels)
    assert host.fingerprint() == load_host("licoo2").fingerprint()


def test_user_cif_is_read(tmp_path):
    path = tmp_path / "li2mno3.cif"
    load_host("li2mno3").structure.to(filename=str(path))
    host = load_host(path)
    assert host.structure.composition.reduced_formula == "Li2MnO3"
    # spglib's standard setting gives the literature Wyckoff letters back
    assert set(host.structure.site_properties["label"]) == set(load_host("li2mno3").structure.site_properties["label"])


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("li3mno9", "unknown host 'li3mno9'"),
        ("/nonexistent/POSCAR", "no such file"),
    ],
)
def test_bad_hosts_name_the_problem(source, message):
    with pytest.raises(LroxInputError, match=message):
        load_host(source)


def test_unreadable_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "POSCAR"
    bad.write_text("this is not a POSCAR\n1.0\n")
    with pytest.raises(LroxInputError, match="cannot read structure file"):
        load_host(bad)
