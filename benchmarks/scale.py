"""How lrox grows with the size of a screen and of a database (issue 32).

For screens of about 10, 100 and 1,000 configurations (VASP backend; the Li-rich ones in the
240-atom cell): enumeration (configurations and hops), Flow build, the dry run (every input
written) and, where a MongoDB-protocol server is given or can be started (secantusdb, as the cluster
tests use), the FireWorks and jobflow-remote submissions; for VASP folder trees of 100 and 1,000
configurations, ``lrox ingest``; for databases of 10, 100, 1,000 and 10,000 configurations
(the committed example, examples/li2mno3_design_rules.db, copied under new ids through the
store's own write): the write, ``lrox query``, ``lrox query hops`` and ``lrox report``. Every
figure is a whole command in a child process (start-up included), with its peak memory.

    python benchmarks/scale.py                                 # sizes 10, 100, 1000; databases to 10,000
    python benchmarks/scale.py --sizes 10,100 --databases 10,100 --quick   # what CI runs (no timings judged)
    python benchmarks/scale.py --postgres auto                # the databases on PostgreSQL too (a private cluster)
    python benchmarks/scale.py --postgres postgresql+psycopg://user@host/db
    python benchmarks/scale.py --sizes "" --ingest "" --databases "" --existing sqlite:///db_10000.db   # query and report on a database kept from a run

Results: one JSON line per figure in --out (default benchmarks/results_scale.jsonl), a table on
stdout. The table in benchmarks/RESULTS.md comes from these, with date, machine and load.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DB = ROOT / "examples" / "li2mno3_design_rules.db"

# ~10, ~100, ~200 and ~1,000 configurations: a 24-atom Li2MnO3 screen, issue 32's Li-rich Ti-V_O screen
# (pairs to 3 and to 4 Å), and five dopants at once in the same 240-atom Li-rich cell
SCREENS = {
    10: {"name": "scale_10", "host": "li2mno3", "supercell": "1x1x1", "dopants": ["Ti:Mn"], "vacancies": ["O", "Li"],
         "pair_cutoff": 2.0, "pair_kinds": ["dopant-vacancy"], "hops": {"per_configuration": 1}, "backend": "vasp"},
    100: {"name": "scale_100", "host": "lirich", "min_image_distance": 9, "dopants": ["Ti:Mn"], "vacancies": ["O"],
          "pair_cutoff": 3.0, "pair_kinds": ["dopant-vacancy"], "backend": "vasp"},
    # the same with pairs to 4 Å: 166 configurations, 881 jobs (the issue's ~900-job submission)
    200: {"name": "scale_200", "host": "lirich", "min_image_distance": 9, "dopants": ["Ti:Mn"], "vacancies": ["O"],
          "pair_cutoff": 4.0, "pair_kinds": ["dopant-vacancy"], "backend": "vasp"},
    # examples/lirich_five_dopants_screen.yaml: five dopants on Mn or Ni, pairs to 4 Å (931 configurations)
    1000: {"name": "scale_1000", "host": "lirich", "min_image_distance": 9, "dopants": ["Ti:tm", "Al:tm", "Nb:tm", "W:tm", "Mg:tm"],
           "vacancies": ["O"], "pair_cutoff": 4.0, "pair_kinds": ["dopant-vacancy"], "backend": "vasp"},
}

PLAN_AND_FLOW = """
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
from workflows.spec import load_spec
from workflows.flows import ScreenMaker, plan_screen
spec = load_spec(sys.argv[1])
t1, c1 = time.perf_counter(), time.process_time(); plan = plan_screen(spec)
t2, c2 = time.perf_counter(), time.process_time(); flow = ScreenMaker().make(spec, plan)
t3, c3 = time.perf_counter(), time.process_time()
print(json.dumps({"imports": t1 - t0, "enumeration": t2 - t1, "flow_build": t3 - t2, "enumeration_cpu": c2 - c1, "flow_build_cpu": c3 - c2, "configurations": len(plan.configurations),
                  "hops": sum(len(h) for h in plan.hops.values()), "jobs": len(flow.jobs)}))
"""


def run(command: list[str], cwd: Path | None = None, env: dict | None = None) -> dict:
    """A child process's wall time, its CPU time (user + system, its own children's included: on a
    machine shared with other work the figure that load does not inflate) and output."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "peak_mb": None, "exit": done.returncode, "stdout": done.stdout, "stderr": done.stderr[-2000:]}


def python() -> list[str]:
    return [sys.executable]


def lrox(*args: str) -> list[str]:
    return [sys.executable, "-m", "launch.cli", *map(str, args)]


def _peak_of(command: list[str], cwd: Path | None = None, env: dict | None = None) -> dict:
    """``run``, with the child's peak memory (its largest resident set) from /usr/bin/time where present."""
    if shutil.which("time") or Path("/usr/bin/time").exists():
        with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
            result = run(["/usr/bin/time", "-f", "%M", "-o", report.name, *command], cwd=cwd, env=env)
            text = Path(report.name).read_text().strip().splitlines()
            result["peak_mb"] = round(int(text[-1]) / 1024, 1) if text and text[-1].isdigit() else None
            return result
    return run(command, cwd=cwd, env=env)


# ----- screens ---------------------------------------------------------------------------------------------
def screen_figures(size: int, work: Path, processes: int, mongo: tuple[str, int] | None):
    """The figures of one screen size, each yielded as soon as it is measured."""
    import yaml

    spec = work / f"scale_{size}.yaml"
    spec.write_text(yaml.safe_dump(SCREENS[size]))
    env = {"PYTHONPATH": str(ROOT)}
    planned = _peak_of([*python(), "-c", PLAN_AND_FLOW, str(spec)], env=env)
    if planned["exit"] != 0:
        raise RuntimeError(planned["stderr"])
    phases = json.loads(planned["stdout"].strip().splitlines()[-1])
    common = {"size": size, "configurations": phases["configurations"], "hops": phases["hops"], "jobs": phases["jobs"]}
    yield ({**common, "step": "enumeration", "seconds": round(phases["enumeration"], 2), "cpu_s": round(phases["enumeration_cpu"], 2), "peak_mb": planned["peak_mb"]})
    yield ({**common, "step": "flow build", "seconds": round(phases["flow_build"], 2), "cpu_s": round(phases["flow_build_cpu"], 2), "peak_mb": planned["peak_mb"]})
    dry = _peak_of(lrox("run", spec, "--dry-run", work / f"dry_{size}", "--processes", processes), env=env)
    if dry["exit"] != 0:
        raise RuntimeError(dry["stderr"])
    written = json.loads((work / f"dry_{size}" / "dry_run.json").read_text())
    yield ({**common, "step": f"dry run ({processes} processes)", "seconds": dry["wall_s"], "cpu_s": dry["cpu_s"], "peak_mb": dry["peak_mb"],
                    "calculations": sum(written["jobs_by_kind"].values()),
                    "progress": next((line for line in reversed(dry["stderr"].splitlines()) if " elapsed" in line), "")})
    if mongo is not None:
        launchpad = work / f"launchpad_{size}.yaml"
        launchpad.write_text(yaml.safe_dump({"host": mongo[0], "port": mongo[1], "name": f"scale_{size}_{os.getpid()}", "strm_lvl": "WARNING"}))
        submitted = _peak_of(lrox("submit", spec, "--engine", "fireworks", "--launchpad", launchpad, "--db", f"sqlite:///{work / f'submit_{size}.db'}"), env=env)
        if submitted["exit"] != 0:
            raise RuntimeError(submitted["stderr"])
        yield ({**common, "step": "submit (FireWorks)", "seconds": submitted["wall_s"], "cpu_s": submitted["cpu_s"], "peak_mb": submitted["peak_mb"],
                        "message": submitted["stdout"].strip()[:160]})
        again = _peak_of(lrox("submit", spec, "--engine", "fireworks", "--launchpad", launchpad, "--db", f"sqlite:///{work / f'submit_{size}.db'}"), env=env)
        if again["exit"] != 0 or "nothing submitted" not in again["stdout"]:
            raise RuntimeError(f"a second submission added jobs: {again['stdout'].strip()} {again['stderr']}")
        yield ({**common, "step": "submit again (nothing added)", "seconds": again["wall_s"], "cpu_s": again["cpu_s"], "peak_mb": again["peak_mb"],
                        "message": again["stdout"].strip()[:160]})
        yield from _jobflow_remote_figures(size, spec, work, mongo, common, env)


def _jobflow_remote_figures(size: int, spec: Path, work: Path, mongo: tuple[str, int], common: dict, env: dict) -> list[dict]:
    """The same screen submitted to a jobflow-remote project whose queue is on the same server."""
    import yaml

    tag = f"scale{size}x{os.getpid()}"
    store = {"type": "MongoStore", "host": mongo[0], "port": mongo[1], "database": f"jfr_{tag}"}
    project = {
        "name": tag,
        "workers": {"local": {"type": "local", "scheduler_type": "shell", "work_dir": str(work / f"jfr_{size}")}},
        "queue": {"store": {**store, "collection_name": "jobs"}, "flows_collection": "flows"},
        "jobstore": {"docs_store": {**store, "collection_name": "outputs"},
                     "additional_stores": {"data": {**store, "type": "GridFSStore", "collection_name": "blobs"}}},
    }
    (work / "projects").mkdir(exist_ok=True)
    (work / "projects" / f"{tag}.yaml").write_text(yaml.safe_dump(project))
    env = {**env, "JFREMOTE_PROJECTS_FOLDER": str(work / "projects"), "JFREMOTE_CONFIG_FILE": str(work / "none.yaml")}
    args = lrox("submit", spec, "--engine", "jobflow-remote", "--project", tag, "--db", f"sqlite:///{work / f'submit_jfr_{size}.db'}")
    figures = []
    for step in ("submit (jobflow-remote)", "submit again (jobflow-remote, nothing added)"):
        result = _peak_of(args, env=env)
        if result["exit"] != 0 or ("again" in step and "nothing submitted" not in result["stdout"]):
            raise RuntimeError(f"{step}: {result['stdout'].strip()} {result['stderr']}")
        figures.append({**common, "step": step, "seconds": result["wall_s"], "cpu_s": result["cpu_s"], "peak_mb": result["peak_mb"],
                        "message": result["stdout"].strip()[:160]})
    return figures


# ----- ingest of a VASP folder tree -------------------------------------------------------------------------
def _shared_reference() -> Path | None:
    for candidate in (os.environ.get("LROX_SHARED"), ROOT.parent / "shared", "/work/shared"):
        if candidate and (Path(candidate) / "vasp-reference").is_dir():
            return Path(candidate) / "vasp-reference"
    return None


def vasp_tree(root: Path, configurations: int) -> Path:
    """A cluster's VASP folder tree of ``configurations`` configurations, as a dry run lays it out:
    each configuration's folder with its lrox configuration.json (the Li-rich Ti-V_O screen's
    configurations, cycled under new ids past its 94), a relaxation (a real vasprun.xml with its
    projected DOS, from the shared VASP reference pack) and a VTST NEB folder (a real band). Files
    are hard links: a thousand configurations cost the disk one of each."""
    import dataclasses

    from structures.io import configuration_folder, write_configuration_file
    from workflows.flows import plan_screen
    from workflows.spec import spec_from_dict

    reference = _shared_reference()
    if reference is None:
        raise RuntimeError("the shared VASP reference pack (shared/vasp-reference) is needed for the ingest figures")
    plan = plan_screen(spec_from_dict(SCREENS[100]))
    vasprun = reference / "dos" / "pymatgen_LiFePO4_GGAU_relax_pdos" / "vasprun.lifepo4.xml.gz"
    band = reference / "neb" / "aiida_vasp_NH3_cineb"
    for k in range(configurations):
        config = plan.configurations[k % len(plan.configurations)]
        if k >= len(plan.configurations):
            copy = k // len(plan.configurations)
            config = dataclasses.replace(config, id=f"{config.id}-copy{copy}")
        folder = root / configuration_folder(k, config)
        write_configuration_file(folder, plan.host, config)
        (folder / "relax").mkdir()
        os.link(vasprun, folder / "relax" / "vasprun.xml.gz")
        for item in sorted(band.rglob("*")):
            target = folder / "neb_01" / item.relative_to(band)
            if item.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(item, target)
    return root


def ingest_figures(size: int, work: Path, url: str) -> list[dict]:
    """``lrox ingest`` of a ``size``-configuration VASP folder tree: time and peak memory."""
    if _shared_reference() is None:
        print("note: no shared/vasp-reference: ingest not measured", file=sys.stderr)
        return []
    env = {"PYTHONPATH": str(ROOT)}
    tree = work / f"vasp_tree_{size}"
    made = run([*python(), "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); from pathlib import Path; from benchmarks.scale import vasp_tree; vasp_tree(Path({str(tree)!r}), {size})"], env=env)
    if made["exit"] != 0:
        raise RuntimeError(made["stderr"])
    result = _peak_of(lrox("ingest", tree, "--db", url), env=env)
    if result["exit"] != 0:
        raise RuntimeError(f"ingest: {result['stderr']}")
    shutil.rmtree(tree, ignore_errors=True)
    return [{"size": size, "step": "ingest (VASP folder tree)", "seconds": result["wall_s"], "cpu_s": result["cpu_s"], "peak_mb": result["peak_mb"],
             "message": result["stdout"].strip()[:200]}]


# ----- databases -------------------------------------------------------------------------------------------
def copied_database(url: str, configurations: int, batch_copies: int = 25) -> float:
    """``url`` filled with the example database copied under new ids until it holds
    ``configurations`` configurations, through the store's own write; returns the seconds writing took."""
    import hashlib

    from descriptors.store.database import DescriptorDatabase
    from descriptors.store.tables import CalculationRow, ConfigurationRow, DescriptorRow, HopRow

    example = DescriptorDatabase(f"sqlite:///{EXAMPLE_DB}", read_only=True)
    tables = {name: example.rows(table) for name, table in (("configurations", ConfigurationRow), ("calculations", CalculationRow), ("descriptors", DescriptorRow), ("hops", HopRow))}
    for row in tables["descriptors"]:
        row.pop("id")
    _hop_energies_as_written_now(tables)
    for row in tables["calculations"]:
        row.pop("ingested_at")
    ids = [r["id"] for r in tables["configurations"]] + [r["id"] for r in tables["calculations"]] + [r["id"] for r in tables["hops"]]
    pattern = re.compile("|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True)))
    texts = {name: json.dumps(rows) for name, rows in tables.items()}
    per_copy = len(tables["configurations"])
    copies = max(1, -(-configurations // per_copy))
    db = DescriptorDatabase(url)
    seconds = 0.0
    for first in range(0, copies, batch_copies):
        batch = {name: [] for name in tables}
        for k in range(first, min(copies, first + batch_copies)):
            if k == 0:
                mapping = {i: i for i in ids}
            else:
                def new(i, k=k):
                    digest = hashlib.sha256(f"{i}/{k}".encode()).hexdigest()
                    return f"{i.split('-')[0]}-{digest[:12]}" if i.startswith(("li2mno3-",)) and "-hop-" not in i else digest[: len(i)]
                mapping = {i: new(i) for i in ids}
            copied = {name: json.loads(pattern.sub(lambda m: mapping[m.group(0)], text)) for name, text in texts.items()}
            _shift_energies(copied, k)
            for name, rows in copied.items():
                batch[name] += rows
        started = time.perf_counter()
        db.write(batch["configurations"], batch["calculations"], batch["descriptors"], batch["hops"])
        seconds += time.perf_counter() - started
    return seconds


ENERGY_SHIFT = 0.0137  # eV per copy: each copy's configurations are other configurations, not twins


def _hop_energies_as_written_now(tables: dict) -> None:
    """The example database was written before the hop table held the twins' energies (a schema 2
    database reads them from each barrier's stored band): filled in as an ingest writes them today."""
    from descriptors.query.hops import _energies_of_profile

    profiles = {(d["configuration_id"], d["subject"], d["level_of_theory"], d["settings_hash"]): (d.get("details") or {}).get("energies")
                for d in tables["descriptors"] if d["name"] == "barrier"}
    for hop in tables["hops"]:
        energies = profiles.get((hop["configuration_id"], hop["hop_id"], hop["level_of_theory"], hop["settings_hash"]))
        if hop.get("saddle_energy") is None and energies:
            hop.update(_energies_of_profile(energies))


def _shift_energies(tables: dict, k: int) -> None:
    """Copy ``k``'s total energies shifted by k x ENERGY_SHIFT (barriers unchanged): the same band in
    another configuration, which the twin grouping must not take for the same hop."""
    shift = k * ENERGY_SHIFT
    if not shift:
        return
    for hop in tables["hops"]:
        for name in ("saddle_energy", "second_saddle_energy", "initial_energy", "final_energy"):
            if hop.get(name) is not None:
                hop[name] += shift
    for row in tables["descriptors"]:
        details = row.get("details") or {}
        if row["name"] == "barrier" and details.get("energies"):
            details["energies"] = [e + shift for e in details["energies"]]


def database_figures(size: int, url: str, work: Path, engine: str) -> list[dict]:
    env = {"PYTHONPATH": str(ROOT)}
    build = _peak_of([*python(), "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); from benchmarks.scale import copied_database; print(copied_database({url!r}, {size}))"], env=env)
    if build["exit"] != 0:
        raise RuntimeError(build["stderr"])
    common = {"size": size, "database": engine}
    figures = [{**common, "step": "write (store, in batches of 500 configurations)", "seconds": round(float(build["stdout"].split()[-1]), 2), "peak_mb": build["peak_mb"]}]
    return figures + query_figures(size, url, work, engine)


def query_figures(size: int, url: str, work: Path, engine: str) -> list[dict]:
    """``lrox query`` (the configuration view, ``--where``, ``--oxygen``), ``lrox query hops`` and
    ``lrox report`` on a database of ``size`` configurations, each a whole command."""
    env = {"PYTHONPATH": str(ROOT)}
    common = {"size": size, "database": engine}
    figures = []
    for step, args in (
        ("query", ["query", "--db", url]),
        ("query --where", ["query", "--db", url, "--where", "barrier < 0.6 and dopant in (Al, Nb)", "--sort", "e_vac_o"]),
        ("query --oxygen", ["query", "--db", url, "--oxygen", "1173,0.21"]),
        ("query hops", ["query", "hops", "--db", url, "--where", "mechanism = TSH and n_tm <= 1"]),
        ("report", ["report", work / f"report_{engine}_{size}.html", "--db", url, "--overwrite"]),
    ):
        result = _peak_of(lrox(*args), env=env)
        if result["exit"] != 0:
            raise RuntimeError(f"{step}: {result['stderr']}")
        figures.append({**common, "step": step, "seconds": result["wall_s"], "cpu_s": result["cpu_s"], "peak_mb": result["peak_mb"]})
    return figures


def _start_mongo(work: Path, executable: str | None) -> tuple[tuple[str, int] | None, object]:
    sys.path.insert(0, str(ROOT))
    try:
        from tests.cluster import Unavailable, start_mongo_server

        if executable:
            os.environ["LROX_SECANTUSD"] = executable
        host, port, process = start_mongo_server(work / "mongo")
        return (host, port), process
    except (ImportError, Unavailable, OSError) as exc:
        print(f"note: no MongoDB-protocol server ({exc}): submission not measured", file=sys.stderr)
        return None, None


class Figures(list):
    """The figures, each printed (and appended to ``out``) as soon as it is measured, with the load
    of the minute it was measured in: a run stopped half way keeps what it measured."""

    def __init__(self, stamp: dict, out: str | None):
        super().__init__()
        self.stamp, self.out = stamp, out

    def __iadd__(self, figures):
        for figure in figures:
            line = json.dumps({**self.stamp, "load_now": [round(x, 2) for x in os.getloadavg()], **figure})
            print(line, flush=True)
            if self.out:
                with open(self.out, "a") as out:
                    out.write(line + "\n")
            self.append(figure)
        return self


def table(paths: list[str]) -> str:
    """The figures of JSON-lines files as the Markdown table of benchmarks/RESULTS.md: one row per
    step and size, wall and CPU seconds, peak memory and the 1-minute load when it was measured."""
    lines = ["| size | database | step | wall s | CPU s | peak MB | load (1 min) | note |", "|---|---|---|---|---|---|---|---|"]
    for path in paths:
        for line in Path(path).read_text().splitlines():
            f = json.loads(line)
            note = f.get("message") or f.get("progress") or ""
            if "calculations" in f:
                note = f"{f['calculations']} calculations; {note}"
            if f.get("step") == "enumeration":
                note = f"{f['configurations']} configurations, {f['hops']} hops, {f['jobs']} jobs"
            load = (f.get("load_now") or f.get("load") or [None])[0]
            lines.append(f"| {f['size']} | {f.get('database', '')} | {f['step']} | {f['seconds']} | {f.get('cpu_s', '')} | {f.get('peak_mb', '')} | {load} | {note[:110]} |")
    return "\n".join(lines)


def main() -> None:
    import signal

    if sys.argv[1:2] == ["--table"]:
        print(table(sys.argv[2:]))
        return

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: the finally below stops the servers it started
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000", help="screen sizes (of 10, 100, 200, 1000)")
    parser.add_argument("--databases", default="10,100,1000,10000", help="database sizes (configurations)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--ingest", default="100,1000", help="sizes of the VASP folder trees ingested (configurations); needs shared/vasp-reference")
    parser.add_argument("--postgres", help="also measure the databases on PostgreSQL: a server URL, or 'auto' for a private cluster started here (Debian's initdb)")
    parser.add_argument("--secantusd", help="secantusd-py to start for the submission (default: .venv-secantus or $LROX_SECANTUSD)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results_scale.jsonl"))
    parser.add_argument("--quick", action="store_true", help="CI: run the steps, record nothing")
    parser.add_argument("--existing", default="", help="measure the query and report steps on these existing lrox databases (URLs, comma-separated; "
                        "built once by --databases, e.g. kept from an earlier run) instead of building them")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    databases = [int(s) for s in args.databases.split(",") if s]
    ingests = [int(s) for s in args.ingest.split(",") if s]
    load = os.getloadavg()
    stamp = {"date": time.strftime("%Y-%m-%d %H:%M"), "cores": os.cpu_count(), "load": [round(x, 2) for x in load]}
    work = Path(tempfile.mkdtemp(prefix="lrox-scale-"))
    mongo, server = _start_mongo(work, args.secantusd) if sizes else (None, None)
    figures = Figures(stamp, None if args.quick else args.out)
    stop_postgres = None
    if args.postgres == "auto":
        sys.path.insert(0, str(ROOT))
        from tests.conftest import _start_postgres

        (work / "pg").mkdir()
        os.chmod(work, 0o755)
        args.postgres, stop_postgres = _start_postgres(work / "pg")
    try:
        for url in [u for u in args.existing.split(",") if u]:
            figures += query_figures(_configurations_in(url), url, work, url.split(":")[0].split("+")[0])
        for size in sizes:
            figures += screen_figures(size, work, args.processes, mongo)
        for size in ingests:
            figures += ingest_figures(size, work, f"sqlite:///{work / f'ingest_{size}.db'}")
        for size in databases:
            figures += database_figures(size, f"sqlite:///{work / f'db_{size}.db'}", work, "sqlite")
            if args.postgres:
                figures += database_figures(size, _fresh_postgres(args.postgres, size), work, "postgresql")
    finally:
        if stop_postgres is not None:
            stop_postgres()
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def _configurations_in(url: str) -> int:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from descriptors.store.database import DescriptorDatabase

    db = DescriptorDatabase(url, read_only=True)
    return db.counts()["configurations"]


def _fresh_postgres(url: str, size: int) -> str:
    from sqlalchemy import create_engine, text

    name = f"lrox_scale_{size}_{os.getpid()}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.rsplit("/", 1)[0] + f"/{name}"


if __name__ == "__main__":
    main()
