"""Live progress of a local run: job n of N, the current job's kind and step, elapsed time, time left.

The engine reports each optimiser step through :func:`step` (a no-op outside a run); the run
reports jobs starting and finishing. On a terminal the display is one live line (rich); in a log
(CI, a batch job) it is a line per job and one every 30 s of a long job.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

__all__ = ["ScreenProgress", "step", "showing"]

_ACTIVE: list[ScreenProgress] = []


def step(kind: str, n: int) -> None:
    """Called by the engine after each optimiser step (relaxation, NEB band)."""
    if _ACTIVE:
        _ACTIVE[-1].on_step(kind, n)


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class ScreenProgress:
    """Jobs done out of the total, the running job and its step, elapsed and estimated time left."""

    def __init__(self, total: int, echo=print, live: bool | None = None):
        self.total, self.done, self.echo = total, 0, echo
        self.started = time.perf_counter()
        self.job, self.kind, self.steps = "", "", 0
        self.job_started = self.started
        self.durations: dict[str, list[float]] = {}  # seconds per finished job, by kind
        self.pending: dict[str, int] = {}  # jobs not yet finished, by kind
        self.last_line = self.started
        self.live = sys.stderr.isatty() if live is None else live
        self._rich = None

    def expect(self, kinds: list[str]) -> None:
        for kind in kinds:
            self.pending[kind] = self.pending.get(kind, 0) + 1

    def remaining(self) -> float | None:
        """Seconds left: each pending job at the mean duration of its kind (else of all jobs)."""
        every = [d for ds in self.durations.values() for d in ds]
        if not every:
            return None
        mean_all = sum(every) / len(every)
        left = sum(n * (sum(self.durations[k]) / len(self.durations[k]) if self.durations.get(k) else mean_all) for k, n in self.pending.items())
        return max(left - (time.perf_counter() - self.job_started), 0.0)

    def status(self) -> str:
        elapsed = time.perf_counter() - self.started
        left = self.remaining()
        step_text = f", step {self.steps}" if self.steps else ""
        eta = f", about {_clock(left)} left" if left is not None else ""
        return f"[{self.done}/{self.total}] {self.job}{step_text} — {_clock(elapsed)} elapsed{eta}"

    def start_job(self, name: str, kind: str) -> None:
        self.job, self.kind, self.steps = name, kind, 0
        self.job_started = time.perf_counter()
        self._show(force=True)

    def finish_job(self) -> None:
        if self.kind:
            self.durations.setdefault(self.kind, []).append(time.perf_counter() - self.job_started)
            if self.pending.get(self.kind):
                self.pending[self.kind] -= 1
        self.done += 1
        self.job, self.kind, self.steps = "", "", 0

    def on_step(self, kind: str, n: int) -> None:
        self.steps = n
        self._show()

    def _show(self, force: bool = False) -> None:
        now = time.perf_counter()
        if self.live:
            if self._rich is None:
                from rich.console import Console
                from rich.live import Live

                self._rich = Live("", console=Console(stderr=True), refresh_per_second=4, transient=True)
                self._rich.start()
            self._rich.update(self.status())
        elif force or now - self.last_line >= 30:
            self.echo(self.status())
            self.last_line = now

    def close(self) -> None:
        if self._rich is not None:
            self._rich.stop()
            self._rich = None


@contextmanager
def showing(progress: ScreenProgress):
    """Make ``progress`` the one the engine reports steps to while the block runs."""
    _ACTIVE.append(progress)
    try:
        yield progress
    finally:
        _ACTIVE.remove(progress)
        progress.close()


class CountProgress:
    """A preparation step's progress by counts: configurations, hops, folders written.

    On a terminal a live bar (rich) with the counts, the time elapsed and the time left (from the
    first count's fraction done); in a log (CI, a batch job) a line every ``every`` seconds, and a
    last one when the step took longer than ``quiet_below`` seconds. Steps shorter than that print
    nothing in a log: a small screen's dry run stays as quiet as it was.
    """

    def __init__(self, title: str, totals: dict[str, int], echo=print, live: bool | None = None, every: float = 10.0, quiet_below: float = 3.0):
        self.title, self.totals, self.echo = title, dict(totals), echo
        self.done = {name: 0 for name in totals}
        self.started = self.last_line = time.perf_counter()
        self.every, self.quiet_below = every, quiet_below
        self.live = sys.stderr.isatty() if live is None else live
        self.printed = False
        self._rich = None

    def advance(self, **counts: int) -> None:
        for name, n in counts.items():
            self.done[name] = self.done.get(name, 0) + n
        self._show()

    def fraction(self) -> float:
        first = next(iter(self.totals), None)
        return self.done[first] / self.totals[first] if first and self.totals[first] else 1.0

    def status(self, width: int = 24) -> str:
        elapsed = time.perf_counter() - self.started
        fraction = min(self.fraction(), 1.0)
        bar = "#" * int(round(width * fraction)) + "." * (width - int(round(width * fraction)))
        counts = ", ".join(f"{self.done[k]}/{self.totals[k]} {k}" for k in self.totals)
        left = f", about {_clock(elapsed * (1 - fraction) / fraction)} left" if 0 < fraction < 1 else ""
        return f"{self.title} [{bar}] {counts} — {_clock(elapsed)} elapsed{left}"

    def _show(self) -> None:
        now = time.perf_counter()
        if self.live:
            if self._rich is None:
                from rich.console import Console
                from rich.live import Live

                self._rich = Live("", console=Console(stderr=True), refresh_per_second=4, transient=True)
                self._rich.start()
            self._rich.update(self.status())
        elif now - self.last_line >= self.every:
            self.echo(self.status())
            self.last_line, self.printed = now, True

    def close(self, finished: bool = True) -> None:
        """The last line (the counts reached); none for a step that failed: its error is the one line."""
        if self._rich is not None:
            self._rich.stop()
            self._rich = None
            if finished:
                self.echo(self.status())
        elif finished and (self.printed or time.perf_counter() - self.started >= self.quiet_below):
            self.echo(self.status())

    def __enter__(self) -> CountProgress:
        return self

    def __exit__(self, exc_type, *_) -> None:
        self.close(finished=exc_type is None)


__all__ += ["CountProgress"]
