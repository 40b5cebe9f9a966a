"""Named fault-injection points for the reliability tests (as databases' "failpoints").

Production runs never set ``LROX_FAILPOINT``; the tests set it to ``NAME`` or ``NAME:N`` to have
the process SIGKILL itself the N-th time (default: first) it passes the point ``NAME``, exactly
as a machine reboot or an OOM killer would, so that resuming can be tested deterministically:

* ``relax-step``: inside a relaxation, after an optimizer step
* ``neb-step``: inside a CI-NEB, after a band force evaluation
* ``cache-write``: after a job's output is written to a temporary file, before it is published
* ``db-write``: inside the database transaction, after the first table's rows are sent
"""

from __future__ import annotations

import os
import signal
from collections import Counter

__all__ = ["failpoint", "ENVIRONMENT_VARIABLE"]

ENVIRONMENT_VARIABLE = "LROX_FAILPOINT"
_passes: Counter[str] = Counter()


def failpoint(name: str) -> None:
    """Kill this process with SIGKILL if the environment asks for a fault at ``name``; else nothing."""
    wanted = os.environ.get(ENVIRONMENT_VARIABLE)
    if not wanted:
        return
    point, _, count = wanted.partition(":")
    if point != name:
        return
    _passes[name] += 1
    if _passes[name] >= int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
