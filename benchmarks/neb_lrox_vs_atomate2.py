"""Benchmark: one Li-vacancy hop, same ML model, through lrox's NEB and through atomate2's own route.

Hop: the in-plane Li hop of a 3x3x1 LiCoO2 supercell (108 sites, 107 atoms at each end point),
model CHGNet. atomate2's route with its defaults: ``ForceFieldRelaxMaker`` (CHGNet) for both end
points, linear interpolation (atomate2's ``get_images_from_endpoints`` default), then
``ForceFieldNebFromImagesMaker`` (FIRE, climbing image, fmax 0.1 eV/Å). lrox: ``hop_neb`` (one
end point relaxed at fixed cell, the other seeded by symmetry, IDPP images, energy+force-only
calls, CI-NEB with its default ODE band optimizer at fmax 0.05 eV/Å, i.e. converged tighter than
atomate2's 0.1 eV/Å).

Prints wall time, force evaluations, NEB steps and barrier for both, and the speed-up.
Usage: python benchmarks/neb_lrox_vs_atomate2.py [--n-images 5]
"""

from __future__ import annotations

import argparse
import time
import warnings

N_IMAGES_DEFAULT = 5


class CallCounter:
    """Counts CHGNet forward passes, whichever calculator class makes them."""

    calls = 0

    @classmethod
    def install(cls):
        from chgnet.model.dynamics import CHGNetCalculator

        original = CHGNetCalculator.calculate

        def counted(self, *args, **kwargs):
            cls.calls += 1
            return original(self, *args, **kwargs)

        CHGNetCalculator.calculate = counted


def the_hop():
    from structures import DefectFramework, enumerate_hops, load_host
    from structures.configurations import configuration_from_defects

    framework = DefectFramework.from_host(load_host("licoo2"), (3, 3, 1))
    pristine = configuration_from_defects(framework, [])
    return framework, pristine, enumerate_hops(framework, pristine)[0]


def run_lrox(n_images: int) -> dict:
    from descriptors.barriers import migration_barrier
    from workflows.jobs import hop_neb

    framework, pristine, hop = the_hop()
    from dataclasses import asdict

    from workflows.spec import MlipSettings

    # lrox's defaults (ODE band optimizer, 0.05 eV/Å on the climbing image)
    settings = {**asdict(MlipSettings()), "relax_steps": 500, "neb_steps": 500, "n_images": n_images}
    CallCounter.calls = 0
    start = time.perf_counter()
    doc = hop_neb({"status": "success", "structure": pristine.structure}, framework.host, list(framework.dims), pristine, hop, "mlip", settings, "bench")
    wall = time.perf_counter() - start
    barrier = migration_barrier(doc.energies).forward if doc.energies else float("nan")
    return {"wall": wall, "calls": CallCounter.calls, "steps": doc.n_steps, "barrier": barrier, "status": str(doc.status.value)}


def run_atomate2(n_images: int) -> dict:
    from atomate2.common.jobs.neb import _get_images_from_endpoints
    from atomate2.forcefields.jobs import ForceFieldRelaxMaker
    from atomate2.forcefields.neb import ForceFieldNebFromImagesMaker
    from jobflow import run_locally

    from descriptors.barriers import migration_barrier
    from structures import hop_endpoints

    framework, pristine, hop = the_hop()
    initial, final = hop_endpoints(framework, pristine, hop)
    CallCounter.calls = 0
    start = time.perf_counter()
    ends = []
    for structure in (initial, final):
        # relax_cell=False: with atomate2's default (True) the two end points relax to different
        # cells and cannot be interpolated at all; everything else is left at atomate2's defaults
        job = ForceFieldRelaxMaker(force_field_name="CHGNet", relax_cell=False).make(structure)
        out = run_locally(job, log=False, ensure_success=True)
        ends.append(out[job.uuid][1].output.output.structure)
    images = _get_images_from_endpoints(ends, n_images)
    job = ForceFieldNebFromImagesMaker(force_field_name="CHGNet").make(images)
    out = run_locally(job, log=False, ensure_success=True)
    result = out[job.uuid][1].output
    wall = time.perf_counter() - start
    energies = list(result.energies)
    steps = None
    if getattr(result, "ionic_steps", None):
        steps = len(result.ionic_steps)
    return {"wall": wall, "calls": CallCounter.calls, "steps": steps, "barrier": migration_barrier(energies).forward, "status": str(result.state)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=N_IMAGES_DEFAULT)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    CallCounter.install()
    print(f"{'route':>9} {'wall s':>8} {'force calls':>11} {'NEB steps':>9} {'barrier eV':>10} status", flush=True)
    rows = []
    for name, runner in (("lrox", run_lrox), ("atomate2", run_atomate2)):
        r = runner(args.n_images)
        rows.append((name, r))
        print(f"{name:>9} {r['wall']:>8.1f} {r['calls']:>11} {str(r['steps']):>9} {r['barrier']:>10.3f} {r['status']}", flush=True)
    lrox, a2 = rows[0][1], rows[1][1]
    print(f"speed-up (atomate2 / lrox wall time): {a2['wall'] / lrox['wall']:.2f}x; barrier difference {lrox['barrier'] - a2['barrier']:+.3f} eV")


if __name__ == "__main__":
    main()
