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
    worker = ModelWorker(fold_processes=2)
    try:
        beside = worker.baseline(example_rows).result()
    finally:
        worker.close()
    assert alone.mae is not None and alone.folds >= 3
    assert repr(asdict(beside)) == repr(asdict(alone))  # repr: every float to its last bit


def test_a_killed_worker_loses_nothing(example_rows):
    """The worker killed before it answers: the report's own process computes the same result."""
    worker = ModelWorker(fold_processes=2)
    try:
        for pid in list(worker._pool._processes):  # the worker's process, forked at the start
            os.kill(pid, signal.SIGKILL)
        result = worker.baseline(example_rows).result()
    finally:
        worker.close()
    assert repr(asdict(result)) == repr(asdict(baseline_model(example_rows)))


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
