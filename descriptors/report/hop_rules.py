"""Rules 1 and 2, judged on distinct physical hops: the tetrahedral path and its n-TM ordering, and
what an O vacancy does to the barriers through and beside it.

Every point is a distinct hop (twins merged, :func:`descriptors.report.evidence.distinct_hops`);
hops that share a leg's saddle are counted as distinct but named dependent. Each rule states its
unit of replication and counts it, and puts the level's validation error beside its effect.
"""

from __future__ import annotations

from descriptors.report.evidence import (
    RuleResult,
    cells_of,
    combine,
    dependent_pairs,
    distinct_hops,
    level_error,
    levels_of,
    situation_of,
    usable_hops,
)
from descriptors.report.stats import (
    CONTRADICTED,
    INCONCLUSIVE,
    N_INTERVAL,
    N_MIN_RANK,
    NOT_ENOUGH,
    SUPPORTED,
    difference_interval,
    mean_interval,
    n_to_resolve,
    spearman,
    verdict_of,
)

__all__ = ["rule_tsh_and_n_tm", "rule_o_vacancy_lowers_barriers", "NEAR", "BESIDE_MIN", "LITERATURE"]

NEAR = 4.0  # Å: a hop "around" a vacancy has its midpoint this close to it
BESIDE_MIN = 2.0  # Å: a hop beside a vacancy (edge intact) has its midpoint 2-4 Å from it; through its edge, ~1.5 Å
MIN_DISTANCE_SPAN = 1.0  # Å of distances below which no trend with distance is read (a rank over 0.02 Å is noise)
LITERATURE = {
    # the effect sizes "inconclusive" says it would need the n to resolve
    "rule1_tsh_odh": (-0.19, "DFT (GGA) in the shared validation set: TSH − ODH = −0.19 eV (LiNiO2) and −0.37 eV (LiCoO2); the smaller"),
    "rule2": (-0.30, "DFT for Li-rich oxides: 0.69 → 0.39 eV next to an O vacancy (ΔE_a ≈ −0.30 eV), 0–0.21 eV at the extreme"),
}


def _power(estimate, size: float | None, groups: int, what: str) -> str:
    """What n would resolve an effect of the literature's size (or, where it gives none, of the
    observed size) at the observed spread."""
    from descriptors.report.stats import n_to_resolve_correlation

    if not estimate.unit:  # a rank correlation
        n = n_to_resolve_correlation(estimate.value)
        return f"{what}: a rank correlation of the observed size ({estimate.value:+.2f}) would need about {n} points (two-sided 5 %, 80 % power)" if n else ""
    effect, source = (size, "the literature's") if size is not None else (estimate.value, "the observed")
    n = n_to_resolve(effect, estimate.spread, groups)
    if n is None:
        return ""
    unit = "points per group" if groups > 1 else "points"
    return (f"{what}: {source} effect of {abs(effect):.2f} eV at the observed spread (s = {estimate.spread:.3f} eV) "
            f"would need about {n} {unit} (two-sided 5 %, 80 % power)")


def _dependence(points: list[dict]) -> str:
    pairs = dependent_pairs(points)
    merged = sum(p["n_configurations"] - 1 for p in points)
    out = []
    if merged:
        out.append(f"{merged} twin row{'s' if merged != 1 else ''} merged")
    if pairs:
        out.append(f"{pairs} pair{'s' if pairs != 1 else ''} share a leg's saddle (dependent)")
    return f" ({'; '.join(out)})" if out else ""


# ----- rule 1: fewer TM faces, lower barrier; TSH below ODH ---------------------------------------------
def rule_tsh_and_n_tm(hops: list[dict], formulas: dict | None = None) -> RuleResult:
    """Two claims, each judged on its own evidence, over distinct hops (twins merged):

    * the n-TM ordering, over hops a divacancy opened to the tetrahedral path that took it (observed
      TSH along the whole band): the vacancy type held fixed, so the ranking measures n-TM and not
      single against divacancy. Two classes of at least N_INTERVAL hops: the difference of their
      means (higher n-TM minus lower) with Welch's interval; three or more: Spearman's ρ with its
      interval. Single-vacancy hops that bent into a 0-TM tetrahedral site are shown apart;
    * TSH < ODH where a divacancy allows it: those divacancy TSH hops against single-vacancy hops
      that went through the O–O edge (expected and observed ODH), the comparison the literature makes.
    """
    formulas = formulas or {}
    level = levels_of(hops)[0] if levels_of(hops) else ""
    points = distinct_hops(usable_hops(hops))
    divacancy_tsh = [p for p in points if p.get("mechanism_observed") == "TSH" and p.get("mechanism_expected") == "TSH" and p.get("n_tm") is not None]
    bent = [p for p in points if p.get("mechanism_observed") == "TSH" and p.get("mechanism_expected") != "TSH"]
    single_odh = [p for p in points if p.get("mechanism_observed") == "ODH" and p.get("mechanism_expected") == "ODH"]
    left_tetrahedral = [p for p in points if p.get("mechanism_expected") == "TSH" and p.get("mechanism_observed") == "ODH"]
    unlabelled = [p for p in points if p.get("mechanism_observed") not in ("ODH", "TSH", "V_O-edge")]
    stats, parts, errors, power = [], [], [], []

    # part A: the n-TM ordering among divacancy TSH hops
    counts = {n: sum(p["n_tm"] == n for p in divacancy_tsh) for n in sorted({p["n_tm"] for p in divacancy_tsh})}
    ranked = [n for n, c in counts.items() if c >= N_INTERVAL]
    found = ", ".join(f"{c} {n}-TM" for n, c in counts.items()) or "none"
    estimate = None
    if len(ranked) >= 3 and sum(counts[n] for n in ranked) >= N_MIN_RANK:
        use = [p for p in divacancy_tsh if p["n_tm"] in ranked]
        estimate = spearman([p["n_tm"] for p in use], [p["e_kra"] for p in use], "Spearman ρ(n-TM, E_KRA) over divacancy TSH hops")
    elif len(ranked) == 2:
        low, high = ranked
        estimate = difference_interval([p["e_kra"] for p in divacancy_tsh if p["n_tm"] == high], [p["e_kra"] for p in divacancy_tsh if p["n_tm"] == low],
                                       f"mean E_KRA({high}-TM) − mean E_KRA({low}-TM), divacancy TSH hops")
    verdict = verdict_of(estimate, +1)
    n_a = sum(counts[n] for n in ranked) if estimate else len(divacancy_tsh)
    if estimate is None:
        why = f"{len(divacancy_tsh)} distinct divacancy hops took the tetrahedral path ({found}); {N_INTERVAL} in each of at least two n-TM classes are needed"
    else:
        stats.append(estimate)
        why = {SUPPORTED: "E_KRA rises with n-TM along divacancy tetrahedral paths", CONTRADICTED: "E_KRA falls with n-TM along divacancy tetrahedral paths",
               INCONCLUSIVE: "the interval of the n-TM effect contains zero"}[verdict] + f" ({found}{_dependence(divacancy_tsh)})"
        quantity, effect = ("e_kra_difference", estimate.value) if estimate.unit else ("e_kra", None)
        errors.append("n-TM ordering: " + level_error(level, quantity, effect, situation_of(divacancy_tsh, formulas)))
        if verdict == INCONCLUSIVE:
            power.append(_power(estimate, None, 2, "n-TM ordering"))
    parts.append({"part": "E_KRA(0-TM) < E_KRA(1-TM) < E_KRA(2-TM) on divacancy tetrahedral paths", "verdict": verdict, "n": n_a, "why": why})

    # part B: TSH < ODH where a divacancy allows it
    estimate = None
    if divacancy_tsh and single_odh:
        estimate = difference_interval([p["e_kra"] for p in divacancy_tsh], [p["e_kra"] for p in single_odh], "mean E_KRA(divacancy TSH) − mean E_KRA(single-vacancy ODH)")
    verdict = verdict_of(estimate, -1)
    if verdict == NOT_ENOUGH:
        why = f"{len(divacancy_tsh)} distinct divacancy hops took the tetrahedral path and {len(single_odh)} single-vacancy hops the O–O edge; {N_INTERVAL} per group are needed"
    else:
        stats.append(estimate)
        why = {SUPPORTED: "divacancy tetrahedral hops lie below single-vacancy dumbbell hops",
               CONTRADICTED: "divacancy tetrahedral hops lie above single-vacancy dumbbell hops",
               INCONCLUSIVE: "the interval of the difference contains zero"}[verdict] + _dependence(divacancy_tsh + single_odh)
        errors.append("TSH − ODH: " + level_error(level, "e_kra_difference", estimate.value, situation_of(divacancy_tsh + single_odh, formulas)))
        if verdict == INCONCLUSIVE:
            power.append(_power(estimate, LITERATURE["rule1_tsh_odh"][0], 2, "TSH − ODH"))
    parts.append({"part": "TSH < ODH where a divacancy allows it", "verdict": verdict, "n": len(divacancy_tsh) + len(single_odh), "why": why})

    verdict, reason = combine(parts)
    if not errors:
        errors.append(level_error(level, "e_kra", None, situation_of(divacancy_tsh + single_odh, formulas)) if level else "no usable hop at any level")
    apart = [{"point": _name(p), "E_KRA (eV)": p["e_kra"], "why": "a single-vacancy hop that bent into a tetrahedral site: not a divacancy TSH hop, not pooled"} for p in bent]
    apart += [{"point": _name(p), "E_KRA (eV)": p["e_kra"], "why": "a divacancy hop that left the tetrahedral site for the O–O edge (observed ODH)"} for p in left_tetrahedral]
    apart += [{"point": _name(p), "E_KRA (eV)": p["e_kra"], "why": "the band passes neither the tetrahedral site nor the edge midpoint: no mechanism"} for p in unlabelled]
    evidence = divacancy_tsh + single_odh
    return RuleResult(
        1,
        "Fewer TM neighbours of the tetrahedral site, lower barrier; TSH below ODH",
        "E_KRA(0-TM) < E_KRA(1-TM) < E_KRA(2-TM) along the tetrahedral path a divacancy opens, and TSH < ODH where a divacancy allows it "
        "(the mechanism is where the moving Li went along the whole converged band)",
        verdict,
        reason,
        stats,
        len(evidence),
        levels_of(evidence),
        cells_of(evidence),
        {"kind": "strip", "groups": _rule1_groups(divacancy_tsh, bent, left_tetrahedral, single_odh), "ylabel": "E_KRA (eV), one point per distinct hop",
         "zero": None},
        table=[{"part": p["part"], "verdict": p["verdict"], "distinct hops": p["n"]} for p in parts],
        parts=parts,
        unit="distinct hops (twin bands merged; hops sharing a leg's saddle counted apart but named dependent)",
        error=errors,
        power="; ".join(x for x in power if x),
        apart=apart,
    )


def _name(p: dict) -> str:
    extra = f" (+{p['n_configurations'] - 1} twin{'s' if p['n_configurations'] > 2 else ''})" if p.get("n_configurations", 1) > 1 else ""
    return f"{p.get('configuration')}: {p.get('start')} → {p.get('end')}{extra}"


def _rule1_groups(divacancy_tsh, bent, left_tetrahedral, single_odh) -> dict[str, list[float]]:
    groups = {}
    for n in sorted({p["n_tm"] for p in divacancy_tsh}):
        groups[f"TSH {n}-TM, divacancy"] = [p["e_kra"] for p in divacancy_tsh if p["n_tm"] == n]
    if bent:
        groups["TSH, single vacancy (apart)"] = [p["e_kra"] for p in bent]
    if left_tetrahedral:
        groups["divacancy, took the O–O edge (apart)"] = [p["e_kra"] for p in left_tetrahedral]
    groups["ODH, single vacancy"] = [p["e_kra"] for p in single_odh]
    return groups


# ----- rule 2: an O vacancy lowers the barriers through and beside it --------------------------------------
def _comparable(h: dict) -> bool:
    """ΔE_a against the same hop in the parent, on the same route, with sound profiles on both sides."""
    flags = [f.strip() for f in str(h.get("delta_e_a_flags") or "").split(",") if f.strip()]
    return h.get("delta_e_a") is not None and h.get("delta_e_a_comparison") == "like with like" and not any(f.startswith("reference ") for f in flags)


def _vacancy_part(name: str, hops: list[dict], formulas: dict, level: str) -> tuple[dict, list, list[dict], list[str], str, list[dict]]:
    """(part, statistics, apart, errors, power, points) of one set of hops around O vacancies.

    The unit is the O vacancy (a configuration): its distinct comparable hops' ΔE_a averaged, so that
    several hops around one vacancy are not counted as independent cases."""
    comparable = [h for h in hops if _comparable(h)]
    apart = []
    for h in hops:
        if _comparable(h):
            continue
        why = h.get("delta_e_a_comparison") or "no ΔE_a (the same hop did not run in the parent configuration)"
        if h.get("delta_e_a") is not None and "reference " in str(h.get("delta_e_a_flags") or ""):
            why = f"the reference's profile is flagged ({h['delta_e_a_flags']})"
        apart.append({"point": _name({**h, "n_configurations": 1}), "distance to V_O (Å)": h.get("distance_to_defect"), "ΔE_a (eV)": h.get("delta_e_a"), "why": why})
    points = distinct_hops(comparable, "delta_e_a")
    by_vacancy: dict[str, list[float]] = {}
    for p in points:
        by_vacancy.setdefault(p["configuration_id"], []).append(p["delta_e_a"])
    sites = sorted({str(p.get("nearest_defect")) for p in points})
    per_vacancy = [sum(v) / len(v) for v in by_vacancy.values()]
    stats, errors, power = [], [], ""
    if not per_vacancy:
        return ({"part": name, "verdict": NOT_ENOUGH, "n": 0, "why": f"no hop {name} has a ΔE_a on the same route against its parent"}, stats, apart, errors, power, points)
    estimate = mean_interval(per_vacancy, f"mean ΔE_a, hops {name}")
    situation = situation_of(comparable, formulas, o_vacancy=True)
    verdict = verdict_of(estimate, -1)
    counted = f"{len(per_vacancy)} O vacanc{'ies' if len(per_vacancy) != 1 else 'y'} ({', '.join(sites)}), {len(points)} distinct hops"
    if verdict == NOT_ENOUGH:
        # no verdict, but the numbers a reader would ask for: each vacancy's mean ΔE_a and its hops
        named = {p["configuration_id"]: p.get("configuration") or p["configuration_id"] for p in points}
        means = ", ".join(f"{named[cid]} {sum(v) / len(v):+.3f} eV ({len(v)} hop{'s' if len(v) != 1 else ''})" for cid, v in by_vacancy.items())
        why = f"hops {name}: {counted}: mean ΔE_a per vacancy {means}; {N_INTERVAL} vacancies are needed for an interval"
        errors.append(f"{name}: " + level_error(level, "e_kra_difference", None, situation))
    else:
        stats.append(estimate)
        why = {SUPPORTED: f"hops {name} have lower barriers than the same hops in the parent configuration",
               CONTRADICTED: f"hops {name} have higher barriers than the same hops in the parent configuration",
               INCONCLUSIVE: f"the interval of ΔE_a for hops {name} contains zero"}[verdict] + f" ({counted})"
        errors.append(f"{name}: " + level_error(level, "e_kra_difference", estimate.value, situation))
        if verdict == INCONCLUSIVE:
            power = _power(estimate, LITERATURE["rule2"][0], 1, name)
        distances = [p["distance_to_defect"] for p in points if p.get("distance_to_defect") is not None]
        if len(distances) >= N_MIN_RANK and max(distances) - min(distances) >= MIN_DISTANCE_SPAN:
            stats.append(spearman(distances, [p["delta_e_a"] for p in points if p.get("distance_to_defect") is not None], f"Spearman ρ(distance to V_O, ΔE_a), hops {name}"))
    return {"part": name, "verdict": verdict, "n": len(per_vacancy), "why": why}, stats, apart, errors, power, points


def rule_o_vacancy_lowers_barriers(hops: list[dict], formulas: dict | None = None, names: dict | None = None) -> RuleResult:
    """Two claims, judged apart: hops **through** the vacant O's own edge (``V_O-edge``: the edge lost
    an O, the path the literature's 0.69 → 0.39 eV refers to) and hops **beside** a vacancy (midpoint
    2-4 Å from it, edge intact). ΔE_a is against the same hop in the parent configuration (the one
    without this vacancy, by id) on the same route; a point whose reference took another route, or
    whose parent never ran the hop, is shown apart and named."""
    formulas, names = formulas or {}, names or {}
    level = levels_of(hops)[0] if levels_of(hops) else ""
    around = [h for h in usable_hops(hops) if str(h.get("nearest_defect") or "").startswith("V_O") and (h.get("distance_to_defect") or 99) <= NEAR]
    through = [h for h in around if h.get("mechanism_expected") == "V_O-edge"]
    beside = [h for h in around if h.get("mechanism_expected") != "V_O-edge" and (h.get("distance_to_defect") or 0) >= BESIDE_MIN]
    parts, stats, apart, errors, power, points = [], [], [], [], [], []
    for name, subset in (("through the vacant O's edge", through), (f"beside a vacancy ({BESIDE_MIN:g}-{NEAR:g} Å, edge intact)", beside)):
        part, s, a, e, p, pts = _vacancy_part(name, subset, formulas, level)
        parts.append(part)
        stats += s
        apart += a
        errors += e
        power += [p] if p else []
        points += [{**q, "part": name} for q in pts]
    verdict, reason = combine(parts)
    judged = [p["part"] for p in parts if p["verdict"] != NOT_ENOUGH]
    reason = (f"judged on hops {' and on hops '.join(judged)}: " if judged else "") + reason
    n = sum(p["n"] for p in parts)
    if not errors:
        errors.append(level_error(level, "e_kra_difference", None, {"o_vacancy": True}) if level else "no hop around an O vacancy at any level")
    return RuleResult(
        2,
        "An O vacancy near the Li layer lowers the barriers around it",
        "ΔE_a = E_KRA(with V_O) − E_KRA(the same hop in the configuration without that vacancy) < 0, for hops through the vacant O's edge and, "
        f"separately, for hops beside it ({LITERATURE['rule2'][1]})",
        verdict,
        reason,
        stats,
        n,
        levels_of(through + beside),
        cells_of(through + beside),
        {
            "kind": "scatter",
            "x": [p["distance_to_defect"] for p in points],
            "y": [p["delta_e_a"] for p in points],
            "labels": [("through the edge" if p["part"].startswith("through") else "beside (edge intact)") for p in points],
            "xlabel": "distance from the hop midpoint to the O vacancy (Å)",
            "xlim": (0.0, max([NEAR + 0.5, *(p["distance_to_defect"] + 0.5 for p in points)])),
            "ylabel": "ΔE_a against the parent configuration (eV)",
            "hline": 0.0,
            "band": (LITERATURE["rule2"][0], "literature: 0.69 → 0.39 eV"),
            "intervals": [(s.name, s.value, s.low, s.high) for s in stats if s.low is not None and s.unit],
            # points with a ΔE_a that is another comparison: drawn hollow, named, outside the statistic
            "apart": [(a["distance to V_O (Å)"], a["ΔE_a (eV)"], "apart") for a in apart if a["ΔE_a (eV)"] is not None and a["distance to V_O (Å)"] is not None],
        },
        table=[
            {"part": p["part"], "configuration": p.get("configuration"), "hop": f"{p.get('start')} → {p.get('end')}", "distance to V_O (Å)": p["distance_to_defect"],
             "E_KRA (eV)": p.get("e_kra"), "parent": names.get(p.get("reference_configuration_id"), p.get("reference_configuration_id")),
             "ΔE_a (eV)": p["delta_e_a"]}
            for p in sorted(points, key=lambda p: (p["part"], p["distance_to_defect"], p["delta_e_a"]))
        ],
        parts=parts,
        unit="O vacancies (configurations), each the mean ΔE_a of its distinct hops on the same route as the parent's",
        error=errors,
        power="; ".join(power),
        apart=apart,
    )
