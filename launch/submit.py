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
* **at scale, and again**: a screen of hundreds of configurations is added in batches, with
  progress. Every job carries the submission's key (``lrox_submission``: the screen, its settings
  hash and its jobs' names), and the submission is committed last (FireWorks: the workflow
  document, then its first jobs made ready; jobflow-remote: the jobs after the flow document), so
  an interrupted submission is found by its key and cleared before anything is added again; and
  work already in the engine at the same settings hash (queued, running, finished and not yet
  ingested) is skipped like work in the database: a second call adds no duplicate.
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
    queued: list[str] = field(default_factory=list)  # configuration names already in the engine
    cleared: int = 0  # jobs of interrupted submissions removed first
    key: str = ""

    def message(self) -> str:
        skipped = (
            f"; {len(self.skipped)} configurations skipped: already in the descriptor database at settings hash {self.settings_hash}"
            if self.skipped
            else ""
        )
        queued = (
            f"; {len(self.queued)} configurations skipped: already in {self.engine.value} at settings hash {self.settings_hash} "
            "(queued, running or finished; 'lrox ingest' reads finished ones, 'lrox rerun --failed' reruns failed ones)"
            if self.queued
            else ""
        )
        cleared = f"; {self.cleared} jobs of an interrupted submission removed first" if self.cleared else ""
        if not self.n_jobs:
            return f"{self.screen}: nothing submitted{skipped}{queued}{cleared}"
        lattice = " (the pristine host is kept: the others need its relaxed lattice)" if self.kept_for_lattice else ""
        return f"{self.screen}: {self.n_jobs} jobs submitted to {self.engine.value}{lattice}{skipped}{queued}{cleared}"


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
    twins = plan.twins()  # a twin hop has no band of its own (VASP: no job at all): done when its twin's is

    def hop_done(cid: str, hop) -> bool:
        twin = twins.get((cid, hop.id))
        return (cid, hop.id) in hops_done or (twin is not None and (twin.configuration_id, twin.hop_id) in hops_done)

    remaining_hops = {cid: [h for h in hs if not hop_done(cid, h)] for cid, hs in plan.hops.items()}

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


def _flow_for(spec, db, present: tuple[set, set] = (set(), set()), echo=None):
    """The screen's Flow without the work done (in the database) or ``present`` (in the engine):
    (flow or None, settings hash, skipped names, pristine kept, names already in the engine)."""
    from workflows.dryrun import check_limits
    from workflows.flows import ScreenMaker, plan_screen
    from workflows.jobs import settings_hash

    plan = plan_screen(spec, echo=echo)
    check_limits(spec, plan)  # a screen beyond the user's limits submits nothing
    digest = settings_hash(spec.backend.value, spec.settings_for_backend())
    relaxed, hops = completed_work(db, digest) if db is not None else (set(), set())
    _, done, _ = prune_plan(plan, relaxed, hops)
    plan, skipped, kept = prune_plan(plan, relaxed | present[0], hops | present[1])
    queued = [name for name in skipped if name not in set(done)]
    flow = ScreenMaker().make(spec, plan, echo=echo) if plan.configurations else None
    return flow, digest, [name for name in skipped if name in set(done)], kept, queued


def submission_key(screen: str, digest: str, flow) -> str:
    """What identifies a submission: the screen, its settings hash and the names of its jobs (which
    name their configurations and hops), so that the same work submitted again has the same key."""
    import hashlib
    import json

    names = sorted(job.name for job in flow.jobs)
    return hashlib.sha256(json.dumps([screen, digest, names]).encode()).hexdigest()[:16]


# ----- engines ------------------------------------------------------------------------------------
def load_launchpad(path: str | Path | None, timeout_ms: int = 5000):
    """A LaunchPad from a my_launchpad.yaml (or FireWorks' own default), checked to answer."""
    from structures.doors.files import kind_of
    from structures.doors.tools import launchpad_from_file

    if path is not None and kind_of(path, "launchpad file") == "missing":
        raise LroxInputError(f"launchpad file {path} does not exist (templates: launch/templates/my_launchpad.yaml)")
    # built by the tools door from an allow-list of keys: no log folder, no class chosen by the file
    launchpad = launchpad_from_file(path)
    from fireworks.utilities.fw_utilities import get_fw_logger

    # FireWorks logs every reset and insertion at INFO on stdout: lrox prints its own one-line summary
    launchpad.m_logger = get_fw_logger("launchpad", l_dir=None, stream_level="WARNING")
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
    """The project, read through the tools door (no YAML aliases; its stores on the allow-list)."""
    from structures.doors.tools import jobflow_remote_project

    return jobflow_remote_project(project)


def _job_controller(project: str | None):
    from jobflow_remote.jobs.jobcontroller import JobController

    config = _jobflow_remote_project(project)
    try:
        controller = JobController.from_project(config)
        controller.queue_store.connect()
    except Exception as exc:  # noqa: BLE001
        raise LroxInputError(f"cannot reach the queue of jobflow-remote project '{config.name}': {_first_line(exc)}") from None
    return controller


SUBMIT_BATCH = 200  # jobs per insert: progress to watch, and no single message near MongoDB's limit


def submit_screen(
    spec,
    engine: Engine | str,
    db=None,
    launchpad: str | Path | None = None,
    project: str | None = None,
    worker: str | None = None,
    echo=None,
) -> Submission:
    """Build the screen's Flow without the finished or queued work and add it to the engine's queue,
    in batches; ``echo`` (stderr in the CLI) shows the progress of a long submission."""
    engine = parse_engine(engine) if not isinstance(engine, Engine) else engine
    echo = echo or (lambda text: None)
    # reach the engine first: an unreachable queue must not cost an enumeration, and submits nothing
    target = load_launchpad(launchpad) if engine is Engine.FIREWORKS else _job_controller(project)
    if engine is Engine.FIREWORKS:
        _initialise_if_new(target)
    else:
        _initialise_queue_if_new(target)
    cleared = _clear_interrupted(engine, target, spec.name)
    from workflows.jobs import settings_hash

    present = _work_in_engine(engine, target, spec.name, settings_hash(spec.backend.value, spec.settings_for_backend()))
    flow, digest, skipped, kept, queued = _flow_for(spec, db, present, echo)
    submission = Submission(screen=spec.name, engine=engine, settings_hash=digest, skipped=skipped, kept_for_lattice=kept, queued=queued, cleared=cleared)
    if flow is None:
        return submission
    submission.n_jobs = len(flow.jobs)
    submission.key = submission_key(spec.name, digest, flow)
    flow.update_metadata({"lrox_submission": submission.key, "settings_hash": digest})
    flow.metadata = {**(flow.metadata or {}), "lrox_screen": spec.name, "lrox_submission": submission.key, "settings_hash": digest}
    if engine is Engine.FIREWORKS:
        submission.ids = _add_to_launchpad(target, flow, spec.name, digest, submission.key, echo)
    else:
        submission.ids = _add_to_queue(target, flow, worker, echo)
    return submission


def _add_to_launchpad(launchpad, flow, screen: str, digest: str, key: str, echo) -> list[int]:
    """FireWorks' ``add_wf``, in batches, the workflow document last: its fireworks go in waiting
    (no worker takes one before its workflow exists), then the workflow, then its first fireworks
    are made ready. A submission interrupted before its workflow went in is cleared by the next
    (:func:`_clear_interrupted`); one interrupted after it is completed there."""
    from fireworks.core.firework import Workflow
    from jobflow.managers.fireworks import job_to_firework

    from workflows.progress import CountProgress

    fireworks, parents_of = [], {}
    with CountProgress("preparing fireworks", {"jobs": len(flow.jobs)}, echo=echo) as progress:
        for job, parents in flow.iterflow():
            fireworks.append(job_to_firework(job, None, parents=parents, parent_mapping=parents_of))
            progress.advance(jobs=1)
    workflow = Workflow(fireworks, name=flow.name, metadata={"lrox_screen": screen, "settings_hash": digest, "tags": [screen], "lrox_submission": key})
    roots = set(workflow.root_fw_ids)
    for fw_id in roots:  # as add_wf: the workflow records its first fireworks as ready
        workflow.id_fw[fw_id].state = "READY"
        workflow.fw_states[fw_id] = "READY"
    members = sorted(workflow.id_fw.values(), key=lambda fw: fw.fw_id)
    first = launchpad.get_new_fw_id(quantity=len(members))
    old_new = {}
    for new_id, fw in enumerate(members, start=first):
        old_new[fw.fw_id] = new_id
        fw.fw_id = new_id
    with CountProgress("adding fireworks", {"jobs": len(members)}, echo=echo) as progress:
        for start in range(0, len(members), SUBMIT_BATCH):
            batch = []
            for fw in members[start : start + SUBMIT_BATCH]:
                document = fw.to_db_dict()
                document["state"] = "WAITING"  # ready only once its workflow is in
                batch.append(document)
            launchpad.fireworks.insert_many(batch)
            progress.advance(jobs=len(batch))
    workflow._reassign_ids(old_new)
    _commit_workflow(launchpad, workflow)
    _make_roots_ready(launchpad, [old_new[r] for r in roots])
    return sorted(old_new.values())


def _commit_workflow(launchpad, workflow) -> None:
    """The submission's commit point: its workflow document."""
    launchpad.workflows.insert_one(workflow.to_db_dict())


def _make_roots_ready(launchpad, fw_ids: list[int]) -> None:
    launchpad.fireworks.update_many({"fw_id": {"$in": fw_ids}, "state": "WAITING"}, {"$set": {"state": "READY"}})


def _add_to_queue(controller, flow, worker: str | None, echo) -> list[str]:
    """jobflow-remote's ``submit_flow`` (its flow document, then its jobs, in one insert)."""
    from jobflow_remote import submit_flow

    started = __import__("time").perf_counter()
    try:
        ids = submit_flow(flow, worker=worker, project=controller.project.name)
    except ValueError as exc:  # an unknown worker name, and similar configuration errors
        raise LroxInputError(f"jobflow-remote: {_first_line(exc)}") from None
    if __import__("time").perf_counter() - started > 3:
        echo(f"added {len(ids)} jobs to jobflow-remote")
    return ids


def _initialise_queue_if_new(controller) -> None:
    if controller.auxiliary.find_one({"next_id": {"$exists": True}}) is None:
        # a queue database never used before (as 'jf admin reset' would set it up); one
        # that holds jobs without the counter is damaged and left alone
        if controller.jobs.count_documents({}) or controller.flows.count_documents({}):
            raise LroxInputError("the jobflow-remote queue holds jobs but no id counter: repair it with 'jf admin' first")
        controller.reset()


def _clear_interrupted(engine: Engine, target, screen: str) -> int:
    """Remove what an interrupted submission of this screen left (jobs whose workflow or flow never
    went in: never runnable), and complete one interrupted after its commit point. Returns how many
    jobs were removed."""
    if engine is Engine.FIREWORKS:
        keys = set(target.fireworks.distinct("spec.lrox_submission", {"spec.lrox_screen": screen, "spec.lrox_submission": {"$exists": True}}))
        committed = set(target.workflows.distinct("metadata.lrox_submission", {"metadata.lrox_submission": {"$in": sorted(keys)}}))
        removed = 0
        for key in sorted(keys - committed):
            removed += target.fireworks.delete_many({"spec.lrox_submission": key, "launches": []}).deleted_count
        for workflow in target.workflows.find({"metadata.lrox_submission": {"$in": sorted(committed)}}, {"nodes": 1, "parent_links": 1}):
            roots = [int(n) for n in workflow["nodes"] if not workflow.get("parent_links", {}).get(str(n))]
            _make_roots_ready(target, roots)
        return removed
    keys = set(target.jobs.distinct("job.metadata.lrox_submission", {"job.metadata.lrox_screen": screen, "job.metadata.lrox_submission": {"$exists": True}}))
    removed = 0
    for flow in target.flows.find({"metadata.lrox_screen": screen, "metadata.lrox_submission": {"$exists": True}}, {"uuid": 1, "jobs": 1, "metadata": 1}):
        present = target.jobs.count_documents({"uuid": {"$in": flow["jobs"]}})
        if present < len(flow["jobs"]):  # the flow went in, its jobs did not all follow
            removed += target.jobs.delete_many({"uuid": {"$in": flow["jobs"]}}).deleted_count
            target.flows.delete_one({"uuid": flow["uuid"]})
        keys.discard(flow["metadata"]["lrox_submission"])
    for key in keys:  # jobs without their flow document
        removed += target.jobs.delete_many({"job.metadata.lrox_submission": key}).deleted_count
    return removed


# states in which a job is not worth submitting again: gone from the queue by the user's hand
WITHDRAWN_STATES = {Engine.FIREWORKS: ("DEFUSED", "ARCHIVED"), Engine.JOBFLOW_REMOTE: ("USER_STOPPED",)}


def _work_in_engine(engine: Engine, target, screen: str, digest: str) -> tuple[set[str], set[tuple[str, str]]]:
    """Configurations with a relaxation, and (configuration, hop) pairs with an NEB, of this screen at
    this settings hash in the engine in any state but withdrawn (failed ones: 'lrox rerun --failed')."""
    if engine is Engine.FIREWORKS:
        documents = target.fireworks.find(
            {"spec.lrox_screen": screen, "spec.settings_hash": digest, "state": {"$nin": list(WITHDRAWN_STATES[engine])}},
            {"spec.kind": 1, "spec.configuration_id": 1, "spec.hop_id": 1},
        )
        metadata = [d.get("spec", {}) for d in documents]
    else:
        documents = target.jobs.find(
            {"job.metadata.lrox_screen": screen, "job.metadata.settings_hash": digest, "state": {"$nin": list(WITHDRAWN_STATES[engine])}},
            {"job.metadata": 1},
        )
        metadata = [d.get("job", {}).get("metadata", {}) for d in documents]
    relaxed = {m["configuration_id"] for m in metadata if m.get("kind") == "relax" and m.get("configuration_id")}
    hops = {(m["configuration_id"], m["hop_id"]) for m in metadata if m.get("kind") == "neb" and m.get("configuration_id") and m.get("hop_id")}
    return relaxed, hops


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
