"""Benchmark P3: how many band steps a DFT NEB saves when it starts from the ML-converged band.

A second ML model stands in for DFT (by default CHGNet for a screen on the default SevenNet-0). For each hop:
the screen's model runs the hop as a screen does (``hop_neb``); the stand-in relaxes its own end
points (``relaxed_endpoints``, the screen's code), then runs its CI-NEB twice from those end points:
from the plain IDPP band, and from the screen's converged band mapped onto its end points
(``structures.hops.seeded_band``: the ML displacements in fractional coordinates on the stand-in's
start point, the end mismatch spread linearly). Both bands converge to 0.05 eV/Å; their force
calls are compared (target: seeded ≤ 0.5x IDPP), and their barriers must agree.

Usage: python benchmarks/seeded_band.py [--screen-model 7net-0] [--stand-in chgnet]
"""

from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import asdict

HOPS = (("li2mno3", (2, 1, 1), None), ("li2mno3", (2, 1, 1), "O"), ("licoo2", (3, 3, 1), None))


def hops_to_run():
    """(framework, configuration, hop): Li2MnO3 pristine hops, hops beside an O vacancy, a LiCoO2 hop."""
    from structures import DefectFramework, enumerate_hops, load_host
    from structures.configurations import configuration_from_defects, enumerate_singles
    from structures.sublattices import parse_vacancy

    out = []
    for host, dims, vacancy in HOPS:
        framework = DefectFramework.from_host(load_host(host), dims)
        configs = enumerate_singles(framework, parse_vacancy(vacancy))[:1] if vacancy else [configuration_from_defects(framework, [])]
        for config in configs:
            hops = enumerate_hops(framework, config, max_defect_distance=4.0 if vacancy else None)
            out += [(framework, config, hop) for hop in hops[: 2 if host == "li2mno3" else 1]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screen-model", default=None, help="default: lrox's default model")
    parser.add_argument("--stand-in", default="chgnet", help="the model standing in for DFT")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import torch

    torch.set_num_threads(args.threads)
    from structures.hops import interpolate_hop, seeded_band
    from workflows.calculators import ml_calculator
    from workflows.engine import run_neb
    from workflows.jobs import hop_neb, relax_structure, relaxed_endpoints
    from workflows.spec import MlipSettings

    args.screen_model = args.screen_model or MlipSettings().model
    screen = {**asdict(MlipSettings()), "model": args.screen_model}
    stand_in = {**asdict(MlipSettings()), "model": args.stand_in}
    print(f"# screen model {args.screen_model}; DFT stand-in {args.stand_in}; CI-NEB to 0.05 eV/Å, 5 images; torch threads {args.threads}", flush=True)
    print(f"{'hop':>52} {'IDPP calls':>10} {'seeded calls':>12} {'ratio':>6} {'IDPP eV':>8} {'seeded eV':>9}", flush=True)
    totals = [0, 0]
    for framework, config, hop in hops_to_run():
        label = f"{framework.host.name} {config.name} {hop.start_label}->{hop.end_label}"[:52]
        host_relaxed = relax_structure(config.structure, "mlip", screen, "host", config.id)
        ml = hop_neb(host_relaxed, framework.host, list(framework.dims), config, hop, "mlip", screen, label)
        if ml.status.value != "success":
            print(f"{label:>52} screen NEB {ml.status.value}: {ml.reason}", flush=True)
            continue
        stand_relaxed = relax_structure(config.structure, "mlip", stand_in, "host", config.id)
        ends = relaxed_endpoints(framework, config, hop, stand_relaxed.structure, lambda: ml_calculator(args.stand_in), stand_in)
        start, end = ends[0].structure, ends[1].structure
        runs = {}
        for name, band in (("idpp", interpolate_hop(start, end, n_images=5)), ("seeded", seeded_band(ml.images, start, end, n_images=5))):
            t = time.perf_counter()
            neb = run_neb(band, lambda: ml_calculator(args.stand_in), fmax=0.05, steps=500)
            runs[name] = (neb.force_calls, max(neb.energies) - neb.energies[0], neb.converged, time.perf_counter() - t)
        (a, ea, ca, _), (b, eb, cb, _) = runs["idpp"], runs["seeded"]
        totals[0] += a
        totals[1] += b
        print(f"{label:>52} {a:>10} {b:>12} {b / a:>6.2f} {ea:>8.3f} {eb:>9.3f}" + ("" if ca and cb else "  (not converged)"), flush=True)
    print(f"all hops: {totals[1]} seeded / {totals[0]} IDPP force calls of the stand-in = {totals[1] / max(totals[0], 1):.2f}x", flush=True)


if __name__ == "__main__":
    main()
