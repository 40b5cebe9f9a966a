"""The report's baseline model in a worker process (a large database): the same numbers as in one
process, bit for bit, and nothing lost when the worker dies."""

from __future__ import annotations

import os
import signal
from dataclasses import asdict
from pathlib import Path

import pytest

from descriptors.report.features import baseline_model, feature_table
from descriptors.report.workers import WORKERS_FROM_HOPS, InProcess, ModelWorker, report_workers
from descriptors.store.database import DescriptorDatabase

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "li2mno3_design_rules.db"


@pytest.fixture(scope="module")
def example_rows() -> list[dict]:
    """The committed design-rules example's feature rows at its ML level."""
    rows, _ = feature_table(DescriptorDatabase(f"sqlite:///{EXAMPLE}", read_only=True))
    return [r for r in rows if r["level"] == "7net-0"]


def test_the_model_worker_gives_the_one_process_baseline_bit_for_bit(example_rows):
    alone = baseline_model(example_rows)
    worker = ModelWorker()
    try:
        beside = worker.baseline(example_rows).result()
    finally:
        worker.close()
    assert alone.mae is not None and alone.folds >= 3
    assert repr(asdict(beside)) == repr(asdict(alone))  # repr: every float to its last bit


def test_a_killed_worker_loses_nothing(example_rows):
    """The worker killed before it answers (before and while it fits): the report's own process
    computes the same result, and nothing waits for a process that is gone."""
    import threading

    expected = repr(asdict(baseline_model(example_rows)))
    for when in ("before", "while fitting"):
        worker = ModelWorker()
        try:
            if when == "before":
                worker._pool.submit(int).result()  # the worker is up
                pending = None
            else:
                pending = worker.baseline(example_rows)
            for pid in list(worker._pool._processes):
                os.kill(pid, signal.SIGKILL)
            answer: list = []
            waiting = threading.Thread(target=lambda: answer.append((pending or worker.baseline(example_rows)).result()), daemon=True)
            waiting.start()
            waiting.join(120)
            assert answer, f"the report waited for a worker killed {when}"
            assert repr(asdict(answer[0])) == expected
        finally:
            worker.close()


def test_the_worker_dies_with_the_report(tmp_path):
    """A report killed outright (SIGKILL) leaves no worker behind holding its output open."""
    import subprocess
    import sys
    import time

    code = (
        "import os, signal\n"
        "from descriptors.report.workers import ModelWorker\n"
        "worker = ModelWorker()\n"
        "worker._pool.submit(int).result()\n"
        "print(*worker._pool._processes, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(EXAMPLE.parents[1])})
    pids = [int(p) for p in done.stdout.split()]
    assert pids and done.returncode == -signal.SIGKILL

    def alive(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return False
        return "State:\tZ" not in state

    deadline = time.monotonic() + 30
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(p) for p in pids)


def test_a_small_database_runs_in_one_process_and_a_large_one_beside_it():
    small = report_workers(WORKERS_FROM_HOPS - 1)
    assert type(small) is InProcess
    large = report_workers(WORKERS_FROM_HOPS)
    try:
        two_cores = len(os.sched_getaffinity(0)) >= 2
        assert isinstance(large, ModelWorker) == two_cores
    finally:
        large.close()


def _undated(html: str) -> str:
    import re

    return re.sub(r"written \d{4}-\d\d-\d\d \d\d:\d\d UTC", "", html)


def test_a_report_with_its_model_worker_is_the_one_process_report(monkeypatch):
    """The whole report through the model worker (forced on the small example), and again with the
    level sent ahead guessed wrong (the rules judge another: the baseline is sent again): the same
    HTML as in one process, figures and every number included."""
    import descriptors.report.html as html
    import descriptors.report.workers as workers

    db = DescriptorDatabase(f"sqlite:///{EXAMPLE}", read_only=True)
    alone = _undated(html.build_report(db))
    monkeypatch.setattr(workers, "WORKERS_FROM_HOPS", 0)
    assert _undated(html.build_report(db)) == alone
    import descriptors.report.rules as rules

    monkeypatch.setattr(rules, "judged_level", lambda hops: "a level no rule judges")
    assert _undated(html.build_report(db)) == alone
