"""Which embedded ML potential is the default: barriers of a hop with a DFT reference, and speed.

The hop: the in-plane Li vacancy hop of LiCoO2 in a 3x3x1 supercell (107 atoms at each end),
the single-vacancy (ODH) hop of the layered cathode most often computed. DFT reference: 0.672 eV,
the value the workflows issue gives for this 107-atom cell (GGA, same cell and hop); universal
potentials are known to soften barriers, and a 0.1 eV error changes a room-temperature hop rate
about 50-fold, so accuracy decides first and speed second.

Prints, per model: barrier, error against DFT, wall time, force calls.
Usage: python benchmarks/model_accuracy.py [--models chgnet 7net-0]
"""

from __future__ import annotations

import argparse
import time
import warnings

DFT_BARRIER = 0.672  # eV, LiCoO2 in-plane Li vacancy hop, 107-atom cell (see docstring)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["chgnet", "7net-0"])
    parser.add_argument("--n-images", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    from descriptors.barriers import migration_barrier
    from structures import DefectFramework, enumerate_hops, load_host
    from structures.configurations import configuration_from_defects
    from workflows.jobs import hop_neb

    framework = DefectFramework.from_host(load_host("licoo2"), (3, 3, 1))
    pristine = configuration_from_defects(framework, [])
    hop = enumerate_hops(framework, pristine)[0]
    print(f"{'model':>8} {'barrier eV':>10} {'error eV':>9} {'wall s':>8} {'force calls':>11} {'NEB steps':>9} status", flush=True)
    for model in args.models:
        settings = {"model": model, "relax_fmax": 0.05, "relax_steps": 500, "neb_fmax": 0.1, "neb_steps": 500, "n_images": args.n_images, "climb": True}
        start = time.perf_counter()
        doc = hop_neb({"status": "success", "structure": pristine.structure}, framework.host, list(framework.dims), pristine, hop, "mlip", settings, model)
        wall = time.perf_counter() - start
        if doc.energies:
            barrier = migration_barrier(doc.energies).forward
            print(f"{model:>8} {barrier:>10.3f} {barrier - DFT_BARRIER:>+9.3f} {wall:>8.1f} {doc.force_calls:>11} {doc.n_steps:>9} {doc.status.value}", flush=True)
        else:
            print(f"{model:>8} {'-':>10} {'-':>9} {wall:>8.1f} {'-':>11} {'-':>9} {doc.status.value}: {doc.reason}", flush=True)


if __name__ == "__main__":
    main()
