"""Independent jobs in worker processes change nothing but the wall time."""

from __future__ import annotations

from pathlib import Path

from descriptors.database import DescriptorDatabase
from launch.cli import main

SPEC = "name: par\nhost: li2mno3\nsupercell: 1x1x1\ndopants: [Ti:tm]\nvacancies: [O]\nhops: {per_configuration: 1}\nbackend: mock\n"


def _run(folder: Path, processes: int, monkeypatch) -> dict:
    folder.mkdir()
    monkeypatch.chdir(folder)
    (folder / "spec.yaml").write_text(SPEC + f"mock: {{processes: {processes}}}\n")
    db = f"sqlite:///{folder / 'lrox.db'}"
    assert main(["run", "spec.yaml", "--db", db]) == 0
    return DescriptorDatabase(db).snapshot()


def test_two_worker_processes_give_the_serial_run_s_database(tmp_path, monkeypatch, capsys):
    serial = _run(tmp_path / "serial", 1, monkeypatch)
    parallel = _run(tmp_path / "parallel", 2, monkeypatch)
    out = capsys.readouterr().out
    assert "independent jobs on 2 processes" in out and "parallel stage 3/3 done: 6 tasks" in out

    def numbers(snapshot):  # wall times and the run folders differ; every number must not
        return sorted((d["configuration_id"], d["name"], d["subject"], d["value"], d["status"]) for d in snapshot["descriptors"])

    assert numbers(parallel) == numbers(serial)
    # the serial run that follows the workers computed nothing again
    assert "11 calculations run, 0 reused" in out.split("independent jobs")[1]
