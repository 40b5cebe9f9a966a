"""GPAW on a cluster worker: serial in the job's own process, or under an MPI launcher in a process of its own.

MPI must own a process from its start, and the job that holds a GPAW static (a FireWorks rocket,
a jobflow-remote job) is one Python process that cannot become N ranks. So the worker's
environment chooses, as atomate2's ``VASP_CMD`` does for VASP:

* ``LROX_GPAW_COMMAND`` unset or empty: GPAW runs in the job's own process, on one core (``lrox
  run`` on a laptop, a worker given one core).
* ``LROX_GPAW_COMMAND`` set to a command that starts a Python interpreter with GPAW under a
  launcher, e.g. ``srun gpaw python`` (as many ranks as the allocation has tasks) or ``mpiexec -n
  64 gpaw python``: the job writes the cell and the settings to ``gpaw_task.json`` in the static's
  folder and runs ``COMMAND -m workflows.gpaw_parallel gpaw_task.json gpaw_result.json``. Rank 0
  writes the result (with the number of ranks and the command), which the job reads back.

The command is the worker's, not the science: it enters no settings hash (the result is the same
SCF, whatever the number of ranks). A launcher that starts more ranks than GPAW sees (GPAW built
without MPI, ``gpaw info``: "MPI enabled no") would run the whole SCF N times over; each copy
refuses instead, and the static is recorded as failed with that reason.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from structures.errors import LroxInputError

__all__ = ["COMMAND_VARIABLE", "GpawRunFailed", "gpaw_command", "launcher_ranks", "run_gpaw_static"]

COMMAND_VARIABLE = "LROX_GPAW_COMMAND"
TASK_FILE = "gpaw_task.json"
RESULT_FILE = "gpaw_result.json"
# what MPI launchers tell each rank about how many they started (Open MPI, MPICH/Intel MPI/hydra,
# PMIx, srun): the first that is set is the launcher's number of ranks
LAUNCHER_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_STEP_NUM_TASKS")
ROOT = Path(__file__).resolve().parents[1]  # the folder that holds the lrox packages


class GpawRunFailed(RuntimeError):
    """The GPAW process under the launcher did not produce a result."""


def gpaw_command(environ=None) -> list[str] | None:
    """The worker's GPAW command (``LROX_GPAW_COMMAND``) as words, or None to run in-process."""
    text = (os.environ if environ is None else environ).get(COMMAND_VARIABLE, "").strip()
    if not text:
        return None
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise GpawRunFailed(f"{COMMAND_VARIABLE}={text!r} is not a command line ({exc})") from None
    return words


def launcher_ranks(environ=None) -> int:
    """How many ranks the launcher says it started (1 when no launcher says anything)."""
    environ = os.environ if environ is None else environ
    for name in LAUNCHER_SIZE_VARIABLES:
        value = environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def run_gpaw_static(structure, settings, folder: str | Path) -> dict:
    """:func:`workflows.gpaw_static.gpaw_static` serially here, or under the worker's launcher.

    Everything that needs no SCF (the atom limit, a missing GPAW) is checked here first, so a cell
    GPAW would refuse costs no launch.
    """
    from workflows.gpaw_static import gpaw_static, refuse_before_scf

    command = gpaw_command()
    if command is None:
        return gpaw_static(structure, settings, folder)
    return _launch(command, structure, refuse_before_scf(structure, settings), Path(folder))


def _launch(command: list[str], structure, settings, folder: Path) -> dict:
    import dataclasses
    import json

    from structures.doors.data import load_json, plain
    from structures.doors.files import MAX_RESULTS_BYTES, exists, read_file_text, write_atomically

    folder.mkdir(parents=True, exist_ok=True)
    task, result = folder / TASK_FILE, folder / RESULT_FILE
    result.unlink(missing_ok=True)  # a result left by an earlier run is never read as this one's
    document = {"structure": structure.as_dict(), "settings": dataclasses.asdict(settings)}
    write_atomically(task, lambda path: path.write_text(json.dumps(plain(document))), "GPAW task")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    try:
        done = subprocess.run([*command, "-m", "workflows.gpaw_parallel", str(task), str(result)],
                              cwd=folder, env=environment, capture_output=True, text=True)
    except OSError as exc:  # the launcher itself is missing or not executable
        raise GpawRunFailed(f"{COMMAND_VARIABLE}: cannot start {command[0]!r} ({exc.strerror or exc})") from None
    if done.returncode != 0 or not exists(result, "GPAW result"):
        said = [line.strip() for line in (done.stderr or "").splitlines() if line.strip()]
        refusal = next((line for line in said if line.startswith("lrox: ")), None)
        last = refusal or (said[-1] if said else "no output")
        raise GpawRunFailed(f"'{shlex.join(command)}' exited with {done.returncode} and no result: {last[:400]}")
    return load_json(read_file_text(result, "GPAW result", MAX_RESULTS_BYTES), "GPAW result")


def main(argv: list[str]) -> int:
    """Under the launcher: every rank runs the SCF together, rank 0 writes the result."""
    import json

    from gpaw.mpi import world

    from structures.doors.data import load_json, plain
    from structures.doors.files import MAX_RESULTS_BYTES, read_file_text, write_atomically
    from structures.doors.structures_in import structure_from_dict
    from workflows.gpaw_static import gpaw_static

    task_path, result_path = map(Path, argv)
    started = launcher_ranks()
    if started > world.size:
        print(
            f"lrox: the launcher started {started} ranks but GPAW sees {world.size}: this GPAW was built without MPI "
            f"('gpaw info': MPI enabled no), so each rank would run the whole SCF; set {COMMAND_VARIABLE} to one rank "
            "(e.g. 'gpaw python') or install GPAW with MPI",
            file=sys.stderr,
        )
        return 3
    task = load_json(read_file_text(task_path, "GPAW task", MAX_RESULTS_BYTES), "GPAW task")
    structure = structure_from_dict(task["structure"], "GPAW task structure")
    out = gpaw_static(structure, task["settings"], task_path.parent)
    if world.rank == 0:
        out["parallel"] = {"ranks": world.size, "command": os.environ.get(COMMAND_VARIABLE, ""),
                           "slurm_job_id": os.environ.get("SLURM_JOB_ID")}
        write_atomically(result_path, lambda path: path.write_text(json.dumps(plain(out))), "GPAW result")
    world.barrier()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (LroxInputError, RuntimeError) as exc:  # one line the job records as the reason
        print(f"lrox: {exc}", file=sys.stderr)
        sys.exit(2)
