"""The report's second core: the baseline model in a worker process, beside the rules and figures.

At 10,000 configurations the baseline model (scikit-learn's import, five gradient-boosting fits and
their permutation importance) is half of the report's CPU, and none of the rules needs it. So a
worker process is forked as soon as the report knows its size; it imports pandas and scikit-learn
while the report reads the database and judges the rules, then fits the model on the feature rows
it is sent, its five folds in two processes forked from it (scikit-learn already imported, the
rows already in memory), while the report draws its figures. Each fold is the same function on the
same arrays as in one process and the results are taken in fold order, so every number is bit for
bit the one-process number (tested). A worker that dies (killed, out of memory) loses nothing: what
it had not returned is computed in the report's own process. Below :data:`WORKERS_FROM_HOPS` hop
rows the report runs in one process: the worker's start would cost more than it saves.
"""

from __future__ import annotations

import os
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool

__all__ = ["InProcess", "ModelWorker", "report_workers", "WORKERS_FROM_HOPS"]

# hop rows from which the report's baseline runs in a worker: at 1,650 hops (1,000 configurations)
# the baseline takes ~0.4 s, about what the worker's imports add (benchmarks/RESULTS.md, issue 32)
WORKERS_FROM_HOPS = 5_000


def _fork_pool(processes: int, initializer=None):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork"), initializer=initializer)


class InProcess:
    """Everything in this process, one thing after the other: the default, and a small database's."""

    def call(self, fn, *args):
        return fn(*args)

    def map(self, fn, *iterables) -> list:
        return list(map(fn, *iterables))

    def baseline(self, rows: list[dict]):
        """The baseline model of ``rows``, as a future: here computed when its result is asked for
        (a baseline sent at a level the rules did not judge costs nothing)."""
        return _Later(rows, self)

    def close(self) -> None:
        pass


class _Folds(InProcess):
    """The folds in forked processes (inside the model worker), results in the order given; a fold
    whose process died is computed here."""

    def __init__(self, pool):
        self._pool = pool

    def map(self, fn, *iterables) -> list:
        arguments = list(zip(*iterables))
        try:
            futures = [self._pool.submit(fn, *a) for a in arguments]
        except BrokenProcessPool:
            futures = [None] * len(arguments)
        results = []
        for future, a in zip(futures, arguments):
            try:
                results.append(future.result() if future is not None else fn(*a))
            except BrokenProcessPool:
                results.append(fn(*a))
        return results


def _import_models() -> None:
    """The model worker's start: the imports the baseline needs, done while the report still reads."""
    import pandas  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    import threadpoolctl  # noqa: F401


def _ready() -> bool:
    return True


def _baseline_in_worker(rows: list[dict], fold_processes: int):
    """The baseline model in the model worker, its folds in ``fold_processes`` processes forked from it."""
    from descriptors.report.features import baseline_model

    pool = _fork_pool(fold_processes)
    try:
        return baseline_model(rows, workers=_Folds(pool))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class ModelWorker(InProcess):
    """One forked process that imports scikit-learn now and fits the baseline when sent its rows."""

    def __init__(self, fold_processes: int = 2):
        self._fold_processes = fold_processes
        self._pool = _fork_pool(1, initializer=_import_models)
        self._pool.submit(_ready)  # forks the worker now: it imports while the report reads

    def baseline(self, rows: list[dict]) -> Future:
        try:
            future = self._pool.submit(_baseline_in_worker, rows, self._fold_processes)
        except BrokenProcessPool:
            return InProcess().baseline(rows)
        return _Fallback(future, rows)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class _Later:
    """The baseline of ``rows`` in this process, computed at the first ``result()``."""

    def __init__(self, rows: list[dict], workers):
        self._rows, self._workers, self._result = rows, workers, None

    def result(self):
        if self._result is None:
            from descriptors.report.features import baseline_model

            self._result = baseline_model(self._rows, workers=self._workers)
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
    return ModelWorker(fold_processes=min(2, cores))
