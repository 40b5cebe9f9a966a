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

from descriptors.database import CalculationRow, DescriptorDatabase, DescriptorRow
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
    ("query", ["query", "--db", "sqlite:////no/such/folder/x.db"], None, "does not exist"),
    ("run", ["run", "{spec}", "--db", "oracle://u:hunter2@h/d"], GOOD_SPEC, "only sqlite and postgresql"),
    # engine, backend and format names
    ("run", ["run", "{spec}", "--backend", "cp2k"], GOOD_SPEC, "Invalid value for '--backend'"),
    ("run", ["run", "{spec}"], GOOD_SPEC + "mlip: {neb_optimizer: bfgs}\n", "unknown neb_optimizer 'bfgs'"),
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
