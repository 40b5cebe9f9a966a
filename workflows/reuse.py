"""Reuse of finished jobs by input hash: a killed local run, started again, recomputes nothing done.

Every in-process job (relax, NEB, reference, static, Bader) looks its inputs up in a
:class:`JobCache`, a folder of one JSON file per finished job named by the hash of the job's
function and inputs. A file is published atomically (written to a temporary name, flushed to
disk, then renamed), so a process killed at any instant leaves either the whole output or none
of it. Upstream outputs are part of a job's inputs, so anything downstream of a recomputed job
is recomputed too; wall-clock times are left out of the hash, since they differ run to run.

Failed documents are reused as well (a relaxation that did not converge will not converge on a
second try with the same inputs); ``rerun_failed=True`` recomputes them, as FireWorks reruns
fizzled fireworks.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from monty.json import MontyEncoder, jsanitize

from structures.failpoints import failpoint

__all__ = ["JobCache", "OutputUnwritable", "input_hash", "using_cache", "active_cache", "reuse_or_run"]


class OutputUnwritable(BaseException):  # noqa: N818 - not an Exception on purpose
    """A job's output could not be written (a full disk). A BaseException, so that jobflow, which
    records an ordinary exception of a job and runs the rest of the flow, stops at once: every later
    job would fail the same way."""

# left out of a job's key: timings differ run to run, and how many threads or processes computed a
# number, or where GPAW wrote its text log, does not change it (a run resumed with other settings
# of these, or a check re-run with another --output over the same finished jobs, reuses them)
_VOLATILE = {"wall_time", "endpoint_time", "threads", "processes", "log_folder"}


def _strip_volatile(value):
    if isinstance(value, dict):
        return {k: _strip_volatile(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_strip_volatile(v) for v in value]
    return value


def input_hash(function: str, *args, **kwargs) -> str:
    """SHA-256 of a job's function name and its inputs in canonical JSON (timings excluded)."""
    payload = {"function": function, "args": args, "kwargs": kwargs}
    canonical = _strip_volatile(jsanitize(payload, strict=True, enum_values=True, recursive_msonable=True))
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


class JobCache:
    """Finished job outputs on disk, keyed by input hash; ``journal.log`` lists every computation."""

    def __init__(self, directory: str | Path, rerun_failed: bool = False):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.rerun_failed = rerun_failed
        self.reused = 0
        self.computed = 0
        self.write_error: OSError | None = None  # a job's output that could not be written (a full disk)
        self._remove_orphans()

    def _remove_orphans(self) -> None:
        """Temporary files of processes that died before publishing them (a kill, a reboot)."""
        for path in self.directory.glob("*.tmp*"):
            pid = path.suffix.removeprefix(".tmp")
            if not pid.isdigit() or not _alive(int(pid)):
                path.unlink(missing_ok=True)

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The stored output, or None if absent, unreadable, or failed and failures are to be rerun."""
        from structures.doors.data import decode_msonable, load_json
        from structures.doors.files import MAX_RESULTS_BYTES, exists, read_file_text

        path = self._path(key)
        if not exists(path, "job output"):
            return None  # never written: compute
        try:  # through the doors: a file here names no class outside the allow-list
            record = decode_msonable(load_json(read_file_text(path, "job output", MAX_RESULTS_BYTES), str(path)), str(path), modules=("workflows",))
        except (OSError, ValueError):
            return None  # (only if the disk lied about fsync) damaged, or not lrox's: recompute
        output = record.get("output")
        if not isinstance(output, dict):
            return None
        if self.rerun_failed and output.get("status") == "failed":
            return None
        return output

    def put(self, key: str, label: str, output: dict) -> None:
        """Publish one output atomically, then note the computation in the journal."""
        path = self._path(key)
        temporary = path.with_suffix(f".tmp{os.getpid()}")
        try:
            with open(temporary, "w") as handle:
                json.dump({"label": label, "output": output}, handle, cls=MontyEncoder)
                handle.flush()
                os.fsync(handle.fileno())
            failpoint("cache-write")
            os.replace(temporary, path)
            with open(self.directory / "journal.log", "a") as journal:
                status = output.get("status", "?")
                journal.write(f"{key} {getattr(status, 'value', status)} {label}\n")
        except OSError as exc:  # a full disk: no half-written file is left, and the run stops and says so
            temporary.unlink(missing_ok=True)
            self.write_error = self.write_error or exc
            raise OutputUnwritable(exc.errno, exc.strerror or str(exc)) from None

    def journal(self) -> list[tuple[str, str, str]]:
        """Every (key, status, label) computed into this cache, in order."""
        from structures.doors.files import MAX_RESULTS_BYTES, exists, read_file_text

        path = self.directory / "journal.log"
        if not exists(path, "journal"):
            return []
        return [tuple(line.split(" ", 2)) for line in read_file_text(path, "journal", MAX_RESULTS_BYTES).splitlines() if line.strip()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_ACTIVE: list[JobCache] = []


@contextlib.contextmanager
def using_cache(cache: JobCache):
    """Make ``cache`` the one in-process jobs consult while the block runs."""
    _ACTIVE.append(cache)
    try:
        yield cache
    finally:
        _ACTIVE.remove(cache)


def active_cache() -> JobCache | None:
    return _ACTIVE[-1] if _ACTIVE else None


def reuse_or_run(document_class, function, *args, versions: dict | None = None, **kwargs):
    """``function(*args, **kwargs)``, or its stored output when the same inputs finished before.

    ``versions`` (the codes and model packages that compute it: lrox, pymatgen, ase, torch,
    chgnet...) are part of the key: after an upgrade nothing old is reused silently.
    """
    cache = active_cache()
    if cache is None:
        return function(*args, **kwargs)
    key = input_hash(f"{function.__module__}.{function.__qualname__}", *args, code_versions=versions or {}, **kwargs)
    stored = cache.get(key)
    if stored is not None:
        cache.reused += 1
        return document_class.model_validate(stored)
    document = function(*args, **kwargs)
    cache.put(key, str(getattr(document, "label", function.__name__)), document.model_dump())
    cache.computed += 1
    return document
