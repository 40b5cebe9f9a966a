"""The design rules of the Li-rich cathode literature, tested on the user's own database.

Each rule returns a :class:`RuleResult`: the data behind it (n, level of theory, cells), a
statistic, and a verdict:

* ``supported``: the statistic's 95 % interval (or Spearman's sign at p < 0.05) lies on the
  rule's side;
* ``contradicted``: with enough points, it does not (no effect, or the opposite one);
* ``not enough data``: fewer points than :data:`N_MIN` (stated in the report).

A rule that an ML potential contradicts is a finding, not a failure. Nothing here opens a
database or draws a figure: the rows come in, results go out (:mod:`descriptors.report` assembles
them, :mod:`descriptors.plots` draws them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from descriptors.physics.barriers import only_mechanism_flags
from descriptors.report.stats import Estimate, bootstrap_difference, bootstrap_mean, spearman

__all__ = ["N_MIN", "RuleResult", "evaluate_rules", "usable_hops"]

N_MIN = 5  # points a statistic needs (per group for a difference: 3)
N_MIN_GROUP = 3
NEAR = 4.0  # Å: a hop "around" a vacancy has its midpoint this close to it
MIN_DISTANCE_SPAN = 0.5  # Å: below this spread of distances no trend with distance is computed (a rank over 0.02 Å is noise)
LITERATURE = {
    "rule2": "DFT for Li-rich oxides: 0.69 → 0.39 eV next to an O vacancy (ΔE_a ≈ −0.30 eV), 0–0.21 eV at the extreme",
    "rule3": "Na–W co-doping reported to raise E_vac(O) from 6.75 to 9.26 eV",
}
SUPPORTED, CONTRADICTED, NOT_ENOUGH = "supported", "contradicted", "not enough data"


@dataclass
class RuleResult:
    number: int
    title: str
    claim: str
    verdict: str
    reason: str  # one sentence: why this verdict
    statistics: list[Estimate] = field(default_factory=list)
    n: int = 0
    levels: list[str] = field(default_factory=list)
    cells: list[str] = field(default_factory=list)
    figure: dict = field(default_factory=dict)  # what descriptors.plots.rule_figure draws
    table: list[dict] = field(default_factory=list)  # rows shown under the figure
    parts: list[dict] = field(default_factory=list)  # a rule of several claims: each claim's own verdict


def usable_hops(hops: list[dict]) -> list[dict]:
    """Hops whose E_KRA can be trusted: converged, no flag but a mechanism disagreement (which the
    rules read as data: they judge on the observed mechanism)."""
    return [
        h for h in hops
        if h.get("e_kra") is not None and h.get("status") in ("ok", "flagged") and (not h.get("flags") or only_mechanism_flags(h["flags"]))
    ]


def _directional(estimate: Estimate | None, sign: int) -> str:
    """supported when the interval (or ρ at p < 0.05) lies on the rule's side (sign −1: below zero)."""
    if estimate is None:
        return NOT_ENOUGH
    if estimate.low is not None:
        return SUPPORTED if (estimate.high < 0 if sign < 0 else estimate.low > 0) else CONTRADICTED
    return SUPPORTED if estimate.p_value < 0.05 and estimate.value * sign > 0 else CONTRADICTED


def _cells(rows: list[dict]) -> list[str]:
    return sorted({f"{r.get('n_atoms')} atoms" for r in rows if r.get("n_atoms")})


def _levels(rows: list[dict]) -> list[str]:
    return sorted({r["level_of_theory"] for r in rows if r.get("level_of_theory")})


# ----- rule 1: fewer TM faces, lower barrier; TSH below ODH ---------------------------------------------
def _rule1_groups(tsh: list[dict], left_tetrahedral: list[dict], single_odh: list[dict]) -> dict[str, list[float]]:
    """The strip plot's groups: observed-TSH hops by n-TM and by what opened the path, then the rest."""
    groups = {}
    for n in sorted({h["n_tm"] for h in tsh}):
        for from_divacancy, label in ((True, "divacancy"), (False, "single vacancy")):
            values = [h["e_kra"] for h in tsh if h["n_tm"] == n and (h.get("mechanism_expected") == "TSH") is from_divacancy]
            if values:
                groups[f"TSH {n}-TM, {label}"] = values
    if left_tetrahedral:
        groups["divacancy, took the O–O edge"] = [h["e_kra"] for h in left_tetrahedral]
    groups["ODH, single vacancy"] = [h["e_kra"] for h in single_odh]
    return groups


def rule_tsh_and_n_tm(hops: list[dict]) -> RuleResult:
    """Two claims, each judged on its own evidence and shown as a part of the rule:

    * the n-TM ordering, over hops that took the tetrahedral path (observed TSH, whatever was
      expected: an ODH hop of a single vacancy is no evidence about tetrahedral sites);
    * TSH < ODH where a divacancy allows it: hops that a divacancy opened to the tetrahedral path
      and that took it (expected and observed TSH) against single-vacancy hops that went through
      the O–O edge (expected and observed ODH), the comparison the literature makes.

    The rule's verdict: contradicted if a part is contradicted, supported if every part with
    enough data is supported (the part without is named in the reason and in the report's list of
    what could not be evaluated), not enough data if no part has enough.
    """
    usable = usable_hops(hops)
    tsh = [h for h in usable if h.get("mechanism_observed") == "TSH" and h.get("n_tm") is not None]
    divacancy_tsh = [h for h in tsh if h.get("mechanism_expected") == "TSH"]
    single_odh = [h for h in usable if h.get("mechanism_observed") == "ODH" and h.get("mechanism_expected") == "ODH"]
    left_tetrahedral = [h for h in usable if h.get("mechanism_expected") == "TSH" and h.get("mechanism_observed") == "ODH"]
    n_tm_values = sorted({h["n_tm"] for h in tsh})
    stats, parts = [], []

    # a class of one or two hops is no evidence about its class: a rank correlation over twelve 0-TM
    # hops and one 1-TM hop turns on that one hop (whose mechanism can be borderline)
    counts = {n: sum(h["n_tm"] == n for h in tsh) for n in n_tm_values}
    ranked_classes = [n for n, count in counts.items() if count >= N_MIN_GROUP]
    ranked = [h for h in tsh if h["n_tm"] in ranked_classes]
    if len(ranked_classes) > 1 and len(ranked) >= N_MIN:
        rho = spearman([h["n_tm"] for h in ranked], [h["e_kra"] for h in ranked], "Spearman ρ(n-TM, E_KRA) over observed-TSH hops")
        stats.append(rho)
        verdict = _directional(rho, +1)
        why = {SUPPORTED: "E_KRA rises with n-TM along observed tetrahedral paths", CONTRADICTED: "E_KRA does not rise with n-TM along observed tetrahedral paths"}[verdict]
        if len(ranked) < len(tsh):
            why += f" ({', '.join(f'{counts[n]} {n}-TM' for n in n_tm_values if n not in ranked_classes)} left out: fewer than {N_MIN_GROUP} in the class)"
    else:
        verdict = NOT_ENOUGH
        if not tsh:
            found = "none"
        elif len(n_tm_values) == 1:
            found = f"all {n_tm_values[0]}-TM"
        else:
            found = ", ".join(f"{counts[n]} {n}-TM" for n in n_tm_values)
        why = f"{len(tsh)} hops took the tetrahedral path, {found}; {N_MIN_GROUP} in each of at least two n-TM classes are needed"
        if left_tetrahedral:
            classes = "/".join(sorted({f"{h['n_tm']}-TM" for h in left_tetrahedral if h.get("n_tm") is not None}))
            why += f"; {len(left_tetrahedral)} divacancy hops past a {classes} tetrahedral site left it for the O–O edge (observed ODH)"
    parts.append({"part": "E_KRA(0-TM) < E_KRA(1-TM) < E_KRA(2-TM) on observed tetrahedral paths", "verdict": verdict, "n": len(tsh), "why": why})

    if len(divacancy_tsh) >= N_MIN_GROUP and len(single_odh) >= N_MIN_GROUP:
        diff = bootstrap_difference([h["e_kra"] for h in divacancy_tsh], [h["e_kra"] for h in single_odh],
                                    "mean E_KRA(divacancy TSH) − mean E_KRA(single-vacancy ODH)")
        stats.append(diff)
        verdict = _directional(diff, -1)
        why = {SUPPORTED: "hops through a tetrahedral site that a divacancy opened lie below single-vacancy dumbbell hops",
               CONTRADICTED: "hops through a tetrahedral site that a divacancy opened do not lie below single-vacancy dumbbell hops"}[verdict]
    else:
        verdict = NOT_ENOUGH
        why = f"{len(divacancy_tsh)} divacancy hops took the tetrahedral path and {len(single_odh)} single-vacancy hops the O–O edge; {N_MIN_GROUP} per group are needed"
    parts.append({"part": "TSH < ODH where a divacancy allows it", "verdict": verdict, "n": len(divacancy_tsh) + len(single_odh), "why": why})

    verdicts = [p["verdict"] for p in parts]
    verdict = CONTRADICTED if CONTRADICTED in verdicts else SUPPORTED if SUPPORTED in verdicts else NOT_ENOUGH
    shown = [p for p in parts if p["verdict"] == verdict] if verdict != NOT_ENOUGH else parts
    reason = "; ".join(p["why"] for p in shown)
    untested = [p for p in parts if p["verdict"] == NOT_ENOUGH and verdict != NOT_ENOUGH]
    if untested:
        reason += ". Not tested: " + "; ".join(f"{p['part']}: {p['why']}" for p in untested)
    evidence = tsh + single_odh  # disjoint: observed TSH, observed ODH
    return RuleResult(
        1,
        "Fewer TM neighbours of the tetrahedral site, lower barrier; TSH below ODH",
        "E_KRA(0-TM) < E_KRA(1-TM) < E_KRA(2-TM) along the tetrahedral path, and TSH < ODH where a divacancy allows it (judged on the observed mechanism)",
        verdict,
        reason,
        stats,
        len(evidence),
        _levels(evidence),
        _cells(evidence),
        {"kind": "strip", "groups": _rule1_groups(tsh, left_tetrahedral, single_odh), "ylabel": "E_KRA (eV)"},
        table=[{"part": p["part"], "verdict": p["verdict"], "n": p["n"]} for p in parts],
        parts=parts,
    )


# ----- rule 2: an O vacancy next to the Li layer lowers the barriers around it -------------------------------
def rule_o_vacancy_lowers_barriers(hops: list[dict]) -> RuleResult:
    usable = [h for h in usable_hops(hops) if h.get("delta_e_a") is not None and str(h.get("nearest_defect") or "").startswith("V_O")]
    near = [h for h in usable if (h.get("distance_to_defect") or 99) <= NEAR]
    stats = []
    if len(near) >= N_MIN:
        mean = bootstrap_mean([h["delta_e_a"] for h in near], f"mean ΔE_a of hops within {NEAR:g} Å of an O vacancy")
        stats.append(mean)
        verdict = _directional(mean, -1)
        distances = [h["distance_to_defect"] for h in usable]
        if len(usable) >= N_MIN and max(distances) - min(distances) >= MIN_DISTANCE_SPAN:  # a trend needs distances that differ
            stats.append(spearman(distances, [h["delta_e_a"] for h in usable], "Spearman ρ(distance to V_O, ΔE_a)"))
    else:
        verdict = NOT_ENOUGH
    reason = {
        NOT_ENOUGH: f"{len(near)} hops within {NEAR:g} Å of an O vacancy have a ΔE_a (the same hop also ran in the pristine host); {N_MIN} are needed",
        SUPPORTED: "hops next to an O vacancy have lower barriers than the same hops in the pristine host",
        CONTRADICTED: "hops next to an O vacancy do not have lower barriers than the same hops in the pristine host",
    }[verdict]
    return RuleResult(
        2,
        "An O vacancy near the Li layer lowers the barriers around it",
        f"ΔE_a = E_KRA(next to V_O) − E_KRA(same hop, pristine host) < 0 for hops within {NEAR:g} Å of the vacancy ({LITERATURE['rule2']})",
        verdict,
        reason,
        stats,
        len(usable),
        _levels(usable),
        _cells(usable),
        {
            "kind": "scatter",
            "x": [h["distance_to_defect"] for h in usable],
            "y": [h["delta_e_a"] for h in usable],
            "labels": [h.get("mechanism_observed") or h.get("mechanism_expected") or "" for h in usable],
            "xlabel": "distance from the hop midpoint to the O vacancy (Å)",
            "xlim": (0.0, max([NEAR + 0.5, *(h["distance_to_defect"] + 0.5 for h in usable)])),
            "ylabel": "ΔE_a: E_KRA − E_KRA(pristine) (eV)",
            "hline": 0.0,
            "band": (-0.30, "literature: 0.69 → 0.39 eV"),
        },
        # every point named: hops at one distance with near-equal ΔE_a overlap in the figure
        table=[
            {"configuration": h.get("configuration"), "hop": f"{h.get('start')} → {h.get('end')}", "distance to V_O (Å)": h["distance_to_defect"],
             "E_KRA (eV)": h["e_kra"], "ΔE_a (eV)": h["delta_e_a"]}
            for h in sorted(usable, key=lambda h: (h["distance_to_defect"], h["delta_e_a"]))
        ],
    )


# ----- rule 3: dopants change the O-vacancy formation energy ------------------------------------------------
def rule_dopants_change_e_vac(configurations: list[dict], level: str) -> RuleResult:
    """``configurations``: rows of one level (descriptors.query.long_table)."""
    rows = [r for r in configurations if r.get("delta_e_vac_o") is not None and r.get("dopant")]
    by_dopant: dict[str, list[float]] = {}
    for r in rows:
        by_dopant.setdefault(r["dopant"], []).append(r["delta_e_vac_o"])
    table, stats, verdicts = [], [], []
    for dopant, values in sorted(by_dopant.items()):
        entry = {"dopant": dopant, "pairs": len(values), "mean ΔE_vac(O) eV": sum(values) / len(values)}
        if len(values) >= N_MIN_GROUP:
            est = bootstrap_mean(values, f"mean ΔE_vac(O) next to {dopant}")
            stats.append(est)
            shifts = abs(est.value) >= 0.1 and (est.low > 0 or est.high < 0)
            verdicts.append(SUPPORTED if shifts else CONTRADICTED)
            entry.update({"95 % interval": f"{est.low:+.3f} to {est.high:+.3f}", "effect": ("raises" if est.value > 0 else "lowers") if shifts else "no clear change"})
        else:
            entry.update({"95 % interval": "-", "effect": f"fewer than {N_MIN_GROUP} pairs"})
        table.append(entry)
    verdict = NOT_ENOUGH if not verdicts else SUPPORTED if SUPPORTED in verdicts else CONTRADICTED
    raising = [t["dopant"] for t in table if t.get("effect") == "raises"]
    reason = {
        NOT_ENOUGH: f"no dopant has {N_MIN_GROUP} dopant–O-vacancy pairs with E_vac(O) at this level",
        SUPPORTED: "at least one dopant shifts E_vac(O) of its neighbouring O by more than 0.1 eV, beyond its 95 % interval"
        + (f"; raised by {', '.join(raising)}" if raising else ""),
        CONTRADICTED: "no dopant shifts E_vac(O) of its neighbouring O by more than 0.1 eV beyond its 95 % interval",
    }[verdict]
    points = [r for r in configurations if r.get("e_vac_o") is not None]
    return RuleResult(
        3,
        "Dopants change the O-vacancy formation energy",
        f"A dopant next to an O site shifts E_vac(O) by more than 0.1 eV ({LITERATURE['rule3']})",
        verdict,
        reason,
        stats,
        len(rows),
        [level] if rows else [],
        _cells(rows),
        {
            "kind": "evac",
            "groups": {r["name"]: (r["e_vac_o"], r.get("e_vac_o_tp")) for r in points},
            "pristine": [r["e_vac_o"] for r in points if not r.get("dopant")],
            "pristine_tp": [r["e_vac_o_tp"] for r in points if not r.get("dopant") and r.get("e_vac_o_tp") is not None],
        },
        table,
    )


# ----- rule 4: narrower Li slab, higher barrier ------------------------------------------------------------
def rule_slab_spacing(configurations: list[dict], level: str) -> RuleResult:
    rows = [r for r in configurations if r.get("e_kra_nearest") is not None and (r.get("li_slab_spacing_near") or r.get("li_slab_spacing")) is not None]
    x = [r.get("li_slab_spacing_near") or r["li_slab_spacing"] for r in rows]
    stats = []
    if len(rows) >= N_MIN:
        rho = spearman(x, [r["e_kra_nearest"] for r in rows], "Spearman ρ(Li-slab spacing near the defect, E_KRA of the nearest hop)")
        stats.append(rho)
        verdict = _directional(rho, -1)
    else:
        verdict = NOT_ENOUGH
    reason = {
        NOT_ENOUGH: f"{len(rows)} configurations have both a Li-slab spacing and a barrier at this level; {N_MIN} are needed",
        SUPPORTED: "the barrier of the hop nearest the defect falls as the Li slab near it widens",
        CONTRADICTED: "the barrier of the hop nearest the defect does not fall as the Li slab near it widens",
    }[verdict]
    return RuleResult(
        4,
        "The barrier rises as the Li slab narrows",
        "E_KRA of the hop nearest the defect falls with the Li-slab spacing near it (Spearman ρ < 0)",
        verdict,
        reason,
        stats,
        len(rows),
        [level] if rows else [],
        _cells(rows),
        {"kind": "scatter", "x": x, "y": [r["e_kra_nearest"] for r in rows], "labels": [r.get("dopant") or r.get("defect") or "" for r in rows],
         "xlabel": "Li-slab spacing within 5 Å of the defect (Å)", "ylabel": "E_KRA of the hop nearest the defect (eV)"},
    )


# ----- rule 5: barrier against the O 2p band centre ---------------------------------------------------------
def rule_o2p_centre(barrier_rows: list[dict], barrier_level: str, electronic_rows: list[dict], electronic_level: str) -> RuleResult:
    """Pairs one configuration's ML barrier with its static's O 2p centre vs the VBM, by
    configuration id. A GPAW static may have run on the same defects in a smaller cell
    (``gpaw.supercell``): its level of theory names that cell, and the verdict says so."""
    electronic = {r["id"]: r for r in electronic_rows if r.get("o2p_center_vbm") is not None}
    pairs = []
    for r in barrier_rows:
        match = electronic.get(r["id"])
        if r.get("e_kra_nearest") is not None and match is not None:
            pairs.append((match["o2p_center_vbm"], r["e_kra_nearest"], r, match))
    other_cell = sum(1 for p in pairs if _static_cell(p[3]) is not None)
    stats = []
    if len(pairs) >= N_MIN:
        rho = spearman([p[0] for p in pairs], [p[1] for p in pairs], "Spearman ρ(O 2p centre vs VBM, E_KRA of the nearest hop)")
        stats.append(rho)
        verdict = SUPPORTED if rho.p_value < 0.05 else CONTRADICTED
    else:
        verdict = NOT_ENOUGH
    cells = sorted({f"NEB {p[2].get('n_atoms')} atoms" for p in pairs} | {f"static {_static_cell(p[3]) or str(p[3].get('n_atoms')) + ' atoms'}" for p in pairs})
    cell_note = f"; {other_cell} of the {len(pairs)} pairs take the static from a smaller cell than the NEB's" if other_cell else ""
    reason = {
        NOT_ENOUGH: f"{len(pairs)} configurations have both a barrier ({barrier_level}) and an O 2p centre ({electronic_level}); {N_MIN} are needed",
        SUPPORTED: "the barrier follows the O 2p band centre (p < 0.05)" + cell_note,
        CONTRADICTED: "the barrier does not follow the O 2p band centre (p ≥ 0.05)" + cell_note,
    }[verdict]
    return RuleResult(
        5,
        "Barrier against the O 2p band centre",
        "The barrier of the hop nearest the defect correlates with the O 2p band centre relative to the VBM (only where both exist for the same configuration)",
        verdict,
        reason,
        stats,
        len(pairs),
        [barrier_level, electronic_level] if pairs else [],
        cells,
        {"kind": "scatter", "x": [p[0] for p in pairs], "y": [p[1] for p in pairs], "labels": [p[2].get("dopant") or p[2].get("defect") or "" for p in pairs],
         "xlabel": f"O 2p band centre − VBM (eV), {electronic_level}", "ylabel": f"E_KRA of the nearest hop (eV), {barrier_level}"},
    )


def _static_cell(row: dict) -> str | None:
    """'2x1x1 cell' where a static level ran in its own cell (its level of theory ends so)."""
    import re

    found = re.search(r", (\d+x\d+x\d+) cell$", row.get("level_of_theory") or "")
    return f"{found.group(1)} cell" if found else None


def evaluate_rules(hops: list[dict], long_rows: list[dict]) -> list[RuleResult]:
    """Every rule on the database's rows, at the barrier level with the most hops (and, for rule 5,
    the electronic level with the most O 2p centres)."""
    by_level: dict[str, list[dict]] = {}
    for h in hops:
        by_level.setdefault(h["level"], []).append(h)
    barrier_level = max(by_level, key=lambda a: len(usable_hops(by_level[a])), default=None)
    level_hops = by_level.get(barrier_level, [])
    rows_of = {}
    for r in long_rows:
        rows_of.setdefault(r["level"], []).append(r)
    barrier_rows = rows_of.get(barrier_level, [])
    electronic = {a: rows for a, rows in rows_of.items() if any(r.get("o2p_center_vbm") is not None for r in rows)}
    electronic_level = max(electronic, key=lambda a: sum(r.get("o2p_center_vbm") is not None for r in electronic[a]), default=None)
    name_of = {r["level"]: r["level_of_theory"] for r in long_rows}
    return [
        rule_tsh_and_n_tm(level_hops),
        rule_o_vacancy_lowers_barriers(level_hops),
        rule_dopants_change_e_vac(barrier_rows, name_of.get(barrier_level, "")),
        rule_slab_spacing(barrier_rows, name_of.get(barrier_level, "")),
        rule_o2p_centre(barrier_rows, name_of.get(barrier_level, "-"), electronic.get(electronic_level, []), name_of.get(electronic_level, "no static level")),
    ]
