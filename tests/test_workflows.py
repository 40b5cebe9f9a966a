"""Screens on the mock backend: the whole Flow runs, failures are recorded, specs are checked, dry runs write inputs."""

from __future__ import annotations

from collections import Counter

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from jobflow import run_locally

from descriptors.physics.barriers import migration_barrier
from structures.errors import LroxInputError
from workflows.flows import ScreenMaker, plan_screen
from workflows.jobs import as_dict, relax_structure, settings_hash
from workflows.jobs import local_job_store
from workflows.spec import Backend, load_spec, spec_from_dict

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BASE = {"name": "t", "host": "li2mno3", "supercell": "1x1x1", "dopants": ["Ti:tm"], "vacancies": ["O"], "hops": {"per_configuration": 1}, "backend": "mock"}


def run(spec):
    flow = ScreenMaker().make(spec)
    responses = run_locally(flow, store=local_job_store(), log=False)
    return flow, as_dict(next(iter(responses[flow.output.uuid].values())).output)


def status(doc):
    return str(getattr(doc["status"], "value", doc["status"]))


@pytest.fixture(scope="module")
def mock_screen():
    return run(spec_from_dict(BASE))


def test_plan_has_host_reference_hops(mock_screen):
    spec = spec_from_dict(BASE)
    plan = plan_screen(spec)
    pristine = next(c for c in plan.configurations if not c.defects)
    defect_ids = [c.id for c in plan.configurations if c.defects]
    assert all(len(plan.hops[i]) == 1 for i in defect_ids)
    # each defect hop has its pristine counterpart among the host reference hops
    assert 1 <= len(plan.hops[pristine.id]) <= len(defect_ids)
    assert plan.references == ["O2"]


def test_a_li_vacancy_screen_also_runs_the_nearest_tetrahedral_path_hop():
    """The hops nearest a Li vacancy end in the vacancy itself (a mono-vacancy, so a dumbbell hop);
    the divacancy hops one shell out can take the tetrahedral path: the nearest of each n-TM class runs too."""
    from structures.hops import HopMechanism

    data = {**BASE, "supercell": "2x1x2", "dopants": [], "vacancies": ["Li"]}
    plan = plan_screen(spec_from_dict(data))
    vacancies = [c for c in plan.configurations if c.defects]
    assert len(vacancies) == 3
    for config in vacancies:
        hops = plan.hops[config.id]
        assert hops[0].mechanism == HopMechanism.ODH and HopMechanism.TSH in [h.mechanism for h in hops]
        tsh = [h.n_tm for h in hops if h.mechanism == HopMechanism.TSH]
        assert len(tsh) == len(set(tsh))  # one per n-TM class
    without = plan_screen(spec_from_dict({**data, "hops": {"per_configuration": 1, "nearest_tsh": False}}))
    assert all([h.mechanism for h in without.hops[c.id]] == [HopMechanism.ODH] for c in without.configurations if c.defects)
    two = plan_screen(spec_from_dict({**data, "hops": {"per_configuration": 1, "nearest_tsh": 2}}))  # to rank, not only find
    for config in vacancies:
        tsh = [h for h in two.hops[config.id] if h.mechanism == HopMechanism.TSH]
        assert len({h.id for h in tsh}) == len(tsh) and max(Counter(h.n_tm for h in tsh).values()) <= 2
        assert {h.id for h in plan.hops[config.id]} <= {h.id for h in two.hops[config.id]}  # the nearest ones first
    assert sum(len(two.hops[c.id]) for c in vacancies) > sum(len(plan.hops[c.id]) for c in vacancies)
    for bad in (-1, 101, "two", 2.5):
        with pytest.raises(LroxInputError, match="nearest_tsh"):
            plan_screen(spec_from_dict({**data, "hops": {"nearest_tsh": bad}}))


def test_hops_run_only_for_the_configurations_a_spec_selects():
    """Pairs can be relaxed only (their E_vac(O) and geometry) while single defects get bands; a
    prefix ending in '*' selects by the start of the name, so "V_O(*" is the isolated vacancies."""
    data = {**BASE, "supercell": "2x1x2", "pair_cutoff": 1.93, "pair_kinds": ["dopant-vacancy"], "hops": {"per_configuration": 1, "configurations": ["V_O(*", "Ti on Mn(4g, TM layer)"]}}
    plan = plan_screen(spec_from_dict(data))
    with_hops = {c.name for c in plan.configurations if c.defects and plan.hops.get(c.id)}
    pairs = [c.name for c in plan.configurations if len(c.defects) == 2]
    assert with_hops == {"V_O(4i)", "V_O(8j)", "Ti on Mn(4g, TM layer)"} and len(pairs) == 3
    ti = next(c for c in plan.configurations if c.name == "Ti on Mn(4g, TM layer)")
    by_id = plan_screen(spec_from_dict({**data, "hops": {"configurations": [ti.id]}}))
    assert [c.name for c in by_id.configurations if c.defects and by_id.hops.get(c.id)] == [ti.name]
    with pytest.raises(LroxInputError, match="matches no defect configuration"):
        plan_screen(spec_from_dict({**data, "hops": {"configurations": ["Tl on*"]}}))


def test_full_flow_runs_on_mock_and_every_job_is_recorded(mock_screen):
    flow, result = mock_screen
    docs = result["documents"]
    assert len(docs) == len(flow.jobs) - 1  # every job but the collector
    kinds = {d["kind"] for d in docs}
    assert kinds == {"relax", "static", "bader", "neb", "reference"}
    assert result["n_failed"] == 0
    assert result["level_of_theory"].startswith("mock")  # never mistaken for physics
    assert all(d["provenance"]["backend"] == "mock" for d in docs)
    # the mock has no electrons: static and Bader are 'not available', never numbers
    for d in docs:
        if d["kind"] in ("static", "bader"):
            assert status(d) == "not_available" and d.get("dos") is None and d.get("charges") is None
    nebs = [d for d in docs if d["kind"] == "neb"]
    assert all(status(d) == "success" and len(d["energies"]) == 5 and len(d["images"]) == 5 for d in nebs)
    for d in nebs:
        b = migration_barrier(d["energies"])
        assert b.forward >= 0 and b.reverse >= 0


def test_barriers_next_to_defects_in_an_unconverged_cell_say_so(mock_screen):
    """The 24-atom cell puts a defect 4.9 Å from its image: the plan warns, and every barrier of a
    defect configuration carries 'cell not converged (Δ = …)' with the measured Δ; the pristine
    host's hops (converged at 5 Å, benchmarks/RESULTS.md) do not."""
    from descriptors.records.extractor import records_from_result
    from structures.supercell import FINITE_SIZE_DELTA

    _, result = mock_screen
    plan = plan_screen(spec_from_dict(BASE))
    assert result["min_image_distance"] == pytest.approx(plan.framework.min_image_distance, abs=1e-3) and result["min_image_distance"] < 8.0
    assert any("cell not converged" in line for line in plan.describe())
    _, _, rows = records_from_result(result)
    pristine = next(c["id"] for c in result["configurations"] if not c["defects"])
    barriers = [r for r in rows if r["name"] == "barrier" and r["value"] is not None]
    defect_rows = [r for r in barriers if r["configuration_id"] != pristine]
    assert defect_rows and all(r["status"] == "flagged" for r in defect_rows)
    assert all(any(f.startswith(f"cell not converged (Δ = {FINITE_SIZE_DELTA[1]:+.2f} eV") for f in r["flags"]) for r in defect_rows)
    assert not any("cell not converged" in f for r in barriers if r["configuration_id"] == pristine for f in r["flags"])
    # in the converged cell nothing is flagged for size
    big = plan_screen(spec_from_dict({**BASE, "supercell": "2x1x2"}))
    assert not any("cell not converged" in line for line in big.describe())


def test_forced_failure_is_recorded_and_the_rest_completes():
    spec = spec_from_dict({**BASE, "mock": {"fail": ["V_O(8j)"]}})
    _, result = run(spec)
    docs = result["documents"]
    failed = [d for d in docs if status(d) == "failed"]
    assert failed and all("V_O(8j)" in d["label"] for d in failed)
    relax_fail = next(d for d in failed if d["kind"] == "relax")
    assert "forced to fail" in relax_fail["reason"] and relax_fail.get("energy") is None
    neb_fail = next(d for d in failed if d["kind"] == "neb")
    assert "configuration relaxation failed" in neb_fail["reason"] and neb_fail.get("energies") is None
    others = [d for d in docs if "V_O(8j)" not in d["label"] and d["kind"] in ("relax", "neb")]
    assert others and all(status(d) == "success" for d in others)
    assert result["n_failed"] == len(failed)


def test_failed_neb_job_is_recorded():
    spec = spec_from_dict({**BASE, "mock": {"fail": ["neb"]}})
    _, result = run(spec)
    nebs = [d for d in result["documents"] if d["kind"] == "neb"]
    assert nebs and all(status(d) == "failed" and "forced to fail" in d["reason"] for d in nebs)
    assert all(status(d) == "success" for d in result["documents"] if d["kind"] == "relax")


def test_non_converged_relaxation_is_a_failure_not_a_number():
    from structures import load_host

    doc = relax_structure(load_host("li2mno3").structure, "mock", {"relax_steps": 1, "relax_fmax": 1e-6}, "tight relax")
    assert status(doc.model_dump()) == "failed" and "not converged in 1 steps" in doc.reason


def test_settings_hash_changes_with_settings():
    assert settings_hash("mlip", {"model": "chgnet"}) == settings_hash("mlip", {"model": "chgnet"})
    assert settings_hash("mlip", {"model": "chgnet"}) != settings_hash("mlip", {"model": "7net-0"})
    assert settings_hash("mlip", {"model": "chgnet"}) != settings_hash("mock", {"model": "chgnet"})


# ----- specs ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"bogus": 1}, "unknown key 'bogus'"),
        ({"backend": "gaussian"}, "unknown value 'gaussian'"),
        ({"host": "nohost.cif"}, "neither a built-in host nor an existing file"),
        ({"hops": {"cutof": 3}}, "unknown key 'hops.cutof'"),
        ({"mlip": {"neb_steps": "many"}}, "'mlip.neb_steps' must be an integer"),
        ({"dopants": ["Xx:tm"]}, "unknown element 'Xx'"),
        ({"pair_cutoff": -1}, "'pair_cutoff' must be positive"),
        ({"supercell": "2x2"}, "bad supercell"),
        ({"name": "bad name/with slash"}, "spec 'name'"),
    ],
)
def test_bad_specs_fail_before_anything_runs(change, message):
    with pytest.raises(LroxInputError, match=message):
        spec_from_dict({**BASE, **change})


def test_backend_override_and_relative_host_path(tmp_path):
    from structures import load_host

    load_host("licoo2").structure.to(filename=str(tmp_path / "lco.cif"))
    spec_file = tmp_path / "screen.yaml"
    spec_file.write_text(yaml.safe_dump({**BASE, "host": "lco.cif", "dopants": ["Al:tm"], "vacancies": []}))
    spec = load_spec(spec_file, backend="vasp")
    assert spec.backend is Backend.VASP and plan_screen(spec).host.name == "lco"


def test_examples_are_valid_specs():
    for path in sorted(EXAMPLES.glob("*.yaml")):
        assert load_spec(path).name == path.stem


# ----- dry runs ------------------------------------------------------------------------------------
def test_the_cost_estimate_is_printed_to_the_two_figures_its_model_can_claim():
    from workflows.dryrun import about

    assert about(8276652.54) == "8,300,000"
    assert about(1234.5) == "1,200"
    assert about(0.0213) == "0.021"


def test_vasp_dry_run_writes_a_complete_input_tree(tmp_path):
    from workflows.dryrun import dry_run

    spec = spec_from_dict({**BASE, "backend": "vasp"})
    summary = dry_run(spec, tmp_path / "tree")
    tree = tmp_path / "tree"
    counts = summary["jobs_by_kind"]
    assert counts["static"] == summary["configurations"] == 4
    assert counts["neb"] == summary["hops"]
    assert counts["relax"] == 4 + 2 * counts["neb"]  # configurations + two end points per hop
    assert summary["core_hours_estimate"] > 0
    relax_dirs = sorted(tree.glob("*/relax"))
    assert len(relax_dirs) == 4
    for folder in relax_dirs + sorted(tree.glob("*/static")):
        assert {p.name for p in folder.iterdir()} >= {"INCAR", "KPOINTS", "POSCAR", "POTCAR.spec"}
        assert not (folder / "POTCAR").exists()
    from pymatgen.io.vasp import Incar

    host_relax = Incar.from_file(relax_dirs[0] / "INCAR")
    assert host_relax["ISIF"] == 3 and host_relax["LDAU"] and host_relax["ENCUT"] == 520
    defect_relax = Incar.from_file(relax_dirs[1] / "INCAR")
    assert defect_relax["ISIF"] == 2
    static = Incar.from_file(next(tree.glob("*/static")) / "INCAR")
    assert static["LORBIT"] == 11 and static["LAECHG"] and static["NEDOS"] == 3001 and static["LCHARG"]
    neb = next(tree.glob("*/neb_*"))
    incar = Incar.from_file(neb / "INCAR")
    assert incar["IMAGES"] == 5 and incar["LCLIMB"] and incar["IBRION"] == 3 and incar["IOPT"] == 1 and incar["SPRING"] == -5
    assert incar["ENCUT"] == 520 and incar["LDAU"]  # same Hamiltonian as the relaxations
    assert sorted(p.name for p in neb.iterdir() if p.name.isdigit()) == [f"{k:02d}" for k in range(7)]
    assert (neb / "endpoint_0" / "INCAR").exists() and (neb / "endpoint_1" / "POSCAR").exists()
    # the O2 reference for μ_O: a molecule in a box, Γ only, fixed box, spin-polarised, no U
    assert counts["reference"] == 1
    o2 = Incar.from_file(tree / "reference_O2" / "INCAR")
    assert o2["ISIF"] == 2 and o2["ISPIN"] == 2 and not o2.get("LDAU", False) and o2["ENCUT"] == 520
    assert (tree / "reference_O2" / "KPOINTS").read_text().split("\n")[3].split() == ["1", "1", "1"]
    written = json.loads((tree / "dry_run.json").read_text())
    assert written["jobs_by_kind"] == counts


def test_dry_run_refuses_a_non_empty_folder(tmp_path):
    from workflows.dryrun import dry_run

    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(LroxInputError, match="not empty"):
        dry_run(spec_from_dict(BASE), tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "precious"


def test_vasp_flow_uses_atomate2_makers():
    spec = spec_from_dict({**BASE, "backend": "vasp"})
    flow = ScreenMaker().make(spec)
    names = [j.name for j in flow.jobs]
    assert sum(n.startswith("relax") for n in names) == 4
    assert sum(n.startswith("static") for n in names) == 4
    assert any(n.startswith("neb") for n in names)
    static = next(j for j in flow.jobs if j.name.startswith("static"))
    maker = static.maker
    # the Bader program runs only where atomate2's switch and the binary say so (never forced:
    # a worker without 'bader' would fail every static); lrox reads charges from the run folder
    assert "run_bader" not in maker.task_document_kwargs
    incar = maker.input_set_generator.user_incar_settings
    assert incar["LAECHG"] is True and incar["LCHARG"] is True and incar["LORBIT"] == 11


def _divacancy_hop_neb(monkeypatch=None, edge_observed=None):
    """One Li(2c)-vacancy hop that the vacancy opens to the tetrahedral route, through hop_neb on
    the mock; ``edge_observed`` forces what the edge band is read to have crossed."""
    from structures.hops import HopMechanism, enumerate_hops
    from workflows import jobs

    spec = spec_from_dict({**BASE, "dopants": [], "vacancies": ["Li:2c"], "hops": {"per_configuration": 0}})
    plan = plan_screen(spec)
    vacancy = next(c for c in plan.configurations if c.defects)
    # the second hop the vacancy opens to the tetrahedral route: its edge band converges on the
    # mock (the first one's runs out of steps)
    hop = [h for h in enumerate_hops(plan.framework, vacancy, max_defect_distance=3.0) if h.mechanism is HopMechanism.TSH][1]
    if edge_observed is not None:
        summary = jobs._route_summary

        def read_as(route, neb, hop):
            out = summary(route, neb, hop)
            return {**out, "mechanism_observed": edge_observed} if route == "edge" else out

        monkeypatch.setattr(jobs, "_route_summary", read_as)
    settings = spec.settings_for_backend()
    relaxed = jobs.relax_structure(vacancy.structure, "mock", settings, "relax", vacancy.id)
    return jobs.hop_neb(relaxed, plan.host, list(plan.framework.dims), vacancy, hop, "mock", settings, "neb").model_dump()


def test_a_divacancy_hop_whose_edge_band_stays_on_the_edge_also_runs_the_tetrahedral_band(monkeypatch):
    """Li(2c) vacancy: its neighbouring hops open the tetrahedral route. An edge band that did not
    cross the tetrahedral site may have missed a lower path: a band led through it runs from the
    same end points; the hop's profile is the lower-saddle route, stored with its name."""
    doc = _divacancy_hop_neb(monkeypatch, edge_observed="ODH")
    assert status(doc) == "success"
    routes = {r["route"]: r for r in doc["routes"]}
    assert set(routes) == {"edge", "tetrahedral"} and "skipped" not in routes["tetrahedral"]
    lower = min(routes.values(), key=lambda r: r["saddle_energy"])
    assert doc["route"] == lower["route"] and doc["energies"] == lower["energies"]
    assert routes["tetrahedral"]["mechanism_observed"] in ("TSH", "ODH")  # where the band ended up, measured
    assert doc["force_calls"] > sum(r["force_calls"] for r in routes.values())  # both bands and the end points counted


def test_a_divacancy_hop_whose_edge_band_crossed_the_tetrahedral_site_skips_the_second_band(monkeypatch):
    doc = _divacancy_hop_neb(monkeypatch, edge_observed="TSH")
    assert status(doc) == "success"
    edge, skipped = doc["routes"]
    assert edge["converged"]
    assert edge["route"] == "edge" and doc["route"] == "edge" and doc["energies"] == edge["energies"]
    assert skipped == {"route": "tetrahedral", "skipped": "the edge band converged through the tetrahedral site (observed TSH)"}
    assert doc["n_steps"] == edge["n_steps"]  # one band ran


def test_only_a_hop_expected_to_take_the_tetrahedral_path_can_need_its_band():
    from structures.hops import HopMechanism, enumerate_hops
    from workflows.jobs import tetrahedral_band_needed

    # the 96-atom Li-rich cell of the screens, where many inequivalent Li sites share a label
    spec = spec_from_dict({**BASE, "supercell": "2x1x2", "dopants": [], "vacancies": ["Li:2c"], "hops": {"per_configuration": 0}})
    plan = plan_screen(spec)
    vacancy = next(c for c in plan.configurations if c.defects)
    hops = enumerate_hops(plan.framework, vacancy, max_defect_distance=3.0)
    tsh = next(h for h in hops if h.mechanism is HopMechanism.TSH)
    odh = next(h for h in hops if h.mechanism is HopMechanism.ODH)
    assert tetrahedral_band_needed(odh, {"converged": True, "mechanism_observed": "ODH"}) == (False, "")
    assert tetrahedral_band_needed(tsh, {"converged": True, "mechanism_observed": "ODH"})[0]
    assert tetrahedral_band_needed(tsh, {"converged": False, "mechanism_observed": "TSH"})[0]  # an unconverged band proves nothing
    assert not tetrahedral_band_needed(tsh, {"converged": True, "mechanism_observed": "TSH"})[0]


def test_two_settings_of_one_level_are_two_numbers_not_one(tmp_path):
    """A tighter NEB criterion is another number: it is kept beside the first, never written over it."""
    from descriptors.store.database import DescriptorDatabase
    from descriptors.store.tables import DescriptorRow
    from descriptors.ingest import IngestBatch, write_batch
    from descriptors.query.configurations import query
    from descriptors.records.extractor import records_from_result

    db = DescriptorDatabase(f"sqlite:///{tmp_path / 'two.db'}")
    first = {**BASE, "dopants": [], "vacancies": []}
    spec_a = spec_from_dict({**first, "hops": {"per_configuration": 1}, "vacancies": ["O:4i"]})
    spec_b = spec_from_dict({**first, "hops": {"per_configuration": 1}, "vacancies": ["O:4i"], "mock": {"neb_fmax": 0.03}})
    for spec in (spec_a, spec_b):
        write_batch(IngestBatch(*records_from_result(run(spec)[1])), db)
    barriers = [r for r in db.rows(DescriptorRow) if r["name"] == "barrier"]
    assert len({r["settings_hash"] for r in barriers}) == 2
    assert len(barriers) == 2 * len({(r["configuration_id"], r["subject"]) for r in barriers})
    table = query(db, "defect = vacancy")
    assert len(table.rows) == 1 and len(table.aliases) == 2  # one configuration, its two settings side by side
    assert {"n_hops@mock", "n_hops@mock-2", "e_vac_o@mock", "e_vac_o@mock-2"} <= set(table.columns)
    # threads do not change a number: not part of the identity
    assert settings_hash("mlip", {"model": "chgnet", "threads": 1}) == settings_hash("mlip", {"model": "chgnet", "threads": 2})
    # a mirrored band does: it stops where the model's own forces are within fmax, which is not
    # where a whole band stops (1e-3 eV apart with SevenNet-0): a row says which it is
    assert settings_hash("mlip", {"model": "chgnet", "neb_mirror": True}) != settings_hash("mlip", {"model": "chgnet", "neb_mirror": False})


def test_a_mirrored_and_a_whole_band_screen_store_different_settings_hashes():
    """What every row stores is the provenance of the spec's settings: ``neb_mirror`` is in them by
    default, so a screen run with the mirror and the same screen run whole (``mlip.neb_mirror:
    false``) write two settings hashes, and a database holding both never mixes their numbers."""
    from workflows.jobs import provenance

    spec = {**BASE, "backend": "mlip"}
    mirrored = spec_from_dict(spec).settings_for_backend()
    whole = spec_from_dict({**spec, "mlip": {"neb_mirror": False}}).settings_for_backend()
    assert mirrored["neb_mirror"] is True and whole["neb_mirror"] is False
    assert {k: v for k, v in mirrored.items() if k != "neb_mirror"} == {k: v for k, v in whole.items() if k != "neb_mirror"}
    assert provenance("mlip", mirrored).settings_hash != provenance("mlip", whole).settings_hash


# ----- twins: the same physical hop is computed once ----------------------------------------------
LI_VACANCIES = {**BASE, "dopants": [], "vacancies": ["Li"], "hops": {"per_configuration": 1, "nearest_tsh": False}}


def test_a_twin_hop_is_computed_once_and_recorded_under_its_own_id():
    """Each Li vacancy's nearest hop ends in the vacancy itself: its end states are the host
    without one Li or the other, a pristine hop's, which the screen runs as the reference anyway.
    The band runs once; the twin's document is that band, carried onto the twin's own atoms and
    direction, under its own configuration and hop id, and says where it was computed."""
    from pymatgen.core import Structure

    from descriptors.records.extractor import records_from_result
    from structures.hops import hop_endpoints
    from workflows.parallel import stages

    spec = spec_from_dict(LI_VACANCIES)
    plan = plan_screen(spec)
    twins = plan.twins()
    pristine = next(c for c in plan.configurations if not c.defects)
    n_hops = sum(len(h) for h in plan.hops.values())
    assert len(twins) == 3 and all(t.configuration_id == pristine.id for t in twins.values())
    assert "3 hops are twins of others: computed once" in plan.describe()
    flow = ScreenMaker().make(spec, plan)
    bands = [j for j in flow.jobs if j.function.__name__ == "neb_job"]
    shared = [j for j in flow.jobs if j.function.__name__ == "shared_neb_job"]
    assert len(bands) == n_hops - 3 and len(shared) == 3
    # worker processes run bands only: a twin's job, which runs none, is left to the serial run
    tasks = {u for task in stages(flow)[2] for u in task}
    assert {j.uuid for j in bands} <= tasks and not {j.uuid for j in shared} & tasks
    result = as_dict(next(iter(run_locally(flow, store=local_job_store(), log=False)[flow.output.uuid].values())).output)
    nebs = {(d["configuration_id"], d["hop_id"]): d for d in result["documents"] if d["kind"] == "neb"}
    assert len(nebs) == n_hops and result["n_failed"] == 0  # nothing lost
    configs = {c.id: c for c in plan.configurations}
    for (config_id, hop_id), twin in twins.items():
        doc, computed = nebs[(config_id, hop_id)], nebs[(twin.configuration_id, twin.hop_id)]
        assert doc["computed_as"]["configuration_id"] == twin.configuration_id and doc["computed_as"]["hop_id"] == twin.hop_id
        assert doc["computed_as"]["label"] == computed["label"] and doc["label"] != computed["label"]
        assert status(doc) == status(computed) and doc["provenance"] == computed["provenance"] and doc["converged"] == computed["converged"]
        assert doc["energies"] == (computed["energies"][::-1] if twin.map.reversed else computed["energies"])
        assert doc["force_calls"] == 0 and computed["force_calls"] > 0  # the cost is counted once
        # its images are its own hop's: its atoms in its order, its moving Li from its start to its end
        hop = next(h for h in plan.hops[config_id] if h.id == hop_id)
        initial, final = hop_endpoints(plan.framework, configs[config_id], hop)
        images = [img if hasattr(img, "lattice") else Structure.from_dict(img) for img in doc["images"]]
        assert [s.species_string for s in images[0]] == [s.species_string for s in initial]
        for image, end in ((images[0], initial), (images[-1], final)):
            assert image.lattice.get_distance_and_image(image[-1].frac_coords, end[-1].frac_coords)[0] < 0.3
    # the rows: every hop keeps its own, the twin's numbers are the band's
    _, _, rows = records_from_result(result)
    kra = {(r["configuration_id"], r["subject"]): r["value"] for r in rows if r["name"] == "e_kra"}
    assert len(kra) == n_hops
    for (config_id, hop_id), twin in twins.items():
        assert kra[(config_id, hop_id)] == pytest.approx(kra[(twin.configuration_id, twin.hop_id)], abs=1e-12)


def test_a_twin_of_a_band_that_failed_is_failed_too():
    spec = spec_from_dict({**LI_VACANCIES, "mock": {"fail": ["neb pristine"]}})
    _, result = run(spec)
    twins = [d for d in result["documents"] if d["kind"] == "neb" and d.get("computed_as")]
    assert len(twins) == 3 and all(status(d) == "failed" and "forced to fail" in d["reason"] for d in twins)


def test_the_vasp_flow_runs_a_twin_hop_once_and_its_collector_carries_the_band(tmp_path):
    from types import SimpleNamespace

    from structures.hops import hop_endpoints
    from workflows.dryrun import dry_run
    from workflows.vasp import collect_vasp

    spec = spec_from_dict({**LI_VACANCIES, "backend": "vasp"})
    plan = plan_screen(spec)
    twins = plan.twins()
    n_hops = sum(len(h) for h in plan.hops.values())
    flow = ScreenMaker().make(spec, plan)
    assert sum(j.name.startswith("neb") for j in flow.jobs) == n_hops - len(twins) == n_hops - 3
    collector = flow.jobs[-1]
    screen, configurations, outputs, expected = collector.function_args
    assert [m["hop_id"] for m in expected if m["kind"] == "neb"] == [h.id for c in plan.configurations for h in plan.hops.get(c.id, [])]
    # the collector, on outputs as emmet hands them over: the twin's document is the computed band's
    configs = {c.id: c for c in plan.configurations}
    (config_id, hop_id), twin = next(iter(twins.items()))
    computed_hop = next(h for h in plan.hops[twin.configuration_id] if h.id == twin.hop_id)
    band = list(hop_endpoints(plan.framework, configs[twin.configuration_id], computed_hop))
    output = SimpleNamespace(output=SimpleNamespace(structure=band[0], energy=-1.0), state="successful", images=band, energies=[-1.0, -0.5], tags=["lrox route: edge"], dir_name="/runs/neb")
    meta = next(m for m in expected if m.get("hop_id") == hop_id and m["configuration_id"] == config_id)
    computed_meta = next(m for m in expected if m.get("hop_id") == twin.hop_id and m["configuration_id"] == twin.configuration_id)
    out = collect_vasp.original(screen, configurations, [output, output], [computed_meta, meta])
    computed, doc = out["documents"]
    assert doc["computed_as"]["hop_id"] == twin.hop_id and doc["hop_id"] == hop_id and doc["dir_name"] == computed["dir_name"]
    assert doc["energies"] == (computed["energies"][::-1] if twin.map.reversed else computed["energies"])
    own = hop_endpoints(plan.framework, configs[config_id], next(h for h in plan.hops[config_id] if h.id == hop_id))
    from pymatgen.core import Structure

    carried = Structure.from_dict(doc["images"][0])
    assert [s.species_string for s in carried] == [s.species_string for s in own[0]] and np.allclose(carried.frac_coords, own[0].frac_coords, atol=1e-8)
    assert "twin" not in doc
    # the dry run writes the band once; the twin's configuration folder says where it runs
    summary = dry_run(spec, tmp_path / "tree")
    assert summary["twin_hops"] == 3 and summary["jobs_by_kind"]["neb"] == n_hops - 3
    listed = [json.loads(p.read_text()) for p in (tmp_path / "tree").glob("*/twins.json")]
    assert sorted(k for entry in listed for k in entry) == sorted(h for _, h in twins)


# ----- hops beside an O vacancy ----------------------------------------------------------------------
def test_hops_beside_an_o_vacancy_spread_over_two_to_four_angstroms():
    """The hops nearest an O vacancy cross its edge (V_O-edge). ``beside_vacancy: N`` adds N with
    the edge intact, the nearest in each of N shells of 2-4 Å, in configurations of O vacancies only
    (a dopant beside the vacancy would be counted as the vacancy's effect), with their pristine
    references. The design-rules example has three beside each of its two O vacancies."""
    from structures.hops import HopMechanism
    from workflows.flows import BESIDE_VACANCY

    data = {**BASE, "supercell": "2x1x2", "dopants": ["Al:Mn"], "pair_cutoff": 1.93, "pair_kinds": ["dopant-vacancy"],
            "hops": {"per_configuration": 1, "max_defect_distance": 3.0, "beside_vacancy": 3, "configurations": ["V_O(*", "Al on*"]}}
    plan = plan_screen(spec_from_dict(data))
    pristine = next(c for c in plan.configurations if not c.defects)
    references = {h.id for h in plan.hops[pristine.id]}
    for config in plan.configurations:
        hops = plan.hops.get(config.id, [])
        if not config.defects or not hops:
            continue
        if config.name.startswith("V_O("):
            assert hops[0].mechanism is HopMechanism.VO_EDGE and len(hops) == 4
            beside = hops[1:]
            distances = [h.distance_to_defect for h in beside]
            assert all(not h.vacant_edge_points for h in beside) and all(BESIDE_VACANCY[0] <= d <= BESIDE_VACANCY[1] for d in distances)
            assert distances == sorted(distances) and min(b - a for a, b in zip(distances, distances[1:])) > 0.2  # spread, not bunched
            assert {h.reference_hop_id for h in beside} <= references
        else:  # the Al pairs and Al alone: the nearest hop only
            assert len(hops) == 1
    example = plan_screen(load_spec(EXAMPLES / "li2mno3_design_rules.yaml"))
    for config in (c for c in example.configurations if c.name in ("V_O(4i)", "V_O(8j)")):
        beside = {round(h.distance_to_defect, 2) for h in example.hops[config.id] if not h.vacant_edge_points and 2.0 <= h.distance_to_defect <= 4.0}
        assert len(beside) >= 3
    for bad in (-1, 21, True, "three"):
        with pytest.raises(LroxInputError, match="beside_vacancy"):
            spec_from_dict({**data, "hops": {"beside_vacancy": bad}})
