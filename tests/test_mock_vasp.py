"""The VASP production path without VASP: atomate2's jobs, inputs checked, outputs emulated and parsed by emmet.

atomate2 tests its VASP jobs by replacing ``run_vasp`` with a function that checks the inputs a
job wrote and copies reference outputs in (``atomate2.utils.testing.vasp``). lrox does the same
with outputs written for the structure at hand by ``workflows/mock_vasp.py`` (mock energies, a
model DOS), because a screen's configurations have no reference runs. Nothing here is physics;
every number carries the 'mock' backend.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import yaml

from workflows.mock_vasp import GENERATOR, MockVaspInputError, emulate_vasp, mock_vasp
from workflows.jobs import local_job_store
from workflows.spec import load_spec, spec_from_dict

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mock_vasp_quick.yaml"


def _spec(tmp_path, **changes):
    data = yaml.safe_load(EXAMPLE.read_text())
    data.update(changes)
    data["output"] = str(tmp_path / "out")
    return spec_from_dict(data)


@pytest.fixture(scope="module")
def emulated_screen(tmp_path_factory):
    """The example screen run once through 'lrox run --db' with VASP emulated."""
    from launch.cli import main

    folder = tmp_path_factory.mktemp("mock-vasp")
    spec_file = folder / "screen.yaml"
    data = yaml.safe_load(EXAMPLE.read_text())
    spec_file.write_text(yaml.safe_dump({**data, "output": str(folder / "out")}))
    db = f"sqlite:///{folder / 'lrox.db'}"
    assert main(["run", str(spec_file), "--db", db]) == 0
    return load_spec(spec_file), folder / "out", db


def test_every_atomate2_job_runs_and_is_parsed(emulated_screen):
    import json

    spec, out, _ = emulated_screen
    result = json.loads((out / "results.json").read_text())
    docs = result["documents"]
    from workflows.flows import plan_screen

    plan = plan_screen(spec)
    n_hops = sum(len(h) for h in plan.hops.values())
    assert [d["kind"] for d in docs].count("relax") == len(plan.configurations) == 4
    assert [d["kind"] for d in docs].count("static") == 4
    assert [d["kind"] for d in docs].count("neb") == n_hops
    (reference,) = [d for d in docs if d["kind"] == "reference"]  # the O2 molecule for μ_O
    assert reference["species"] == "O2" and reference["energy_per_atom"] == pytest.approx(reference["energy"] / 2)
    assert all(d["status"] == "success" for d in docs), [d.get("reason") for d in docs]
    assert all(d["provenance"]["backend"] == "mock" for d in docs)
    assert result["level_of_theory"].startswith("mock VASP emulation")
    # every run folder holds what VASP writes, marked as the emulator's, gzipped by atomate2
    with_inputs = [f for f in (out / "vasp-runs").iterdir() if list(f.glob("INCAR*"))]
    assert len(with_inputs) == 4 + 4 + 2 * n_hops + n_hops + 1  # relax, static, NEB end points, NEB, O2
    vaspruns = list((out / "vasp-runs").rglob("vasprun.xml.gz"))
    assert len(vaspruns) == 4 + 4 + 2 * n_hops + 5 * n_hops + 1  # one per relax/static/end point/O2, one per NEB image
    with gzip.open(vaspruns[0], "rt") as handle:
        assert GENERATOR in handle.read()
    # NEB energies: the relaxed end points and the five IDPP images between them, as emmet read them
    for doc in (d for d in docs if d["kind"] == "neb"):
        assert len(doc["energies"]) == 7 and len(doc["images"]) == 7


def test_static_inputs_and_dos_reach_the_descriptors(emulated_screen):
    """The model DOS puts O 2p at -3.5 eV (E_F = 0, VBM -0.2 eV): the descriptor code must read back those numbers."""
    from descriptors.store.database import DescriptorDatabase
    from descriptors.store.tables import DescriptorRow

    _, _, db = emulated_screen
    rows = DescriptorDatabase(db).rows(DescriptorRow)
    centres = [r for r in rows if r["name"] == "o2p_center"]
    vs_vbm = [r for r in rows if r["name"] == "o2p_center_vbm"]
    assert len(centres) == len(vs_vbm) == 4
    for row in centres:
        assert row["status"] == "ok" and row["backend"] == "mock"
        assert row["value"] == pytest.approx(-3.5, abs=0.02)
        assert row["details"]["vbm"] == pytest.approx(-0.2, abs=0.02)
    for row in vs_vbm:
        assert row["value"] == pytest.approx(-3.3, abs=0.02) and row["details"]["reference"] == "VBM"
    # O-vacancy energies against the emulated O2, with the MP2020 correction kept for real VASP only
    e_vac = [r for r in rows if r["name"] == "e_vac_o"]
    assert len(e_vac) == 2 and all(r["status"] == "ok" for r in e_vac)
    assert all(r["details"]["chemical_potential"]["correction"] == 0.0 for r in e_vac)
    barriers = [r for r in rows if r["name"] == "barrier"]
    assert len(barriers) == 6 and all(r["value"] is not None for r in barriers)
    for row in barriers:  # from the more stable end point
        energies = row["details"]["energies"]
        assert row["value"] == pytest.approx(max(energies) - min(energies[0], energies[-1]), abs=1e-6)


def test_bader_charges_of_the_model_density_come_back(emulated_screen):
    """The emulated static writes CHGCAR/AECCAR0/AECCAR2 of a model density (Li +1, O -2, cations the rest);
    lrox's Bader on the run folder must return those charges, with POTCAR valences from vasprun.xml."""
    from descriptors.store.database import DescriptorDatabase
    from descriptors.store.tables import DescriptorRow

    _, _, db = emulated_screen
    rows = DescriptorDatabase(db).rows(DescriptorRow)
    by_name = {}
    for row in rows:
        by_name.setdefault(row["name"], []).append(row)
    assert len(by_name["bader_charge_li"]) == len(by_name["bader_charge_o"]) == 4
    assert all(r["value"] == pytest.approx(1.0, abs=0.05) for r in by_name["bader_charge_li"])
    assert all(r["value"] == pytest.approx(-2.0, abs=0.05) for r in by_name["bader_charge_o"])
    # pristine Li2MnO3: Mn carries the +4 that neutrality leaves; the Ti dopant takes the same share
    dopant = by_name["bader_dopant_charge"]
    assert len(dopant) == 1 and dopant[0]["details"]["species"] == "Ti" and dopant[0]["value"] == pytest.approx(4.0, abs=0.05)
    # the cations facing each NEB's transition state are found in the relaxed cell
    assert len(by_name.get("ts_cation_charge", [])) >= 1


def test_a_crashed_vasp_run_is_recorded_and_the_rest_completes(tmp_path):
    from workflows.run import run_screen

    spec = _spec(tmp_path, vacancies=[], mock={"emulate": "vasp", "crash": ["relax Ti"]})
    result = run_screen(spec, echo=lambda *_: None)
    docs = {d["label"]: d for d in result["documents"]}
    ti = [d for label, d in docs.items() if "Ti on" in label]
    assert ti and all(d["status"] == "failed" for d in ti)  # its relax crashed; static and NEB never ran
    assert all("no output" in d["reason"] for d in ti)
    others = [d for label, d in docs.items() if "Ti on" not in label]
    assert others and all(d["status"] == "success" for d in others)
    assert result["n_failed"] == len(ti)


def _static_folder(tmp_path, **incar):
    from pymatgen.io.vasp.sets import MPStaticSet

    from structures.hosts import load_host
    from workflows.vasp import _write

    folder = tmp_path / "static"
    user = {"LORBIT": 11, "NEDOS": 3001, "LAECHG": True, "LCHARG": True, **incar}
    # as atomate2 writes a job's folder at run time (the dry run's tidier number formatting aside)
    _write(load_host("licoo2").structure, MPStaticSet(force_gamma=True, user_incar_settings=user, user_potcar_functional="PBE_54"), folder, tidy=False)
    return folder


def test_emulated_static_parses_like_vasp_output(tmp_path):
    from emmet.core.tasks import TaskDoc
    from pymatgen.io.vasp import Vasprun

    folder = _static_folder(tmp_path)
    emulate_vasp(folder, "static LiCoO2")
    run = Vasprun(folder / "vasprun.xml", parse_potcar_file=False)
    assert run.converged and run.parameters["LORBIT"] == 11
    assert run.complete_dos.efermi == 0.0 and len(run.complete_dos.energies) == 3001
    doc = TaskDoc.from_directory(folder)
    assert str(doc.state.value) == "successful"
    assert doc.output.bandgap == pytest.approx(2.0, abs=1e-6)
    # total electrons: Li_sv 3 + Co 9 + 2 O 6 per formula unit
    assert run.parameters["NELECT"] == pytest.approx(24 * len(run.final_structure) / 4)


@pytest.mark.parametrize(
    ("incar", "complaint"),
    [({"LORBIT": 10}, "LORBIT"), ({"NEDOS": 301}, "NEDOS"), ({"LAECHG": False}, "LAECHG"), ({"ISPIN": 1}, "ISPIN")],
)
def test_inputs_that_contradict_the_science_are_refused(tmp_path, incar, complaint):
    folder = _static_folder(tmp_path, **incar)
    with pytest.raises(MockVaspInputError, match=complaint):
        emulate_vasp(folder, "static LiCoO2")
    assert not (folder / "vasprun.xml").exists()  # nothing is written for refused inputs


def test_neb_state_needs_both_end_points_and_every_image():
    from types import SimpleNamespace

    from workflows.vasp import neb_state

    ok = SimpleNamespace(has_vasp_completed=SimpleNamespace(value="successful"))
    bad = SimpleNamespace(has_vasp_completed=SimpleNamespace(value="failed"))
    assert neb_state([ok, ok], "successful") == "successful"
    assert neb_state([ok, bad], "successful") == "failed"
    assert neb_state([ok, ok], "failed") == "failed"
    assert neb_state([], "successful") == "successful"


def test_patches_are_undone_after_the_block():
    import atomate2.vasp.jobs.base
    from pymatgen.io.vasp.sets import VaspInputSet

    before = (atomate2.vasp.jobs.base.run_vasp, VaspInputSet.__dict__["get_input_set"], VaspInputSet.__dict__["nelect"])
    with mock_vasp():
        assert atomate2.vasp.jobs.base.run_vasp is not before[0]
    assert (atomate2.vasp.jobs.base.run_vasp, VaspInputSet.__dict__["get_input_set"], VaspInputSet.__dict__["nelect"]) == before


def test_reference_outputs_are_copied_in_the_atomate2_way(tmp_path):
    """A job with a reference folder (inputs/ + outputs/, e.g. a real run) goes through atomate2's own
    fake_run_vasp: the inputs it writes must match the reference inputs, and the reference outputs
    are what emmet parses."""
    import shutil

    from jobflow import run_locally

    from structures.hosts import load_host
    from workflows.vasp import vasp_makers

    structure = load_host("licoo2").structure
    # a reference run of this very job: inputs as lrox writes them, outputs from the emulator,
    # then marked so that a copied output can be told from a freshly emulated one
    source = _static_folder(tmp_path)
    emulate_vasp(source, "static LiCoO2")
    reference = tmp_path / "reference"
    (reference / "inputs").mkdir(parents=True)
    (reference / "outputs").mkdir()
    for name in ("INCAR", "KPOINTS", "POSCAR", "POTCAR.spec"):
        shutil.copy(source / name, reference / "inputs" / name)
    for name in ("vasprun.xml", "OUTCAR", "CONTCAR"):
        text = (source / name).read_text()
        (reference / "outputs" / name).write_text(text.replace("lrox mock VASP", "reference run") if name != "CONTCAR" else text)

    def run(settings):
        job = vasp_makers(settings).static.make(structure)
        job.name = "static LiCoO2"
        with mock_vasp(references={"static LiCoO2": reference}) as runs:
            responses = run_locally(job, store=local_job_store(), create_folders=True, root_dir=str(tmp_path / "runs"), log=False)
        return runs, responses.get(job.uuid)

    runs, response = run({})
    assert len(runs) == 1 and response is not None
    folder = Path(response[1].output.dir_name.split(":", 1)[1])
    assert "reference run" in gzip.open(folder / "vasprun.xml.gz", "rt").read()  # copied, not emulated
    # a job whose inputs drift from the reference is refused by atomate2's check
    runs, response = run({"nedos": 2001})
    assert response is None and runs == []  # the job failed in the input check; nothing was copied


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"mock": {"emulate": "quantum-espresso"}}, "unknown emulate 'quantum-espresso'"),
        ({"static_backend": "gpaw"}, "the emulated VASP runs its own statics"),
    ],
)
def test_bad_emulation_settings_fail_before_anything_runs(tmp_path, changes, complaint):
    from structures.errors import LroxInputError

    data = {**yaml.safe_load(EXAMPLE.read_text()), **changes}
    if "mock" in changes:
        data["mock"] = changes["mock"]
    with pytest.raises(LroxInputError, match=complaint):
        spec_from_dict(data)
    assert not (tmp_path / "out").exists()


def test_the_dry_run_of_the_emulated_screen_is_the_vasp_input_tree(tmp_path):
    from workflows.dryrun import dry_run

    summary = dry_run(_spec(tmp_path), tmp_path / "tree")
    assert summary["jobs_by_kind"]["static"] == 4 and summary["jobs_by_kind"]["reference"] == 1
    assert (tmp_path / "tree" / "reference_O2" / "POTCAR.spec").read_text().split() == ["O"]
    assert not (tmp_path / "out").exists()  # a dry run writes nothing else


# ----- the band of a VASP hop: seeded from an ML screen, and the tetrahedral route of a divacancy -----
TSH_SPEC = {"name": "tshv", "host": "li2mno3", "supercell": "1x1x1", "vacancies": ["Li:2c"], "hops": {"per_configuration": 4, "max_defect_distance": 3.0}, "backend": "vasp"}


def test_a_divacancy_hop_gets_a_tetrahedral_vasp_band_beside_the_edge_band():
    from structures.hops import HopMechanism
    from workflows.flows import plan_screen
    from workflows.spec import spec_from_dict
    from workflows.vasp import vasp_hop_neb

    spec = spec_from_dict(TSH_SPEC)
    plan = plan_screen(spec)
    vacancy = next(c for c in plan.configurations if c.defects)
    hop = next(h for h in plan.hops[vacancy.id] if h.mechanism is HopMechanism.TSH)
    relaxed = {"structure": vacancy.structure.as_dict()}
    response = vasp_hop_neb.original(relaxed, plan.host, list(plan.framework.dims), vacancy, hop, spec.settings_for_backend())
    names = [job.name for job in response.replace.jobs]
    assert sum(n.startswith("defect relax endpoint") for n in names) == 2  # the end points relax once, for both bands
    assert any(n.startswith("tetrahedral_images") for n in names) and any(n.startswith("get_images_from_endpoints") for n in names)
    assert sum("(edge)" in n for n in names) == 1 and sum("(tetrahedral)" in n for n in names) == 1
    assert names[-1] == "lower_saddle"


def test_the_lower_saddle_is_the_hop_s_vasp_document_and_says_which_route():
    from types import SimpleNamespace

    from workflows.vasp import lower_saddle

    class Doc(SimpleNamespace):
        def model_copy(self, update):
            return Doc(**{**self.__dict__, **update})

    edge = Doc(state="successful", energies=[0.0, 0.6, 0.0], tags=[])
    tet = Doc(state="successful", energies=[0.0, 0.3, 0.0], tags=[])
    chosen = lower_saddle.original([edge, tet], ["edge", "tetrahedral"])
    assert chosen.energies == tet.energies and "lrox route: tetrahedral" in chosen.tags
    failed = Doc(state="failed", energies=[0.0, 0.1, 0.0], tags=[])
    assert "lrox route: edge" in lower_saddle.original([edge, failed], ["edge", "tetrahedral"]).tags  # a failed band never wins


def test_dry_run_seeds_each_neb_with_the_ml_band_and_keeps_lrox_site_order(tmp_path, monkeypatch):
    from pymatgen.io.vasp import Poscar

    from launch.cli import main

    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "tsh.yaml"
    spec.write_text(yaml.safe_dump({**TSH_SPEC, "backend": "mock"}))
    db = f"sqlite:///{tmp_path / 'ml.db'}"
    assert main(["run", str(spec), "--db", db]) == 0  # the "ML" screen (mock here): converged bands in the database
    assert main(["run", str(spec), "--backend", "vasp", "--dry-run", "tree", "--seed-path-from", db]) == 0
    seeds = sorted((tmp_path / "tree").glob("*/neb_*/seed.json"))
    tetrahedral = sorted((tmp_path / "tree").glob("*/neb_*_tetrahedral"))
    from structures.hops import HopMechanism
    from workflows.flows import plan_screen
    from workflows.spec import spec_from_dict

    plan = plan_screen(spec_from_dict({**TSH_SPEC, "backend": "mock"}))
    divacancy_hops = sum(h.mechanism is HopMechanism.TSH for hops in plan.hops.values() for h in hops)
    assert len(seeds) >= 6 and len(tetrahedral) == divacancy_hops >= 1  # one tetrahedral band per divacancy hop
    seed = json.loads(seeds[0].read_text())
    assert seed["seeded_from"].startswith("mock") and "fractional" in seed["mapping"]
    # the moving Li stays the last site: the POSCAR repeats Li as its own last block
    image = Poscar.from_file(str(seeds[0].parent / "01" / "POSCAR"))
    assert image.site_symbols[-1] == "Li" and image.natoms[-1] == 1
    incar = (seeds[0].parent / "INCAR").read_text()
    assert "EDIFF = " in incar and "0000000" not in incar  # numbers as VASP users write them
