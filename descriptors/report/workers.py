"""The report's second core: the baseline model in a worker process, beside the rules and figures.

At 10,000 configurations the baseline model (scikit-learn's import, five gradient-boosting fits and
their permutation importance) is half of the report's CPU, and none of the rules needs it. So one
worker process is forked as soon as the report knows its size, before any row is read; it imports
pandas and scikit-learn while the report reads the database, then fits the model on the feature
rows it is sent (pickled once), fold after fold, while the report judges the rules and draws their
figures on the other core. It is the same function on the same rows as in one process, so every
number is bit for bit the one-process number (tested). The worker forks nothing itself (a process it
forked would keep the pipe by which the report sees it die), and it dies with the report (Linux's
parent-death signal), so a killed report leaves no process behind. A worker that dies loses
nothing: the report computes the baseline itself. Below :data:`WORKERS_FROM_HOPS` hop rows the
report runs in one process: the worker's start would cost more than it saves.
"""

from __future__ import annotations

import os
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool

__all__ = ["InProcess", "ModelWorker", "report_workers", "WORKERS_FROM_HOPS"]

# hop rows from which the report's baseline runs in a worker: at 1,650 hops (1,000 configurations)
# the baseline takes ~0.4 s, about what the worker's imports add (benchmarks/RESULTS.md, issue 32)
WORKERS_FROM_HOPS = 5_000


def _fork_pool(processes: int, initializer=None, initargs=()):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork"), initializer=initializer, initargs=initargs)


class InProcess:
    """Everything in this process, one thing after the other: the default, and a small database's."""

    def baseline(self, rows: list[dict]):
        """The baseline model of ``rows``, as a future: here computed when its result is asked for
        (a baseline sent at a level the rules did not judge costs nothing)."""
        return _Later(rows)

    def close(self) -> None:
        pass


def _die_with_the_report(report: int) -> None:
    """Linux: this process gets SIGKILL when the report that forked it dies (killed, interrupted), so
    no worker outlives it holding its output open. Elsewhere nothing (the worker ends with its queue)."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != report:  # the report died before the call: nothing to work for
        os._exit(1)


def _import_models(report: int) -> None:
    """The model worker's start (``report``: the report's process id): the imports the baseline
    needs, done while the report still reads."""
    _die_with_the_report(report)
    import pandas  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    import threadpoolctl  # noqa: F401


def _ready() -> bool:
    return True


def _baseline_in_worker(rows: list[dict]):
    """The baseline model in the model worker: the one-process function, in one process."""
    from descriptors.report.features import baseline_model

    return baseline_model(rows)


class ModelWorker(InProcess):
    """One forked process that imports scikit-learn now and fits the baseline when sent its rows."""

    def __init__(self):
        self._pool = _fork_pool(1, initializer=_import_models, initargs=(os.getpid(),))
        self._pool.submit(_ready)  # forks the worker now: it imports while the report reads

    def baseline(self, rows: list[dict]) -> Future:
        try:
            future = self._pool.submit(_baseline_in_worker, rows)
        except BrokenProcessPool:
            return InProcess().baseline(rows)
        return _Fallback(future, rows)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class _Later:
    """The baseline of ``rows`` in this process, computed at the first ``result()``."""

    def __init__(self, rows: list[dict]):
        self._rows, self._result = rows, None

    def result(self):
        if self._result is None:
            from descriptors.report.features import baseline_model

            self._result = baseline_model(self._rows)
        return self._result


class _Fallback:
    """A worker's future whose result, if the worker died, is computed in this process."""

    def __init__(self, future: Future, rows: list[dict]):
        self._future, self._rows = future, rows

    def result(self):
        try:
            return self._future.result()
        except BrokenProcessPool:
            return InProcess().baseline(self._rows).result()  # the same numbers, in this process


def report_workers(n_hops: int) -> InProcess:
    """Where the report's baseline runs for ``n_hops`` hop rows: a model worker where there is a
    second core, enough rows to gain from it and Linux's fork; else the report's own process."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity call (macOS): the machine's count
        cores = os.cpu_count() or 1
    import multiprocessing

    if n_hops < WORKERS_FROM_HOPS or cores < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return InProcess()
    return ModelWorker()
