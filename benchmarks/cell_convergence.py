"""Is the main job's cell big enough? Two Li2MnO3 barriers in 48-, 96- and 192-atom cells.

The same two hops in each cell, through lrox's screen path with the default ML settings
(``workflows.spec.MlipSettings``, default model unless ``--model``):

* the pristine in-plane hop Li(2c) -> Li(4h) through the O-O edge (the shortest Li-layer hop): the
  reference every ΔE_a is taken against;
* the hop whose shared O-O edge has lost an O (configuration V_O(4i)): the hop next to a defect,
  where the vacancy's periodic images (and their reduced Mn) are close in a small cell.

The host is relaxed with its cell in each supercell (so the lattice is the model's), the vacancy
configuration at that lattice, then ``workflows.jobs.hop_neb``. Hops are matched across cells by
what they are (start and end labels, length, mechanism, n-TM), never by index. A barrier whose
change from the next bigger cell exceeds the tolerance (0.05 eV, about the model's resolution on
one hop) from the largest cell marks the smaller cell as not converged.

Usage: python benchmarks/cell_convergence.py [--model 7net-0] [--cells 2x1x1 2x1x2 2x2x2] [--out cells.jsonl]
       python benchmarks/cell_convergence.py --report cells.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

TOLERANCE = 0.05  # eV
CELLS = ["2x1x1", "2x1x2", "2x2x2"]


def _signature(hop) -> tuple:
    return (hop.start_label, hop.end_label, round(hop.length, 1), hop.mechanism.value, hop.n_tm)


def pick_hops(framework) -> dict:
    """The two hops of the study in this cell: {case: (configuration, hop)}."""
    from structures import enumerate_hops
    from structures.configurations import configuration_from_defects, enumerate_singles
    from structures.hops import HopMechanism
    from structures.sublattices import parse_vacancy

    pristine = configuration_from_defects(framework, [])
    in_plane = [h for h in enumerate_hops(framework, pristine) if h.layers == "Li layer" and h.mechanism is HopMechanism.ODH]
    reference = min(in_plane, key=lambda h: (h.length, h.start_label, h.end_label))
    vacancies = [c for c in enumerate_singles(framework, parse_vacancy("O")) if "4i" in c.name]
    if not vacancies:
        raise RuntimeError("no V_O(4i) configuration in this cell")
    vacancy = vacancies[0]
    edge = [h for h in enumerate_hops(framework, vacancy, max_defect_distance=4.0) if h.mechanism is HopMechanism.VO_EDGE]
    if not edge:
        raise RuntimeError("no hop with the vacant O on its shared edge in this cell")
    edge_hop = min(edge, key=lambda h: (h.layers != "Li layer", h.length, h.start_label, h.end_label))
    return {"pristine hop": (pristine, reference), "hop on the V_O(4i) edge": (vacancy, edge_hop)}


def run_cell(model: str, cell: str) -> list[dict]:
    from dataclasses import asdict

    from descriptors.physics.barriers import migration_barrier
    from structures import DefectFramework, load_host
    from structures.supercell import parse_supercell
    from workflows.jobs import hop_neb, relax_structure
    from workflows.spec import MlipSettings

    settings = {**asdict(MlipSettings()), "model": model}
    framework = DefectFramework.from_host(load_host("li2mno3"), parse_supercell(cell))
    start = time.perf_counter()
    pristine_cfg = next(iter(pick_hops(framework).values()))[0]
    host = relax_structure(pristine_cfg.structure, "mlip", settings, "host", pristine_cfg.id, relax_cell=True)
    host_s = time.perf_counter() - start
    rows = []
    for case, (configuration, hop) in pick_hops(framework).items():
        t0 = time.perf_counter()
        if configuration.defects:
            relaxed = relax_structure(configuration.structure, "mlip", settings, "vacancy", configuration.id, lattice_from=host)
        else:
            relaxed = host
        doc = hop_neb(relaxed, framework.host, list(framework.dims), configuration, hop, "mlip", settings, f"{cell} {case}")
        row = {
            "model": model,
            "cell": cell,
            "n_atoms": len(configuration.structure),
            "image_distance": round(framework.min_image_distance, 2),
            "case": case,
            "configuration": configuration.name,
            "hop": f"{hop.start_label} -> {hop.end_label}",
            "signature": list(_signature(hop)),
            "distance_to_defect": hop.distance_to_defect,
            "status": doc.status.value,
            "reason": doc.reason,
            "force_calls": doc.force_calls,
            "wall_s": round(time.perf_counter() - t0 + (host_s if not rows else 0.0), 1),
            "mechanism_observed": next((r.get("mechanism_observed") for r in doc.routes or [] if r.get("route") == doc.route), None),
        }
        if doc.energies:
            b = migration_barrier(doc.energies, converged=doc.converged)
            row.update(barrier=round(b.stable_end, 4), e_kra=round(b.e_kra, 4), forward=round(b.forward, 4), flags=b.flags)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def report(rows: list[dict]) -> None:
    model = rows[0]["model"] if rows else "-"
    cases = list(dict.fromkeys(r["case"] for r in rows))
    print(f"\nLi2MnO3, {model}: barrier from the more stable end point (E_KRA), eV; Δ = change from the largest cell")
    print(f"{'case':>26} {'cell':>6} {'atoms':>5} {'image Å':>7} {'barrier':>8} {'E_KRA':>7} {'Δ':>7} {'calls':>5} {'wall s':>6}  status")
    for case in cases:
        mine = sorted((r for r in rows if r["case"] == case), key=lambda r: r["n_atoms"])
        signatures = {tuple(r["signature"]) for r in mine}
        largest = mine[-1]
        for r in mine:
            bigger = None if r is largest else largest
            delta = "-" if bigger is None or r.get("barrier") is None or bigger.get("barrier") is None else f"{r['barrier'] - bigger['barrier']:+.3f}"
            flag = ""
            if delta != "-" and abs(float(delta)) > TOLERANCE:
                flag = f"  cell not converged (Δ={float(delta):+.3f} eV)"
            barrier = "-" if r.get("barrier") is None else f"{r['barrier']:.3f}"
            kra = "-" if r.get("e_kra") is None else f"{r['e_kra']:.3f}"
            print(
                f"{case:>26} {r['cell']:>6} {r['n_atoms']:>5} {r['image_distance']:>7.2f} {barrier:>8} {kra:>7} {delta:>7} "
                f"{r['force_calls'] or 0:>5} {r['wall_s']:>6.0f}  {r['status']}{flag}"
            )
        if len(signatures) > 1:
            print(f"{'':>26} WARNING: the hop differs between cells: {sorted(signatures)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="default: lrox's default model")
    parser.add_argument("--cells", nargs="+", default=CELLS)
    parser.add_argument("--out", default="cell_convergence.jsonl")
    parser.add_argument("--report", help="only print the table of a saved results file")
    args = parser.parse_args()
    if args.report:
        report([json.loads(line) for line in Path(args.report).read_text().splitlines() if line.strip()])
        return
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    from workflows.spec import MlipSettings

    model = args.model or MlipSettings().model
    out = Path(args.out)
    done = [json.loads(line) for line in out.read_text().splitlines() if line.strip()] if out.exists() else []
    for cell in args.cells:
        if any(r["cell"] == cell and r["model"] == model for r in done):
            continue
        rows = run_cell(model, cell)
        with out.open("a") as handle:
            for r in rows:
                handle.write(json.dumps(r) + "\n")
        done += rows
    report([r for r in done if r["model"] == model])


if __name__ == "__main__":
    main()
