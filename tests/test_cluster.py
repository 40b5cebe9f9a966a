"""Screens on real cluster machinery: a FireWorks LaunchPad and job store on a MongoDB-protocol
server (secantusdb), rockets launched by a real one-node SLURM through FireWorks' qlaunch, and
the same screen through jobflow-remote. The mock backend keeps each job to seconds."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml

from launch.cli import main
from tests.cluster import ROOT, venv_bin

MOCK_SPEC = ROOT / "examples" / "mock_quick.yaml"


def lrox(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def fireworks_files(folder: Path, host: str, port: int, env: dict | None = None, pre_rocket: str = "") -> dict[str, Path]:
    """my_launchpad.yaml, my_fworker.yaml, my_qadapter.yaml and jobflow.yaml, as a group writes them."""
    tag = uuid.uuid4().hex[:8]
    files = {name: folder / f"{name}.yaml" for name in ("my_launchpad", "my_fworker", "my_qadapter", "jobflow")}
    files["my_launchpad"].write_text(yaml.safe_dump({"host": host, "port": port, "name": f"lp_{tag}", "strm_lvl": "WARNING"}))
    files["my_fworker"].write_text(yaml.safe_dump({"name": "lrox-test-worker", "category": "", "query": "{}"}))
    files["jobflow"].write_text(yaml.safe_dump({"JOB_STORE": {
        "docs_store": {"type": "MongoStore", "host": host, "port": port, "database": f"out_{tag}", "collection_name": "outputs"},
        "additional_stores": {"data": {"type": "GridFSStore", "host": host, "port": port, "database": f"out_{tag}", "collection_name": "blobs"}}}}))
    rlaunch = f"{venv_bin() / 'rlaunch'} -l {files['my_launchpad']} -w {files['my_fworker']} rapidfire --nlaunches 0 --max_loops 1"
    files["my_qadapter"].write_text(yaml.safe_dump({
        "_fw_name": "CommonAdapter", "_fw_q_type": "SLURM", "rocket_launch": rlaunch, "nodes": 1, "ntasks": 1,
        "walltime": "00:20:00", "queue": "debug", "job_name": "lrox-test",
        "pre_rocket": "\n".join(filter(None, [f"export JOBFLOW_CONFIG_FILE={files['jobflow']}", pre_rocket])),
    }))
    return files


def worker_env(files: dict[str, Path], extra: dict | None = None) -> dict:
    return {**os.environ, "JOBFLOW_CONFIG_FILE": str(files["jobflow"]), **(extra or {})}


def launchpad(files):
    from fireworks import LaunchPad

    return LaunchPad.from_file(str(files["my_launchpad"]))


def wait_until(condition, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# ----- FireWorks through SLURM ---------------------------------------------------------------------
def test_fireworks_screen_runs_through_slurm_and_lands_in_the_database(capsys, tmp_path, mongo_server, slurm_cluster):
    host, port = mongo_server
    files = fireworks_files(tmp_path, host, port)
    db = f"sqlite:///{tmp_path / 'lrox.db'}"
    code, out, err = lrox(capsys, "submit", MOCK_SPEC, "--engine", "fireworks", "--launchpad", files["my_launchpad"], "--db", db)
    assert code == 0, err
    assert out.strip() == "mock_quick: 20 jobs submitted to fireworks"
    lp = launchpad(files)
    assert lp.workflows.count_documents({"metadata.lrox_screen": "mock_quick", "metadata.tags": "mock_quick"}) == 1

    # two SLURM jobs, each running rockets until none is ready: every rocket runs inside SLURM
    launches = tmp_path / "launches"
    launches.mkdir()
    env = worker_env(files, slurm_cluster)
    for _ in range(2):
        done = subprocess.run(
            [venv_bin() / "qlaunch", "-l", files["my_launchpad"], "-w", files["my_fworker"], "-q", files["my_qadapter"], "singleshot"],
            cwd=launches, env=env, capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]

    def finished() -> bool:
        states = {fw["state"] for fw in lp.fireworks.find({"spec.lrox_screen": "mock_quick"}, {"state": 1})}
        queued = subprocess.run(["squeue", "-h"], env=env, capture_output=True, text=True).stdout.strip()
        return states == {"COMPLETED"} and not queued

    wait_until(finished, 400, "every firework COMPLETED and the SLURM queue empty")
    slurm_outputs = list(launches.rglob("*.out"))
    assert len(slurm_outputs) >= 1  # written by SLURM for its batch jobs
    launch_dirs = [Path(launch["launch_dir"]) for launch in lp.launches.find({}, {"launch_dir": 1})]
    assert len(launch_dirs) == 20 and all(launches in d.parents for d in launch_dirs)  # all under qlaunch's blocks

    code, out, err = lrox(capsys, "status", "mock_quick", "--engine", "fireworks", "--launchpad", files["my_launchpad"], "--json")
    status = json.loads(out)
    assert code == 0 and status["by_state"] == {"COMPLETED": 20} and status["failed"] == []
    assert len([k for k in status["by_configuration"] if k.startswith("li2mno3-")]) == 4

    # the workers' job store → the descriptor database
    code, out, err = lrox(capsys, "ingest", "--job-store", files["jobflow"], "--db", db)
    assert code == 0 and "ingested 4 configurations, 19 calculations" in out, out + err
    # the plumbing, not a mock barrier's value: every configuration landed, every hop calculation
    # is in the hop table with a profile or a named failure, none a silent null
    code, out, _ = lrox(capsys, "query", "--db", db, "--json")
    assert code == 0 and len(json.loads(out)) == 4
    code, out, _ = lrox(capsys, "query", "hops", "--db", db, "--json")
    hops = json.loads(out)
    assert code == 0 and len(hops) == 6 and all(h["level_of_theory"].startswith("mock") for h in hops)
    assert all((h["barrier"] is not None and h["e_kra"] is not None) or (h["status"] == "failed" and h["flags"]) for h in hops)

    # the same screen again: everything is in the database at this settings hash
    code, out, err = lrox(capsys, "submit", MOCK_SPEC, "--engine", "fireworks", "--launchpad", files["my_launchpad"], "--db", db)
    assert code == 0, err
    assert "nothing submitted; 4 configurations skipped: already in the descriptor database at settings hash" in out
    assert lp.workflows.count_documents({}) == 1


# ----- GPAW through FireWorks and SLURM ----------------------------------------------------------------
GPAW_SPEC = """\
name: gpaw_cluster
host: licoo2_primitive.vasp
supercell: 1x1x1
vacancies: [O]
hops: {per_configuration: 0}
backend: mock
static_backend: gpaw
gpaw: {ecut: 300, kspacing: 0.8, magnetic_order: nonmagnetic, max_atoms: 12, configurations: [pristine]}
"""


def gpaw_screen(folder: Path) -> Path:
    """A user's P1 cell small enough for CI: LiCoO2's 4-atom primitive cell (a GPAW static in a minute or two)."""
    from structures import load_host

    load_host("licoo2").structure.get_primitive_structure().to(filename=str(folder / "licoo2_primitive.vasp"), fmt="poscar")
    spec = folder / "gpaw_cluster.yaml"
    spec.write_text(GPAW_SPEC)
    return spec


def gpaw_has_mpi() -> bool:
    import gpaw.cgpaw as cgpaw

    return bool(cgpaw.have_mpi)


def test_a_gpaw_static_runs_through_fireworks_and_slurm_under_srun(capsys, tmp_path, monkeypatch, mongo_server, slurm_cluster):
    """The worker's template sets LROX_GPAW_COMMAND='srun gpaw python': the GPAW static runs as a
    job step of the rocket's SLURM allocation (as many ranks as its tasks), and its level and
    numbers land in the descriptor database through the job store, as the VASP screens' do."""
    pytest.importorskip("gpaw")
    host, port = mongo_server
    monkeypatch.chdir(tmp_path)  # the statics' folders (lrox-out/...) are under the submitting folder
    files = fireworks_files(tmp_path, host, port, pre_rocket=f"export PATH={venv_bin()}:$PATH\nexport LROX_GPAW_COMMAND='srun gpaw python'")
    spec = gpaw_screen(tmp_path)
    db = f"sqlite:///{tmp_path / 'lrox.db'}"
    code, out, err = lrox(capsys, "submit", spec, "--engine", "fireworks", "--launchpad", files["my_launchpad"], "--db", db)
    assert code == 0 and out.startswith("gpaw_cluster: ") and out.strip().endswith("jobs submitted to fireworks"), out + err
    n_jobs = int(out.split()[1])
    lp = launchpad(files)
    launches = tmp_path / "launches"
    launches.mkdir()
    env = worker_env(files, slurm_cluster)
    for _ in range(2):
        done = subprocess.run(
            [venv_bin() / "qlaunch", "-l", files["my_launchpad"], "-w", files["my_fworker"], "-q", files["my_qadapter"], "singleshot"],
            cwd=launches, env=env, capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]

    def finished() -> bool:
        states = {fw["state"] for fw in lp.fireworks.find({"spec.lrox_screen": "gpaw_cluster"}, {"state": 1})}
        queued = subprocess.run(["squeue", "-h"], env=env, capture_output=True, text=True).stdout.strip()
        return bool(states) and states <= {"COMPLETED", "FIZZLED"} and not queued

    wait_until(finished, 900, "every firework finished and the SLURM queue empty")
    code, out, _ = lrox(capsys, "status", "gpaw_cluster", "--engine", "fireworks", "--launchpad", files["my_launchpad"], "--json")
    assert json.loads(out)["by_state"] == {"COMPLETED": n_jobs}

    # the static ran under the launcher, inside a SLURM job: its own result file says so
    results = list((tmp_path / "lrox-out").rglob("gpaw_result.json"))
    assert len(results) == 1  # one configuration selected for GPAW
    run = json.loads(results[0].read_text())["parallel"]
    assert run["command"] == "srun gpaw python" and run["slurm_job_id"] and run["ranks"] == 1  # the allocation's one task
    assert (results[0].parent / "CHGCAR").exists() and (results[0].parent / "gpaw.txt").exists()

    code, out, err = lrox(capsys, "ingest", "--job-store", files["jobflow"], "--db", db)
    assert code == 0 and "ingested 2 configurations" in out, out + err
    from descriptors.store.database import DescriptorDatabase
    from descriptors.store.tables import CalculationRow, DescriptorRow

    database = DescriptorDatabase(db)
    calcs = {c["label"].split(" [")[0]: c for c in database.rows(CalculationRow)}
    static = calcs["static pristine"]
    assert static["status"] == "success", static["error"]
    assert static["level_of_theory"] == "GPAW PBE+U (MP U values; PW 300 eV, non-spin-polarised) // mock (toy ionic potential, not physics) geometry"
    assert static["settings"]["ecut"] == 300 and calcs["bader pristine"]["status"] == "success"
    assert calcs["static V_O(2c)"]["status"] == "not_available"  # not selected: recorded, not faked
    gpaw = {d["name"]: d for d in database.rows(DescriptorRow) if d["level_of_theory"] == static["level_of_theory"]}
    # GPAW's numbers, read from the worker's own density and eigenvalues: LiCoO2 has a gap in GGA+U,
    # O 2p lies below the valence band maximum, and the cell's Bader charges are neutral with Li and O of opposite sign
    assert gpaw["band_gap"]["status"] == "ok" and gpaw["band_gap"]["value"] > 1.0 and gpaw["band_gap"]["details"]["vbm_from"] == "eigenvalues"
    assert gpaw["o2p_center_vbm"]["value"] < -1.0
    assert gpaw["bader_charge_li"]["value"] > 0.5 and gpaw["bader_charge_o"]["value"] < -0.5
    charges = calcs["bader pristine"]["data"]["charges"]
    assert len(charges) == 4 and abs(sum(charges)) < 0.1


def test_more_ranks_than_gpaw_can_use_is_a_failed_static_with_the_reason(tmp_path, monkeypatch, slurm_cluster):
    """'srun -n 2 gpaw python' with a GPAW built without MPI would run the whole SCF twice: each
    copy refuses, and the static is recorded as failed with why. With an MPI GPAW, two ranks share it."""
    pytest.importorskip("gpaw")
    from structures import load_host
    from workflows.jobs import gpaw_static_document

    for name, value in {**slurm_cluster, "PATH": f"{venv_bin()}:{os.environ['PATH']}", "LROX_GPAW_COMMAND": "srun -n 2 gpaw python"}.items():
        monkeypatch.setenv(name, value)
    relaxed = {"status": "success", "structure": load_host("licoo2").structure.get_primitive_structure()}
    settings = yaml.safe_load(GPAW_SPEC)["gpaw"]
    doc = gpaw_static_document(relaxed, settings, "static pristine", "cfg", str(tmp_path / "static"))
    if gpaw_has_mpi():
        assert doc.status.value == "success" and doc.energy is not None, doc.reason
        assert json.loads((tmp_path / "static" / "gpaw_result.json").read_text())["parallel"]["ranks"] == 2
    else:
        assert doc.status.value == "failed" and doc.energy is None and doc.dos is None
        assert "the launcher started 2 ranks but GPAW sees 1: this GPAW was built without MPI" in doc.reason
        assert not (tmp_path / "static" / "gpaw_result.json").exists() and not (tmp_path / "static" / "CHGCAR").exists()


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        ("no-such-mpiexec -n 4 gpaw python", "LROX_GPAW_COMMAND: cannot start 'no-such-mpiexec'"),
        ("srun 'gpaw python", "is not a command line (No closing quotation)"),
        ("false", "'false' exited with 1 and no result"),  # a launcher that runs nothing
    ],
)
def test_a_gpaw_command_that_cannot_run_is_a_failed_static_with_the_reason(tmp_path, monkeypatch, command, reason):
    pytest.importorskip("gpaw")
    from structures import load_host
    from workflows.jobs import gpaw_static_document

    monkeypatch.setenv("LROX_GPAW_COMMAND", command)
    relaxed = {"status": "success", "structure": load_host("licoo2").structure.get_primitive_structure()}
    doc = gpaw_static_document(relaxed, yaml.safe_load(GPAW_SPEC)["gpaw"], "static pristine", "cfg", str(tmp_path / "static"))
    assert doc.status.value == "failed" and doc.energy is None and doc.dos is None
    assert reason in doc.reason, doc.reason


def test_the_launchers_number_of_ranks_is_read_from_what_each_launcher_sets():
    from workflows.gpaw_parallel import gpaw_command, launcher_ranks

    assert launcher_ranks({}) == 1  # no launcher: one process
    assert launcher_ranks({"SLURM_STEP_NUM_TASKS": "4"}) == 4 and launcher_ranks({"OMPI_COMM_WORLD_SIZE": "8"}) == 8
    assert launcher_ranks({"PMI_SIZE": "16", "SLURM_STEP_NUM_TASKS": "1"}) == 16  # mpiexec's own count first
    assert gpaw_command({}) is None and gpaw_command({"LROX_GPAW_COMMAND": "  "}) is None  # unset or blank: in-process
    assert gpaw_command({"LROX_GPAW_COMMAND": "mpiexec -n 4 gpaw python"}) == ["mpiexec", "-n", "4", "gpaw", "python"]


def test_status_and_rerun_of_a_screen_with_a_crashed_job(capsys, tmp_path, mongo_server):
    host, port = mongo_server
    files = fireworks_files(tmp_path, host, port)
    spec = tmp_path / "crashy.yaml"
    spec.write_text(MOCK_SPEC.read_text().replace("name: mock_quick", "name: crashy") + "mock:\n  crash: ['relax V_O(8j)']\n")
    db = f"sqlite:///{tmp_path / 'lrox.db'}"
    lp_file = files["my_launchpad"]
    assert lrox(capsys, "submit", spec, "--engine", "fireworks", "--launchpad", lp_file, "--db", db)[0] == 0
    rlaunch = [venv_bin() / "rlaunch", "-l", lp_file, "-w", files["my_fworker"], "rapidfire", "--nlaunches", "0", "--max_loops", "1"]
    subprocess.run(rlaunch, cwd=tmp_path, env=worker_env(files), capture_output=True, timeout=600, check=True)

    code, out, _ = lrox(capsys, "status", "crashy", "--engine", "fireworks", "--launchpad", lp_file, "--json")
    status = json.loads(out)
    assert status["by_state"] == {"COMPLETED": 19, "FIZZLED": 1}  # the others ran on, the collector too
    assert [f["name"] for f in status["failed"]] == ["relax V_O(8j) [25b6a8ef49a7]"]
    code, out, _ = lrox(capsys, "status", "crashy", "--engine", "fireworks", "--launchpad", lp_file)
    assert "crashy on fireworks: 20 jobs; COMPLETED 19, FIZZLED 1" in out and "failed: " in out

    lp = launchpad(files)
    def launch_counts() -> dict[str, int]:  # a rerun archives the earlier launches
        fields = {"name": 1, "launches": 1, "archived_launches": 1}
        return {fw["name"]: len(fw.get("launches", [])) + len(fw.get("archived_launches", [])) for fw in lp.fireworks.find({}, fields)}

    before = launch_counts()
    code, out, _ = lrox(capsys, "rerun", "crashy", "--engine", "fireworks", "--failed", "--launchpad", lp_file)
    assert code == 0 and out.startswith("1 failed jobs put back in the queue")
    subprocess.run(rlaunch, cwd=tmp_path, env=worker_env(files), capture_output=True, timeout=600, check=True)
    after = launch_counts()
    rerun = {name for name in after if after[name] > before[name]}
    # the crashed job ran again, with the jobs that wait on it; nothing else did
    assert "relax V_O(8j) [25b6a8ef49a7]" in rerun and "collect results" in rerun
    assert all("25b6a8ef49a7" in name or name == "collect results" for name in rerun)
    assert json.loads(lrox(capsys, "status", "crashy", "--engine", "fireworks", "--launchpad", lp_file, "--json")[1])["by_state"] == {
        "COMPLETED": 19, "FIZZLED": 1}  # it crashes every time: still reported, never hidden


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["submit", "{spec}", "--engine", "slurmgrid"], "unknown engine 'slurmgrid'"),
        (["submit", "{spec}", "--engine", "fireworks", "--launchpad", "/no/such/my_launchpad.yaml"], "does not exist"),
        (["submit", "{spec}", "--engine", "fireworks", "--launchpad", "{unreachable}"], "cannot reach the LaunchPad at 127.0.0.1:1"),
        (["submit", "{spec}", "--engine", "jobflow-remote", "--project", "nosuchproject"], "jobflow-remote project 'nosuchproject'"),
        (["status", "--engine", "fireworks", "--launchpad", "{unreachable}"], "cannot reach the LaunchPad"),
        (["rerun", "--engine", "fireworks", "--launchpad", "{unreachable}"], "Missing option '--failed'"),
        (["ingest", "--job-store", "/no/such/jobflow.yaml"], "does not exist"),
        (["ingest", "--job-store", "{unreachable_store}"], "cannot read the job store"),
    ],
)
def test_bad_cluster_input_submits_nothing(capsys, tmp_path, monkeypatch, args, message):
    monkeypatch.setenv("JFREMOTE_PROJECTS_FOLDER", str(tmp_path / "no-projects"))
    from jobflow_remote import SETTINGS  # read from the environment once, at its first import

    monkeypatch.setattr(SETTINGS, "projects_folder", str(tmp_path / "no-projects"))
    unreachable = tmp_path / "lp.yaml"
    unreachable.write_text("host: 127.0.0.1\nport: 1\nname: x\n")
    store = tmp_path / "jobflow.yaml"
    store.write_text(yaml.safe_dump({"JOB_STORE": {"docs_store": {"type": "MongoStore", "host": "127.0.0.1", "port": 1,
                                                                  "database": "x", "collection_name": "o"}}}))
    names = {"spec": MOCK_SPEC, "unreachable": unreachable, "unreachable_store": store}
    db = tmp_path / "lrox.db"
    code, out, err = lrox(capsys, *[a.format(**names) for a in args], *(["--db", f"sqlite:///{db}"] if args[0] != "status" and args[0] != "rerun" else []))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not (db.exists() and db.stat().st_size and _any_rows(db))


def _any_rows(db: Path) -> bool:
    from descriptors.store.database import DescriptorDatabase

    return any(DescriptorDatabase(f"sqlite:///{db}").counts().values())


# ----- jobflow-remote ----------------------------------------------------------------------------
def jobflow_remote_project(tmp_path: Path, mongo_server, slurm_cluster, pre_run: str = "") -> tuple[str, dict]:
    """A jobflow-remote project whose queue and job store live on the server, worker on the local SLURM:
    (its name, the environment that finds it)."""
    host, port = mongo_server
    tag = uuid.uuid4().hex[:8]
    projects = tmp_path / "projects"
    projects.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    store = {"type": "MongoStore", "host": host, "port": port, "database": f"jfr_{tag}"}
    project = {
        "name": f"lrox{tag}",
        "workers": {"slurm": {
            "type": "local", "scheduler_type": "slurm", "work_dir": str(work),
            "pre_run": "\n".join(filter(None, [f"export PATH={venv_bin()}:$PATH", pre_run])),
            "resources": {"partition": "debug", "ntasks": 1, "time": "00:20:00"},
        }},
        "queue": {"store": {**store, "collection_name": "jobs"}, "flows_collection": "flows"},
        "jobstore": {"docs_store": {**store, "collection_name": "outputs"},
                     "additional_stores": {"data": {**store, "type": "GridFSStore", "collection_name": "blobs"}}},
        "runner": {"delay_checkout": 1, "delay_check_run_status": 1, "delay_advance_status": 1, "delay_refresh_limited": 5},
    }
    (projects / f"lrox{tag}.yaml").write_text(yaml.safe_dump(project))
    env = {**os.environ, **slurm_cluster, "JFREMOTE_PROJECTS_FOLDER": str(projects), "JFREMOTE_PROJECT": f"lrox{tag}",
           "JFREMOTE_CONFIG_FILE": str(tmp_path / "none.yaml"), "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return f"lrox{tag}", env


def run_jobflow_remote(name: str, env: dict, max_seconds: int = 500) -> None:
    runner = subprocess.run(
        [venv_bin() / "python", "-c", f"from jobflow_remote.jobs.runner import Runner; Runner('{name}').run_all_jobs(max_seconds={max_seconds})"],
        env=env, capture_output=True, text=True, timeout=max_seconds + 60,
    )
    assert runner.returncode == 0, runner.stderr[-2000:]


def test_the_same_screen_through_jobflow_remote(tmp_path, mongo_server, slurm_cluster):
    """The mock screen through a jobflow-remote project, its worker on the local SLURM."""
    name, env = jobflow_remote_project(tmp_path, mongo_server, slurm_cluster)
    db = f"sqlite:///{tmp_path / 'lrox.db'}"
    cli = [venv_bin() / "python", "-m", "launch.cli"]

    def run(*args, timeout=300):
        return subprocess.run([*cli, *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)

    done = run("submit", MOCK_SPEC, "--engine", "jobflow-remote", "--project", name, "--db", db)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "mock_quick: 20 jobs submitted to jobflow-remote"
    run_jobflow_remote(name, env)
    status = run("status", "mock_quick", "--engine", "jobflow-remote", "--project", name, "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["by_state"] == {"COMPLETED": 20}
    ingested = run("ingest", "--project", name, "--db", db)
    assert ingested.returncode == 0 and "ingested 4 configurations, 19 calculations" in ingested.stdout, ingested.stderr
    again = run("submit", MOCK_SPEC, "--engine", "jobflow-remote", "--project", name, "--db", db)
    assert again.returncode == 0 and "nothing submitted; 4 configurations skipped" in again.stdout


def test_a_gpaw_static_through_jobflow_remote_on_slurm(tmp_path, mongo_server, slurm_cluster):
    """The same GPAW screen as through FireWorks, its worker's pre_run setting LROX_GPAW_COMMAND."""
    pytest.importorskip("gpaw")
    name, env = jobflow_remote_project(tmp_path, mongo_server, slurm_cluster, pre_run="export LROX_GPAW_COMMAND='srun gpaw python'")
    spec = gpaw_screen(tmp_path)
    db = f"sqlite:///{tmp_path / 'lrox.db'}"

    def run(*args, timeout=300):  # from the screen's folder: its statics' folders are under it
        return subprocess.run([venv_bin() / "python", "-m", "launch.cli", *map(str, args)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)

    done = run("submit", spec, "--engine", "jobflow-remote", "--project", name, "--db", db)
    assert done.returncode == 0 and done.stdout.strip().endswith("jobs submitted to jobflow-remote"), done.stderr
    n_jobs = int(done.stdout.split()[1])
    run_jobflow_remote(name, env, max_seconds=800)
    status = run("status", "gpaw_cluster", "--engine", "jobflow-remote", "--project", name, "--json")
    assert json.loads(status.stdout)["by_state"] == {"COMPLETED": n_jobs}, status.stdout + status.stderr
    (result,) = (tmp_path / "lrox-out").rglob("gpaw_result.json")
    run_info = json.loads(result.read_text())["parallel"]
    assert run_info["command"] == "srun gpaw python" and run_info["slurm_job_id"] and run_info["ranks"] == 1
    ingested = run("ingest", "--project", name, "--db", db)
    assert ingested.returncode == 0 and "ingested 2 configurations" in ingested.stdout, ingested.stderr
    from descriptors.store.database import DescriptorDatabase
    from descriptors.store.tables import CalculationRow, DescriptorRow

    database = DescriptorDatabase(db)
    static = next(c for c in database.rows(CalculationRow) if c["label"].startswith("static pristine"))
    assert static["status"] == "success" and static["level_of_theory"].startswith("GPAW PBE+U (MP U values; PW 300 eV")
    gap = next(d for d in database.rows(DescriptorRow) if d["name"] == "band_gap" and d["level_of_theory"] == static["level_of_theory"])
    assert gap["status"] == "ok" and gap["value"] > 1.0  # LiCoO2 is an insulator in GGA+U


def test_shipped_templates_are_valid_for_their_tools():
    """The commented templates in launch/templates load in FireWorks, jobflow and jobflow-remote."""
    from fireworks import FWorker, LaunchPad
    from fireworks.utilities.fw_serializers import load_object_from_file
    from jobflow import JobStore
    from jobflow_remote.config.base import Project

    from workflows.gpaw_parallel import gpaw_command

    templates = ROOT / "launch" / "templates"
    launchpad = LaunchPad.from_file(str(templates / "my_launchpad.yaml"))
    assert launchpad.host == "mongodb.example.org" and launchpad.name == "lrox_fireworks"
    assert FWorker.from_file(str(templates / "my_fworker.yaml")).name == "my_cluster"
    for scheduler in ("slurm", "pbs"):
        adapter = load_object_from_file(str(templates / f"my_qadapter_{scheduler}.yaml"))
        script = adapter.get_script_str(str(templates))
        assert "rlaunch" in script and "JOBFLOW_CONFIG_FILE" in script
        # GPAW's launcher: a command line that starts GPAW's Python under MPI
        line = next(line for line in script.splitlines() if "LROX_GPAW_COMMAND=" in line)
        command = gpaw_command({"LROX_GPAW_COMMAND": shlex.split(line.split("=", 1)[1])[0]})
        assert command[0] == ("srun" if scheduler == "slurm" else "mpiexec") and command[-2:] == ["gpaw", "python"]
        assert ("#SBATCH" if scheduler == "slurm" else "#PBS") in script
    store = JobStore.from_dict_spec(yaml.safe_load((templates / "jobflow.yaml").read_text())["JOB_STORE"])
    assert type(store.docs_store).__name__ == "MongoStore"
    project = Project.model_validate(yaml.safe_load((templates / "jobflow_remote_project.yaml").read_text()))
    assert project.workers["cluster"].scheduler_type == "slurm"
    assert "export LROX_GPAW_COMMAND='srun gpaw python'" in project.workers["cluster"].pre_run


# ----- big outputs: off the job documents, into GridFS -----------------------------------------------
GPAW_STATIC_FIXTURE = ROOT / "tests" / "data" / "gpaw_static_li2mno3_48.json.xz"


def test_a_collector_of_real_gpaw_statics_fits_mongodb_through_gridfs(mongo_server):
    """A real 48-atom GPAW static (saved once from the main job, so GPAW does not rerun) is a few MB
    of DOS; a collector holding several is beyond MongoDB's 16 MB document limit. lrox's jobs put
    those arrays in jobflow's "data" store (GridFS): the collector's document stays small and the
    arrays come back whole. The same document inline is refused by the server."""
    import lzma

    from jobflow import JobStore, run_locally
    from maggma.stores import GridFSStore, MongoStore
    from pymongo import MongoClient
    from pymongo.errors import DocumentTooLarge

    from workflows.jobs import collect_job

    host, port = mongo_server
    static = json.loads(lzma.decompress(GPAW_STATIC_FIXTURE.read_bytes()))
    assert static["kind"] == "static" and len(static["dos"]["pdos"]) == 48  # the real thing: 48 sites' projected DOS
    n = 2  # each 48-atom static is about 15 MB of JSON
    documents = [{**static, "configuration_id": f"cfg-{k}", "label": f"static {k}"} for k in range(n)]
    inline = len(json.dumps(documents).encode())
    assert inline > 16 * 1024 * 1024, f"{n} statics are only {inline / 1e6:.1f} MB: the test would prove nothing"
    screen = {"name": "big", "host": "li2mno3", "supercell": [2, 1, 1], "backend": "mlip",
              "provenance": {**static["provenance"], "settings_hash": "x"}, "oxygen": None}
    collector = collect_job(screen, [], documents, [{"kind": "static", "label": d["label"], "configuration_id": d["configuration_id"]} for d in documents])
    database = f"big_{uuid.uuid4().hex[:8]}"
    store = JobStore(
        MongoStore(database, "outputs", host=host, port=port),
        additional_stores={"data": GridFSStore(database, "blobs", host=host, port=port)},
    )
    responses = run_locally(collector, store=store, log=False, ensure_success=True)
    assert responses[collector.uuid][1].output is not None
    store.connect()
    raw = store.docs_store.query_one({"uuid": collector.uuid})
    stored = len(json.dumps(raw, default=str).encode())
    assert stored < 1024 * 1024  # the document holds references, not arrays
    back = store.get_output(collector.uuid, load=True)
    assert len(back["documents"]) == n and back["documents"][-1]["dos"]["pdos"] == static["dos"]["pdos"]
    # the same collector inline: the server refuses it (the limit is real, not assumed)
    client = MongoClient(host, port)
    with pytest.raises(DocumentTooLarge):
        client[database]["inline"].insert_one({"documents": documents})
