"""Independent jobs of a local screen in parallel worker processes, one torch thread each.

jobflow's local manager runs one job at a time. On a 2-core machine two processes with one
thread each do more work than one process with two threads (measured: benchmarks/RESULTS.md), so
``lrox run`` first computes the screen's expensive jobs in a process pool, stage by stage:

1. the host relaxation and the elemental references (everything else needs the host lattice);
2. the defect relaxations, one task each;
3. the NEB bands and the GPAW statics, one task each, the largest first.

A task is a sub-flow of the screen's own Flow (built the same way in the worker) holding the jobs
it needs; each job finds what it depends on in the job cache (:mod:`workflows.reuse`), which the
earlier stages filled. The cache is what the workers share: a job's output is published there under
the hash of its inputs, exactly as a serial run would, so the ordinary serial run that follows
finds every job done and only assembles the results. Nothing here changes a number.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context

__all__ = ["prefetch", "stages"]

_WORKER: dict = {}


def stages(flow) -> list[list[list[str]]]:
    """The tasks of each stage: lists of job uuids (a task also holds the jobs it depends on)."""
    by_uuid = {job.uuid: job for job in flow.jobs}
    kind = {job.uuid: job.metadata.get("kind") for job in flow.jobs}

    def with_inputs(uuid, seen=None):
        seen = set() if seen is None else seen
        if uuid in seen or uuid not in by_uuid:
            return seen
        seen.add(uuid)
        for parent in by_uuid[uuid].input_uuids:
            with_inputs(parent, seen)
        return seen

    relax = [u for u, k in kind.items() if k == "relax"]
    host = [u for u in relax if not by_uuid[u].input_uuids]  # relaxations that wait for nothing
    first = [[u] for u in host] + [[u] for u, k in kind.items() if k == "reference"]
    second = [sorted(with_inputs(u)) for u in relax if u not in host]
    third = [sorted(with_inputs(u)) for u, k in kind.items() if k == "neb" or _function(by_uuid[u]) == "gpaw_bader_job"]  # a Bader task holds its static
    return [first, second, third]


def _function(job) -> str:
    return getattr(job.function, "__name__", "")


def _init_worker(spec, cache_dir: str, rerun_failed: bool) -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    import warnings

    warnings.simplefilter("ignore")
    from workflows.flows import plan_screen

    _WORKER.update(spec=spec, plan=plan_screen(spec), cache_dir=cache_dir, rerun_failed=rerun_failed)


def _run_task(names: list[str]) -> int:
    """Run the jobs of the screen's Flow named in ``names`` (by job name: uuids differ per process)."""
    from jobflow import Flow, run_locally

    from workflows.flows import ScreenMaker
    from workflows.reuse import JobCache, using_cache
    from workflows.jobs import local_job_store

    flow = ScreenMaker().make(_WORKER["spec"], _WORKER["plan"])
    wanted = set(names)
    jobs = [job for job in flow.jobs if job.name in wanted]
    for job in jobs:  # out of the screen's Flow, into this task's
        job.hosts = []
    cache = JobCache(_WORKER["cache_dir"], rerun_failed=_WORKER["rerun_failed"])
    with using_cache(cache):
        run_locally(Flow(jobs), store=local_job_store(), log=False)
    return cache.computed


def prefetch(spec, plan, flow, processes: int, cache_dir, echo=print, rerun_failed: bool = False) -> int:
    """Compute the screen's expensive jobs in ``processes`` workers, into the job cache; returns how many ran."""
    names = {job.uuid: job.name for job in flow.jobs}
    cost = {job.uuid: _cost(job, plan) for job in flow.jobs}
    inputs = {job.uuid: set(job.input_uuids) for job in flow.jobs}
    computed, start = 0, time.monotonic()
    context = get_context("spawn")  # no fork after torch has started threads
    with ProcessPoolExecutor(max_workers=processes, mp_context=context, initializer=_init_worker, initargs=(spec, str(cache_dir), rerun_failed)) as pool:
        for number, tasks in enumerate(stages(flow), start=1):
            if not tasks:
                continue
            tasks = sorted(tasks, key=lambda t: -sum(cost[u] for u in t))  # the largest first
            futures = {pool.submit(_run_task, [names[u] for u in task]): task for task in tasks}
            for done, future in enumerate(as_completed(futures), start=1):
                try:
                    computed += future.result()
                except Exception as exc:  # noqa: BLE001 - the serial run that follows computes what is missing
                    echo(f"note: a parallel task stopped ({type(exc).__name__}: {str(exc)[:120]}); the serial run computes its jobs")
                elapsed = int(time.monotonic() - start)
                echo(f"  stage {number}/3, {done}/{len(tasks)} done: {_task_name(futures[future], inputs, names)} — {elapsed // 3600}:{elapsed // 60 % 60:02d}:{elapsed % 60:02d} elapsed")
            echo(f"parallel stage {number}/3 done: {len(tasks)} tasks on {processes} processes")
    return computed


def _task_name(task: list[str], inputs: dict[str, set], names: dict[str, str]) -> str:
    """The job a task was made for: the one no other job of the task waits for."""
    members = set(task)
    sinks = [u for u in task if not any(u in inputs.get(other, ()) for other in members - {u})]
    return names.get(sinks[0] if sinks else task[-1], "task")


def _cost(job, plan) -> float:
    """A rough relative cost for ordering tasks: atoms × (1 for a relaxation, 8 per NEB band; a
    GPAW static, minutes of one core like a band (measured in the main job), counts as one)."""
    config = next((c for c in plan.configurations if c.id == job.metadata.get("configuration_id")), None)
    atoms = config.n_atoms if config is not None else 10
    if _function(job) == "gpaw_static_job":
        return atoms * 8.0
    return atoms * {"neb": 8.0, "relax": 1.0, "static": 4.0}.get(job.metadata.get("kind"), 0.1)
