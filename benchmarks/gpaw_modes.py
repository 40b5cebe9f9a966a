"""GPAW modes for relaxations and CI-NEB: cost per SCF and per band, LCAO (dzp) against plane waves (400 eV).

The 48-atom Li2MnO3 cell (2x1x1), the pristine host's in-plane Li(2c) -> Li(4h) hop (the shortest,
0-TM, through the O-O edge), 47 atoms at every image. The images are a converged band of lrox's
default ML model (end points relaxed at the host's fixed cell, IDPP, CI-NEB to 0.05 eV/Å with
``workflows.engine.run_neb``): what a GPAW band is seeded from. Both modes see the same images,
with ``workflows.gpaw_calculators.gpaw_calculator`` at its defaults but for the mode (PBE+U, MP U
values, ferromagnetic start, spin-polarised, Γ-centred k-points at 0.6 Å⁻¹, point group off).

Per mode (each a fresh worker process with its thread count set before numpy loads):

* ``solo1``: one process, one thread, alone: the first SCF from scratch at the initial end point,
  then the same calculator with the moving Li moved 0.05 Å along the hop (the restarted SCF a band
  step costs). Wall time of the SCF (energy) and of the forces after it, and GPAW's own SCF
  iteration counts.
* ``solo2``: the same in one process with two BLAS threads (GPAW here is built without MPI and
  without OpenMP: ``gpaw info``; ``mpiexec`` / ``gpaw -P 2`` are not available, see the report).
* ``pair``: two one-thread processes at once (the layout of lrox's worker pool: two bands at a
  time). One runs the initial end point (scratch, +0.05 Å) then images 1, 2, 3, each restarted
  from the previous one, and tightens the SCF at image 3 to measure the force error of the default
  criteria; the other the final end point (scratch, +0.05 Å) then images 5, 4. These single points
  give the energy profile, and E_max - E_initial per mode.

``band`` (optional, LCAO): a real GPAW band with lrox's run_neb: both end points relaxed in GPAW,
the band seeded from the ML band (``structures.hops.seeded_band``), CI-NEB to 0.05 eV/Å; its force
calls, steps, wall time and the images' SCF iterations.

Raw rows go to ``--out`` (JSON lines; a rerun skips the phases already there). Never a timed test.

Usage: python benchmarks/gpaw_modes.py [--phases images lcao:solo1 ...] [--out benchmarks/results_gpaw_modes.jsonl]
       python benchmarks/gpaw_modes.py --report benchmarks/results_gpaw_modes.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results_gpaw_modes.jsonl"
MODES = ("lcao", "pw")
PHASES = ["images", "pw:solo1", "pw:solo2", "pw:pair", "lcao:solo1", "lcao:solo2", "lcao:pair", "pw:solo1i", "pw:solo2i", "lcao:solo1i", "lcao:band", "pw:band"]
DELTA = 0.05  # Å, the moving Li's step for the restarted SCF
BAND_CALLS = 60  # image evaluations assumed for one band where none was measured (issue 30)
ML_ERROR = 0.1  # eV, the ML model's own barrier error the mode's error is judged against


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ----------------------------------------------------------------------------------------------
# images: the ML band
# ----------------------------------------------------------------------------------------------
def the_hop():
    from structures import DefectFramework, enumerate_hops, load_host
    from structures.configurations import configuration_from_defects
    from structures.hops import HopMechanism

    framework = DefectFramework.from_host(load_host("li2mno3"), (2, 1, 1))
    pristine = configuration_from_defects(framework, [])
    hops = [
        h
        for h in enumerate_hops(framework, pristine)
        if h.layers == "Li layer" and h.mechanism is HopMechanism.ODH and "2c" in h.start_label and "4h" in h.end_label
    ]
    hop = min(hops, key=lambda h: (h.length, h.n_tm or 0))
    return framework, pristine, hop


def build_images() -> dict:
    import warnings

    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(1)
    from structures.hops import hop_endpoints, interpolate_hop
    from workflows.calculators import ml_calculator
    from workflows.engine import relax, run_neb
    from workflows.spec import MlipSettings

    settings = MlipSettings()
    model = settings.model if isinstance(settings.model, str) else settings.model[0]
    framework, pristine, hop = the_hop()
    start = time.perf_counter()
    initial, final = hop_endpoints(framework, pristine, hop)
    ends = [relax(s, ml_calculator(model, threads=1), fmax=settings.relax_fmax, steps=settings.relax_steps) for s in (initial, final)]
    band = interpolate_hop(ends[0].structure, ends[1].structure, n_images=settings.n_images)
    neb = run_neb(
        band,
        lambda: ml_calculator(model, threads=1),
        fmax=settings.neb_fmax,
        steps=settings.neb_steps,
        optimizer=settings.neb_optimizer,
        end_energies=(ends[0].energy, ends[1].energy),
    )
    if not neb.converged or not all(e.converged for e in ends):
        raise RuntimeError("the ML band did not converge: no images to compare the modes on")
    return {
        "phase": "images",
        "time": _now(),
        "model": model,
        "hop": f"{hop.start_label} -> {hop.end_label}",
        "hop_length": round(hop.length, 3),
        "mechanism": hop.mechanism.value,
        "n_tm": hop.n_tm,
        "n_atoms": len(band[0]),
        "lattice_abc": [round(x, 4) for x in band[0].lattice.abc],
        "ml_energies": neb.energies,
        "ml_barrier": max(neb.energies) - neb.energies[0],
        "ml_force_calls": neb.force_calls,
        "ml_wall_s": round(time.perf_counter() - start, 1),
        "structures": [s.as_dict() for s in neb.images],
    }


def load_images(rows: list[dict]):
    from pymatgen.core import Structure

    row = next(r for r in rows if r["phase"] == "images")
    return [Structure.from_dict(d) for d in row["structures"]]


# ----------------------------------------------------------------------------------------------
# worker: one process, one GPAW calculator, a list of single points
# ----------------------------------------------------------------------------------------------
def _moved(atoms, toward, delta: float):
    """The moving Li (the last site) moved ``delta`` Å toward its position in ``toward``."""
    import numpy as np

    out = atoms.copy()
    step = toward.positions[-1] - atoms.positions[-1]
    out.positions[-1] += delta * step / np.linalg.norm(step)
    return out


def worker(spec: dict) -> None:
    """Runs ``spec['ops']`` with one calculator; prints one JSON row per single point."""
    import numpy as np
    from pymatgen.io.ase import AseAtomsAdaptor
    from threadpoolctl import threadpool_info

    from workflows.gpaw_calculators import gpaw_calculator, gpaw_level_of_theory, scf_iterations

    if spec.get("band"):
        print(json.dumps(run_band(spec["mode"], Path(spec["out"]), Path(spec["txt"]).parent, spec["threads"])), flush=True)
        return
    rows = [json.loads(line) for line in Path(spec["out"]).read_text().splitlines() if line.strip()]
    images = [AseAtomsAdaptor.get_atoms(s) for s in load_images(rows)]
    settings = {"mode": spec["mode"], **spec.get("settings", {})}
    calc = gpaw_calculator(images[0], settings, spec.get("txt"))
    stamps: list[float] = []  # wall clock at the end of each SCF iteration (GPAW's scf_step hook)
    calc.hooks["scf_step"] = lambda ctx: stamps.append(time.perf_counter())
    blas = sorted({(p.get("internal_api"), p.get("num_threads")) for p in threadpool_info()})
    atoms = None
    for op in spec["ops"]:
        kind, index = op[0], op[1]
        target = images[index]
        if kind == "restart":
            target = _moved(target, images[index + (1 if index < len(images) - 1 else -1)], DELTA)
        load0, t0, c0 = _load(), time.perf_counter(), time.process_time()
        stamps.clear()
        if kind == "iterations":  # a few SCF iterations only (max_scf_steps): the cost of one, never an energy
            from workflows.gpaw_calculators import GpawScfNotConverged

            atoms = target.copy()
            atoms.calc = calc
            try:
                atoms.get_potential_energy()
                raise RuntimeError("expected the SCF to stop at max_scf_steps")
            except GpawScfNotConverged:
                pass
            steps = np.diff(stamps)
            row = {
                "op": "iterations",
                "image": index,
                "iterations_run": len(stamps),
                "s_per_iter": round(float(np.median(steps[1:] if len(steps) > 1 else steps)), 2),
                "iteration_s": [round(float(x), 2) for x in steps],
                "to_first_iteration_s": round(stamps[0] - t0, 2),
                "scf_s": round(time.perf_counter() - t0, 2),
                "converged": False,
            }
        elif kind == "tighten":  # same positions, SCF continued to much tighter criteria (GPAW internals)
            from gpaw.new.scf import create_convergence_criteria

            forces_default = atoms.get_forces().copy()
            energy_default = float(atoms.get_potential_energy())
            loop = calc.dft.scf_loop
            loop.convergence = create_convergence_criteria({"energy": 1e-7, "density": 1e-7, "eigenstates": 1e-10})
            calc.dft.results = {}
            energy = float(atoms.get_potential_energy())
            t_scf = time.perf_counter() - t0
            forces = atoms.get_forces()
            diff = np.linalg.norm(forces - forces_default, axis=1)
            row = {
                "op": "tighten",
                "image": index,
                "energy_default": energy_default,
                "energy_tight": energy,
                "energy_error": energy_default - energy,
                "force_error_max": float(diff.max()),
                "force_error_moving_li": float(diff[-1]),
                "max_force": float(np.linalg.norm(forces, axis=1).max()),
                "niter": scf_iterations(calc)[-1],
                "scf_s": round(t_scf, 2),
            }
        else:
            if atoms is None:
                atoms = target.copy()
                atoms.calc = calc
            else:
                atoms.positions = target.positions
            energy = float(atoms.get_potential_energy())
            t_scf = time.perf_counter() - t0
            c_scf = time.process_time() - c0
            forces = atoms.get_forces()
            t_forces = time.perf_counter() - t0 - t_scf
            row = {
                "op": kind,
                "image": index,
                "moved": DELTA if kind == "restart" else 0.0,
                "energy": energy,
                "niter": scf_iterations(calc)[-1],
                "scf_s": round(t_scf, 2),
                "forces_s": round(t_forces, 2),
                # CPU time of the process (all its threads): on one thread, the cost other jobs on
                # the machine do not inflate (wall time does)
                "scf_cpu_s": round(c_scf, 2),
                "forces_cpu_s": round(time.process_time() - c0 - c_scf, 2),
                "magmom": float(calc.get_magnetic_moment()),
                "max_force": float(np.linalg.norm(forces, axis=1).max()),
                # median over the iterations after the first (the first carries the set-up)
                "s_per_iter": round(float(np.median(np.diff(stamps)[1:])), 2) if len(stamps) > 2 else None,
                "to_first_iteration_s": round(stamps[0] - t0, 2) if stamps else None,
            }
        row.update(
            cpu_s=round(time.process_time() - c0, 2),
            mode=spec["mode"],
            level=gpaw_level_of_theory(settings),
            phase=spec["phase"],
            worker=spec["worker"],
            threads=spec["threads"],
            ibz_kpoints=len(calc.get_ibz_k_points()),
            nbands=int(calc.get_number_of_bands()),
            blas=blas,
            load_before=load0,
            load_after=_load(),
            time=_now(),
        )
        print(json.dumps(row), flush=True)


def _spawn(spec: dict, log: Path) -> subprocess.Popen:
    threads = str(spec["threads"])
    env = {**os.environ, "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    env["PYTHONPATH"] = str(HERE.parent) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    spec_file = log.with_suffix(".spec.json")
    spec_file.write_text(json.dumps(spec))
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--worker", str(spec_file)],
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
        env=env,
        cwd=str(HERE.parent),
    )


def run_workers(phase: str, specs: list[dict], out: Path, logs: Path) -> list[dict]:
    logs.mkdir(parents=True, exist_ok=True)
    procs = []
    for k, spec in enumerate(specs):
        spec.update(phase=phase, worker=k, out=str(out), txt=str(logs / f"{phase.replace(':', '-')}-{k}.txt"))
        procs.append(_spawn(spec, logs / f"{phase.replace(':', '-')}-{k}.stderr"))
    rows = []
    for proc in procs:
        for line in proc.stdout:
            if line.startswith("{") and '"end":' in line:  # a band's end-point relaxations, progress only
                print(line.strip(), flush=True)
            elif line.startswith("{"):
                row = json.loads(line)
                rows.append(row)
                print(json.dumps({k: row[k] for k in ("phase", "worker", "op", "image", "niter", "scf_s", "forces_s", "energy", "force_calls") if k in row}), flush=True)
        if proc.wait() != 0:
            raise RuntimeError(f"{phase} worker failed (rc {proc.returncode}): see {logs}")
    return rows


def phase_specs(phase: str) -> list[dict]:
    mode, kind = phase.split(":")
    first = [["first", 0], ["restart", 0]]
    if kind == "solo1":
        return [{"mode": mode, "threads": 1, "ops": first}]
    if kind == "solo2":
        if mode == "lcao":  # LCAO's cost is GPAW's own C loops, not BLAS: a few iterations tell (measured)
            return [{"mode": mode, "threads": 2, "ops": [["iterations", 0]], "settings": {"max_scf_steps": 5}}]
        return [{"mode": mode, "threads": 2, "ops": first}]
    if kind == "solo1i":  # the same few iterations on one thread, beside solo2's
        return [{"mode": mode, "threads": 1, "ops": [["iterations", 0]], "settings": {"max_scf_steps": 5}}]
    if kind == "solo2i":  # a few iterations on two threads (a rerun of solo2's rate on a quiet machine)
        return [{"mode": mode, "threads": 2, "ops": [["iterations", 0]], "settings": {"max_scf_steps": 5}}]
    if kind == "pair":
        return [
            {"mode": mode, "threads": 1, "ops": first + [["chain", 1], ["chain", 2], ["chain", 3]]},
            {"mode": mode, "threads": 1, "ops": [["first", 6], ["restart", 6], ["chain", 5], ["chain", 4], ["tighten", 4]]},
        ]
    raise ValueError(phase)


# ----------------------------------------------------------------------------------------------
# band: a real GPAW CI-NEB seeded from the ML band
# ----------------------------------------------------------------------------------------------
def run_band(mode: str, out: Path, logs: Path, threads: int) -> dict:
    from structures.hops import seeded_band
    from workflows.engine import relax, run_neb
    from workflows.gpaw_calculators import (
        GpawDftSettings,
        GpawImageFactory,
        gpaw_calculator,
        gpaw_level_of_theory,
        magnetic_moment_jumps,
        scf_iterations,
    )

    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    ml = load_images(rows)
    settings = GpawDftSettings(mode=mode)
    start = time.perf_counter()
    load0 = _load()
    ends, end_iters, end_times = [], [], []
    for k, structure in enumerate((ml[0], ml[-1])):
        t = time.perf_counter()
        calc = gpaw_calculator(structure, settings, logs / f"band-{mode}-end{k}.txt")
        outcome = relax(structure, calc, fmax=settings.relax_fmax, steps=settings.relax_steps)
        ends.append(outcome)
        end_iters.append(scf_iterations(calc))
        end_times.append(round(time.perf_counter() - t, 1))
        print(json.dumps({"end": k, "converged": outcome.converged, "steps": outcome.n_steps, "energy": outcome.energy, "s": end_times[-1]}), flush=True)
        if not outcome.converged:
            raise RuntimeError(f"GPAW relaxation of end point {k} did not converge in {settings.relax_steps} steps")
    band = seeded_band(ml, ends[0].structure, ends[1].structure, n_images=settings.n_images)
    factory = GpawImageFactory(band[0], settings, logs / f"band-{mode}-images")
    t = time.perf_counter()
    neb = run_neb(band, factory, fmax=settings.neb_fmax, steps=settings.neb_steps, end_energies=(ends[0].energy, ends[1].energy))
    band_s = time.perf_counter() - t
    moments = [None] + factory.magnetic_moments() + [None]
    return {
        "phase": f"{mode}:band",
        "mode": mode,
        "level": gpaw_level_of_theory(settings),
        "threads": threads,
        "end_relax_steps": [e.n_steps for e in ends],
        "end_relax_s": end_times,
        "end_scf_iterations": end_iters,
        "energies": neb.energies,
        "barrier": max(neb.energies) - neb.energies[0],
        "converged": neb.converged,
        "n_steps": neb.n_steps,
        "force_calls": neb.force_calls,
        "band_s": round(band_s, 1),
        "total_s": round(time.perf_counter() - start, 1),
        "image_scf_iterations": factory.scf_iterations(),
        "image_moments": moments,
        "moment_jumps": magnetic_moment_jumps(moments, settings.magmom_jump),
        "load_before": load0,
        "load_after": _load(),
        "time": _now(),
    }


# ----------------------------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------------------------
def _one(rows, **match):
    found = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    return found[0] if found else None


def _fmt(x, spec=".1f", none="-"):
    return none if x is None else format(x, spec)


def report(rows: list[dict]) -> None:
    images = _one(rows, phase="images")
    if images:
        print(f"\nLi2MnO3 2x1x1, pristine {images['hop']} ({images['hop_length']} Å, {images['mechanism']}, {images['n_tm']}-TM), "
              f"{images['n_atoms']} atoms; images: {images['model']} CI-NEB band ({images['ml_force_calls']} calls), "
              f"ML barrier {images['ml_barrier']:.3f} eV")
    print("\nSCF cost per layout (wall s; SCF iterations from GPAW's own count; forces after the SCF separately)")
    print(f"{'mode':>5} {'layout':>28} {'k(IBZ)':>6} {'first SCF':>10} {'iter':>4} {'forces':>7} {'restart SCF':>11} {'iter':>4} {'forces':>7} {'load':>11}")
    layouts = {"solo1": "1 process x 1 thread", "solo2": "1 process x 2 BLAS threads", "pair": "2 processes x 1 thread, at once"}
    table = {}
    for mode in MODES:
        for kind, name in layouts.items():
            phase = f"{mode}:{kind}"
            first = _one(rows, phase=phase, op="first", image=0)
            restart = _one(rows, phase=phase, op="restart", image=0)
            if not first:
                continue
            table[(mode, kind)] = (first, restart)
            load = f"{first['load_before'][0]:.1f}-{(restart or first)['load_after'][0]:.1f}"
            print(
                f"{mode:>5} {name:>28} {first['ibz_kpoints']:>6} {first['scf_s']:>10.1f} {first['niter']:>4} {first['forces_s']:>7.1f} "
                f"{_fmt(restart and restart['scf_s']):>11} {_fmt(restart and restart['niter'], 'd'):>4} {_fmt(restart and restart['forces_s']):>7} {load:>11}"
            )
    for mode in MODES:
        others = [r for r in rows if r.get("phase") == f"{mode}:pair" and r.get("op") == "restart" and r.get("image") != 0]
        for r in others:
            print(f"{mode:>5} {'(pair, other worker)':>28} image {r['image']} moved {r['moved']} Å: {r['scf_s']:.1f} s, {r['niter']} iterations")

    print("\nEnergy profile of the same images (eV, relative to image 0), single points")
    profiles = {}
    for mode in MODES:
        pts = {r["image"]: r for r in rows if r.get("phase") == f"{mode}:pair" and r.get("op") in ("first", "chain")}
        if len(pts) == 7:
            profiles[mode] = [pts[k]["energy"] for k in range(7)]
            e0 = profiles[mode][0]
            moments = [pts[k]["magmom"] for k in range(7)]
            print(f"{mode:>5} " + " ".join(f"{e - e0:+7.3f}" for e in profiles[mode]) + f"   barrier {max(profiles[mode]) - e0:.3f} eV; total moments {min(moments):.2f}-{max(moments):.2f} μB")
            chain = [pts[k] for k in (1, 2, 3, 5, 4)]
            print(f"{'':>5} restarted from the neighbouring image: " + ", ".join(f"{r['image']}: {r['niter']} it {r['scf_s']:.0f} s" for r in chain))
    if images:
        e0 = images["ml_energies"][0]
        print(f"{'ML':>5} " + " ".join(f"{e - e0:+7.3f}" for e in images["ml_energies"]) + f"   barrier {images['ml_barrier']:.3f} eV")
    if len(profiles) == 2:
        b = {m: max(p) - p[0] for m, p in profiles.items()}
        diffs = [(l - l0) - (p - p0) for l, p, l0, p0 in zip(profiles["lcao"], profiles["pw"], [profiles["lcao"][0]] * 7, [profiles["pw"][0]] * 7)]
        print(f"barrier E_max - E_initial: LCAO {b['lcao']:.3f}, PW {b['pw']:.3f}, LCAO - PW = {b['lcao'] - b['pw']:+.3f} eV; "
              f"largest image difference of the relative energies {max(diffs, key=abs):+.3f} eV")
    for mode in MODES:
        t = _one(rows, phase=f"{mode}:pair", op="tighten")
        if t:
            print(f"{mode:>5} SCF criteria error at image {t['image']} (default against energy 1e-7 eV/e, density 1e-7): energy {t['energy_error']:+.1e} eV, "
                  f"forces {t['force_error_max']:.3f} eV/Å (largest), {t['force_error_moving_li']:.3f} on the moving Li; {t['niter']} more iterations")

    print(f"\nOne CI-NEB band (5 images), estimated: 5 first SCFs + (N - 5) restarted ones, forces included; N = {BAND_CALLS} (issue 30)")
    band = _one(rows, phase="lcao:band")
    counts = [BAND_CALLS] + ([band["force_calls"]] if band else [])
    for (mode, kind), (first, restart) in table.items():
        if not restart:
            continue
        t_first = first["scf_s"] + first["forces_s"]
        t_next = restart["scf_s"] + restart["forces_s"]
        per = ", ".join(f"N={n}: {(5 * t_first + (n - 5) * t_next) / 3600:.2f} h" for n in counts)
        note = "  (two bands at a time: half this per band)" if kind == "pair" else ""
        print(f"{mode:>5} {layouts[kind]:>28}: first {t_first:.0f} s, restarted {t_next:.0f} s -> {per}{note}")
    if band:
        print(f"\nReal {band['level']} band ({band['threads']} thread(s)): end points relaxed in {band['end_relax_steps']} steps ({band['end_relax_s']} s); "
              f"seeded CI-NEB {'converged' if band['converged'] else 'NOT converged'} in {band['n_steps']} steps, {band['force_calls']} image SCFs, "
              f"{band['band_s'] / 3600:.2f} h; barrier {band['barrier']:.3f} eV; moment jumps {band['moment_jumps'] or 'none'}")
        print("  SCF iterations per image: " + "; ".join(",".join(map(str, n)) for n in band["image_scf_iterations"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phases", nargs="+", default=[p for p in PHASES if not p.endswith(("band", "solo1i", "solo2i"))], choices=PHASES)
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--logs", default="/tmp/lrox-gpaw-modes", help="GPAW text logs and worker stderr")
    parser.add_argument("--band-threads", type=int, default=1)
    parser.add_argument("--report", help="only print the tables of a saved results file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(Path(args.worker).read_text()))
        return
    if args.report:
        report([json.loads(line) for line in Path(args.report).read_text().splitlines() if line.strip()])
        return
    out, logs = Path(args.out), Path(args.logs)
    done = [json.loads(line) for line in out.read_text().splitlines() if line.strip()] if out.exists() else []
    for phase in args.phases:
        if any(r.get("phase") == phase for r in done):
            continue
        print(f"# {phase} from {_now()}, load {_load()}", flush=True)
        if phase == "images":
            new = [build_images()]
        elif phase.endswith(":band"):
            new = run_workers(phase, [{"mode": phase.split(":")[0], "threads": args.band_threads, "band": True}], out, logs)
        else:
            new = run_workers(phase, phase_specs(phase), out, logs)
        with out.open("a") as handle:
            for r in new:
                handle.write(json.dumps(r) + "\n")
        done += new
    report(done)


if __name__ == "__main__":
    main()
