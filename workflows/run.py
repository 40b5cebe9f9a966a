"""Running a screen locally with jobflow, with progress, and writing its results."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
from collections import Counter

from monty.json import MontyEncoder

from workflows.flows import ScreenMaker, plan_screen
from workflows.jobs import as_dict, local_job_store
from workflows.reuse import JobCache, OutputUnwritable, using_cache
from workflows.spec import ScreenSpec

__all__ = ["run_screen", "summarise", "RESULTS_FILE", "JOBS_FOLDER"]

RESULTS_FILE = "results.json"


class _JobLog(logging.Handler):
    """Turns jobflow's 'Starting job' / 'Finished job' log lines into progress events."""

    def __init__(self, uuids, progress, kinds: dict):
        super().__init__(level=logging.INFO)
        # jobs of the screen's Flow; jobs a dynamic job adds (atomate2's NEB hand-over) are shown
        # while they run but counted with the job that created them
        self.uuids, self.progress, self.kinds = set(uuids), progress, kinds
        self.current = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        started = re.match(r"Starting job - (.*) \(([0-9a-f-]{36})(?:, \d+)?\)", message)
        if started:
            if self.current in self.uuids:  # the previous job ended without a 'Finished' line
                self.progress.finish_job()
            self.current = started.group(2)
            self.progress.start_job(started.group(1), self.kinds.get(self.current, "job"))
        elif (message.startswith("Finished job") or " failed with exception" in message) and self.current in self.uuids:
            # the local manager runs one job at a time: the one that ends is the one that started
            self.progress.finish_job()
            self.current = None


JOBS_FOLDER = "jobs"  # finished job outputs by input hash (workflows/reuse.py)
VASP_RUNS_FOLDER = "vasp-runs"  # run folders of emulated VASP jobs


def run_screen(spec: ScreenSpec, echo=print, rerun_failed: bool = False, plan=None, seeds: dict | None = None, seed_levels: dict | None = None) -> dict:
    """Build the Flow, run it with jobflow's local manager, write ``results.json``; return the results.

    Finished jobs are kept in ``<output>/jobs`` by input hash, so the same command after a crash
    or a kill reuses them and computes only what had not finished (``rerun_failed`` also
    recomputes failed ones).
    """
    from jobflow import run_locally

    started = time.perf_counter()
    plan = plan or plan_screen(spec)
    flow = ScreenMaker().make(spec, plan, seeds=seeds, seed_levels=seed_levels)
    out = writable_output(spec)
    for line in plan.describe():
        echo(line)
    echo(
        f"{spec.name}: {len(plan.configurations)} configurations, {sum(len(h) for h in plan.hops.values())} hops, "
        f"{len(flow.jobs)} jobs on the {spec.backend.value} backend"
    )
    from workflows.progress import ScreenProgress, showing

    logger = logging.getLogger("jobflow")
    kinds = {job.uuid: job.metadata.get("kind", "job") for job in flow.jobs}
    progress = ScreenProgress(len(flow.jobs), echo)
    progress.expect(list(kinds.values()))
    handler = _JobLog(flow.job_uuids, progress, kinds)
    logger.addHandler(handler)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    cache = JobCache(out / JOBS_FOLDER, rerun_failed=rerun_failed)
    prefetched = 0
    if spec.processes() > 1:
        from workflows.parallel import prefetch

        echo(f"independent jobs on {spec.processes()} processes, one thread each")
        try:
            prefetched = prefetch(spec, plan, flow, spec.processes(), out / JOBS_FOLDER, echo=echo, rerun_failed=rerun_failed)
        except OutputUnwritable as exc:
            _unwritable(out, exc)
        rerun_failed = False  # what the workers recomputed is fresh
        cache = JobCache(out / JOBS_FOLDER, rerun_failed=False)
    try:
        with showing(progress), using_cache(cache), _vasp_emulation(spec) as (folders, emulated):
            responses = run_locally(flow, store=local_job_store(), log=False, **folders)
    except OutputUnwritable as exc:  # a full disk: what finished is kept (and reused next time), nothing half-written
        _unwritable(out, exc)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
    collector = responses.get(flow.output.uuid, {})
    if not collector:
        raise RuntimeError("the collector job did not run; see the log above")
    result = as_dict(next(iter(collector.values())).output)
    elapsed = time.perf_counter() - started
    result["wall_time"] = elapsed
    _write_atomically(out / RESULTS_FILE, json.dumps(result, cls=MontyEncoder, indent=1))
    if spec.emulates_vasp:
        ran = f"{len(emulated)} VASP runs emulated in {folders['root_dir']}"
    else:
        ran = f"{cache.computed + prefetched} calculations run, {cache.reused - prefetched} reused from {out / JOBS_FOLDER}"
    echo(f"[{len(flow.jobs)}/{len(flow.jobs)}] done in {elapsed / 60:.1f} min ({ran}); results in {out / RESULTS_FILE}")
    return result


def _unwritable(out, exc: OutputUnwritable):
    from structures.errors import LroxInputError

    reason = exc.args[1] if len(exc.args) > 1 else exc
    raise LroxInputError(
        f"output folder {out} cannot be written ({reason}); the jobs that finished are kept in {out / JOBS_FOLDER} "
        "and reused when the run is started again"
    ) from None


@contextlib.contextmanager
def _vasp_emulation(spec: ScreenSpec):
    """For the mock backend's VASP emulation: atomate2's jobs each in their own run folder, VASP emulated."""
    if not spec.emulates_vasp:
        yield {}, []
        return
    from workflows.mock_vasp import mock_vasp

    root = (spec.output_dir() / VASP_RUNS_FOLDER).resolve()
    root.mkdir(parents=True, exist_ok=True)
    with mock_vasp(spec.settings_for_backend(), crash=spec.mock.crash) as runs:
        yield {"create_folders": True, "root_dir": str(root)}, runs


def writable_output(spec: ScreenSpec):
    """The screen's output folder, made and checked writable before any job runs (one error line otherwise)."""
    from structures.doors.files import output_name
    from structures.errors import LroxInputError

    out = output_name(spec.output_dir(), "spec 'output'")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".lrox-probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise LroxInputError(f"output folder {out} cannot be written ({exc.strerror or exc})") from None
    return out


def _write_atomically(path, text: str) -> None:
    """The whole file or none of it (a full disk leaves no temporary file): the output door's writer."""
    from structures.doors.files import write_atomically

    write_atomically(path, lambda temporary: temporary.write_text(text), "results")


def summarise(result: dict, descriptors: list[dict]) -> dict:
    """Per-configuration numbers a user reads first, taken from the descriptor rows (one formula each).

    ``descriptors``: the rows the descriptor module made of ``result``
    (:func:`descriptors.ingest.store_result`, or :func:`descriptors.ingest.result_rows`).
    """
    docs = [d if isinstance(d, dict) else as_dict(d) for d in result["documents"]]
    status = Counter(str(getattr(d["status"], "value", d["status"])) for d in docs)
    relax = {d["configuration_id"]: d for d in docs if d["kind"] == "relax"}
    by_config: dict[tuple, dict] = {}
    for row in descriptors:
        by_config.setdefault((row["configuration_id"], row["level_of_theory"]), {}).setdefault(row["name"], []).append(row)
    levels = list(dict.fromkeys(level for _, level in by_config))
    rows = []
    for config, level in ((c, lv) for c in result["configurations"] for lv in levels):
        mine = by_config.get((config["id"], level), {})
        if not mine:
            continue
        doc = relax.get(config["id"], {})
        row = {"id": config["id"], "name": config["name"], "level_of_theory": level, "relax": _status(doc), "energy": doc.get("energy") if _ok(doc) else None}
        for name in ("e_vac_o", "e_vac_li"):
            for vacancy in mine.get(name, []):
                row["vacancy_formation_energy"] = vacancy["value"]
                row["vacancy_status"] = vacancy["status"]
                row["vacancy_flags"] = vacancy["flags"]
                mu = vacancy["details"].get("chemical_potential", {})
                row["vacancy_reference"] = f"{mu.get('reference_source', '')}; {mu.get('condition', '')}".strip("; ")
        kra = {r["subject"]: r for r in mine.get("e_kra", [])}
        delta = {r["subject"]: r for r in mine.get("delta_e_a", [])}
        barriers = []
        for b in mine.get("barrier", []):
            d = b["details"]
            hop = d.get("hop", {})
            entry = {
                "hop_id": b["subject"],
                "start": d.get("start") or hop.get("start"),
                "end": d.get("end") or hop.get("end"),
                "status": b["status"],
                "flags": b["flags"],
                "barrier": b["value"],
                "stable_end": d.get("stable_end_side"),
                "forward": d.get("forward"),
                "reverse": d.get("reverse"),
                "e_kra": kra.get(b["subject"], {}).get("value"),
                "delta_e_a": delta.get(b["subject"], {}).get("value"),
                "mechanism_expected": d.get("mechanism_expected") or hop.get("mechanism"),
                "mechanism_observed": _observed_text(d.get("mechanism_observed")),
                "closest_to_vacant_o": (d.get("observed") or {}).get("closest_to_vacant_o"),
                "route": d.get("route"),
            }
            barriers.append(entry)
        row["barriers"] = barriers
        rows.append(row)
    return {"status_counts": dict(status), "level_of_theory": result["level_of_theory"], "levels": levels, "configurations": rows, "stage_times": stage_times(docs)}


def stage_times(docs: list[dict]) -> dict:
    """Seconds each stage's jobs took, summed over jobs (with several processes the wall time is less):
    relaxations, NEB end points, NEB bands, statics (DFT), Bader."""
    totals = Counter()
    for d in docs:
        wall = d.get("wall_time") or 0.0
        if d["kind"] == "neb":
            ends = d.get("endpoint_time") or 0.0
            totals["end points"] += ends
            totals["NEB bands"] += max(wall - ends, 0.0)
        elif d["kind"] in ("relax", "reference"):
            totals["relaxations"] += wall
        elif d["kind"] in ("static", "bader"):
            totals[f"{d['kind']}s"] += wall
    return {k: round(v, 1) for k, v in totals.items()}


def _observed_text(observed) -> str | None:
    """A committee's observed mechanism is per member: 'TSH (chgnet), ODH (7net-0)'."""
    if isinstance(observed, dict):
        return ", ".join(f"{v} ({k.removeprefix('MLIP ')})" for k, v in observed.items()) or None
    return observed


def _ok(doc: dict) -> bool:
    return str(getattr(doc.get("status"), "value", doc.get("status"))) == "success"


def _status(doc: dict) -> str:
    return str(getattr(doc.get("status"), "value", doc.get("status", "missing")))
