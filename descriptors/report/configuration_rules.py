"""Rules 3, 4 and 5, judged on configurations: the dopant's valence and E_vac(O), the Li-slab spacing
and the barrier, the O 2p band centre and the barrier.

Rule 3's unit is the distinct O site next to a dopant (one dopant–vacancy pair configuration each);
rules 4 and 5 rank configurations by a descriptor against the E_KRA of their nearest hop, one point
per distinct hop (two configurations whose nearest hop is one physical hop are one point), within
one observed mechanism (like with like), and only over a range of the descriptor wider than its own
uncertainty (:data:`MIN_RANGE`).
"""

from __future__ import annotations

from descriptors.physics.levels import uncovered
from descriptors.report.evidence import RuleResult, cells_of, combine, level_error, situation_of, usable_hops
from descriptors.report.stats import (
    CONTRADICTED,
    INCONCLUSIVE,
    N_INTERVAL,
    N_MIN_RANK,
    NOT_ENOUGH,
    SUPPORTED,
    mean_interval,
    n_to_resolve,
    n_to_resolve_correlation,
    spearman,
    verdict_of,
)

__all__ = ["rule_dopant_valence_and_e_vac", "rule_slab_spacing", "rule_o2p_centre", "MIN_RANGE", "RAISE_E_VAC_REPORTED"]

# The smallest range of a descriptor over which a rank correlation with the barrier is read:
# * Li-slab spacing 0.10 Å: the model's own uncertainty on one slab is ~0.01-0.02 Å (SevenNet-0 and
#   CHGNet give LiCoO2's c 14.087 and 14.128 Å against 14.05 Å measured, benchmarks/RESULTS.md: 0.04-0.08 Å
#   over three slabs and three TM layers), and a relaxation to 0.05 eV/Å leaves ~0.01 Å more; a range
#   under five times that ranks noise (the design-rules example spans 0.06 Å);
# * O 2p band centre 0.2 eV: twice the Gaussian broadening of lrox's PDOS (0.1 eV), below which a
#   centre relative to the VBM moves with where the VBM falls in the broadened DOS.
MIN_RANGE = {"li_slab_spacing": (0.10, "Å"), "o2p_center_vbm": (0.20, "eV")}
STRONG_RHO = 0.5  # a strong rank correlation: the size "inconclusive" states the n for where the literature gives none
# Xu et al. (Nano-Micro Lett. 18:273, 2026): Al, Mg, W, F reported to raise E_f(V_O) ("hold lattice oxygen")
RAISE_E_VAC_REPORTED = ("Al", "Mg", "W", "F")
LITERATURE_E_VAC = (2.51, "Na–W co-doping reported to raise E_vac(O) from 6.75 to 9.26 eV")
VACANCY_CHARGE = {"O": 2, "Li": -1}  # formal charge change of a neutral vacancy on that ion (its summary's charge_change)


# ----- rule 3: the dopant's valence and E_vac(O) ----------------------------------------------------------
def _valence_change(summary: dict, singles: dict) -> float | None:
    """The dopant's formal charge minus that of the ion it replaces: the charge change of the
    dopant-only configuration (by lineage id), else the pair's own minus its vacancies'."""
    defects = summary.get("defects") or []
    for k, d in enumerate(defects):
        if d.get("kind") != "vacancy":
            single = singles.get((summary.get("defect_ids") or [None] * len(defects))[k]) if len(summary.get("defect_ids") or []) == len(defects) else None
            if single is not None and single.get("charge_change") is not None:
                return float(single["charge_change"])
    if summary.get("charge_change") is None:
        return None
    vacancies = sum(VACANCY_CHARGE.get(d.get("host_species") or str(d.get("site", "")).split("(")[0], 0) for d in defects if d.get("kind") == "vacancy")
    return float(summary["charge_change"]) - vacancies


def rule_dopant_valence_and_e_vac(configurations: list[dict], level: str, summaries: dict | None = None) -> RuleResult:
    """``configurations``: rows of one level (descriptors.query.long_table); ``summaries``: the
    configurations table's rows by id (their summary and charge change), for each dopant's valence.

    The claim, stated so that it can fail: a dopant of lower valence than the ion it replaces (an
    acceptor, Al³⁺ on Mn⁴⁺) makes a neighbouring O vacancy (a double donor) cheaper, ΔE_vac(O) < 0;
    one of higher valence (a donor: Nb⁵⁺ or W⁶⁺ on Mn⁴⁺, Mg²⁺ on Li⁺) makes it dearer, ΔE_vac(O) > 0.
    Per dopant, the mean ΔE_vac(O) over the distinct O sites next to it (one pair configuration
    each) is tested against the sign its valence predicts; pooled, every site's ΔE_vac(O) times that
    sign is tested against zero. The literature's own list (Al, Mg, W, F raise E_vac(O): they "hold
    lattice oxygen") is set beside each dopant: for Al it predicts the opposite sign to the valence.
    """
    summaries = summaries or {}
    singles = {cid: row for cid, row in summaries.items()}
    rows = [r for r in configurations if r.get("delta_e_vac_o") is not None and r.get("dopant")]
    by_dopant: dict[str, list[dict]] = {}
    for r in rows:
        by_dopant.setdefault(r["dopant"], []).append(r)
    table, parts, stats, pooled, apart = [], [], [], [], []
    for dopant, members in sorted(by_dopant.items()):
        changes = {_valence_change((summaries.get(r["id"]) or {}).get("summary") or {}, singles) for r in members}
        change = changes.pop() if len(changes) == 1 else None
        values = [r["delta_e_vac_o"] for r in members]
        sign = 0 if change is None or change == 0 else (1 if change > 0 else -1)
        expected = {1: "raise", -1: "lower", 0: "no sign"}[sign]
        estimate = mean_interval(values, f"mean ΔE_vac(O) next to {dopant}")
        verdict = verdict_of(estimate, sign) if sign else NOT_ENOUGH
        lowered, raised = sum(v < 0 for v in values), sum(v > 0 for v in values)
        literature = "reported to raise it" if any(d in RAISE_E_VAC_REPORTED for d in dopant.split(",")) else "-"
        valence = "unknown" if change is None else "0 (isovalent)" if change == 0 else f"{change:+g}"
        table.append({"dopant": dopant, "valence − replaced ion's": valence, "the valence predicts": expected, "literature": literature, "O sites": len(values),
                      "mean ΔE_vac(O) (eV)": estimate.value,
                      "95 % t-interval (eV)": f"{estimate.low:+.3f} to {estimate.high:+.3f}" if estimate.low is not None else f"none: fewer than {N_INTERVAL} O sites",
                      "lowered / raised at": f"{lowered} / {raised} O sites", "verdict (valence)": verdict if sign else "no sign predicted"})
        if estimate.low is not None and sign:
            stats.append(estimate)
        why = f"{dopant} (valence {valence} against the replaced ion): {lowered} of {len(values)} O sites lowered, {raised} raised, mean {estimate.value:+.3f} eV"
        if literature != "-":
            why += "; the literature reports a rise"
        if sign:
            pooled += [sign * v for v in values]
            if verdict == NOT_ENOUGH:
                why += f"; {N_INTERVAL} O sites are needed for an interval"
            parts.append({"part": f"{dopant} should {expected} E_vac(O)", "verdict": verdict, "n": len(values), "why": why})
        else:
            apart.append({"point": dopant, "why": f"{why}; isovalent (or of unknown valence) in these configurations: the valence predicts no sign"})
    power, errors = "", []
    n_dopants = sum(1 for t in table if t["the valence predicts"] != "no sign")
    if pooled:
        estimate = mean_interval(pooled, "mean of ΔE_vac(O) × (sign the valence predicts), distinct O sites")
        verdict = verdict_of(estimate, +1)
        if estimate.low is not None:
            stats.insert(0, estimate)
        why = {SUPPORTED: "the sign of ΔE_vac(O) follows the dopant's valence", CONTRADICTED: "the sign of ΔE_vac(O) is opposite to what the valence predicts",
               INCONCLUSIVE: "the pooled interval contains zero", NOT_ENOUGH: f"{len(pooled)} O sites; {N_INTERVAL} are needed"}[verdict]
        parts.insert(0, {"part": "pooled: the sign follows the valence", "verdict": verdict, "n": len(pooled),
                         "why": f"{why} ({len(pooled)} distinct O sites next to {n_dopants} dopant{'s' if n_dopants != 1 else ''})"})
        if verdict == INCONCLUSIVE:
            n = n_to_resolve(LITERATURE_E_VAC[0], estimate.spread)
            power = f"pooled: the literature's effect ({LITERATURE_E_VAC[0]:.2f} eV, {LITERATURE_E_VAC[1]}) at the observed spread (s = {estimate.spread:.3f} eV) would need about {n} O sites"
    verdict, reason = combine(parts)
    if pooled and n_dopants < 3 and verdict != NOT_ENOUGH:
        reason += f"; the O sites come from {n_dopants} dopant{'s' if n_dopants != 1 else ''} only: the claim is judged on those"
    errors.append(f"{level}: the validation set has no O-vacancy formation energies: the error of E_vac(O) and ΔE_vac(O) at this level is not measured"
                  + (f" ({'; '.join(uncovered(level, (), True, ()))})" if level else ""))
    points = [r for r in configurations if r.get("e_vac_o") is not None]
    return RuleResult(
        3,
        "A dopant's valence sets the sign of its change to E_vac(O)",
        "ΔE_vac(O) of the O next to a dopant < 0 where its valence is below that of the ion it replaces, > 0 where above "
        f"(the literature: Al, Mg, W, F raise E_vac(O); {LITERATURE_E_VAC[1]})",
        verdict,
        reason,
        stats,
        len(pooled),
        [level] if rows else [],
        cells_of(rows),
        {"kind": "dopant_strip", "groups": {t["dopant"]: [r["delta_e_vac_o"] for r in by_dopant[t["dopant"]]] for t in table},
         "expected": {t["dopant"]: t["the valence predicts"] for t in table}, "ylabel": "ΔE_vac(O) against the isolated vacancy (eV)",
         "evac": {r["name"]: (r["e_vac_o"], r.get("e_vac_o_tp")) for r in points}},
        table,
        parts=parts,
        unit="distinct O sites next to a dopant (one dopant–vacancy pair configuration each)",
        error=errors,
        power=power,
        apart=apart,
    )


# ----- rules 4 and 5: a descriptor against the nearest hop's E_KRA ----------------------------------------------
def _nearest_points(rows: list[dict], hops: list[dict], field: str) -> list[dict]:
    """(configuration, descriptor, nearest distinct hop) points: each configuration's usable hop
    nearest its defect, configurations whose nearest hop is one physical hop merged into one point."""
    value = {r["id"]: r.get(field) for r in rows if r.get(field) is not None}
    nearest: dict[str, dict] = {}
    for h in usable_hops(hops):
        if h.get("distance_to_defect") is None or h["configuration_id"] not in value:
            continue
        best = nearest.get(h["configuration_id"])
        if best is None or h["distance_to_defect"] < best["distance_to_defect"]:
            nearest[h["configuration_id"]] = h
    merged: dict[str, dict] = {}
    for cid, h in nearest.items():
        point = merged.setdefault(h.get("twin_group") or h["hop_id"], {"x": [], "hop": h, "configurations": []})
        point["x"].append(value[cid])
        point["configurations"].append(h.get("configuration"))
    return [{"x": sum(p["x"]) / len(p["x"]), "y": p["hop"]["e_kra"], "mechanism": p["hop"].get("mechanism_observed") or p["hop"].get("mechanism_expected"),
             "label": p["hop"].get("dopant") or p["hop"].get("defect") or "", "configurations": p["configurations"], "hop": p["hop"]} for p in merged.values()]


def _ranked_rule(points: list[dict], field: str, sign: int, level: str, name: str, formulas: dict | None = None) -> tuple[list[dict], list, list[str], str]:
    """Per observed mechanism: Spearman ρ of the descriptor against E_KRA with its interval, where the
    class has N_MIN_RANK points over at least MIN_RANGE of the descriptor. ``sign`` 0: a two-sided
    claim (it correlates), which an interval containing zero leaves inconclusive. The level's error
    names what of the points' situation (elements, O vacancies, dopants) its validation never saw."""
    minimum, unit = MIN_RANGE[field]
    parts, stats, power = [], [], []
    for mechanism in sorted({p["mechanism"] or "?" for p in points}):
        cls = [p for p in points if (p["mechanism"] or "?") == mechanism]
        span = max(p["x"] for p in cls) - min(p["x"] for p in cls)
        counted = f"{len(cls)} distinct hops over {span:.3f} {unit} of {name}"
        if len(cls) < N_MIN_RANK or span < minimum:
            need = []
            if len(cls) < N_MIN_RANK:
                need.append(f"{N_MIN_RANK} points")
            if span < minimum:
                need.append(f"a range of at least {minimum:g} {unit}")
            parts.append({"part": f"{mechanism} hops", "verdict": NOT_ENOUGH, "n": len(cls), "why": f"{mechanism}: {counted}; a rank correlation needs {' and '.join(need)}"})
            continue
        rho = spearman([p["x"] for p in cls], [p["y"] for p in cls], f"Spearman ρ({name}, E_KRA of the nearest hop), {mechanism} hops")
        stats.append(rho)
        if sign:
            verdict = verdict_of(rho, sign)
        else:
            verdict = SUPPORTED if verdict_of(rho, +1) in (SUPPORTED, CONTRADICTED) else INCONCLUSIVE
        why = {SUPPORTED: "the interval of ρ excludes zero on the claim's side", CONTRADICTED: "the interval of ρ excludes zero on the other side",
               INCONCLUSIVE: "the interval of ρ contains zero"}[verdict]
        parts.append({"part": f"{mechanism} hops", "verdict": verdict, "n": len(cls), "why": f"{mechanism}: {why} ({counted})"})
        if verdict == INCONCLUSIVE:
            power.append(f"{mechanism}: a strong rank correlation (|ρ| = {STRONG_RHO}) would need about {n_to_resolve_correlation(STRONG_RHO)} points")
    situation = situation_of([p["hop"] for p in points], formulas or {})
    return parts, stats, [level_error(level, "e_kra", None, situation)], "; ".join(power)


def rule_slab_spacing(configurations: list[dict], level: str, hops: list[dict] | None = None, formulas: dict | None = None) -> RuleResult:
    """``hops``: the level's hop rows (the nearest hop of each configuration, and its twin group);
    ``formulas``: configuration formulas by id (what the validation set covers)."""
    # each configuration's id and spacing (near the defect where measured), all _nearest_points reads
    rows = [{"id": r["id"], "li_slab_spacing": r.get("li_slab_spacing_near") if r.get("li_slab_spacing_near") is not None else r.get("li_slab_spacing")} for r in configurations]
    rows = [r for r in rows if r["li_slab_spacing"] is not None]
    points = _nearest_points(rows, hops or [], "li_slab_spacing")
    parts, stats, errors, power = _ranked_rule(points, "li_slab_spacing", -1, level, "Li-slab spacing", formulas)
    verdict, reason = combine(parts) if parts else (NOT_ENOUGH, "no configuration has both a Li-slab spacing and a hop near its defect at this level")
    errors.append("the validation set has no geometry: the level's error on the Li-slab spacing is not measured")
    return RuleResult(
        4,
        "The barrier rises as the Li slab narrows",
        f"E_KRA of the hop nearest the defect falls as the Li-slab spacing near it widens (Spearman ρ < 0, per observed mechanism, over at least {MIN_RANGE['li_slab_spacing'][0]:g} Å of spacing)",
        verdict,
        reason,
        stats,
        len(points),
        [level] if points else [],
        cells_of([p["hop"] for p in points]),
        {"kind": "scatter", "x": [p["x"] for p in points], "y": [p["y"] for p in points], "labels": [p["mechanism"] or "" for p in points],
         "xlabel": "Li-slab spacing within 5 Å of the defect (Å)", "ylabel": "E_KRA of the hop nearest the defect (eV)",
         "min_range": MIN_RANGE["li_slab_spacing"][0]},
        table=[{"part": p["part"], "verdict": p["verdict"], "distinct hops": p["n"]} for p in parts],
        parts=parts,
        unit="distinct hops (each configuration's hop nearest its defect; configurations sharing that physical hop merged)",
        error=errors,
        power=power,
    )


def rule_o2p_centre(barrier_rows: list[dict], barrier_level: str, electronic_rows: list[dict], electronic_level: str, hops: list[dict] | None = None,
                    formulas: dict | None = None) -> RuleResult:
    """Pairs one configuration's ML barrier with its static's O 2p centre vs the VBM, by
    configuration id. A GPAW static may have run on the same defects in a smaller cell
    (``gpaw.supercell``): its level of theory names that cell, and the verdict says so. The claim is
    two-sided (the literature links the centre to oxygen activity, not a direction of the barrier):
    supported where the interval of ρ excludes zero, inconclusive where it does not."""
    electronic = {r["id"]: r["o2p_center_vbm"] for r in electronic_rows if r.get("o2p_center_vbm") is not None}
    rows = [{**r, "o2p_center_vbm": electronic.get(r["id"])} for r in barrier_rows if r["id"] in electronic]
    points = _nearest_points(rows, hops or [], "o2p_center_vbm")
    parts, stats, errors, power = _ranked_rule(points, "o2p_center_vbm", 0, barrier_level, "O 2p centre − VBM", formulas)
    verdict, reason = combine(parts) if parts else (
        NOT_ENOUGH, f"{len(points)} configurations have both a barrier ({barrier_level}) and an O 2p centre ({electronic_level})")
    other_cell = sorted({_static_cell(r) for r in electronic_rows if _static_cell(r)})
    if other_cell and points:
        reason += f"; the statics ran in a smaller cell ({', '.join(other_cell)}) than the NEBs"
    errors.append(f"{electronic_level}: the validation set has no band centres: the error of the O 2p centre is not measured")
    return RuleResult(
        5,
        "Barrier against the O 2p band centre",
        "The E_KRA of the hop nearest the defect correlates with the O 2p band centre relative to the VBM (two-sided; per observed mechanism; "
        f"over at least {MIN_RANGE['o2p_center_vbm'][0]:g} eV of centres; only where both exist for the same configuration)",
        verdict,
        reason,
        stats,
        len(points),
        [barrier_level, electronic_level] if points else [],
        cells_of([p["hop"] for p in points]),
        {"kind": "scatter", "x": [p["x"] for p in points], "y": [p["y"] for p in points], "labels": [p["mechanism"] or "" for p in points],
         "xlabel": f"O 2p band centre − VBM (eV), {electronic_level}", "ylabel": f"E_KRA of the nearest hop (eV), {barrier_level}",
         "min_range": MIN_RANGE["o2p_center_vbm"][0]},
        table=[{"part": p["part"], "verdict": p["verdict"], "distinct hops": p["n"]} for p in parts],
        parts=parts,
        unit="distinct hops (each configuration's hop nearest its defect, paired with its static by configuration id)",
        error=errors,
        power=power,
    )


def _static_cell(row: dict) -> str | None:
    """'2x1x1 cell' where a static level ran in its own cell (its level of theory ends so)."""
    import re

    found = re.search(r", (\d+x\d+x\d+) cell$", row.get("level_of_theory") or "")
    return f"{found.group(1)} cell" if found else None

