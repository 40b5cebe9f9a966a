"""What a verdict stands on: the rule's result, its points as distinct physical hops, and the level of
theory's validation error beside its effect.

* :func:`distinct_hops`: hop rows merged into one point per twin group (one physical hop, however
  many configurations computed it; ``descriptors.records.twins``), each carrying how many rows share
  it and the groups it is dependent on;
* :func:`level_error`: the level's measured validation error on the kind of quantity a verdict
  judges (barriers, E_KRA, differences of E_KRA), its signed mean where it is biased, whether the
  effect exceeds it, and what of the situation the validation set never covered (no Mn, no O vacancy).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field

from descriptors.physics.barriers import only_mechanism_flags
from descriptors.physics.levels import uncovered, validation_error
from descriptors.report.stats import CONTRADICTED, INCONCLUSIVE, NOT_ENOUGH, SUPPORTED, Estimate

__all__ = ["RuleResult", "usable_hops", "distinct_hops", "level_error", "combine", "elements_of", "situation_of", "levels_of", "cells_of"]


@dataclass
class RuleResult:
    """One design rule judged on the database: its claim, verdict and why; the statistics; the unit of
    replication and how many of them; the level of theory and its error beside the effect; what n
    would resolve it; the figure and the table; the points shown apart, each named."""

    number: int
    title: str
    claim: str
    verdict: str
    reason: str  # one sentence: why this verdict
    statistics: list[Estimate] = field(default_factory=list)
    n: int = 0  # units of replication behind the verdict
    levels: list[str] = field(default_factory=list)
    cells: list[str] = field(default_factory=list)
    figure: dict = field(default_factory=dict)  # what descriptors.report.plots.rule_figure draws
    table: list[dict] = field(default_factory=list)  # rows shown under the figure
    parts: list[dict] = field(default_factory=list)  # a rule of several claims: each claim's own verdict
    unit: str = ""  # the unit of replication, counted by n
    error: list[str] = field(default_factory=list)  # the level's validation error beside each effect
    power: str = ""  # what an inconclusive verdict would need
    apart: list[dict] = field(default_factory=list)  # points not pooled, each with why


def usable_hops(hops: list[dict]) -> list[dict]:
    """Hops whose E_KRA can be trusted: converged, no flag but a mechanism disagreement (which the
    rules read as data: they judge on the observed mechanism)."""
    return [
        h for h in hops
        if h.get("e_kra") is not None and h.get("status") in ("ok", "flagged") and (not (flags := h.get("flags")) or _only_mechanism(flags))
    ]


_ONLY_MECHANISM: dict[str, bool] = {}  # a hop table's flags text → only_mechanism_flags: a few texts over thousands of hops


def _only_mechanism(flags) -> bool:
    if not isinstance(flags, str):
        return only_mechanism_flags(flags)
    found = _ONLY_MECHANISM.get(flags)
    if found is None:
        found = _ONLY_MECHANISM[flags] = only_mechanism_flags(flags)
    return found


def distinct_hops(rows: list[dict], value: str = "e_kra") -> list[dict]:
    """One point per physical hop: rows of one twin group merged (the mean of their ``value``, equal
    within the resolution), with ``n_configurations`` (rows sharing it), ``configurations`` and
    ``dependent_on`` (groups whose band shares one of its saddles). The point keeps the fields of
    the group's first row (the representative's where it is among them)."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        key = r.get("twin_group") or r.get("id") or r.get("hop_id")
        members = groups.get(key)
        if members is None:
            groups[key] = [r]
        else:
            members.append(r)
    points = []
    for group, members in groups.items():
        first = members[0]
        if len(members) == 1:  # most hops have no twin: the same point, without the loops
            found = first.get(value)
            values = [] if found is None else [found]
            configurations = [str(first.get("configuration"))]
        else:
            for m in members:
                if m.get("hop_id") == group:
                    first = m
                    break
            values = [m[value] for m in members if m.get(value) is not None]
            configurations = sorted({str(m.get("configuration")) for m in members})
        point = {**first, "twin_group": group, "n_configurations": len(members), "configurations": configurations}
        if values:
            point[value] = sum(values) / len(values)
        dependent = first.get("dependent_on")
        point["dependent_on"] = [d.strip() for d in dependent.split(",")] if isinstance(dependent, str) else list(dependent or [])
        points.append(point)
    return points


def dependent_pairs(points: list[dict]) -> int:
    """How many pairs of these points share a leg's saddle (dependent, not independent data)."""
    groups = {p["twin_group"] for p in points}
    return sum(1 for p in points for d in p.get("dependent_on", []) if d in groups) // 2


def elements_of(formulas) -> set[str]:
    from pymatgen.core import Composition

    out = set()
    for f in formulas:
        try:
            out |= {str(e) for e in Composition(f).elements}
        except (ValueError, TypeError):
            continue
    return out


# The database's own ML − GPAW errors (descriptors.report.own_validation), set by evaluate_rules for
# the rules it runs: where a level has one, it is that level's expected error in place of the generic one
OWN_ERRORS: contextvars.ContextVar[list] = contextvars.ContextVar("own_errors", default=[])


def situation_of(rows: list[dict], formulas: dict, o_vacancy: bool = False) -> dict:
    """What the rows' situation holds that a validation set may not: the elements of their
    configurations (by id), whether any has an O vacancy, and their dopants."""
    return {
        # each formula parsed once (thousands of rows share a handful of formulas)
        "elements": elements_of({formulas.get(r.get("configuration_id")) for r in rows if formulas.get(r.get("configuration_id"))}),
        "o_vacancy": o_vacancy or any("V_O" in str(r.get("configuration") or "") for r in rows),
        "dopants": sorted({d for r in rows for d in str(r.get("dopant") or "").split(",") if d}),
    }


def level_error(level: str, quantity: str, effect: float | None, situation: dict | None = None) -> str:
    """One sentence: the level, its validation error on this kind of quantity (and, for a difference,
    on E_KRA itself: a bias cancels in a difference, a scatter does not), signed where biased, whether
    the effect exceeds it, the flagged validation rows left out, and what of the situation the
    validation never covered. Where the database holds its own GPAW check of this ML level
    (``lrox check``), that error is used, and the sentence says so."""
    from descriptors.report.own_validation import own_error_of

    own = own_error_of(OWN_ERRORS.get(), level)
    if own is not None:
        text = f"{level}: expected error from {own.text()}, used in place of the generic validation set"
        if effect is not None:
            text += f". The effect, {abs(effect):.3f} eV, {'exceeds' if abs(effect) > own.mae else 'is within'} it"
        return text
    situation = situation or {}
    what = {"barrier": "barriers", "e_kra": "E_KRA", "e_kra_difference": "differences of E_KRA"}[quantity]
    errors = [e for e in (validation_error(level, quantity), validation_error(level, "e_kra") if quantity == "e_kra_difference" else None) if e]
    missing = uncovered(level, situation.get("elements", ()), situation.get("o_vacancy", False), situation.get("dopants", ()))
    if not errors:
        text = f"{level}: no validation of {what} at this level"
    else:
        text = f"{level}: " + "; ".join(e.text(with_level=False) for e in errors)
        if errors[0].excluded:
            text += f"; left out as flagged: {', '.join(errors[0].excluded)}"
        if effect is not None:
            largest = max(e.mae for e in errors)
            if abs(effect) > largest:
                text += f". The effect, {abs(effect):.3f} eV, exceeds {'both' if len(errors) > 1 else 'it'}"
            elif abs(effect) > min(e.mae for e in errors):
                text += f". The effect, {abs(effect):.3f} eV, exceeds the error of differences but not that of E_KRA ({largest:.3f} eV)"
            else:
                text += f". The effect, {abs(effect):.3f} eV, is within the level's error"
    if missing:
        text += ". The validation set has " + ", ".join(missing) + ": the error here is not measured"
    return text


def combine(parts: list[dict]) -> tuple[str, str]:
    """The verdict of a rule of several claims, and what it rests on: the one verdict its tested parts
    share; ``inconclusive`` where they differ; ``not enough data`` where none could be tested."""
    tested = [p for p in parts if p["verdict"] != NOT_ENOUGH]
    if not tested:
        return NOT_ENOUGH, "; ".join(p["why"] for p in parts)
    verdicts = {p["verdict"] for p in tested}
    if len(verdicts) == 1:
        verdict = verdicts.pop()
        reason = "; ".join(p["why"] for p in tested)
    else:
        verdict = INCONCLUSIVE
        reason = "its parts disagree: " + "; ".join(f"{p['part']}: {p['verdict']} ({p['why']})" for p in tested)
    untested = [p for p in parts if p["verdict"] == NOT_ENOUGH]
    if untested:
        reason += ". Not tested: " + "; ".join(f"{p['part']}: {p['why']}" for p in untested)
    return verdict, reason


def levels_of(rows: list[dict]) -> list[str]:
    return sorted({r["level_of_theory"] for r in rows if r.get("level_of_theory")})


def cells_of(rows: list[dict]) -> list[str]:
    return sorted({f"{r.get('n_atoms')} atoms" for r in rows if r.get("n_atoms")})


__all__ += ["dependent_pairs", "SUPPORTED", "CONTRADICTED", "INCONCLUSIVE", "NOT_ENOUGH"]
