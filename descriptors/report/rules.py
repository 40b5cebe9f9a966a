"""The design rules of the Li-rich cathode literature, tested on the user's own database.

Each rule returns a :class:`~descriptors.report.evidence.RuleResult`: its claim; a verdict of four
(``supported``: the interval of its statistic excludes zero on the claim's side; ``contradicted``:
it excludes zero on the other side; ``inconclusive``: it contains zero, with the n that would resolve
an effect of the literature's size; ``not enough data``: too few points for an interval); the
statistic with an interval honest at small n (:mod:`descriptors.report.stats`); the unit of
replication and how many (distinct hops, O vacancies, O sites); the level of theory with its
validation error beside the effect; the figure and the points shown apart, each named.

* rules 1-2 (:mod:`descriptors.report.hop_rules`): on distinct hops of the hop table;
* rules 3-5 (:mod:`descriptors.report.configuration_rules`): on configurations.

A rule an ML potential contradicts is a finding, not a failure. Nothing here opens a database or
draws a figure: the rows come in, results go out (:mod:`descriptors.report.html` assembles them,
:mod:`descriptors.report.plots` draws them).
"""

from __future__ import annotations

import re

from descriptors.report.configuration_rules import rule_dopant_valence_and_e_vac, rule_o2p_centre, rule_slab_spacing
from descriptors.report.evidence import RuleResult, usable_hops
from descriptors.report.hop_rules import NEAR, rule_o_vacancy_lowers_barriers, rule_tsh_and_n_tm
from descriptors.report.stats import CONTRADICTED, INCONCLUSIVE, N_INTERVAL, N_MIN_RANK, NOT_ENOUGH, SUPPORTED, VERDICTS

__all__ = [
    "N_INTERVAL",
    "N_MIN_RANK",
    "NEAR",
    "SUPPORTED",
    "CONTRADICTED",
    "INCONCLUSIVE",
    "NOT_ENOUGH",
    "VERDICTS",
    "RuleResult",
    "evaluate_rules",
    "judged_level",
    "vacancy_rule_at_other_levels",
    "usable_hops",
    "rule_tsh_and_n_tm",
    "rule_o_vacancy_lowers_barriers",
    "rule_dopant_valence_and_e_vac",
    "rule_slab_spacing",
    "rule_o2p_centre",
]


def _hops_by_level(hops: list[dict]) -> dict[str, list[dict]]:
    by_level: dict[str, list[dict]] = {}
    for h in hops:
        by_level.setdefault(h["level"], []).append(h)
    return by_level


def _judged_level(by_level: dict[str, list[dict]]) -> str | None:
    """The barrier level the verdicts use: the one with the most usable hops."""
    return max(by_level, key=lambda a: len(usable_hops(by_level[a])), default=None)


def judged_level(hops: list[dict]) -> str | None:
    """The alias of the barrier level :func:`evaluate_rules` judges these hops at (the most usable hops)."""
    return _judged_level(_hops_by_level(hops))


def evaluate_rules(hops: list[dict], long_rows: list[dict], configurations: list[dict] | None = None) -> list[RuleResult]:
    """Every rule on the database's rows, at the barrier level with the most usable hops (and, for
    rule 5, the electronic level with the most O 2p centres). ``configurations``: the configurations
    table's rows (formulas for what the validation set covers; summaries for a dopant's valence)."""
    by_level = _hops_by_level(hops)
    barrier_level = _judged_level(by_level)
    level_hops = by_level.get(barrier_level, [])
    rows_of: dict[str, list[dict]] = {}
    for r in long_rows:
        rows_of.setdefault(r["level"], []).append(r)
    if barrier_level is None:  # no hop at any level: the configurations' rules at the level with the most rows
        barrier_level = max(rows_of, key=lambda a: len(rows_of[a]), default=None)
    barrier_rows = rows_of.get(barrier_level, [])
    electronic = {a: rows for a, rows in rows_of.items() if any(r.get("o2p_center_vbm") is not None for r in rows)}
    electronic_level = max(electronic, key=lambda a: sum(r.get("o2p_center_vbm") is not None for r in electronic[a]), default=None)
    name_of = {r["level"]: r["level_of_theory"] for r in long_rows}
    summaries = {c["id"]: c for c in configurations or []}
    formulas = {c["id"]: c.get("formula") for c in configurations or [] if c.get("formula")}
    names = {c["id"]: c.get("name") for c in configurations or []}
    from descriptors.report.evidence import OWN_ERRORS
    from descriptors.report.own_validation import own_errors

    token = OWN_ERRORS.set(own_errors(hops))  # the database's own ML − GPAW error, where lrox check measured one
    try:
        return _rules(level_hops, formulas, names, barrier_rows, name_of, barrier_level, summaries, electronic, electronic_level)
    finally:
        OWN_ERRORS.reset(token)


def vacancy_rule_at_other_levels(hops: list[dict], configurations: list[dict] | None = None, judged_level: str | None = None) -> list[RuleResult]:
    """Rule 2 at every barrier level but the one the verdicts use, where that level has a hop around
    an O vacancy: a DFT check (``lrox check``) of the ML screen's vacancy hops is judged on its own,
    beside the ML verdict, never pooled with it. ``judged_level``: the level alias of the verdicts
    (default: the level with the most usable hops, as :func:`evaluate_rules` picks it)."""
    by_level = _hops_by_level(hops)
    if judged_level is None:
        judged_level = _judged_level(by_level)
    formulas = {c["id"]: c.get("formula") for c in configurations or [] if c.get("formula")}
    names = {c["id"]: c.get("name") for c in configurations or []}
    from descriptors.report.evidence import OWN_ERRORS
    from descriptors.report.own_validation import own_errors

    out = []
    token = OWN_ERRORS.set(own_errors(hops))
    try:
        for level, level_hops in sorted(by_level.items()):
            if level == judged_level:
                continue
            cell = _smaller_cell(level_hops)
            if cell:  # lrox check: every hop of the level in one smaller cell, ΔE_a within it
                level_hops = [_without_cell_flag(h) for h in level_hops]
            near_vacancy = [h for h in usable_hops(level_hops) if str(h.get("nearest_defect") or "").startswith("V_O") and (h.get("distance_to_defect") or 99) <= NEAR]
            if near_vacancy:
                rule = rule_o_vacancy_lowers_barriers(level_hops, formulas, names)
                if cell:
                    rule.error.append(
                        f"every hop at this level is in the {cell} cell, where a defect sits closer to its periodic image than the converged 8 Å "
                        "(each hop is flagged 'cell not converged'); ΔE_a compares a hop with its parent's hop in that same cell, "
                        "so it is judged here, beside the ML level in the same cell, never pooled with the verdicts above"
                    )
                out.append(rule)
    finally:
        OWN_ERRORS.reset(token)
    return out


_CELL_FLAG = re.compile(r"cell not converged( \([^)]*\))?")


def _smaller_cell(hops: list[dict]) -> str | None:
    """The cell of a level that ``lrox check`` wrote (its level of theory ends in ", 2x1x1 cell"), or None."""
    names = {str(h.get("level_of_theory") or "") for h in hops}
    cells = {m.group(1) for n in names if (m := re.search(r", (\d+x\d+x\d+) cell$", n))}
    return next(iter(cells)) if len(cells) == 1 and len(names) == 1 else None


def _without_cell_flag(hop: dict) -> dict:
    """The hop with its 'cell not converged' flag taken off (said in the rule instead)."""
    flags = hop.get("flags")
    if not flags:
        return hop
    text = flags if isinstance(flags, str) else ", ".join(map(str, flags))
    kept = [f.strip() for f in _CELL_FLAG.sub("", text).split(",") if f.strip()]
    return {**hop, "flags": ", ".join(kept) or None}


def _rules(level_hops, formulas, names, barrier_rows, name_of, barrier_level, summaries, electronic, electronic_level) -> list[RuleResult]:
    return [
        rule_tsh_and_n_tm(level_hops, formulas),
        rule_o_vacancy_lowers_barriers(level_hops, formulas, names),
        rule_dopant_valence_and_e_vac(barrier_rows, name_of.get(barrier_level, ""), summaries),
        rule_slab_spacing(barrier_rows, name_of.get(barrier_level, ""), level_hops, formulas),
        rule_o2p_centre(barrier_rows, name_of.get(barrier_level, "-"), electronic.get(electronic_level, []), name_of.get(electronic_level, "no static level"), level_hops,
                        formulas),
    ]
