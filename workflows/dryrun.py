"""Dry runs: write every job's inputs, count jobs by kind, estimate core-hours; compute nothing.

Core-hour model (documented, deliberately simple; calibrate ``t_ref`` on your cluster):

* VASP (PBE+U, Γ-centred MP k-mesh): one ionic step of a 100-atom cell ≈ 0.05 h on 128 cores,
  scaling as (N/100)^3; relaxation ≈ 40 ionic steps, static ≈ 1 step (×2 for the fine DOS),
  CI-NEB ≈ 60 steps × n_images, plus two end-point relaxations per hop.
* MLIP (CPU): one force call of a 100-atom cell ≈ 1.5 s × 2 cores (CHGNet; SevenNet ≈ 4x more),
  scaling linearly with N; relaxation ≈ 60 calls, CI-NEB ≈ 40 steps × n_images, end points
  2 × 30 calls.
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


def estimate_core_hours(spec: ScreenSpec, plan: ScreenPlan) -> float:
    """Core-hours of the whole screen under the model in this module's docstring."""
    total = 0.0
    if spec.backend is Backend.VASP:
        cores = spec.vasp.cores_per_job or VASP_CORES
        for config in plan.configurations:
            step = VASP_STEP_HOURS_100 * (config.n_atoms / 100) ** 3 * cores
            total += 40 * step + 2 * step
            total += len(plan.hops.get(config.id, [])) * (60 * spec.vasp.n_images + 2 * 40) * step
    elif spec.backend is Backend.MLIP:
        per_call = MLIP_CALL_SECONDS_100.get(spec.mlip.model, 6.0) * MLIP_CORES / 3600
        for config in plan.configurations:
            call = per_call * config.n_atoms / 100
            total += 60 * call + len(plan.hops.get(config.id, [])) * (40 * spec.mlip.n_images + 60) * call
    return total


def dry_run(spec: ScreenSpec, directory: Path, seeds: dict | None = None) -> dict:
    """Write the inputs of every job under ``directory`` and return counts and the estimate.

    The tree is built in a temporary folder beside ``directory`` and renamed into place, so a
    failure (a full disk, a name too long) leaves no half-written tree; a directory that already
    holds files is refused, so nothing is overwritten. Each configuration folder holds the
    ``configuration.json`` that ``lrox ingest`` reads, and ``index.json`` maps folders to ids.
    """
    import os
    import shutil
    from collections import Counter

    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise LroxInputError(f"dry-run directory '{directory}' is not empty; choose a new one")
    plan = plan_screen(spec)
    bands = {hop: band for hop, (_, band) in (seeds or {}).items()}
    flow = ScreenMaker().make(spec, plan, seeds=bands)  # the real Flow is built, so a dry run checks the graph too
    parent = directory.absolute().parent
    if not parent.is_dir():
        raise LroxInputError(f"dry-run directory '{directory}': folder {parent} does not exist")
    staging = parent / f".{directory.name[:200]}.lrox-dry-run-{os.getpid()}"
    try:
        staging.mkdir()
        if spec.backend is Backend.VASP or spec.emulates_vasp:
            from workflows.vasp import write_vasp_inputs

            counts = write_vasp_inputs(spec, plan, staging, seeds=bands, seed_levels={hop: level for hop, (level, _) in (seeds or {}).items()})
        else:
            counts = _write_structures(spec, plan, staging)
        flow_kinds = Counter(job.metadata.get("kind", "other") for job in flow.jobs)
        summary = {
            "screen": spec.name,
            "backend": spec.backend.value,
            "configurations": len(plan.configurations),
            "hops": sum(len(h) for h in plan.hops.values()),
            "cell": plan.describe()[0],
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


def _write_structures(spec: ScreenSpec, plan: ScreenPlan, directory: Path) -> dict[str, int]:
    """In-process backends: each job's input structures (POSCAR) and its settings (job.json)."""
    settings = spec.settings_for_backend()
    n_images = settings.get("n_images", 5)
    counts = {"relax": 0, "static": 0, "bader": 0, "neb": 0, "reference": len(plan.references)}
    from structures.io import write_configuration_file

    for index, config in enumerate(plan.configurations):
        folder = directory / configuration_folder(index, config)
        (folder / "relax").mkdir(parents=True)
        write_configuration_file(folder, plan.host, config)
        config.structure.to(filename=str(folder / "relax" / "POSCAR"), fmt="poscar")
        (folder / "relax" / "job.json").write_text(json.dumps({"configuration": config.summary(), "settings": settings}, indent=1))
        counts["relax"] += 1
        counts["static"] += 1
        counts["bader"] += 1
        for hop in plan.hops.get(config.id, []):
            target = folder / f"neb_{hop.id.rsplit('-', 1)[-1]}"
            images = interpolate_hop(*hop_endpoints(plan.framework, config, hop), n_images=n_images)
            for k, image in enumerate(images):
                (target / f"{k:02d}").mkdir(parents=True)
                image.to(filename=str(target / f"{k:02d}" / "POSCAR"), fmt="poscar")
            (target / "job.json").write_text(json.dumps({"hop": hop.summary(), "settings": settings}, indent=1))
            counts["neb"] += 1
    return counts
