"""Each level's validation error, from the measured validation rows: writes ``descriptors/physics/validation.json``.

Input: ``benchmarks/results_model_accuracy.jsonl`` (``model_accuracy.py``: every embedded model on the
shared DFT validation set ``shared/validation/li_barriers_dft.csv``, the in-plane Li hop of layered
LiCoO2 and LiNiO2, mono-vacancy ODH and di-vacancy TSH). Output: per level of theory, the error of
each kind of quantity a verdict quotes, over the rows the code itself does not flag:

* ``barrier``: barrier (from the more stable end point) − DFT barrier;
* ``e_kra``: E_KRA − DFT barrier (the validation hops join two equivalent sites, so DFT's barrier is
  their E_KRA);
* ``e_kra_difference``: [E_KRA(TSH) − E_KRA(ODH)] − the same DFT difference, per host where both
  rows are usable: the error of a difference of E_KRA, which is what ΔE_a and a comparison of
  two groups of hops are.

Each with its MAE, signed mean (a biased model ranks but does not give absolute numbers), n and the
rows left out with the flag that left them out. A row whose image energies the results file holds
is re-judged by today's ``migration_barrier`` (its flags at today's energy resolution); an older
row without them keeps the flags it was stored with. A committee's error is that of the mean of its
members' barriers on the rows every member has. What the set covers (hosts, elements, situations)
is written beside it, so that a verdict can say where it has no example (no Mn, no O vacancy).

Nothing is fitted: these are the measured errors, summarised. The package reads the JSON at run
time (``descriptors.physics.levels``); ``tests/test_validation.py`` checks that regenerating it from
the results file gives the same numbers.

Usage: python benchmarks/validation_summary.py [--results benchmarks/results_model_accuracy.jsonl] [--out descriptors/physics/validation.json]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results_model_accuracy.jsonl"
OUT = ROOT / "descriptors" / "physics" / "validation.json"
HOST_ELEMENTS = {"LiCoO2": ["Co", "Li", "O"], "LiNiO2": ["Li", "Ni", "O"]}
SITUATIONS = {"ODH": "Li mono-vacancy hop through the O–O edge (ODH)", "TSH": "Li di-vacancy hop through the tetrahedral site (TSH)"}


def _flags(row: dict) -> list[str]:
    """Today's flags of a row: re-judged from its image energies where it stored them."""
    if row.get("energies"):
        from descriptors.physics.barriers import migration_barrier

        return migration_barrier(row["energies"], converged=row.get("converged")).flags
    return list(row.get("flags") or [])


def _usable(row: dict) -> tuple[bool, str | None]:
    if row.get("status", "success") != "success" or row.get("barrier") is None:
        return False, row.get("reason") or "failed"
    flags = _flags(row)
    return (not flags), (", ".join(flags) or None)


def _summary(errors: list[tuple[str, float]]) -> dict | None:
    if not errors:
        return None
    values = [e for _, e in errors]
    return {
        "mae": round(sum(abs(v) for v in values) / len(values), 4),
        "signed_mean": round(sum(values) / len(values), 4),
        "max_abs": round(max(abs(v) for v in values), 4),
        "n": len(values),
        "rows": {name: round(v, 4) for name, v in errors},
    }


def level_entry(rows: list[dict]) -> dict:
    """The validation errors of one model's (or committee's) rows (each with host, mechanism, dft,
    barrier, e_kra and its usable verdict)."""
    usable = {(r["host"], r["mechanism"]): r for r in rows if r["usable"]}
    excluded = [{"row": f"{r['host']} {r['mechanism']}", "why": r["why"]} for r in rows if not r["usable"]]
    barrier = [(f"{h} {m}", r["barrier"] - r["dft"]) for (h, m), r in sorted(usable.items())]
    e_kra = [(f"{h} {m}", r["e_kra"] - r["dft"]) for (h, m), r in sorted(usable.items()) if r.get("e_kra") is not None]
    differences = []
    for host in sorted({h for h, _ in usable}):
        tsh, odh = usable.get((host, "TSH")), usable.get((host, "ODH"))
        if tsh and odh and tsh.get("e_kra") is not None and odh.get("e_kra") is not None:
            differences.append((f"{host} TSH − ODH", (tsh["e_kra"] - odh["e_kra"]) - (tsh["dft"] - odh["dft"])))
    hosts = sorted({r["host"] for r in rows if r["usable"]})
    return {
        "quantities": {
            name: summary
            for name, summary in (("barrier", _summary(barrier)), ("e_kra", _summary(e_kra)), ("e_kra_difference", _summary(differences)))
            if summary
        },
        "excluded": excluded,
        "covers": {
            "hosts": hosts,
            "elements": sorted({e for h in hosts for e in HOST_ELEMENTS.get(h, [])}),
            "situations": sorted({SITUATIONS[m] for (_, m) in usable}),
            "o_vacancy": False,
            "dopants": [],
        },
    }


def summarise(results: list[dict]) -> dict:
    """validation.json's content from the results file's rows."""
    from descriptors.physics.levels import level_of_theory

    by_model: dict[str, list[dict]] = {}
    for r in results:
        ok, why = _usable(r)
        by_model.setdefault(r["model"], []).append({**r, "usable": ok, "why": why})
    levels = {level_of_theory("mlip", {"model": model}): level_entry(rows) for model, rows in by_model.items()}
    # committees of models that ran every row: the mean barrier of the members, on rows all have
    complete = [m for m, rows in by_model.items() if len(rows) == len({(r["host"], r["mechanism"]) for r in results})]
    for size in (2, 3):
        for members in itertools.combinations(sorted(complete), size):
            keyed = [{(r["host"], r["mechanism"]): r for r in by_model[m]} for m in members]
            rows = []
            for key in sorted(keyed[0]):
                parts = [k[key] for k in keyed]
                ok = all(p["usable"] for p in parts)
                why = "; ".join(f"{m}: {p['why']}" for m, p in zip(members, parts) if not p["usable"]) or None
                mean = lambda field: sum(p[field] for p in parts) / len(parts) if all(p.get(field) is not None for p in parts) else None  # noqa: E731
                rows.append({"host": key[0], "mechanism": key[1], "dft": parts[0]["dft"], "barrier": mean("barrier"), "e_kra": mean("e_kra"), "usable": ok, "why": why})
            levels[f"MLIP committee({', '.join(members)})"] = {**level_entry(rows), "members": list(members)}
    return {
        "about": "Validation errors (eV) of each level of theory's Li barriers against DFT (GGA), measured rows only; "
        "flagged rows left out. Generated by benchmarks/validation_summary.py; do not edit by hand.",
        "source": {
            "results": "benchmarks/results_model_accuracy.jsonl",
            "results_sha256": None,
            "reference": "shared/validation/li_barriers_dft.csv (in-plane Li hop, LiCoO2 and LiNiO2, ODH and TSH; Devi et al.'s dataset)",
        },
        "levels": levels,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    text = Path(args.results).read_bytes()
    results = [json.loads(line) for line in text.decode().splitlines() if line.strip()]
    summary = summarise(results)
    summary["source"]["results_sha256"] = hashlib.sha256(text).hexdigest()
    Path(args.out).write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    for level, entry in summary["levels"].items():
        b = entry["quantities"].get("barrier")
        if b:
            print(f"{level:>40}: barrier MAE {b['mae']:.3f} eV, signed {b['signed_mean']:+.3f} (n = {b['n']}; left out: {', '.join(e['row'] for e in entry['excluded']) or 'none'})")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    main()
