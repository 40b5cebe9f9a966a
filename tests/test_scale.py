"""Screens of hundreds of configurations (issue 32): the faster dry run writes what the slower one
wrote, a screen beyond the user's limits writes nothing, and an interrupted dry run leaves nothing
a second run could take for finished.

The "before" is tests/data/scale_baseline_62b8212.json.xz, written by the code of commit 62b8212
(tests/data/make_scale_baseline.py says how).
"""

from __future__ import annotations

import json
import lzma
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from structures.errors import LroxInputError
from tests.data.make_scale_baseline import SMALL_SCREEN

BASELINE = json.loads(lzma.decompress((Path(__file__).parent / "data" / "scale_baseline_62b8212.json.xz").read_bytes()))


def _band_ends(case: dict) -> tuple[Structure, Structure]:
    lattice = Lattice(case["lattice"])
    return tuple(Structure(lattice, case["species"], case[end]) for end in ("initial", "final"))


@pytest.mark.parametrize("case", BASELINE["bands"], ids=[c["case"] for c in BASELINE["bands"]])
def test_idpp_images_are_the_ones_lrox_made_before(case):
    """matscipy's neighbour list, each pair once, the forces by bincount: the same band as ASE's
    neighbour list and the full pair sum (the 240-atom Li-rich host, a P1 cell, a hop with an O
    vacancy on its edge)."""
    from structures.hops import interpolate_hop

    images = interpolate_hop(*_band_ends(case), n_images=5)
    lattice = np.array(case["lattice"])
    for image, before in zip(images, case["images"]):
        moved = (image.frac_coords - np.array(before)) @ lattice
        assert np.abs(moved).max() < 1e-4  # Å


def test_the_band_pairs_are_a_full_neighbour_lists(tmp_path):
    """The pairs found directly for the atoms that moved between the end points are those ASE's
    neighbour list finds, in a cell where the moving Li sits outside the unit cell."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    from structures.hops import _half, idpp_pairs

    for case in BASELINE["bands"]:
        initial, final = _band_ends(case)
        path = final.frac_coords - initial.frac_coords
        path -= np.round(path)
        ends = [Atoms(numbers=[e.Z for e in initial.species], positions=(initial.frac_coords + x * path) @ initial.lattice.matrix, cell=initial.lattice.matrix, pbc=True) for x in (0, 1)]
        full = np.unique(_half(np.vstack([np.column_stack(neighbor_list("ijS", end, 8.0)) for end in ends]).astype(np.int64)), axis=0)
        assert np.array_equal(idpp_pairs(*ends), full)
        relaxed = ends[1].copy()
        relaxed.rattle(0.02, seed=1)  # every atom moved: the neighbour list of both ends
        full = np.unique(_half(np.vstack([np.column_stack(neighbor_list("ijS", end, 8.0)) for end in (ends[0], relaxed)]).astype(np.int64)), axis=0)
        assert np.array_equal(idpp_pairs(ends[0], relaxed), full)


def test_poscar_text_is_the_file_pymatgen_writes(tmp_path):
    from pymatgen.io.vasp import Poscar

    from structures.io import poscar_text

    initial, _ = _band_ends(BASELINE["bands"][0])
    initial.add_site_property("label", [f"site {k}" for k in range(len(initial))])
    left_handed = Structure(Lattice(-initial.lattice.matrix), initial.species, initial.frac_coords)
    fixed = initial.copy()
    fixed.add_site_property("selective_dynamics", [[k % 2 == 0, True, k % 3 == 0] for k in range(len(fixed))])
    charged = _band_ends(BASELINE["bands"][1])[0]
    charged.add_oxidation_state_by_guess()
    for structure in (initial, left_handed, fixed, charged):
        assert poscar_text(structure) == Poscar(structure).get_str()
    assert poscar_text(initial, comment="band image 3") == Poscar(initial, comment="band image 3").get_str()


def test_a_dry_run_writes_the_inputs_it_wrote_before(tmp_path):
    """INCAR, KPOINTS and POTCAR.spec byte for byte, and every POSCAR with its positions within
    1e-4 Å, of a small screen with dopants, O and Li vacancies, pairs and tetrahedral bands; its
    configurations written by two processes."""
    from workflows.dryrun import dry_run
    from workflows.spec import spec_from_dict

    tree = tmp_path / "dry"
    dry_run(spec_from_dict(SMALL_SCREEN), tree, processes=2)
    # twin hops (issue 29) get no folder since the baseline: their twin's band runs for them
    twin_folders = {
        f"{path.parent.relative_to(tree)}/neb_{hop_id.rsplit('-', 1)[-1]}"
        for path in tree.rglob("twins.json")
        for hop_id in json.loads(path.read_text())
    }
    assert len(twin_folders) == 3  # the three Li-vacancy hops into their own vacancy: the pristine hop
    before = {name: text for name, text in BASELINE["dry_run_files"].items() if "/".join(name.split("/")[:2]) not in twin_folders}
    now = {str(p.relative_to(tree)): p.read_text() for p in sorted(tree.rglob("*")) if p.name in ("INCAR", "KPOINTS", "POTCAR.spec", "POSCAR")}
    assert sorted(now) == sorted(before)
    assert any("_tetrahedral" in name for name in now) and any("endpoint_1" in name for name in now)
    for name, text in now.items():
        if not name.endswith("POSCAR"):
            assert text == before[name], name
            continue
        old, new = (text.splitlines() for text in (before[name], text))
        assert new[:8] == old[:8], name  # comment, scale, lattice, species, counts, 'direct'
        lattice = np.array([[float(x) for x in line.split()] for line in new[2:5]])
        positions = [np.array([[float(x) for x in line.split()[:3]] for line in lines[8:]]) for lines in (old, new)]
        assert np.abs((positions[1] - positions[0]) @ lattice).max() < 1e-4, name
        assert [line.split()[3:] for line in new[8:]] == [line.split()[3:] for line in old[8:]], name


def test_inputs_shared_between_structures_are_the_ones_pymatgen_writes(tmp_path):
    """The dry run takes INCAR, KPOINTS and POTCAR.spec from an earlier structure with the same
    generator, lattice, species order and read properties (workflows.vasp._input_key): pymatgen,
    asked for each structure anew, writes the same ones (every configuration's relaxation and
    static, every hop's end points and band of the small screen: O and Li vacancies, a dopant)."""
    from structures.hops import hop_endpoints, interpolate_hop
    from workflows.flows import plan_screen
    from workflows.spec import spec_from_dict
    from workflows.vasp import _input_key, _write, vasp_makers

    spec = spec_from_dict(SMALL_SCREEN)
    plan = plan_screen(spec)
    makers = vasp_makers(spec.settings_for_backend())
    cases = []
    for config in plan.configurations:
        cases += [(config.structure, makers.defect_relax), (config.structure, makers.static)]
        for hop in plan.hops.get(config.id, []):
            ends = hop_endpoints(plan.framework, config, hop)
            cases += [(ends[0], makers.defect_relax), (ends[1], makers.defect_relax), (interpolate_hop(*ends, n_images=3)[0], makers.neb)]
    shared, taken = {}, 0
    for k, (structure, maker) in enumerate(cases):
        generator = maker.input_set_generator
        if maker is makers.neb:
            generator.num_images = 3
        taken += _input_key(structure, generator) in shared  # from an earlier structure
        texts = _write(structure, generator, tmp_path / f"shared_{k}", shared=shared)
        fresh = _write(structure, generator, tmp_path / f"fresh_{k}")
        assert texts == fresh, k
    assert len(shared) + taken == len(cases) and taken > len(cases) // 3  # shared often, never wrongly


def test_a_k_mesh_is_shared_only_where_positions_cannot_change_it():
    """pymatgen centres an automatic mesh on Γ for a face-centred space group, so an even mesh in
    a non-hexagonal cell without force_gamma may read the positions: never shared."""
    from pymatgen.io.vasp import Kpoints
    from pymatgen.io.vasp.sets import MPRelaxSet

    from tests.conftest import framework
    from workflows.vasp import _mesh_reads_no_positions

    cell = framework("li2mno3", (1, 1, 1)).structure  # monoclinic
    free, forced = MPRelaxSet(force_gamma=False), MPRelaxSet(force_gamma=True)
    assert _mesh_reads_no_positions(Kpoints.gamma_automatic((2, 2, 2)), cell, forced)
    assert _mesh_reads_no_positions(Kpoints.gamma_automatic((2, 2, 1)), cell, free)  # an odd division: Γ whatever the group
    assert not _mesh_reads_no_positions(Kpoints.gamma_automatic((2, 2, 2)), cell, free)  # Γ perhaps only for an F group
    assert not _mesh_reads_no_positions(Kpoints.monkhorst_automatic((2, 2, 2)), cell, free)
    assert _mesh_reads_no_positions(None, cell, free)  # KSPACING: no KPOINTS file
    explicit = Kpoints(comment="ir", style=Kpoints.supported_modes.Reciprocal, num_kpts=1, kpts=[(0, 0, 0)], kpts_weights=[1])
    assert not _mesh_reads_no_positions(explicit, cell, forced)


def test_the_lirich_decorations_ewald_energies_are_pymatgens():
    """The Li-rich host's 100 Ni decorations ranked by one Ewald pair-energy matrix rescaled: each
    energy, rounded as the ranking rounds it, is its own EwaldSummation's, so the same decoration wins."""
    import itertools
    import warnings

    from pymatgen.analysis.ewald import EwaldSummation

    from structures import hosts
    from structures.labels import label_sites
    from structures.supercell import most_compact_supercell_matrix, supercell_with_properties

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        prim = label_sites(hosts._li2mno3().get_primitive_structure(use_site_props=True))
    cell = supercell_with_properties(prim, most_compact_supercell_matrix(prim.lattice, 5))
    charges = np.array([s.properties["oxi"] for s in cell], dtype=float)
    charged = cell.copy()
    charged.add_oxidation_state_by_site(charges.tolist())
    pair_energies = EwaldSummation(charged).total_energy_matrix
    tm_li = [i for i, s in enumerate(cell) if s.specie.symbol == "Li" and s.properties["layer"] == "TM layer"]
    mn = [i for i, s in enumerate(cell) if s.specie.symbol == "Mn"]
    for chosen in [(*pair, m) for pair in itertools.combinations(tm_li, 2) for m in mn]:
        trial = cell.copy()
        for i in chosen:
            trial.replace(i, "Ni", properties={**cell[i].properties, "oxi": 2})
        trial.add_oxidation_state_by_site([s.properties["oxi"] for s in trial])
        direct = EwaldSummation(trial).total_energy
        rescaled = hosts._rescaled_ewald_energy(pair_energies, charges, {i: 2.0 for i in chosen})
        assert abs(rescaled - direct) < 1e-9 and round(rescaled, 6) == round(direct, 6)
    with pytest.raises(ValueError, match="neutral"):
        hosts._rescaled_ewald_energy(pair_energies, charges, {tm_li[0]: 2.0})


def test_a_pairs_canonical_images_are_numpys_unique_rows():
    from structures.hops import canonical_pair

    rng = np.random.default_rng(3)
    for n in (5, 240, 1000):
        images = np.sort(rng.integers(0, n, size=(48, 2)), axis=1)
        unique = np.unique(images, axis=0)
        assert canonical_pair(images, n) == (tuple(unique[0].tolist()), len(unique))


# ----- limits and failures -----------------------------------------------------------------------------
def test_a_screen_beyond_its_limits_writes_nothing(tmp_path, capsys):
    from launch.cli import main

    spec = tmp_path / "screen.yaml"
    spec.write_text(json.dumps({**SMALL_SCREEN, "limits": {"core_hours": 100}}))
    code = main(["run", str(spec), "--dry-run", str(tmp_path / "dry")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    from workflows.dryrun import about, estimate_core_hours
    from workflows.flows import plan_screen
    from workflows.spec import spec_from_dict

    small = spec_from_dict(SMALL_SCREEN)
    cost = estimate_core_hours(small, plan_screen(small))  # twin hops cost nothing: their twin's band runs once
    assert f"10 configurations, 19 hops, an estimated {about(cost)} core-hours" in err and "limits.core_hours = 100" in err
    assert not (tmp_path / "dry").exists() and [p.name for p in tmp_path.iterdir()] == ["screen.yaml"]
    code = main(["run", str(spec), "--dry-run", str(tmp_path / "dry"), "--limit-core-hours", "1000", "--limit-configurations", "9"])
    err = capsys.readouterr().err
    assert code == 2 and "more configurations than limits.configurations = 9" in err and not (tmp_path / "dry").exists()


def test_max_configurations_says_what_it_cut(tmp_path, capsys):
    from launch.cli import main

    spec = tmp_path / "screen.yaml"
    spec.write_text(json.dumps({**SMALL_SCREEN, "max_configurations": 4}))
    assert main(["run", str(spec), "--dry-run", str(tmp_path / "dry")]) == 0
    out = capsys.readouterr().out
    assert "note: max_configurations keeps the first 4 of 10 configurations; 6 cut: " in out
    assert "and 3 more" in out


def test_an_interrupted_dry_run_leaves_nothing_a_second_run_takes_for_finished(tmp_path, monkeypatch):
    """A worker that fails half way (a full disk) or a kill: no folder under the final name; the
    staging tree of a dead run is removed by the next one, which writes the whole tree."""
    import workflows.vasp as vasp
    from workflows.dryrun import STAGING_MARK, dry_run
    from workflows.spec import spec_from_dict

    spec = spec_from_dict(SMALL_SCREEN)
    real, calls = vasp._write_texts, []

    def disk_full(texts, target):
        calls.append(target)
        if len(calls) > 25:
            raise OSError(28, "No space left on device")
        real(texts, target)

    monkeypatch.setattr(vasp, "_write_texts", disk_full)
    with pytest.raises(LroxInputError, match="No space left on device.*nothing was written"):
        dry_run(spec, tmp_path / "dry", processes=2)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(vasp, "_write_texts", real)
    abandoned = tmp_path / f".dry{STAGING_MARK}999999999"  # a run killed with -9: its pid is gone
    (abandoned / "000_pristine" / "relax").mkdir(parents=True)
    summary = dry_run(spec, tmp_path / "dry", processes=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dry"]
    twins = summary["twin_hops"]  # 3: no band and no end points of their own
    assert summary["jobs_by_kind"] == {"relax": 48 - 2 * twins, "static": 10, "neb": 24 - twins, "reference": 2}


def test_progress_of_a_long_step_in_a_log():
    from workflows.progress import CountProgress

    lines = []
    with CountProgress("writing inputs", {"configurations": 4, "hops": 6, "folders": 20}, echo=lines.append, live=False, every=0.0, quiet_below=0.0) as progress:
        progress.advance(configurations=1, hops=2, folders=6)
        progress.advance(configurations=3, hops=4, folders=14)
    assert lines[0].startswith("writing inputs [######") and "1/4 configurations, 2/6 hops, 6/20 folders" in lines[0]
    assert "about" in lines[0] and "4/4 configurations, 6/6 hops, 20/20 folders" in lines[-1]


# ----- submission at scale: batches, progress, and a second call that adds no duplicate ---------------------
MOCK_SPEC = Path(__file__).resolve().parents[1] / "examples" / "mock_quick.yaml"


def _launchpad_file(tmp_path, mongo_server) -> Path:
    import uuid

    import yaml

    host, port = mongo_server
    path = tmp_path / "my_launchpad.yaml"
    path.write_text(yaml.safe_dump({"host": host, "port": port, "name": f"lp_{uuid.uuid4().hex[:8]}", "strm_lvl": "WARNING"}))
    return path


def test_fireworks_submission_in_batches_resumes_without_duplicates(tmp_path, mongo_server, monkeypatch, capsys):
    from fireworks import LaunchPad

    import launch.submit as submit
    from launch.cli import main

    monkeypatch.setattr(submit, "SUBMIT_BATCH", 6)  # 20 jobs: four inserts
    lp_file = _launchpad_file(tmp_path, mongo_server)
    args = ["submit", str(MOCK_SPEC), "--engine", "fireworks", "--launchpad", str(lp_file), "--db", f"sqlite:///{tmp_path / 'lrox.db'}"]
    lp = LaunchPad.from_file(str(lp_file))

    # interrupted before its workflow went in: waiting fireworks that no worker takes
    def interrupted(*_):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(submit, "_commit_workflow", interrupted)
        assert main(args) == 1 and "aborted" in capsys.readouterr().err  # Ctrl-C
    assert lp.workflows.count_documents({}) == 0 and lp.fireworks.count_documents({}) == 20
    assert lp.fireworks.count_documents({"state": "READY"}) == 0

    # the next call clears them and submits the screen whole
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.strip() == "mock_quick: 20 jobs submitted to fireworks; 20 jobs of an interrupted submission removed first"
    assert lp.workflows.count_documents({}) == 1 and lp.fireworks.count_documents({}) == 20
    ready = lp.fireworks.count_documents({"state": "READY"})
    assert ready == len(lp.workflows.find_one({})["nodes"]) - len(lp.workflows.find_one({})["parent_links"]) > 0

    # a second call: everything is queued there already
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "nothing submitted; 4 configurations skipped: already in fireworks" in out
    assert lp.workflows.count_documents({}) == 1 and lp.fireworks.count_documents({}) == 20

    # interrupted after its workflow went in, before its first fireworks were made ready: completed
    lp.fireworks.update_many({"state": "READY"}, {"$set": {"state": "WAITING"}})
    assert main(args) == 0 and "nothing submitted" in capsys.readouterr().out
    assert lp.fireworks.count_documents({"state": "READY"}) == ready


def test_a_vasp_screen_with_twin_hops_is_not_submitted_twice(tmp_path, mongo_server, capsys):
    """A twin hop has no job in a VASP Flow (its twin's band runs for it): a configuration whose
    only other hop is queued is queued, not submitted again."""
    from fireworks import LaunchPad

    from launch.cli import main

    spec = tmp_path / "screen.yaml"
    spec.write_text(json.dumps(SMALL_SCREEN))
    lp_file = _launchpad_file(tmp_path, mongo_server)
    args = ["submit", str(spec), "--engine", "fireworks", "--launchpad", str(lp_file), "--db", f"sqlite:///{tmp_path / 'lrox.db'}"]
    assert main(args) == 0
    first = LaunchPad.from_file(str(lp_file)).fireworks.count_documents({})
    assert "48 jobs submitted" in capsys.readouterr().out  # 19 hops, 3 of them twins: 16 bands
    assert main(args) == 0
    assert "nothing submitted; 10 configurations skipped: already in fireworks" in capsys.readouterr().out
    assert LaunchPad.from_file(str(lp_file)).fireworks.count_documents({}) == first


def test_jobflow_remote_submission_resumes_without_duplicates(tmp_path, mongo_server, monkeypatch, capsys):
    import uuid

    import yaml

    from launch.cli import main
    from launch.submit import _job_controller

    host, port = mongo_server
    tag = uuid.uuid4().hex[:8]
    store = {"type": "MongoStore", "host": host, "port": port, "database": f"jfr_{tag}"}
    project = {
        "name": f"lrox{tag}",
        "workers": {"local": {"type": "local", "scheduler_type": "shell", "work_dir": str(tmp_path / "work")}},
        "queue": {"store": {**store, "collection_name": "jobs"}, "flows_collection": "flows"},
        "jobstore": {"docs_store": {**store, "collection_name": "outputs"},
                     "additional_stores": {"data": {**store, "type": "GridFSStore", "collection_name": "blobs"}}},
    }
    (tmp_path / "projects").mkdir()
    (tmp_path / "projects" / f"lrox{tag}.yaml").write_text(yaml.safe_dump(project))
    monkeypatch.setenv("JFREMOTE_PROJECTS_FOLDER", str(tmp_path / "projects"))
    monkeypatch.setenv("JFREMOTE_CONFIG_FILE", str(tmp_path / "none.yaml"))
    from jobflow_remote import SETTINGS  # read from the environment once, at its first import (maybe another test's)

    monkeypatch.setattr(SETTINGS, "projects_folder", str(tmp_path / "projects"))
    monkeypatch.setattr(SETTINGS, "config_file", str(tmp_path / "none.yaml"))
    args = ["submit", str(MOCK_SPEC), "--engine", "jobflow-remote", "--project", f"lrox{tag}", "--db", f"sqlite:///{tmp_path / 'lrox.db'}"]
    assert main(args) == 0
    assert capsys.readouterr().out.strip() == "mock_quick: 20 jobs submitted to jobflow-remote"
    controller = _job_controller(f"lrox{tag}")
    assert controller.jobs.count_documents({}) == 20 and controller.flows.count_documents({}) == 1
    assert main(args) == 0 and "nothing submitted; 4 configurations skipped: already in jobflow-remote" in capsys.readouterr().out
    assert controller.jobs.count_documents({}) == 20
    # a flow document whose jobs did not all go in: removed, and the screen submitted again
    flow = controller.flows.find_one({})
    controller.jobs.delete_many({"uuid": {"$in": flow["jobs"][:7]}})
    assert main(args) == 0
    assert capsys.readouterr().out.strip() == "mock_quick: 20 jobs submitted to jobflow-remote; 13 jobs of an interrupted submission removed first"
    assert controller.jobs.count_documents({}) == 20 and controller.flows.count_documents({}) == 1


# ----- ingest of a large VASP folder tree: one folder at a time, in batches ----------------------------------
def test_a_vasp_tree_ingested_in_batches_holds_what_one_transaction_holds(tmp_path, monkeypatch, capsys):
    """The benchmark's tree (lrox configuration files, relaxations with a projected DOS, NEB folders)
    written two configurations a transaction: the same rows as the whole tree read at once, every
    configuration counted once, and the progress in the log."""
    from benchmarks.scale import _shared_reference, vasp_tree
    from descriptors.ingest import ingest, ingest_in_batches, ingest_units
    from descriptors.store.database import DescriptorDatabase
    from descriptors.store.tables import CalculationRow, DescriptorRow
    from launch.cli import main

    if _shared_reference() is None:
        pytest.skip("shared VASP reference pack not present")
    tree = vasp_tree(tmp_path / "tree", 3)
    whole = DescriptorDatabase(f"sqlite:///{tmp_path / 'whole.db'}")
    ingest(tree, whole)
    opened = []
    counts, problems, _ = ingest_in_batches(ingest_units(tree), lambda: opened.append(DescriptorDatabase(f"sqlite:///{tmp_path / 'batches.db'}")) or opened[0], batch_configurations=2)
    assert len(opened) == 1 and counts["configurations"] == 3 and counts["calculations"] == 6
    assert len(problems) == 3 and all("neb_01" in p for p in problems)  # the pack's band has no end-point OUTCARs: failed, named
    batches = opened[0]

    def rows(db, table, drop):
        return sorted((json.dumps({k: v for k, v in r.items() if k not in drop}, sort_keys=True, default=str) for r in db.rows(table)))

    assert rows(batches, CalculationRow, {"ingested_at"}) == rows(whole, CalculationRow, {"ingested_at"})
    assert rows(batches, DescriptorRow, {"id"}) == rows(whole, DescriptorRow, {"id"})
    assert batches.configuration_view() == whole.configuration_view()
    assert {c["status"] for c in batches.rows(CalculationRow) if c["kind"] == "neb"} == {"failed"}

    monkeypatch.setattr("descriptors.ingest.ingest_in_batches.__defaults__", (2, None))
    assert main(["ingest", str(tree), "--db", f"sqlite:///{tmp_path / 'cli.db'}"]) == 0
    captured = capsys.readouterr()
    assert "ingested 3 configurations, 6 calculations" in captured.out


def test_a_tree_with_nothing_to_ingest_creates_no_database(tmp_path, capsys):
    from launch.cli import main

    (tmp_path / "empty" / "a" / "b").mkdir(parents=True)
    assert main(["ingest", str(tmp_path / "empty"), "--db", f"sqlite:///{tmp_path / 'x.db'}"]) == 2
    assert capsys.readouterr().err.strip().startswith("lrox: error: ingest: nothing to ingest under")
    assert not (tmp_path / "x.db").exists()


# ----- the twin groups kept on write (schema 4): what a reader found at every read, stored --------------------
EXAMPLE_DB = Path(__file__).resolve().parents[1] / "examples" / "li2mno3_design_rules.db"


def _copy_of_example(target: Path) -> str:
    """A copy of the committed design-rules database, written by lrox schema 3 (no twin table)."""
    import sqlite3

    with sqlite3.connect(f"file:{EXAMPLE_DB}?mode=ro", uri=True) as origin, sqlite3.connect(target) as copy:
        origin.backup(copy)
    return f"sqlite:///{target}"


def _hops_as_printed(db) -> str:
    """Every hop row as \`lrox query hops --json\` prints it (key order and all)."""
    from descriptors.query.hops import query_hops

    return json.dumps(query_hops(db), indent=1, default=str)


def test_a_database_written_before_the_twin_table_reads_the_same_and_is_upgraded_on_its_first_write(tmp_path):
    """A schema 3 database is read as it is (the groups found at read time, as lrox always found
    them) and, opened by a writer, upgraded: every hop's group stored, the same rows printed."""
    from descriptors.store.database import DescriptorDatabase
    from descriptors.store.tables import HopRow, HopTwinRow

    url = _copy_of_example(tmp_path / "example.db")
    before = DescriptorDatabase(url, read_only=True)
    assert not before.has_twins  # schema 3: nothing stored, nothing written by the read
    as_read = _hops_as_printed(before)
    assert '"n_twins": 2' in as_read and '"twin_basis": "twin key, energies agree"' in as_read  # the example has twins across configurations
    writer = DescriptorDatabase(url)  # a writer opens it: upgraded
    assert writer.has_twins
    reader = DescriptorDatabase(url, read_only=True)
    assert reader.has_twins
    assert {r["id"] for r in reader.rows(HopTwinRow)} == {r["id"] for r in reader.rows(HopRow)}
    assert _hops_as_printed(reader) == as_read


def _example_tables() -> dict:
    from descriptors.store.database import DescriptorDatabase
    from descriptors.store.tables import CalculationRow, ConfigurationRow, DescriptorRow, HopRow

    example = DescriptorDatabase(f"sqlite:///{EXAMPLE_DB}", read_only=True)
    tables = {name: example.rows(table) for name, table in (("configurations", ConfigurationRow), ("calculations", CalculationRow),
                                                            ("descriptors", DescriptorRow), ("hops", HopRow))}
    for row in tables["descriptors"]:
        row.pop("id")
    return tables


def _halves(tables: dict) -> tuple[dict, dict]:
    """The example's rows in two batches of configurations, every twin group split across both."""
    ids = sorted(c["id"] for c in tables["configurations"])
    first = set(ids[::2])

    def part(keep):
        return {name: [r for r in rows if (r["id"] if name == "configurations" else r.get("configuration_id")) in keep or
                       (name == "calculations" and r.get("configuration_id") is None and keep is first)]
                for name, rows in tables.items()}

    return part(first), part(set(ids) - first)


def test_twin_groups_are_kept_in_step_when_a_twin_arrives_in_a_later_write(db_url, tmp_path):
    """The example's configurations written in two batches: a hop written first is joined by its
    twin from the second batch, and every stored group is the one a reader finds from all the rows."""
    from descriptors.store.database import DescriptorDatabase

    tables = _example_tables()
    one, two = _halves(tables)
    db = DescriptorDatabase(db_url)
    db.write(one["configurations"], one["calculations"], one["descriptors"], one["hops"])
    alone = {r["id"]: r for r in json.loads(_hops_as_printed(db))}
    db.write(two["configurations"], two["calculations"], two["descriptors"], two["hops"])
    stored = json.loads(_hops_as_printed(DescriptorDatabase(db_url, read_only=True)))
    expected = json.loads(_hops_as_printed(DescriptorDatabase(f"sqlite:///{EXAMPLE_DB}", read_only=True)))  # found at read time from all rows
    assert stored == expected
    joined = [r for r in stored if r["id"] in alone and r["n_twins"] > alone[r["id"]]["n_twins"]]
    assert joined, "no twin group spans the two batches: the test would prove nothing"


def test_concurrent_writers_of_twin_hops_leave_every_group_whole(db_url, tmp_path):
    """Two processes writing the two halves at once (PostgreSQL's writers of hops take turns): the
    groups are those of all the rows, whichever committed first."""
    import pickle
    import subprocess
    import sys
    import time

    from descriptors.store.database import DescriptorDatabase

    halves = _halves(_example_tables())
    DescriptorDatabase(db_url)  # the schema first, as 'lrox ingest' would
    files = []
    for k, half in enumerate(halves):
        files.append(tmp_path / f"half{k}.pickle")
        files[-1].write_bytes(pickle.dumps(half))
    # each writer gets ready (imports, tables, connection), says so, and waits for the other: both
    # transactions then overlap, the case where each would miss the other's hops
    code = ("import pickle, sys, time; from pathlib import Path; from descriptors.store.database import DescriptorDatabase; "
            "t = pickle.loads(Path(sys.argv[1]).read_bytes()); db = DescriptorDatabase(sys.argv[2]); db.counts(); "
            "Path(sys.argv[1] + '.ready').touch(); "
            "[time.sleep(0.005) for _ in iter(lambda: Path(sys.argv[3]).exists(), True)]; "
            "db.write(t['configurations'], t['calculations'], t['descriptors'], t['hops'])")
    root = Path(__file__).resolve().parents[1]
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(f), db_url, str(go)], stderr=subprocess.PIPE, text=True, cwd=root) for f in files]
    deadline = time.monotonic() + 240
    while not all(Path(f"{f}.ready").exists() for f in files) and time.monotonic() < deadline and all(p.poll() is None for p in procs):
        time.sleep(0.01)
    go.touch()
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    stored = _hops_as_printed(DescriptorDatabase(db_url, read_only=True))
    assert stored == _hops_as_printed(DescriptorDatabase(f"sqlite:///{EXAMPLE_DB}", read_only=True))


def test_oxygen_reads_the_delta_mu_of_each_stored_chemical_potential_as_the_whole_document_gives_it(db_url):
    """\`--oxygen\` reads of each stored μ_O only its Δμ_O, through the database's JSON path: every shape
    a document can take (a float, an integer, a long literal, null, no Δμ_O, text, an empty object,
    no document) gives the row what decoding the whole document gives: the same Δμ_O, or (a shape lrox
    never writes: the database door's MU_SHAPE) the same one error naming the database as damaged."""
    from sqlalchemy import delete
    from sqlalchemy.orm import Session

    from descriptors.store.database import DescriptorDatabase
    from descriptors.store.tables import ConfigurationLevelRow, ConfigurationRow
    from structures.errors import LroxInputError

    db = DescriptorDatabase(db_url)
    readable = [{"delta": -0.7315}, {"delta": 0}, {"delta": 0.1000000000000000055511151231257827, "element": "O"}, None]
    damaged = [{"delta": None}, {"element": "O"}, {"delta": "0.25"}, {}, {"delta": 12345678901234567890}]
    with Session(db.engine) as session, session.begin():
        db._upsert(session, ConfigurationRow, [{"id": "c0", "host": "h", "supercell": "1x1x1", "name": "c0", "formula": "Li2MnO3", "n_atoms": 24,
                                                "defect": "vacancy", "summary": {}}], ["id"])
    for mu in readable + damaged:
        with Session(db.engine) as session, session.begin():  # one row: a damaged one is refused whichever row it is
            session.execute(delete(ConfigurationLevelRow.__table__))
            db._upsert(session, ConfigurationLevelRow, [{"configuration_id": "c0", "level_of_theory": "MLIP x", "settings_hash": "s", "backend": "mlip",
                                                         "first_descriptor": 0, "e_vac_o": 3.0, "e_vac_o_mu": mu}],
                       ["configuration_id", "level_of_theory", "settings_hash"])
        if mu in damaged:
            for delta_only in (False, True):
                with pytest.raises(LroxInputError, match="the database is damaged"):
                    db.configuration_view(with_mu=True, delta_only=delta_only)
            continue
        (whole,) = [r["e_vac_o_mu"] for r in db.configuration_view(with_mu=True)]
        (delta,) = [r["e_vac_o_mu"] for r in db.configuration_view(with_mu=True, delta_only=True)]
        if whole is not None:
            assert delta == {"delta": float(whole["delta"])} and repr(delta["delta"]) == repr(float(whole["delta"]))
        else:
            assert delta is None


# ----- the scale benchmark's small sizes (CI: the large ones run in `make benchmark-scale`) ------------------
def test_the_scale_benchmark_runs_its_10_and_100_configuration_sizes(tmp_path):
    """benchmarks/scale.py at the sizes CI affords: every step runs (enumeration, Flow build, the dry
    run of the 94-configuration Li-rich screen, the submission and a second one that adds nothing
    where a MongoDB-protocol server is given, ingest, query and report); no timing is judged here."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    # CI's 30 minutes afford the 10-configuration size; LROX_SCALE_SIZES=10,100 adds the 94-configuration
    # Li-rich screen (about 5 CPU-minutes more)
    sizes = tuple(int(n) for n in os.environ.get("LROX_SCALE_SIZES", "10").split(","))
    done = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "scale.py"), "--sizes", ",".join(map(str, sizes)), "--databases", "10,100", "--ingest", "10", "--quick"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(root)}, timeout=1500,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    steps = {(f["size"], f["step"]) for f in figures}
    for size in sizes:
        assert {(size, "enumeration"), (size, "flow build"), (size, "dry run (2 processes)")} <= steps
        assert {(size, "query"), (size, "query hops"), (size, "report")} <= steps
    if 100 in sizes:
        dry = next(f for f in figures if f["size"] == 100 and f["step"].startswith("dry run"))
        assert dry["configurations"] == 94 and dry["calculations"] == 903  # issue 32's screen, twins counted out
    if os.environ.get("LROX_SECANTUSD"):
        again = [f for f in figures if f["step"].startswith("submit again")]
        assert len(again) == 2 * len(sizes) and all("nothing submitted" in f["message"] for f in again)
    from benchmarks.scale import _shared_reference

    if _shared_reference() is not None:
        ingested = next(f for f in figures if f["step"].startswith("ingest"))
        assert "ingested 10 configurations, 20 calculations" in ingested["message"]


def test_a_gpaw_screen_is_costed_not_free():
    """A GPAW screen's estimate follows the measured SCF cost: never the 0 core-hours of a backend
    the model forgot; plane waves at a higher cutoff and LCAO dzp cost more."""
    from workflows.dryrun import estimate_core_hours
    from workflows.flows import plan_screen
    from workflows.spec import spec_from_dict

    def cost(**gpaw):
        spec = spec_from_dict({**SMALL_SCREEN, "backend": "gpaw", "gpaw_dft": gpaw})
        return estimate_core_hours(spec, plan_screen(spec))

    pw = cost(mode="pw", ecut=400)
    assert pw > 1.0  # 10 configurations of 24 atoms with 19 hops at PW 400 eV: hours, not minutes
    assert cost(mode="pw", ecut=600) == pytest.approx(pw * 1.5 ** 1.5)
    assert cost(mode="lcao") == pytest.approx(3 * pw)
    assert cost(mode="pw", n_images=7) > pw


def test_the_benchmarks_lirich_screens_are_the_examples():
    """The scale benchmark measures the screens a user finds in examples/, not look-alikes."""
    import yaml

    from benchmarks.scale import SCREENS

    root = Path(__file__).resolve().parents[1]
    for size, example in ((100, "lirich_ti_vo_screen.yaml"), (1000, "lirich_five_dopants_screen.yaml")):
        spec = yaml.safe_load((root / "examples" / example).read_text())
        assert {k: v for k, v in SCREENS[size].items() if k != "name"} == {k: v for k, v in spec.items() if k != "name"}


def test_hops_chosen_on_two_processes_are_the_ones_chosen_in_one(monkeypatch):
    """A large screen chooses each configuration's hops in forked workers: the same hops, twin keys
    and order as one process, the host's reference hops included."""
    import workflows.flows as flows
    from workflows.spec import spec_from_dict

    spec = spec_from_dict({**SMALL_SCREEN, "hops": {"per_configuration": 2}})
    plan = flows.plan_screen(spec)
    monkeypatch.setattr(flows, "HOPS_IN_PROCESSES_FROM", 2)  # this small screen on two processes
    lines = []
    one = flows.select_hops(plan.framework, plan.configurations, spec.hops, processes=1)
    two = flows.select_hops(plan.framework, plan.configurations, spec.hops, processes=2, echo=lines.append)
    assert len(one) > 2 and list(one) == list(two)
    assert {c: [(h.id, h.twin_key) for h in hs] for c, hs in one.items()} == {c: [(h.id, h.twin_key) for h in hs] for c, hs in two.items()}
    assert lines == []  # a step of a few seconds prints nothing in a log
