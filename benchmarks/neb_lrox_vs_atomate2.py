"""Benchmark P1: one converged Li hop, same model and cell, through lrox and through atomate2's route.

Hops: the in-plane Li hop of a 3x3x1 LiCoO2 supercell (107 atoms at each end point) and the
shortest Li hop of a 2x1x2 Li2MnO3 supercell (95 atoms). Both routes are converged to the same
criterion, 0.05 eV/Å on the largest per-atom force of every moving image, the climbing image
included, and the barrier of each is max(E) − E(initial end point).

* atomate2 (0.1.5) with its own pieces: ``ForceFieldRelaxMaker`` for both end points (at fixed
  cell: with its default the two end points relax to different cells), IDPP images
  (``get_images_from_endpoints``), ``ForceFieldNebFromImagesMaker`` (FIRE, climbing image),
  each with ``fmax = 0.05``.
* lrox: ``workflows.jobs.hop_neb`` with the screen defaults (``MlipSettings``): one end point
  relaxed and the other its symmetry image, IDPP images, energy-and-force-only model calls, ASE's
  LBFGS on the whole band converged on the same criterion, the band's end-point energies taken
  from the relaxations, and, both hops being symmetric, the second half of the band taken from
  the mirror of the first (``neb_mirror``; ``--no-mirror`` runs it whole). With one torch thread (a screen's worker)
  SevenNet runs through torch.compile, as in a screen: its once-per-process compile is timed and
  printed apart, and the speed-up is given both per hop (a screen's case) and for a lone hop that
  pays for it. With several threads lrox runs the eager model.

Both routes run in one process with the same torch thread count (``--threads``; default torch's).

Prints wall time, force calls, NEB steps, barrier and the largest remaining force of both, and the
speed-up, for each hop. Usage:
python benchmarks/neb_lrox_vs_atomate2.py [--model chgnet] [--hops licoo2 li2mno3] [--threads 1]
"""

from __future__ import annotations

import argparse
import time
import warnings

FMAX = 0.05
HOPS = {"licoo2": ("licoo2", (3, 3, 1)), "li2mno3": ("li2mno3", (2, 1, 2))}
ATOMATE2_NAMES = {"chgnet": "CHGNet", "7net-0": "SevenNet"}


class CallCounter:
    """Counts model evaluations (energy and forces), whichever calculator class makes them."""

    calls = 0

    @classmethod
    def install(cls) -> None:
        from chgnet.model.dynamics import CHGNetCalculator
        from sevenn.calculator import SevenNetCalculator

        for klass in (CHGNetCalculator, SevenNetCalculator):
            klass.calculate = cls._counted(klass.calculate)

    @classmethod
    def _counted(cls, inner):
        def wrapped(self, *args, **kwargs):
            cls.calls += 1
            return inner(self, *args, **kwargs)

        return wrapped


def the_hop(name: str):
    from structures import DefectFramework, enumerate_hops, load_host
    from structures.configurations import configuration_from_defects

    host, dims = HOPS[name]
    framework = DefectFramework.from_host(load_host(host), dims)
    pristine = configuration_from_defects(framework, [])
    return framework, pristine, enumerate_hops(framework, pristine)[0]


def largest_force(images, model: str) -> float:
    """The largest per-atom force of the moving images, recomputed here (the criterion both routes share)."""
    import numpy as np
    from ase.mep import NEB
    from pymatgen.io.ase import AseAtomsAdaptor

    from workflows.calculators import ml_calculator

    atoms = [AseAtomsAdaptor.get_atoms(s) for s in images]
    for a in atoms:
        a.calc = ml_calculator(model)
    band = NEB(atoms, climb=True, method="improvedtangent")
    return float(np.linalg.norm(band.get_forces().reshape(-1, 3), axis=1).max())


def run_lrox(hop_name: str, model: str, mirror: bool = True) -> dict:
    from dataclasses import asdict

    from workflows.jobs import hop_neb
    from workflows.spec import MlipSettings

    framework, pristine, hop = the_hop(hop_name)
    settings = {**asdict(MlipSettings()), "model": model, "relax_steps": 500, "neb_steps": 500, "neb_mirror": mirror}
    CallCounter.calls = 0
    start = time.perf_counter()
    doc = hop_neb({"status": "success", "structure": pristine.structure}, framework.host, list(framework.dims), pristine, hop, "mlip", settings, "bench")
    wall = time.perf_counter() - start
    calls = CallCounter.calls
    energies = doc.energies or [float("nan")]
    mirrored = sum(r.get("mirrored_calls", 0) for r in doc.routes or [])
    return {"wall": wall, "calls": calls, "steps": doc.n_steps, "barrier": max(energies) - energies[0], "status": f"{doc.status.value}, {mirrored} image evaluations mirrored", "images": doc.images}


def compile_once(hop_name: str, model: str) -> float:
    """lrox's per-process cost of torch.compile (and of checking it against the eager model): one
    first call, timed apart, so the hop's time is what every hop of a screen costs; 0 where the
    model is not compiled (CHGNet, or ``compile: false``)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from workflows.calculators import compiles, ml_calculator
    from workflows.spec import MlipSettings

    if not (MlipSettings().compile and compiles(model)):
        return 0.0  # not compiled: CHGNet, compile off, or several torch threads (which run eager)
    _, pristine, _ = the_hop(hop_name)
    atoms = AseAtomsAdaptor.get_atoms(pristine.structure)
    atoms.calc = ml_calculator(model, compiled=True)
    start = time.perf_counter()
    atoms.get_forces()
    return time.perf_counter() - start


def run_atomate2(hop_name: str, model: str) -> dict:
    from atomate2.common.jobs.neb import NebInterpolation, _get_images_from_endpoints
    from atomate2.forcefields.jobs import ForceFieldRelaxMaker
    from atomate2.forcefields.neb import ForceFieldNebFromImagesMaker
    from jobflow import run_locally

    from structures import hop_endpoints

    framework, pristine, hop = the_hop(hop_name)
    initial, final = hop_endpoints(framework, pristine, hop)
    name = ATOMATE2_NAMES[model]
    CallCounter.calls = 0
    start = time.perf_counter()
    ends = []
    for structure in (initial, final):
        job = ForceFieldRelaxMaker(force_field_name=name, relax_cell=False, steps=500, relax_kwargs={"fmax": FMAX}).make(structure)
        out = run_locally(job, log=False, ensure_success=True)
        ends.append(out[job.uuid][1].output.output.structure)
    images = _get_images_from_endpoints(ends, 5, interpolation_method=NebInterpolation.IDPP)
    job = ForceFieldNebFromImagesMaker(force_field_name=name, relax_kwargs={"fmax": FMAX}, steps=500).make(images)
    out = run_locally(job, log=False, ensure_success=True)
    result = out[job.uuid][1].output
    wall = time.perf_counter() - start
    energies = list(result.energies)
    steps = len(result.ionic_steps) if getattr(result, "ionic_steps", None) else None
    return {"wall": wall, "calls": CallCounter.calls, "steps": steps, "barrier": max(energies) - energies[0], "status": str(result.state), "images": list(result.images)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="an ML model both routes use (default: lrox's)")
    parser.add_argument("--hops", nargs="+", default=list(HOPS), choices=list(HOPS))
    parser.add_argument("--threads", type=int, default=None, help="torch threads for both routes (default: torch's; a screen's worker runs 1)")
    parser.add_argument("--no-mirror", action="store_true", help="lrox runs a symmetric hop's band whole (neb_mirror: false)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"# torch threads (both routes): {torch.get_num_threads()}", flush=True)
    from workflows.spec import MlipSettings

    from workflows.calculators import keep_freed_memory

    model = args.model or MlipSettings().model
    CallCounter.install()
    # a process-wide allocator setting that lrox makes: set before either route runs, so that both
    # get it and the ratio measures the routes, not the allocator
    print(f"# glibc keeps freed memory in the process (both routes): {keep_freed_memory()}", flush=True)
    for hop_name in args.hops:
        print(f"# {hop_name}: {model}, fmax {FMAX} eV/Å on every moving image (climbing image included)", flush=True)
        print(f"{'route':>9} {'wall s':>8} {'force calls':>11} {'NEB steps':>9} {'barrier eV':>10} {'max |F| eV/Å':>12} status", flush=True)
        compiling = compile_once(hop_name, model)
        if compiling:
            print(f"# lrox compiles {model} once per process (torch.compile, checked against eager): {compiling:.1f} s, not in the hop's time", flush=True)
        rows = {}
        for name, runner in (("lrox", lambda: run_lrox(hop_name, model, mirror=not args.no_mirror)), ("atomate2", lambda: run_atomate2(hop_name, model))):
            r = runner()
            r["fmax"] = largest_force(r.pop("images"), model)
            rows[name] = r
            print(f"{name:>9} {r['wall']:>8.1f} {r['calls']:>11} {str(r['steps']):>9} {r['barrier']:>10.3f} {r['fmax']:>12.3f} {r['status']}", flush=True)
        lrox, a2 = rows["lrox"], rows["atomate2"]
        print(f"{hop_name}: speed-up (atomate2 / lrox wall time) {a2['wall'] / lrox['wall']:.2f}x; force calls {a2['calls'] / lrox['calls']:.2f}x; "
              f"barrier difference {lrox['barrier'] - a2['barrier']:+.3f} eV", flush=True)
        if compiling:
            print(f"{hop_name}: a lone hop in a fresh process, compiling included: {a2['wall'] / (lrox['wall'] + compiling):.2f}x", flush=True)


if __name__ == "__main__":
    main()
