"""Fault injection: killed runs resume without recomputing, failures are stored as failures,
and bad input anywhere is one line, a non-zero exit, and no change to any database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from descriptors.store.database import DescriptorDatabase
from descriptors.store.tables import CalculationRow, DescriptorRow
from launch.cli import main
from tests.conftest import run_mock_screen

LROX = [sys.executable, "-m", "launch.cli"]
ROOT = Path(__file__).resolve().parents[1]
MOCK_SPEC = ROOT / "examples" / "mock_quick.yaml"


def lrox(cwd: Path, *args: str, failpoint: str | None = None) -> subprocess.CompletedProcess:
    """The real command in its own process, optionally set to SIGKILL itself at a failpoint."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("LROX_FAILPOINT", None)
    if failpoint:
        env["LROX_FAILPOINT"] = failpoint
    return subprocess.run([*LROX, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k != "wall_time"}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def comparable(db_url: str) -> dict:
    """The database's rows, wall-clock times left out (they differ between any two runs)."""
    return _without_timings(json.loads(json.dumps(DescriptorDatabase(db_url).snapshot(), default=str)))


# ----- interrupted runs ------------------------------------------------------------------------------
def test_killed_run_resumes_without_recomputing_and_ends_identical(tmp_path):
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    reference.mkdir()
    resumed.mkdir()
    reference_db, resumed_db = f"sqlite:///{reference / 'lrox.db'}", f"sqlite:///{resumed / 'lrox.db'}"
    done = lrox(reference, "run", str(MOCK_SPEC), "--db", reference_db)
    assert done.returncode == 0, done.stderr
    jobs = reference / "lrox-out" / "mock_quick" / "jobs"
    n_calculations = len(list(jobs.glob("*.json")))
    assert n_calculations == 11  # 4 relaxations, 6 NEBs, the O2 reference

    # killed while publishing a job's output, inside a relaxation, inside an NEB, inside the
    # database transaction; each time the same command is simply started again
    kills = ["cache-write:3", "relax-step:9", "neb-step:5", "db-write"]
    resumed_jobs = resumed / "lrox-out" / "mock_quick" / "jobs"
    finished_before = []
    for point in kills:
        killed = lrox(resumed, "run", str(MOCK_SPEC), "--db", resumed_db, failpoint=point)
        assert killed.returncode == -signal.SIGKILL, f"{point} did not fire: {killed.stderr[-300:]}"
        assert not list(resumed_jobs.glob("*.tmp*")) or point == "cache-write:3"
        finished_before.append(len(list(resumed_jobs.glob("*.json"))))
        if point == "db-write":  # the transaction died with the process: nothing of it is visible
            assert DescriptorDatabase(resumed_db).counts() == {"configurations": 0, "calculations": 0, "descriptors": 0}
    print("finished before each kill:", finished_before)
    assert 0 < finished_before[0] < finished_before[1] < finished_before[2] < n_calculations == finished_before[3]
    final = lrox(resumed, "run", str(MOCK_SPEC), "--db", resumed_db)
    assert final.returncode == 0, final.stderr
    assert "(0 calculations run, 11 reused" in final.stdout

    journal = (resumed_jobs / "journal.log").read_text().split("\n")
    keys = [line.split(" ", 1)[0] for line in journal if line]
    assert len(keys) == len(set(keys)) == n_calculations  # no finished job was ever computed twice
    assert sorted(keys) == sorted(p.stem for p in jobs.glob("*.json"))  # the same inputs as the uninterrupted run
    assert comparable(resumed_db) == comparable(reference_db)


def test_kill_inside_a_database_write_leaves_it_unchanged(tmp_path, db_url):
    """Killed mid-transaction (SQLite and PostgreSQL): the write is rolled back, stored rows intact."""
    result = tmp_path / "results.json"
    done = lrox(tmp_path, "run", str(MOCK_SPEC), "--db", db_url)
    assert done.returncode == 0, done.stderr
    (tmp_path / "lrox-out" / "mock_quick" / "results.json").rename(result)
    before = comparable(db_url)
    data = json.loads(result.read_text())
    data["screen"] = "renamed"  # a different batch: every calculation row would change
    result.write_text(json.dumps(data))
    killed = lrox(tmp_path, "ingest", str(result), "--db", db_url, failpoint="db-write")
    assert killed.returncode == -signal.SIGKILL
    assert comparable(db_url) == before
    assert lrox(tmp_path, "ingest", str(result), "--db", db_url).returncode == 0
    assert {r["screen"] for r in DescriptorDatabase(db_url).rows(CalculationRow)} == {"renamed"}


# ----- failing calculations --------------------------------------------------------------------------
def test_raising_blown_up_and_unconverged_calculations_are_stored_as_failed(tmp_path, monkeypatch):
    """One configuration's calculator raises, another's forces explode, every NEB hits its step limit."""
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "faults.yaml"
    spec.write_text(
        MOCK_SPEC.read_text()
        + "mock:\n  fail: ['Ti on']\n  blow_up: ['V_O(4i)']\n  neb_steps: 1\n  neb_fmax: 0.0001\n"
    )
    db = f"sqlite:///{tmp_path / 'lrox.db'}"
    assert main(["run", str(spec), "--db", db]) == 0
    calculations = {c["label"]: c for c in DescriptorDatabase(db).rows(CalculationRow)}
    relax = {label.split(" [")[0]: c for label, c in calculations.items() if c["kind"] == "relax"}
    assert relax["relax Ti on Mn(4g, TM layer)"]["status"] == "failed"
    assert "forced to fail" in relax["relax Ti on Mn(4g, TM layer)"]["error"]
    assert relax["relax V_O(4i)"]["status"] == "failed"
    assert "outside any physical range" in relax["relax V_O(4i)"]["error"]
    assert relax["relax pristine"]["status"] == relax["relax V_O(8j)"]["status"] == "success"
    nebs = [c for c in calculations.values() if c["kind"] == "neb"]
    failed = {c["id"]: c["error"] for c in nebs if c["status"] == "failed"}
    unconverged = [e for e in failed.values() if e == "NEB not converged in 1 steps"]
    after_failed_relax = [e for e in failed.values() if "configuration relaxation failed" in e]
    assert len(nebs) == 6 and len(unconverged) >= 2 and len(after_failed_relax) == 2
    # an NEB that did converge in one step is a zero-force band (a symmetric mock hop), not a guess
    assert all(c["data"].get("n_steps", 0) <= 1 for c in nebs if c["status"] == "success")

    descriptors = DescriptorDatabase(db).rows(DescriptorRow)
    barriers = [d for d in descriptors if d["name"] == "barrier"]
    assert len(barriers) == 6
    assert all((d["status"] == "failed") == (d["calculation_id"] in failed) for d in barriers)
    assert all(d["value"] is None for d in barriers if d["status"] == "failed")
    e_vac = {d["configuration_id"]: d for d in descriptors if d["name"] == "e_vac_o"}
    statuses = sorted(d["status"] for d in e_vac.values())
    assert statuses == ["failed", "ok"]  # the blown-up vacancy has no number; the other one has
    assert all((d["value"] is None) == (d["status"] == "failed") for d in e_vac.values())


# ----- bad input everywhere --------------------------------------------------------------------------
GOOD_SPEC = "name: s\nhost: li2mno3\nsupercell: 1x1x1\nbackend: mock\n"
BAD_INPUTS = [
    # files
    ("enumerate", ["enumerate", "/no/such/file.cif"], None, "unknown host '/no/such/file.cif'"),
    ("enumerate", ["enumerate", "{garbled}"], None, "cannot read structure file"),
    ("hops", ["hops", "{json}"], None, "is not an lrox configuration file"),
    ("run", ["run", "/no/such/spec.yaml"], None, "spec.yaml"),
    ("ingest", ["ingest", "/no/such/results.json"], None, "does not exist"),
    ("ingest", ["ingest", "{garbled}"], None, "garbled"),
    # YAML specs
    ("run", ["run", "{spec}"], "name: s\nhost: [unclosed\n", "not valid YAML"),
    ("run", ["run", "{spec}"], "- just\n- a list\n", "mapping"),
    ("run", ["run", "{spec}"], GOOD_SPEC + "bogus: 1\n", "unknown key 'bogus'"),
    ("run", ["run", "{spec}"], "host: li2mno3\n", "name"),
    ("run", ["run", "{spec}"], GOOD_SPEC.replace("mock", "abinit"), "unknown value 'abinit'"),
    ("run", ["run", "{spec}"], GOOD_SPEC + "mlip: {model: mace}\n", "unknown ML model 'mace'"),
    # element and site names
    ("enumerate", ["enumerate", "li2mno3", "--dopant", "Qq:tm"], None, "unknown element 'Qq'"),
    ("enumerate", ["enumerate", "licoo2", "--dopant", "Al:tm-layer-li"], None, "no 'tm-layer-li' sublattice"),
    ("enumerate", ["enumerate", "li2mno3", "--vacancy", "Co"], None, "no Co to remove"),
    ("run", ["run", "{spec}"], GOOD_SPEC + "dopants: ['Xx:tm']\n", "unknown element 'Xx'"),
    ("run", ["run", "{spec}"], GOOD_SPEC + "vacancies: ['O:nowhere']\n", "nowhere"),
    # numbers out of range
    ("enumerate", ["enumerate", "li2mno3", "--dopant", "Al:tm", "--pair-cutoff", "-1"], None, "--pair-cutoff must be positive"),
    ("enumerate", ["enumerate", "li2mno3", "--min-image-distance", "40"], None, "no supercell of at most 250 atoms"),
    ("hops", ["hops", "li2mno3", "--cutoff", "-2"], None, "--cutoff must be positive"),
    ("run", ["run", "{spec}"], GOOD_SPEC + "mlip: {neb_fmax: -0.1}\n", "fmax values must be positive"),
    ("run", ["run", "{spec}"], GOOD_SPEC + "mock: {n_images: 0}\n", "n_images' must be between 1 and 50"),
    ("run", ["run", "{spec}"], GOOD_SPEC.replace("1x1x1", "0x1x1"), "supercell"),
    ("run", ["run", "{spec}"], GOOD_SPEC + "hops: {cutoff: -3}\n", "cutoff' must be positive"),
    # query expressions
    ("query", ["query", "--where", "barrier <"], None, "expression ends too early"),
    ("query", ["query", "--where", "__import__('os').system('true')"], None, "query"),
    ("query", ["query", "--where", "colour = 1"], None, "unknown field 'colour'"),
    ("query", ["query", "--sort", "colour"], None, "unknown sort field"),
    ("export", ["export", "--format", "csv", "{out}", "--where", "barrier >> 1"], None, "query"),
    # database URLs
    ("query", ["query", "--db", "mysql://u:hunter2@h/d"], None, "only sqlite and postgresql"),
    ("query", ["query", "--db", "postgresql://lrox:hunter2@127.0.0.1:1/none"], None, "cannot open the database"),
    ("query", ["query", "--db", "not a url"], None, "not a valid SQLAlchemy URL"),
    ("query", ["query", "--db", "sqlite:////no/such/folder/x.db"], None, "no database at"),
    ("run", ["run", "{spec}", "--db", "oracle://u:hunter2@h/d"], GOOD_SPEC, "only sqlite and postgresql"),
    # engine, backend and format names
    ("run", ["run", "{spec}", "--backend", "cp2k"], GOOD_SPEC, "Invalid value for '--backend'"),
    ("run", ["run", "{spec}"], GOOD_SPEC + "mlip: {neb_optimizer: gpmin}\n", "unknown neb_optimizer 'gpmin'"),
    ("export", ["export", "--format", "xlsx", "{out}"], None, "Invalid value for '--format'"),
    ("plot", ["plot", "neb", "nosuchid", "{png}"], None, "no calculation with id"),
    ("plot", ["plot", "scatter", "barrier", "nosuchfield", "{png}"], None, "unknown field 'nosuchfield'"),
    ("lrox", ["frobnicate"], None, "No such command 'frobnicate'"),
]


@pytest.fixture(scope="module")
def populated_database(tmp_path_factory):
    """A database holding the mock screen: every bad command below must leave it as it is."""
    return run_mock_screen(tmp_path_factory.mktemp("populated"))


@pytest.mark.parametrize(("command", "args", "spec", "message"), BAD_INPUTS, ids=[f"{i:02d}-{c}" for i, (c, *_ ) in enumerate(BAD_INPUTS)])
def test_bad_input_anywhere_is_one_line_exit_2_and_no_database_change(capsys, tmp_path, monkeypatch, populated_database, command, args, spec, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LROX_DB", populated_database)  # commands without --db use it
    (tmp_path / "garbled").write_text("\x00\x01 not a structure, not JSON {")
    (tmp_path / "garbled.cif").write_text("data_x\n_cell_length_a oops\n")
    (tmp_path / "configuration.json").write_text("{not json")
    if spec is not None:
        (tmp_path / "spec.yaml").write_text(spec)
    names = {"garbled": tmp_path / "garbled.cif", "json": tmp_path / "configuration.json", "spec": tmp_path / "spec.yaml",
             "out": tmp_path / "out.csv", "png": tmp_path / "out.png"}
    if command == "ingest" and "{garbled}" in args:
        names["garbled"] = tmp_path / "garbled"
    before = DescriptorDatabase(populated_database).snapshot()
    code = main([a.format(**names) for a in args])
    out, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lrox: error: ") and message in lines[0], err
    assert "Traceback" not in out + err and "hunter2" not in out + err
    assert not (tmp_path / "lrox-out").exists() and not (tmp_path / "out.csv").exists()
    assert DescriptorDatabase(populated_database).snapshot() == before


# ----- hostile input, class by class (the hardening issue) ---------------------------------------------
POSCAR = """Li2MnO3-like
1.0
4.9 0 0
0 8.5 0
0 0 5.0
Li Mn O
1 1 2
Direct
0 0 0
0.5 0.5 0.5
{o1}
{o2}
"""
NAN_POSCAR = POSCAR.format(o1="nan 0.1 0.1", o2="0.2 0.2 0.2")
INF_LATTICE = POSCAR.replace("4.9 0 0", "inf 0 0").format(o1="0.1 0.1 0.1", o2="0.2 0.2 0.2")
OVERLAP = POSCAR.format(o1="0.1 0.1 0.1", o2="0.1 0.1 0.1001")
FLAT = POSCAR.replace("0 0 5.0", "0 0 0.0000001").format(o1="0.1 0.1 0.1", o2="0.2 0.2 0.2")
COUNTS = POSCAR.replace("1 1 2", "1 1 5").format(o1="0.1 0.1 0.1", o2="0.2 0.2 0.2")
BOMB = GOOD_SPEC + "vasp:\n  user_incar_settings:\n    A: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n    B: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n    C: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"


def _hostile_files(folder: Path) -> dict:
    """Every hostile file the cases name: special files, degenerate structures, bombs, forged records."""
    import json as json_module
    import os

    from structures.hosts import load_host
    from structures.io import write_configuration

    files = {}
    for name, text in (("nan", NAN_POSCAR), ("inf", INF_LATTICE), ("overlap", OVERLAP), ("flat", FLAT), ("counts", COUNTS)):
        files[name] = folder / f"{name}.vasp"
        files[name].write_text(text)
    files["fifo"] = folder / "fifo.vasp"
    os.mkfifo(files["fifo"])
    files["zero"] = folder / "zero.json"
    files["zero"].symlink_to("/dev/zero")
    files["device"] = Path("/dev/null")
    files["folder"] = folder / "afolder.cif"
    files["folder"].mkdir()
    files["bomb"] = folder / "bomb.yaml"
    files["bomb"].write_text(BOMB)
    host = load_host("li2mno3")
    from structures.configurations import configuration_from_defects
    from structures.framework import DefectFramework

    config = configuration_from_defects(DefectFramework.from_host(host, (1, 1, 1)), [])
    good = write_configuration(folder / "configs", host, config) / "configuration.json"
    payload = json_module.loads(good.read_text())
    huge = dict(payload, configuration={**payload["configuration"], "supercell": [40, 40, 40]})
    (folder / "huge.json").write_text(json_module.dumps(huge))
    files["huge"] = folder / "huge.json"
    evil = dict(payload, configuration={**payload["configuration"], "@module": "os", "@class": "system"})
    (folder / "evil.json").write_text(json_module.dumps(evil))
    files["evil"] = folder / "evil.json"
    (folder / "deep.json").write_text("[" * 5000 + "]" * 5000)
    files["deep"] = folder / "deep.json"
    # forged results: an edited id, a string where a mapping belongs, no calculations at all
    result = json_module.loads((MOCK_RESULTS).read_text())
    forged = json_module.loads(json_module.dumps(result))
    forged["configurations"][1]["id"] = "li2mno3-000000000000"
    for name, content in (("forged", forged), ("stringy", dict(result, configurations=["pristine"])), ("empty", dict(result, documents=[]))):
        (folder / name).mkdir()
        (folder / name / "results.json").write_text(json_module.dumps(content))
        files[name] = folder / name / "results.json"
    return files


MOCK_RESULTS = Path(__file__).resolve().parent / "_mock_results.json"
HOSTILE = [
    # non-finite and absurd numbers
    ("numbers", ["enumerate", "{nan}"], "non-finite"),
    ("numbers", ["enumerate", "{inf}"], "non-finite"),
    ("numbers", ["enumerate", "li2mno3", "--min-image-distance", "nan"], "finite"),
    ("numbers", ["enumerate", "li2mno3", "--min-image-distance", "inf"], "finite"),
    ("numbers", ["enumerate", "li2mno3", "--dopant", "Al:tm", "--pair-cutoff", "nan"], "finite"),
    ("numbers", ["hops", "li2mno3", "--cutoff", "nan"], "finite"),
    ("numbers", ["hops", "li2mno3", "--near-defect", "-inf"], "finite"),
    ("numbers", ["enumerate", "li2mno3", "--supercell", "99999999999999999999x1x1"], "bad supercell"),
    ("numbers", ["enumerate", "li2mno3", "--supercell", "101x1x1"], "between 1 and 100"),
    ("numbers", ["enumerate", "li2mno3", "--max-atoms", "99999999999999999999"], "--max-atoms"),
    ("numbers", ["enumerate", "li2mno3", "--dopant", "Al99+:tm"], "no 99+ state"),
    ("numbers", ["enumerate", "li2mno3", "--dopant", "Al7+:tm"], "no 7+ state"),
    ("numbers", ["run", "{spec}"], "min_image_distance: .nan", "finite"),
    ("numbers", ["run", "{spec}"], "vasp: {cores_per_job: -4}", "cores_per_job"),
    ("numbers", ["run", "{spec}"], "vasp: {nedos: -1}", "nedos"),
    ("numbers", ["run", "{spec}"], "vasp: {user_incar_settings: {ENCUT: -1}}", "must not be negative"),
    ("numbers", ["run", "{spec}"], "vasp: {user_incar_settings: {MAGMOM: lol}}", "MAGMOM"),
    ("numbers", ["run", "{spec}"], 'vasp: {user_incar_settings: {"ENCUT\\nSYSTEM": 5}}', "not an INCAR tag name"),
    ("numbers", ["run", "{spec}"], "vasp: {user_incar_settings: {SYSTEM: \"x\\nNSW = 0\"}}", "one plain line"),
    ("numbers", ["run", "{spec}"], "hops: {per_configuration: 100000000}", "per_configuration"),
    ("numbers", ["run", "{spec}"], "mlip: {neb_steps: 99999999999}", "out of any sensible range"),
    ("numbers", ["run", "{spec}"], "oxygen: {temperature: 99999}", "outside the tabulated range"),
    ("numbers", ["query", "--oxygen", "nan,0.2"], "finite"),
    # degenerate structures
    ("degenerate", ["enumerate", "{overlap}"], "overlap"),
    ("degenerate", ["enumerate", "{flat}"], "near-zero volume"),
    ("degenerate", ["enumerate", "{counts}"], "coordinate lines"),
    ("degenerate", ["hops", "{counts}"], "coordinate lines"),
    # special files
    ("special", ["enumerate", "{fifo}"], "FIFO"),
    ("special", ["hops", "{zero}"], "device"),
    ("special", ["enumerate", "{device}"], "device"),
    ("special", ["enumerate", "{folder}"], "directory"),
    ("special", ["run", "{fifo}"], "FIFO"),
    ("special", ["run", "{zero}"], "device"),
    ("special", ["ingest", "{fifo}"], "FIFO"),
    ("special", ["ingest", "{zero}"], "device"),
    ("special", ["hops", "{fifo}"], "FIFO"),
    # resource bombs
    ("bombs", ["run", "{bomb}"], "YAML alias"),
    ("bombs", ["hops", "{huge}"], "more than 5000"),
    ("bombs", ["hops", "{deep}"], "nested"),
    ("bombs", ["ingest", "{deep}"], "nested"),
    ("bombs", ["query", "--where", "(" * 400 + "barrier < 1" + ")" * 400], "nested"),
    ("bombs", ["query", "--where", "not " * 400 + "barrier < 1"], "nested"),
    # destinations
    ("destinations", ["export", "--format", "csv", "/sys/out.csv"], "nothing was written"),
    ("destinations", ["export", "--format", "csv", "/dev/full", "--overwrite"], "not a regular file"),
    ("destinations", ["export", "--format", "csv", "x" * 300 + ".csv"], "longer than a filesystem allows"),
    ("destinations", ["report", "/dev/null", "--overwrite"], "not a regular file"),
    ("destinations", ["plot", "scatter", "li_slab_spacing", "barrier", "/proc/out.png"], "nothing was written"),
    ("destinations", ["enumerate", "li2mno3", "--write-dir", "/sys/runs"], "nothing was written"),
    ("destinations", ["run", "{spec}", "--dry-run", "/sys/dry"], "", "nothing was written"),
    ("destinations", ["run", "{spec}"], "output: /sys/lrox-out", "cannot be written"),
    # foreign databases and credentials
    ("foreign", ["query", "--db", "sqlite:///{foreign}"], "not an lrox database"),
    ("foreign", ["ingest", "{results}", "--db", "sqlite:///{foreign}"], "no lrox schema"),
    ("foreign", ["query", "--db", "sqlite:///{typo}"], "never creates one"),
    ("foreign", ["export", "--format", "csv", "{out}", "--db", "sqlite:///{typo}"], "never creates one"),
    ("credentials", ["query", "--db", "postgresql://u@127.0.0.1:1/db?password=hunter2"], "cannot open"),
    ("credentials", ["query", "--db", "postgresql://u:hunter2@127.0.0.1:1/db"], "cannot open"),
    ("credentials", ["status", "--engine", "fireworks", "--launchpad", "{launchpad}"], ""),
    # files never choose code
    ("code", ["hops", "{evil}"], "decodes only its own"),
    # ingest validates content
    ("content", ["ingest", "{forged}"], "do not match its digest"),
    ("content", ["ingest", "{stringy}"], "not a mapping"),
    ("content", ["ingest", "{empty}"], "no calculations"),
]


@pytest.fixture(scope="module")
def mock_results_file(populated_database):
    """The populated database's results.json, kept for the forged copies."""
    folder = Path(populated_database.split("///", 1)[1]).parent
    MOCK_RESULTS.write_text((folder / "lrox-out" / "mock_quick" / "results.json").read_text())
    yield MOCK_RESULTS
    MOCK_RESULTS.unlink(missing_ok=True)


@pytest.mark.parametrize("case", HOSTILE, ids=[f"{c[0]}-{i:02d}" for i, c in enumerate(HOSTILE)])
def test_hostile_input_is_one_line_exit_2_nothing_written_nothing_changed(capsys, tmp_path, monkeypatch, populated_database, mock_results_file, case):
    import sqlite3

    kind, args, *rest = case
    spec_extra, message = (rest[0], rest[1]) if len(rest) == 2 else (None, rest[0])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LROX_DB", populated_database)
    monkeypatch.setenv("LROX_TEST_SECRET_TOKEN", "hunter2")  # a secret in the environment
    files = _hostile_files(tmp_path)
    if spec_extra is not None:
        (tmp_path / "spec.yaml").write_text(GOOD_SPEC + spec_extra + "\n")
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("create table notes(x int)")
    (tmp_path / "launchpad.yaml").write_text("host: mongodb://admin:hunter2@127.0.0.1:1/fw\nname: fw\n")
    names = {**{k: str(v) for k, v in files.items()}, "spec": tmp_path / "spec.yaml", "foreign": foreign, "typo": tmp_path / "typo.db",
             "out": tmp_path / "out.csv", "results": mock_results_file, "launchpad": tmp_path / "launchpad.yaml"}
    before_db = DescriptorDatabase(populated_database).snapshot()
    before_foreign = foreign.read_bytes()
    before_files = sorted(str(p) for p in tmp_path.rglob("*"))
    code = main([a.format(**names) for a in args])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lrox: error: ") and message in lines[0], err
    assert "Traceback" not in out + err and "hunter2" not in out + err
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before_files  # nothing written
    assert DescriptorDatabase(populated_database).snapshot() == before_db and foreign.read_bytes() == before_foreign


def test_two_first_ingests_into_a_new_database_both_succeed(tmp_path, populated_database):
    """Concurrent writers of a database that does not exist yet: both create its schema, neither fails."""
    import subprocess
    import sys

    folder = Path(populated_database.split("///", 1)[1]).parent / "lrox-out" / "mock_quick"
    for attempt in range(3):
        db = f"sqlite:///{tmp_path / f'new{attempt}.db'}"
        code = f"from launch.cli import main; raise SystemExit(main(['ingest', {str(folder)!r}, '--db', {db!r}]))"
        runs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        results = [(p.wait(timeout=300), p.stderr.read()) for p in runs]
        assert all(rc == 0 for rc, _ in results), results
        assert DescriptorDatabase(db).counts()["configurations"] == 4


def test_where_gpaw_writes_its_log_is_not_part_of_a_finished_job(tmp_path):
    """A check re-run with another --output (its GPAW logs elsewhere) reuses the finished jobs; a
    setting that changes a number still makes a new job."""
    from workflows.reuse import JobCache, reuse_or_run, using_cache
    from workflows.schemas import RelaxDoc

    calls = []

    def relax(settings):
        calls.append(settings)
        return RelaxDoc(label="relax", status="success", provenance={"backend": "gpaw", "level_of_theory": "GPAW", "settings_hash": "x", "settings": settings})

    with using_cache(JobCache(tmp_path / "jobs")) as cache:
        reuse_or_run(RelaxDoc, relax, {"mode": "pw", "ecut": 400.0, "log_folder": str(tmp_path / "a" / "gpaw-logs")})
        reuse_or_run(RelaxDoc, relax, {"mode": "pw", "ecut": 400.0, "log_folder": str(tmp_path / "b" / "gpaw-logs")})
        assert len(calls) == 1 and cache.reused == 1
        reuse_or_run(RelaxDoc, relax, {"mode": "pw", "ecut": 500.0, "log_folder": str(tmp_path / "b" / "gpaw-logs")})
        assert len(calls) == 2
