"""A committee of ML models as its own level of theory, made of its members' numbers (never a mix of two models in one difference)."""

from __future__ import annotations

from descriptors.physics.levels import committee_members, level_of_theory
from descriptors.records.schema import GEOMETRY_NAMES

__all__ = ["COMMITTEE_MEANS", "committee_levels", "committee_rows"]

COMMITTEE_MEANS = ("barrier", "e_kra", "delta_e_a", "e_vac_o", "e_vac_o_tp", "e_vac_li", "delta_e_vac_o")


def committee_levels(result: dict) -> list[str]:
    """The member levels ("MLIP 7net-0", ...) of a committee screen, in the spec's order; [] otherwise."""
    prov = result.get("provenance") or {}
    if prov.get("backend") != "mlip":
        return []
    models = committee_members(prov.get("settings") or {})
    return [level_of_theory("mlip", {"model": m}) for m in models] if len(models) > 1 else []


def committee_rows(rows: list[dict], members: list[str], prov: dict) -> list[dict]:
    """The committee's rows: each energy-derived number is the mean of the members' values (every
    member computed it from its own relaxations and references; no difference mixes two models),
    with ``barrier_spread`` (max − min of the members' barriers) per hop; the geometry descriptors
    are the first member's, whose relaxed cells also feed the statics."""
    level, settings_hash = prov["level_of_theory"], prov["settings_hash"]
    grouped: dict[tuple, dict[str, dict]] = {}
    for row in rows:
        if row["level_of_theory"] in members:
            grouped.setdefault((row["configuration_id"], row["name"], row["subject"]), {})[row["level_of_theory"]] = row
    out = []

    def committee_row(template, value, status, flags, details):
        return {**template, "level_of_theory": level, "settings_hash": settings_hash, "value": value, "status": status, "flags": flags, "details": details}

    for (cid, name, subject), by_member in grouped.items():
        first = by_member.get(members[0])
        if name in GEOMETRY_NAMES and first is not None:
            out.append(committee_row(first, first["value"], first["status"], first["flags"], {**first["details"], "geometry_of": members[0]}))
            continue
        if name not in COMMITTEE_MEANS:
            continue
        values = {m: r["value"] for m, r in by_member.items() if r["value"] is not None and r["status"] in ("ok", "flagged")}
        template = first or next(iter(by_member.values()))
        # what the hop is (labels, expected mechanism) is the same for every member; what happened is each member's
        kept = {k: template["details"][k] for k in ("start", "end", "hop", "mechanism_expected", "relative_to", "vacancy_site", "reference_hop_id") if k in template["details"]}
        details = {
            **kept,
            "members": {m: by_member[m]["value"] if m in by_member else None for m in members},
            "member_calculations": {m: r["calculation_id"] for m, r in by_member.items()},
        }
        if name == "barrier":
            details["mechanism_observed"] = {m: r["details"].get("mechanism_observed") for m, r in by_member.items()}
        if len(values) < len(members):
            missing = [m for m in members if m not in values]
            out.append(committee_row(template, None, "failed", [f"no value from {', '.join(missing)}"], details))
            continue
        flags = sorted({f"{m}: {f}" for m, r in by_member.items() for f in r["flags"]})
        mean = sum(values.values()) / len(values)
        spread = max(values.values()) - min(values.values())
        status = "flagged" if flags else "ok"
        out.append(committee_row(template, mean, status, flags, {**details, "spread": spread}))
        if name == "barrier":
            out.append(committee_row({**template, "name": "barrier_spread", "unit": "eV"}, spread, status, flags, details))
    return out
