"""Independent pieces of a screen's preparation (a configuration's hops, its input folders) on the
available cores.

A dry run of a few hundred configurations interpolates hundreds of bands and writes thousands of
input files: work that shares nothing between configurations. :func:`each_in_processes` runs one
function over a list of items in forked worker processes, which start at once and inherit the
screen's plan (its framework, configurations and hops) instead of rebuilding it, and hands each
result back as it finishes, for a progress display. Results are the function's own, in the
order of the items; an exception in a worker stops the others and is raised here.

Fork, not spawn: nothing here runs a model (no torch threads to inherit), and a spawned worker
would spend seconds importing pymatgen and rebuilding the plan before its first item.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

__all__ = ["available_cores", "each_in_processes"]

_TASK: list = []  # (function, items) of the pool being started: what a forked worker inherits


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system says, else all)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _run(index: int):
    function, items = _TASK[-1]
    return index, function(items[index])


def each_in_processes(function: Callable, items: Sequence, processes: int, on_result: Callable | None = None) -> list:
    """``[function(item) for item in items]`` in up to ``processes`` forked workers.

    ``on_result(result)`` is called here as each item finishes (in the order they finish). With one
    process, or one item, everything runs in this process. ``function`` and ``items`` need not be
    picklable; results must be.
    """
    items = list(items)
    results: list = [None] * len(items)
    processes = max(1, min(int(processes), len(items)))
    if processes == 1 or not hasattr(os, "fork"):
        for k, item in enumerate(items):
            results[k] = function(item)
            if on_result is not None:
                on_result(results[k])
        return results
    from multiprocessing import get_context

    _TASK.append((function, items))
    pool = get_context("fork").Pool(processes)
    try:
        # the largest items are not known here: one item a task keeps both workers busy to the end
        for index, result in pool.imap_unordered(_run, range(len(items)), chunksize=1):
            results[index] = result
            if on_result is not None:
                on_result(result)
        pool.close()
    except BaseException:
        pool.terminate()  # an error or an interrupt: no worker goes on writing
        raise
    finally:
        pool.join()
        _TASK.pop()
    return results
