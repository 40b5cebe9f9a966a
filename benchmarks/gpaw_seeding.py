"""Issue 30: the force calls (GPAW SCF cycles) a GPAW CI-NEB saves when seeded from the ML band.

The same hop, the same GPAW end points, two GPAW CI-NEBs to the same force criterion: one from the
plain IDPP band, one from the converged ML band of the hop mapped onto the GPAW end points
(``structures.hops.seeded_band``, what ``--seed-path-from`` and ``lrox check --route neb`` do).
Counted: force calls (one SCF each), band steps, the SCF iterations summed over every image's
calculator (each image keeps its calculator, so its SCF restarts from its previous wave
functions), wall time, and the two barriers (they must agree).

Cell: the end-to-end test's, LiCoO2's 4-atom primitive cell 2x1x1 (8 atoms, one Li moving) at
LCAO single-zeta, Γ only, non-spin-polarised, 3 images, fmax 0.1 eV/Å: plumbing-scale DFT that
runs in minutes on one core; the ratio, not the barrier, is the figure. ``--images`` and
``--fmax`` change the band; ``--gpaw`` takes GPAW settings as JSON.

Usage: python benchmarks/gpaw_seeding.py [--images 3] [--fmax 0.1] [--gpaw '{"mode": "lcao"}']
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from dataclasses import asdict

TINY_GPAW = {"mode": "lcao", "basis": "sz(dzp)", "kspacing": 5.0, "magnetic_order": "nonmagnetic", "relax_fmax": 0.1}


def licoo2_hop_and_ml_band(dims: tuple[int, int, int], n_images: int):
    """LiCoO2's primitive cell in ``dims``, its first Li hop, and that hop's converged band on lrox's
    default ML model (one torch thread): what the GPAW benchmarks seed from and evaluate on.
    Returns (framework, configuration, hop, relaxed host document, band document)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    warnings.simplefilter("ignore")
    import torch

    torch.set_num_threads(1)
    from structures import DefectFramework, enumerate_hops, load_host
    from structures.configurations import configuration_from_defects
    from structures.hosts import Host
    from workflows.jobs import hop_neb, relax_structure
    from workflows.spec import MlipSettings

    host = Host("licoo2_prim", load_host("licoo2").structure.get_primitive_structure(), "LiCoO2 primitive cell")
    framework = DefectFramework.from_host(host, dims)
    config = configuration_from_defects(framework, [])
    hop = enumerate_hops(framework, config)[0]
    ml = {**asdict(MlipSettings()), "n_images": n_images}
    relaxed = relax_structure(config.structure, "mlip", ml, "host", config.id)
    band = hop_neb(relaxed, host, list(dims), config, hop, "mlip", ml, "ml band")
    assert band.status.value == "success", band.reason
    return framework, config, hop, relaxed, band


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--fmax", type=float, default=0.1, help="eV/Å, both bands")
    parser.add_argument("--gpaw", default=None, help="GPAW settings (JSON), over the tiny defaults")
    args = parser.parse_args()
    from structures.hops import interpolate_hop, seeded_band
    from workflows.engine import run_neb
    from workflows.gpaw_calculators import GpawImageFactory, backend_settings, dft_settings
    from workflows.jobs import relaxed_endpoints

    t = time.perf_counter()
    framework, config, hop, relaxed, band = licoo2_hop_and_ml_band((2, 1, 1), args.images)
    host = framework.host
    gpaw = backend_settings({**TINY_GPAW, **json.loads(args.gpaw or "{}")})
    print(f"# {host.name} 2x1x1 ({len(config.structure)} atoms), hop {hop.start_label} -> {hop.end_label}; screen model {band.provenance.settings['model']}; "
          f"GPAW {gpaw['mode']} {gpaw.get('basis', '')} kspacing {gpaw['kspacing']}; {args.images} images, fmax {args.fmax} eV/Å", flush=True)
    print(f"ML band: {band.force_calls} force calls, barrier {max(band.energies) - band.energies[0]:.3f} eV, {time.perf_counter() - t:.0f} s", flush=True)

    t = time.perf_counter()
    ends_factory = GpawImageFactory(relaxed.structure, dft_settings(gpaw))
    ends = relaxed_endpoints(framework, config, hop, relaxed.structure, ends_factory, gpaw)
    start, end = ends[0].structure, ends[1].structure
    print(f"GPAW end points: {[e.n_steps for e in ends]} steps, {time.perf_counter() - t:.0f} s", flush=True)

    rows = {}
    for name, images in (("idpp", interpolate_hop(start, end, n_images=args.images)),
                         ("seeded", seeded_band(band.images, start, end, n_images=args.images))):
        factory = GpawImageFactory(start, dft_settings(gpaw))
        t = time.perf_counter()
        neb = run_neb(images, factory, fmax=args.fmax, steps=300, end_energies=(ends[0].energy, ends[1].energy))
        iterations = factory.scf_iterations()
        rows[name] = {
            "force_calls": neb.force_calls, "steps": neb.n_steps, "converged": neb.converged,
            "scf_iterations": sum(sum(i) for i in iterations), "first_scf": [i[0] for i in iterations if i],
            "barrier": max(neb.energies) - neb.energies[0], "wall_s": round(time.perf_counter() - t, 1),
        }
        print(f"{name:>7}: {json.dumps(rows[name])}", flush=True)
    a, b = rows["idpp"], rows["seeded"]
    print(f"seeded / IDPP: force calls {b['force_calls']} / {a['force_calls']} = {b['force_calls'] / max(a['force_calls'], 1):.2f}x; "
          f"SCF iterations {b['scf_iterations']} / {a['scf_iterations']} = {b['scf_iterations'] / max(a['scf_iterations'], 1):.2f}x; "
          f"barriers {b['barrier']:.3f} / {a['barrier']:.3f} eV (difference {b['barrier'] - a['barrier']:+.3f})", flush=True)


if __name__ == "__main__":
    main()
