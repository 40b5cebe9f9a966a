"""Submitting a screen to a cluster engine (FireWorks or jobflow-remote), its status, and reruns.

The Flow is the one ``lrox run`` executes locally (:class:`workflows.flows.ScreenMaker`); this
module only decides what still needs computing and hands the Flow to the engine:

* **skip what is done**: a configuration whose relaxation and selected hops are already in the
  descriptor database with status success *at the same settings hash* is left out, and the
  submission says how many were skipped and why. The pristine host stays in the Flow while any
  defect configuration still needs its relaxed lattice (its finished hops are still skipped).
* **FireWorks**: ``jobflow.managers.fireworks.flow_to_workflow``, added to a LaunchPad; every
  firework carries the screen's name (``spec.lrox_screen``, ``spec.tags``), its kind and its
  configuration id, which is what ``lrox status`` counts by.
* **jobflow-remote**: ``jobflow_remote.submit_flow`` into a project; the same metadata is kept
  on every job.
"""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from structures.errors import LroxInputError

__all__ = [
    "Engine",
    "Submission",
    "completed_work",
    "prune_plan",
    "submit_screen",
    "load_launchpad",
    "screen_status",
    "rerun_failed",
]


class Engine(str, Enum):
    FIREWORKS = "fireworks"
    JOBFLOW_REMOTE = "jobflow-remote"


def parse_engine(name: str) -> Engine:
    try:
        return Engine(str(name).lower())
    except ValueError:
        raise LroxInputError(f"unknown engine '{name}' (known: fireworks, jobflow-remote)") from None


@dataclass
class Submission:
    screen: str
    engine: Engine
    settings_hash: str
    n_jobs: int = 0
    ids: list = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # configuration names already done
    kept_for_lattice: bool = False

    def message(self) -> str:
        skipped = (
            f"; {len(self.skipped)} configurations skipped: already in the descriptor database at settings hash {self.settings_hash}"
            if self.skipped
            else ""
        )
        if not self.n_jobs:
            return f"{self.screen}: nothing submitted{skipped}"
        lattice = " (the pristine host is kept: the others need its relaxed lattice)" if self.kept_for_lattice else ""
        return f"{self.screen}: {self.n_jobs} jobs submitted to {self.engine.value}{lattice}{skipped}"


# ----- what is already done --------------------------------------------------------------------------
def completed_work(db, settings_hash: str) -> tuple[set[str], set[tuple[str, str]]]:
    """Configuration ids with a successful relaxation, and (configuration, hop) pairs with a successful NEB."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from descriptors.store.tables import CalculationRow

    relaxed, hops = set(), set()
    with Session(db.engine) as session:
        rows = session.execute(
            select(CalculationRow.configuration_id, CalculationRow.kind, CalculationRow.hop_id).where(
                CalculationRow.settings_hash == settings_hash, CalculationRow.status == "success"
            )
        ).all()
    for configuration_id, kind, hop_id in rows:
        if kind == "relax":
            relaxed.add(configuration_id)
        elif kind == "neb" and hop_id:
            hops.add((configuration_id, hop_id))
    return relaxed, hops


def prune_plan(plan, relaxed: set[str], hops_done: set[tuple[str, str]]):
    """The plan without finished configurations and hops; returns (plan, skipped names, pristine kept)."""
    pruned = copy.copy(plan)
    remaining_hops = {cid: [h for h in hs if (cid, h.id) not in hops_done] for cid, hs in plan.hops.items()}

    def done(config) -> bool:
        return config.id in relaxed and not remaining_hops.get(config.id)

    pristine = next((c for c in plan.configurations if not c.defects), None)
    defects_left = [c for c in plan.configurations if c.defects and not done(c)]
    kept_for_lattice = bool(pristine is not None and done(pristine) and defects_left)
    configurations = [c for c in plan.configurations if not done(c) or (c is pristine and kept_for_lattice)]
    skipped = [c.name for c in plan.configurations if done(c) and not (c is pristine and kept_for_lattice)]
    pruned.configurations = configurations
    pruned.hops = {cid: hs for cid, hs in remaining_hops.items() if hs and any(c.id == cid for c in configurations)}
    pruned.references = list(plan.references) if defects_left else []  # cheap; needed by vacancy energies
    return pruned, skipped, kept_for_lattice


def _flow_for(spec, db):
    from workflows.flows import ScreenMaker, plan_screen
    from workflows.jobs import settings_hash

    plan = plan_screen(spec)
    digest = settings_hash(spec.backend.value, spec.settings_for_backend())
    relaxed, hops = completed_work(db, digest) if db is not None else (set(), set())
    plan, skipped, kept = prune_plan(plan, relaxed, hops)
    flow = ScreenMaker().make(spec, plan) if plan.configurations else None
    return flow, digest, skipped, kept


# ----- engines ------------------------------------------------------------------------------------
def load_launchpad(path: str | Path | None, timeout_ms: int = 5000):
    """A LaunchPad from a my_launchpad.yaml (or FireWorks' own default), checked to answer."""
    from fireworks import LaunchPad

    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise LroxInputError(f"launchpad file {path} does not exist (templates: launch/templates/my_launchpad.yaml)")
        try:
            launchpad = LaunchPad.from_file(str(path))
        except Exception as exc:  # noqa: BLE001 - a malformed YAML or unknown keys
            raise LroxInputError(f"launchpad file {path} is not a valid LaunchPad file: {_first_line(exc)}") from None
    else:
        launchpad = LaunchPad.auto_load()
    from fireworks.utilities.fw_utilities import get_fw_logger

    # FireWorks logs every reset and insertion at INFO on stdout: lrox prints its own one-line summary
    launchpad.m_logger = get_fw_logger("launchpad", l_dir=launchpad.logdir, stream_level="WARNING")
    try:
        import pymongo

        # a client of our own with a short server-selection timeout: FireWorks' waits 30 s
        probe = pymongo.MongoClient(launchpad.host, None if launchpad.uri_mode else launchpad.port, serverSelectionTimeoutMS=timeout_ms)
        probe.admin.command("ping")
        probe.close()
    except Exception as exc:  # noqa: BLE001 - pymongo raises many kinds
        where = f"{launchpad.host}:{launchpad.port}" if launchpad.port else str(launchpad.host).split("@")[-1]
        raise LroxInputError(f"cannot reach the LaunchPad at {where}: {_first_line(exc)}") from None
    return launchpad


def _initialise_if_new(launchpad) -> None:
    """A LaunchPad database never used before has no fw id counter: create it (as 'lpad reset' would).

    Only a database without any firework or workflow is initialised; anything else is left alone.
    """
    if launchpad.fw_id_assigner.find_one({}) is None:
        if launchpad.fireworks.count_documents({}) or launchpad.workflows.count_documents({}):
            raise LroxInputError("the LaunchPad holds fireworks but no id counter: repair it with 'lpad' before submitting")
        launchpad.reset("", require_password=False)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _jobflow_remote_project(project: str | None):
    try:
        from jobflow_remote import ConfigManager
    except ImportError:
        raise LroxInputError("jobflow-remote is not installed: pip install 'lrox[cluster]'") from None
    try:
        manager = ConfigManager()
        return manager.get_project(project)
    except Exception as exc:  # noqa: BLE001 - ConfigError and friends
        raise LroxInputError(f"jobflow-remote project '{project or '(default)'}': {_first_line(exc)}") from None


def _job_controller(project: str | None):
    from jobflow_remote.jobs.jobcontroller import JobController

    config = _jobflow_remote_project(project)
    try:
        controller = JobController.from_project(config)
        controller.queue_store.connect()
    except Exception as exc:  # noqa: BLE001
        raise LroxInputError(f"cannot reach the queue of jobflow-remote project '{config.name}': {_first_line(exc)}") from None
    return controller


def submit_screen(
    spec,
    engine: Engine | str,
    db=None,
    launchpad: str | Path | None = None,
    project: str | None = None,
    worker: str | None = None,
) -> Submission:
    """Build the screen's Flow without the finished work and add it to the engine's queue."""
    engine = parse_engine(engine) if not isinstance(engine, Engine) else engine
    # reach the engine first: an unreachable queue must not cost an enumeration, and submits nothing
    target = load_launchpad(launchpad) if engine is Engine.FIREWORKS else _job_controller(project)
    flow, digest, skipped, kept = _flow_for(spec, db)
    submission = Submission(screen=spec.name, engine=engine, settings_hash=digest, skipped=skipped, kept_for_lattice=kept)
    if flow is None:
        return submission
    submission.n_jobs = len(flow.jobs)
    if engine is Engine.FIREWORKS:
        from jobflow.managers.fireworks import flow_to_workflow

        _initialise_if_new(target)
        workflow = flow_to_workflow(flow)
        workflow.metadata.update({"lrox_screen": spec.name, "settings_hash": digest, "tags": [spec.name]})
        mapping = target.add_wf(workflow)
        submission.ids = sorted(mapping.values())
    else:
        from jobflow_remote import submit_flow

        if target.auxiliary.find_one({"next_id": {"$exists": True}}) is None:
            # a queue database never used before (as 'jf admin reset' would set it up); one
            # that holds jobs without the counter is damaged and left alone
            if target.jobs.count_documents({}) or target.flows.count_documents({}):
                raise LroxInputError("the jobflow-remote queue holds jobs but no id counter: repair it with 'jf admin' first")
            target.reset()
        try:
            submission.ids = submit_flow(flow, worker=worker, project=target.project.name)
        except ValueError as exc:  # an unknown worker name, and similar configuration errors
            raise LroxInputError(f"jobflow-remote: {_first_line(exc)}") from None
    return submission


# ----- status and reruns -------------------------------------------------------------------------------
FAILED_STATES = {Engine.FIREWORKS: ("FIZZLED",), Engine.JOBFLOW_REMOTE: ("FAILED", "REMOTE_ERROR")}


@dataclass
class ScreenStatus:
    screen: str | None
    engine: Engine
    by_state: Counter
    by_configuration: dict[str, Counter]  # configuration id (or kind for jobs of no configuration) → states
    failed: list[tuple[str, str]]  # (id, name)

    @property
    def total(self) -> int:
        return sum(self.by_state.values())


def _fireworks_jobs(launchpad, screen: str | None) -> list[dict]:
    query = {"spec.lrox_screen": screen} if screen else {"spec.lrox_screen": {"$exists": True}}
    return list(launchpad.fireworks.find(query, {"fw_id": 1, "name": 1, "state": 1, "spec.lrox_screen": 1, "spec.configuration_id": 1, "spec.kind": 1}))


def _jobflow_remote_jobs(controller, screen: str | None) -> list[dict]:
    query = {"job.metadata.lrox_screen": screen} if screen else {"job.metadata.lrox_screen": {"$exists": True}}
    infos = controller.get_jobs_info(custom_query=query)
    return [
        {
            "fw_id": info.db_id,
            "name": info.name,
            "state": info.state.name,
            "spec": dict(info.metadata or {}),
        }
        for info in infos
    ]


def _engine_handle(engine: Engine, launchpad, project: str | None):
    """The LaunchPad (given, or loaded from a file / FireWorks' default) or the jobflow-remote controller."""
    if engine is Engine.FIREWORKS:
        return launchpad if launchpad is not None and not isinstance(launchpad, (str, Path)) else load_launchpad(launchpad)
    return _job_controller(project)


def screen_status(engine: Engine | str, screen: str | None = None, launchpad=None, project: str | None = None, handle=None) -> ScreenStatus:
    """Jobs of a screen (or of every lrox screen) by state, and per configuration."""
    engine = parse_engine(engine) if not isinstance(engine, Engine) else engine
    handle = handle if handle is not None else _engine_handle(engine, launchpad, project)
    jobs = _fireworks_jobs(handle, screen) if engine is Engine.FIREWORKS else _jobflow_remote_jobs(handle, screen)
    if screen and not jobs:
        raise LroxInputError(f"no jobs of a screen named '{screen}' on {engine.value}")
    by_state, by_config, failed = Counter(), defaultdict(Counter), []
    for job in jobs:
        spec = job.get("spec", {})
        by_state[job["state"]] += 1
        by_config[spec.get("configuration_id") or spec.get("kind") or "other"][job["state"]] += 1
        if job["state"] in FAILED_STATES[engine]:
            failed.append((str(job["fw_id"]), job["name"]))
    return ScreenStatus(screen=screen, engine=engine, by_state=by_state, by_configuration=dict(by_config), failed=failed)


def rerun_failed(engine: Engine | str, screen: str | None = None, launchpad=None, project: str | None = None) -> list[str]:
    """Put the failed jobs of a screen back in the queue (their children follow); returns their ids."""
    engine = parse_engine(engine) if not isinstance(engine, Engine) else engine
    handle = _engine_handle(engine, launchpad, project)  # connected once for the status and the rerun
    ids = [job_id for job_id, _ in screen_status(engine, screen, handle=handle).failed]
    if not ids:
        return []
    if engine is Engine.FIREWORKS:
        for fw_id in ids:
            handle.rerun_fw(int(fw_id))
    else:
        handle.rerun_jobs(db_ids=ids, force=True, raise_on_error=True)
    return ids
