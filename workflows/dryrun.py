"""Dry runs: write every job's inputs, count jobs by kind, estimate core-hours; compute nothing.

Core-hour model (documented, deliberately simple; calibrate ``t_ref`` on your cluster):

* VASP (PBE+U, Γ-centred MP k-mesh): one ionic step of a 100-atom cell ≈ 0.05 h on 128 cores,
  scaling as (N/100)^3; relaxation ≈ 40 ionic steps, static ≈ 1 step (×2 for the fine DOS),
  CI-NEB ≈ 60 steps × n_images, plus two end-point relaxations per hop.
* MLIP (CPU): one force call of a 100-atom cell ≈ 1.5 s × 2 cores (CHGNet; SevenNet ≈ 4x more),
  scaling linearly with N; relaxation ≈ 60 calls, CI-NEB ≈ 40 steps × n_images, end points
  2 × 30 calls.
* GPAW (one core a job, as lrox runs it): one SCF iteration of the 47-atom Li2MnO3 cell at PW
  400 eV took 34 s with 8 irreducible k-points (4.3 s a k-point; benchmarks/RESULTS.md, "GPAW
  modes"), scaling as (N/47)^3, with the k-points of the cell (half the Γ-centred mesh, time
  reversal) and, for plane waves, as (ecut/400)^1.5; LCAO dzp 3x a PW iteration (measured on the
  48-atom cell). A relaxation ≈ 30 steps × 12 iterations; a CI-NEB ≈ 40 steps × n_images × 10
  iterations (each image restarts from its previous wave functions) plus two end-point
  relaxations.
* mock: negligible.
"""

from __future__ import annotations

import json
from pathlib import Path

from monty.json import MontyEncoder

from structures.errors import LroxInputError
from structures.hops import hop_endpoints, interpolate_hop
from structures.io import configuration_folder
from workflows.flows import ScreenMaker, ScreenPlan, plan_screen
from workflows.spec import Backend, ScreenSpec

__all__ = ["dry_run", "estimate_core_hours"]

VASP_STEP_HOURS_100 = 0.05
VASP_CORES = 128
MLIP_CALL_SECONDS_100 = {"chgnet": 1.5, "7net-0": 6.0}
MLIP_CORES = 2
GPAW_ITERATION_SECONDS_47 = {"pw": 34.0 / 8, "lcao": 3 * 34.0 / 8}  # per irreducible k-point, one core


def estimate_core_hours(spec: ScreenSpec, plan: ScreenPlan) -> float:
    """Core-hours of the whole screen under the model in this module's docstring."""
    total = 0.0
    twins = plan.twins()  # computed once: a twin hop costs nothing

    def bands(config) -> int:
        return sum(1 for hop in plan.hops.get(config.id, []) if (config.id, hop.id) not in twins)

    if spec.backend is Backend.VASP:
        cores = spec.vasp.cores_per_job or VASP_CORES
        for config in plan.configurations:
            step = VASP_STEP_HOURS_100 * (config.n_atoms / 100) ** 3 * cores
            total += 40 * step + 2 * step
            total += bands(config) * (60 * spec.vasp.n_images + 2 * 40) * step
    elif spec.backend is Backend.MLIP:
        models = spec.mlip.model if isinstance(spec.mlip.model, list | tuple) else [spec.mlip.model]
        # a committee evaluates every member at each step
        per_call = sum(MLIP_CALL_SECONDS_100.get(model, 6.0) for model in models) * MLIP_CORES / 3600
        for config in plan.configurations:
            call = per_call * config.n_atoms / 100
            total += 60 * call + bands(config) * (40 * spec.mlip.n_images + 60) * call
    elif spec.backend is Backend.GPAW:
        total += sum(_gpaw_hours(spec, config.structure, bands(config)) for config in plan.configurations)
    return total


def _gpaw_hours(spec: ScreenSpec, structure, n_bands: int) -> float:
    """Core-hours of one configuration's GPAW relaxation and bands under the model above."""
    import math

    from workflows.gpaw_static import kpoint_mesh

    settings = spec.gpaw_dft
    mode = getattr(settings.mode, "value", settings.mode)
    kpoints = max(1, math.ceil(math.prod(kpoint_mesh(structure.lattice.abc, settings.kspacing)) / 2))
    iteration = GPAW_ITERATION_SECONDS_47[mode] * kpoints * (len(structure) / 47) ** 3
    if mode == "pw":
        iteration *= (settings.ecut / 400) ** 1.5
    relaxation = 30 * 12 * iteration
    return (relaxation + n_bands * (40 * settings.n_images * 10 * iteration + 2 * relaxation)) / 3600


def dry_run(spec: ScreenSpec, directory: Path, seeds: dict | None = None, processes: int | None = None, echo=None, plan: ScreenPlan | None = None) -> dict:
    """Write the inputs of every job under ``directory`` and return counts and the estimate.

    The tree is built in a temporary folder beside ``directory`` and renamed into place, so a
    failure (a full disk, a name too long, an interrupt) leaves no half-written tree, and a folder
    under the final name is always a finished one; a directory that already holds files is
    refused, so nothing is overwritten. A screen beyond the spec's ``limits`` is refused before
    anything is written. Each configuration folder holds the ``configuration.json`` that ``lrox
    ingest`` reads, and ``index.json`` maps folders to ids. Bands and input files are made in
    ``processes`` worker processes (default: the spec's setting, else one per core), and
    ``echo`` (stderr in the CLI) shows the progress of each step that takes more than a few seconds.
    """
    import os
    import shutil
    import time
    from collections import Counter

    from workflows.progress import CountProgress

    echo = echo or (lambda text: None)
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise LroxInputError(f"dry-run directory '{directory}' is not empty; choose a new one")
    parent = directory.absolute().parent
    if not parent.is_dir():
        raise LroxInputError(f"dry-run directory '{directory}': folder {parent} does not exist")
    processes = processes or spec.writer_processes()
    plan = plan or plan_screen(spec, echo=echo, processes=processes)
    check_limits(spec, plan)  # before any file: a screen beyond the user's limits writes nothing
    bands = {hop: band for hop, (_, band) in (seeds or {}).items()}
    started = time.perf_counter()
    flow = ScreenMaker().make(spec, plan, seeds=bands, echo=echo)  # the real Flow is built, so a dry run checks the graph too
    if time.perf_counter() - started > 3:
        echo(f"built the flow: {len(flow.jobs)} jobs in {time.perf_counter() - started:.0f} s")
    _remove_abandoned_staging(parent, directory.name)
    staging = parent / f".{directory.name[:200]}{STAGING_MARK}{os.getpid()}"
    try:
        staging.mkdir()
        totals = {"configurations": len(plan.configurations), "hops": sum(len(h) for h in plan.hops.values())}
        if spec.backend is Backend.VASP or spec.emulates_vasp:
            from workflows.vasp import dry_run_folder_count, write_vasp_inputs

            with CountProgress("writing inputs", {**totals, "folders": dry_run_folder_count(plan)}, echo=echo) as progress:
                counts = write_vasp_inputs(
                    spec, plan, staging, seeds=bands, seed_levels={hop: level for hop, (level, _) in (seeds or {}).items()},
                    processes=processes, progress=progress,
                )
        else:
            with CountProgress("writing inputs", {**totals, "folders": len(plan.configurations) + totals["hops"] - len(plan.twins())}, echo=echo) as progress:
                counts = _write_structures(spec, plan, staging, processes, progress)
        flow_kinds = Counter(job.metadata.get("kind", "other") for job in flow.jobs)
        summary = {
            "screen": spec.name,
            "backend": spec.backend.value,
            "configurations": len(plan.configurations),
            "hops": totals["hops"],
            "twin_hops": len(plan.twins()),  # the same physical hop as another hop of the screen: its band runs once
            "cell": plan.describe()[0],
            "notes": plan.describe()[1:],
            "flow_jobs": len(flow.jobs),
            "flow_jobs_by_kind": dict(flow_kinds),
            "seeded_hops": len(bands),
            "jobs_by_kind": counts,
            "core_hours_estimate": round(estimate_core_hours(spec, plan), 2),
            "settings": spec.settings_for_backend(),
        }
        index = {configuration_folder(k, c): {"id": c.id, "name": c.name, "hops": [h.id for h in plan.hops.get(c.id, [])]} for k, c in enumerate(plan.configurations)}
        (staging / "index.json").write_text(json.dumps(index, indent=1))
        (staging / "dry_run.json").write_text(json.dumps(summary, indent=1, cls=MontyEncoder))
        if directory.exists():
            directory.rmdir()  # empty (checked above)
        staging.rename(directory)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise LroxInputError(f"dry run: cannot write '{directory}' ({exc.strerror or exc}); nothing was written") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return summary


STAGING_MARK = ".lrox-dry-run-"  # a dry run's tree while it is written: .<name>.lrox-dry-run-<pid>


def _remove_abandoned_staging(parent: Path, name: str) -> None:
    """Staging trees of dry runs into the same folder whose process is gone (killed, the machine
    rebooted): never a finished tree (that has its final name), so removed, not reused."""
    import os
    import shutil

    from workflows.reuse import _alive as alive  # one liveness check for the job journal and the staging

    for path in parent.glob(f".{name[:200]}{STAGING_MARK}*"):
        pid = path.name.rsplit(STAGING_MARK, 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def about(core_hours: float) -> str:
    """An estimate to the two significant figures the model can claim (8,300,000, not 8276652.54)."""
    rounded = float(f"{core_hours:.2g}")
    return f"{rounded:,.0f}" if rounded >= 100 else f"{rounded:g}"


def check_limits(spec: ScreenSpec, plan: ScreenPlan) -> None:
    """Refuse a screen beyond the spec's ``limits`` (configurations, estimated core-hours), with
    its count and estimate: before anything is written, submitted or run."""
    limits = spec.limits
    n_configurations, n_hops = len(plan.configurations), sum(len(h) for h in plan.hops.values())
    cost = estimate_core_hours(spec, plan)
    size = f"{n_configurations} configurations, {n_hops} hops, an estimated {about(cost)} core-hours (model: workflows/dryrun.py)"
    if limits.configurations is not None and n_configurations > limits.configurations:
        raise LroxInputError(
            f"screen '{spec.name}': {size}: more configurations than limits.configurations = {limits.configurations}; nothing was written "
            "(narrow the screen: pair_cutoff, pair_kinds, dopants; or raise the limit)"
        )
    if limits.core_hours is not None and cost > limits.core_hours:
        raise LroxInputError(
            f"screen '{spec.name}': {size}: above limits.core_hours = {limits.core_hours:g}; nothing was written "
            "(narrow the screen: pair_cutoff, hops.per_configuration, hops.configurations; or raise the limit)"
        )


def _write_structures(spec: ScreenSpec, plan: ScreenPlan, directory: Path, processes: int = 1, progress=None) -> dict[str, int]:
    """In-process backends: each job's input structures (POSCAR) and its settings (job.json)."""
    from collections import Counter

    from workflows.pool import each_in_processes

    settings = spec.settings_for_backend()
    n_images = settings.get("n_images", 5)

    twins = plan.twins()  # once, before the workers fork

    def configuration(item) -> dict:
        from structures.io import write_configuration_file, write_poscar

        index, config = item
        counts = {"relax": 1, "static": 1, "bader": 1, "neb": 0}
        folder = directory / configuration_folder(index, config)
        (folder / "relax").mkdir(parents=True)
        write_configuration_file(folder, plan.host, config)
        write_poscar(config.structure, folder / "relax" / "POSCAR")
        (folder / "relax" / "job.json").write_text(json.dumps({"configuration": config.summary(), "settings": settings}, indent=1))
        hops = [hop for hop in plan.hops.get(config.id, []) if (config.id, hop.id) not in twins]  # a twin's band is its twin's, written (and run) once
        for hop in hops:
            target = folder / f"neb_{hop.id.rsplit('-', 1)[-1]}"
            images = interpolate_hop(*hop_endpoints(plan.framework, config, hop), n_images=n_images)
            for k, image in enumerate(images):
                (target / f"{k:02d}").mkdir(parents=True)
                write_poscar(image, target / f"{k:02d}" / "POSCAR")
            (target / "job.json").write_text(json.dumps({"hop": hop.summary(), "settings": settings}, indent=1))
            counts["neb"] += 1
        return {"counts": counts, "hops": len(hops), "folders": 1 + len(hops)}

    def done(result):
        if progress is not None:
            progress.advance(configurations=1, hops=result["hops"], folders=result["folders"])

    counts = Counter({"relax": 0, "static": 0, "bader": 0, "neb": 0})
    for result in each_in_processes(configuration, list(enumerate(plan.configurations)), processes, done):
        counts.update(result["counts"])
    return {**counts, "reference": len(plan.references)}
