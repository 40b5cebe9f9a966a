"""Issue 30: how far an LCAO (dzp) barrier is from a plane-wave one on the same images, and what
each mode's SCF costs.

One Li hop, one converged ML band (lrox's default model), and the same images evaluated by GPAW in
both modes: one calculator walks the band in each mode (each SCF restarts from the previous image's
wave functions, as ``lrox check --route single-points`` does). Printed per mode: every image's
energy, SCF iterations and wall time, and E_max - E_initial; then LCAO - PW.

The cell is LiCoO2's primitive cell 2x2x1 (16 sites, one Li moving into a vacancy: 15 atoms),
non-spin-polarised (low-spin Co3+), PBE+U with lrox's U values, Γ-centred k-points at the
statics' rule: small enough for both modes to walk a band on one core in minutes. On the 48-atom
Li2MnO3 cell LCAO dzp was measured too slow to walk a band here (benchmarks/RESULTS.md).

Usage: python benchmarks/gpaw_lcao_vs_pw.py [--images 5] [--kspacing 0.6] [--ecut 400]
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5)
    parser.add_argument("--kspacing", type=float, default=0.6)
    parser.add_argument("--ecut", type=float, default=400.0)
    parser.add_argument("--modes", default="pw,lcao")
    args = parser.parse_args()
    from pymatgen.io.ase import AseAtomsAdaptor

    from benchmarks.gpaw_seeding import licoo2_hop_and_ml_band
    from workflows.gpaw_calculators import GpawImageFactory, backend_settings, dft_settings, scf_iterations

    framework, _, hop, _, band = licoo2_hop_and_ml_band((2, 2, 1), args.images)
    host, ml = framework.host, band.provenance.settings
    images = band.images
    ml_barrier = max(band.energies) - band.energies[0]
    print(f"# {host.name} 2x2x1, {len(images[0])} atoms, hop {hop.start_label} -> {hop.end_label} ({hop.length:.2f} Å); "
          f"ML ({ml['model']}) barrier {ml_barrier:.3f} eV over {len(images)} images", flush=True)
    profiles = {}
    for mode in args.modes.split(","):
        settings = backend_settings({"mode": mode, "basis": "dzp", "ecut": args.ecut, "kspacing": args.kspacing, "magnetic_order": "nonmagnetic"})
        factory = GpawImageFactory(images[0], dft_settings(settings))
        calc = factory()
        energies, rows = [], []
        for k, image in enumerate(images):
            atoms = AseAtomsAdaptor.get_atoms(image)
            atoms.calc = calc
            t = time.perf_counter()
            energies.append(float(atoms.get_potential_energy()))
            rows.append({"image": k, "energy": round(energies[-1], 5), "scf_s": round(time.perf_counter() - t, 1), "niter": scf_iterations(calc)[-1]})
        profiles[mode] = energies
        barrier = max(energies) - energies[0]
        print(json.dumps({"mode": mode, "level": settings.get("mode"), "barrier": round(barrier, 4), "images": rows, "load": os.getloadavg()}), flush=True)
    if {"pw", "lcao"} <= set(profiles):
        b = {m: max(e) - e[0] for m, e in profiles.items()}
        shape = max(abs((l - profiles["lcao"][0]) - (p - profiles["pw"][0])) for l, p in zip(profiles["lcao"], profiles["pw"]))
        print(f"barrier E_max - E_initial: LCAO {b['lcao']:.3f}, PW {b['pw']:.3f}, LCAO - PW = {b['lcao'] - b['pw']:+.3f} eV; "
              f"largest difference of any image's relative energy {shape:.3f} eV; ML {ml_barrier:.3f} eV", flush=True)


if __name__ == "__main__":
    main()
