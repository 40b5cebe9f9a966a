"""Independent jobs in worker processes change nothing but the wall time."""

from __future__ import annotations

from pathlib import Path

from descriptors.store.database import DescriptorDatabase
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
    # each task says what it was as it finishes, not only when the stage ends
    assert "stage 3/3, 6/6 done: " in out and any(line.strip().startswith("stage 3/3") and "neb " in line for line in out.splitlines())

    def numbers(snapshot):  # wall times and the run folders differ; every number must not
        return sorted((d["configuration_id"], d["name"], d["subject"], d["value"], d["status"]) for d in snapshot["descriptors"])

    assert numbers(parallel) == numbers(serial)
    # the serial run that follows the workers computed nothing again
    assert "11 calculations run, 0 reused" in out.split("independent jobs")[1]


def test_gpaw_statics_in_their_own_cell_run_beside_the_bands(tmp_path, monkeypatch):
    """The GPAW statics are the screen's longest jobs: each one, with its small-cell relaxations,
    is a task of the last stage (beside the NEB bands), never left to the serial run."""
    from workflows.flows import ScreenMaker, plan_screen
    from workflows.parallel import stages
    from workflows.spec import load_spec

    monkeypatch.chdir(tmp_path)
    (tmp_path / "cells.yaml").write_text(
        "name: gpaw_cells\nhost: licoo2\nsupercell: 2x1x1\nvacancies: [O]\nhops: {per_configuration: 1}\n"
        "backend: mock\nstatic_backend: gpaw\ngpaw: {supercell: 1x1x1, max_atoms: 12}\n"
    )
    spec = load_spec(tmp_path / "cells.yaml")
    flow = ScreenMaker().make(spec, plan_screen(spec))
    first, second, third = stages(flow)
    name = {job.uuid: job.name for job in flow.jobs}
    last = [{name[u] for u in task} for task in third]
    statics = [task for task in last if any(n.startswith("static ") for n in task)]
    assert len(statics) == 2  # pristine and V_O, each with its Bader and its small-cell relaxations
    assert all(any("in the 1x1x1 GPAW cell" in n and n.startswith("relax") for n in task) for task in statics)
    assert any("relax pristine in the 1x1x1 GPAW cell" in name[u] for task in first for u in task)
    assert any(all("GPAW cell" not in n for n in task) and any(n.startswith("neb") or "->" in n for n in task) for task in last)
