"""The hop table: one row per hop calculation, everything a question about Li hops filters on.

Rows are derived from a batch's descriptor and calculation rows when it is written (pure
function :func:`hop_rows`), stored in their own table with a column per field, so that a filter
runs in SQL (:func:`query_hops`) and a database of 10^5 hops stays fast.
"""

from __future__ import annotations

import hashlib
import json

__all__ = ["HOP_FIELDS", "HOP_UNITS", "hop_rows", "query_hops", "level_alias_base"]

# field → unit ("" for text); the order is the column order of tables and exports
HOP_UNITS = {
    "id": "",
    "calculation_id": "",
    "configuration_id": "",
    "configuration": "",
    "host": "",
    "defect": "",
    "dopant": "",
    "hop_id": "",
    "start": "",
    "end": "",
    "length": "Å",
    "layers": "",
    "mechanism": "",
    "mechanism_expected": "",
    "mechanism_observed": "",
    "n_tm": "",
    "ts_cations": "",
    "ts_cation_charge": "e",
    "distance_to_defect": "Å",
    "nearest_defect": "",
    "closest_to_vacant_o": "Å",
    "forward": "eV",
    "reverse": "eV",
    "barrier": "eV",
    "stable_end": "",
    "e_kra": "eV",
    "delta_e_a": "eV",
    "barrier_spread": "eV",
    "expected_error": "eV",
    "route": "",
    "converged": "",
    "status": "",
    "flags": "",
    "level_of_theory": "",
    "settings_hash": "",
    "backend": "",
    "n_atoms": "",
}
HOP_FIELDS = tuple(HOP_UNITS)


def level_alias_base(level: str) -> str:
    """A short, filter-friendly name of a level of theory: ``chgnet``, ``7net-0``, ``committee``, ``gpaw``, ``vasp``."""
    text = str(level)
    if text.startswith("MLIP committee"):
        return "committee"
    if text.startswith("MLIP "):
        return text.split()[1]
    if text.startswith("GPAW"):
        return "gpaw"
    if text.startswith("VASP"):
        return "vasp"
    if text.startswith("mock VASP"):
        return "mock-vasp"
    return text.split()[0].lower() if text.split() else "unknown"


def _row_id(configuration_id: str, hop_id: str, level: str, settings_hash: str) -> str:
    return hashlib.sha256(json.dumps([configuration_id, hop_id, level, settings_hash]).encode()).hexdigest()[:24]


def hop_rows(configurations: list[dict], calculations: list[dict], descriptors: list[dict]) -> list[dict]:
    """One row per (configuration, hop, level, settings) that has a ``barrier`` descriptor row."""
    from workflows.calculators import expected_error

    configs = {c["id"]: c for c in configurations}
    calcs = {c["id"]: c for c in calculations}
    by_key: dict[tuple, dict[str, dict]] = {}
    ts_charge: dict[tuple, dict] = {}
    for d in descriptors:
        if not d.get("subject"):
            continue
        if d["name"] == "ts_cation_charge":  # a static's charges facing this hop's saddle (any level)
            ts_charge[(d["configuration_id"], d["subject"])] = d
            continue
        by_key.setdefault((d["configuration_id"], d["subject"], d["level_of_theory"], d["settings_hash"]), {})[d["name"]] = d
    rows = []
    for (cid, hop_id, level, settings_hash), named in by_key.items():
        barrier = named.get("barrier")
        if barrier is None:
            continue
        details = barrier.get("details") or {}
        hop = details.get("hop") or {}
        calc = calcs.get(barrier.get("calculation_id")) or {}
        data = calc.get("data") or {}
        config = configs.get(cid) or {}
        observed = details.get("mechanism_observed")
        if isinstance(observed, dict):  # a committee: the members' observations, agreeing or not
            values = set(observed.values())
            observed = values.pop() if len(values) == 1 else "mixed"
        tets = hop.get("tetrahedral_site_face_sharing") or []
        charge = ts_charge.get((cid, hop_id))
        flags = barrier.get("flags") or []
        spread = named.get("barrier_spread")
        is_committee = level.startswith("MLIP committee")
        rows.append(
            {
                "id": _row_id(cid, hop_id, level, settings_hash),
                "calculation_id": None if is_committee else barrier.get("calculation_id"),
                "configuration_id": cid,
                "configuration": config.get("name"),
                "host": config.get("host"),
                "defect": config.get("defect"),
                "dopant": config.get("dopant"),
                "hop_id": hop_id,
                "start": details.get("start") or hop.get("start"),
                "end": details.get("end") or hop.get("end"),
                "length": hop.get("length"),
                "layers": hop.get("layers"),
                "mechanism": observed or hop.get("mechanism"),
                "mechanism_expected": details.get("mechanism_expected") or hop.get("mechanism"),
                "mechanism_observed": observed,
                "n_tm": hop.get("n_tm"),
                "ts_cations": "; ".join(tets) or None,
                "ts_cation_charge": charge["value"] if charge and charge["status"] == "ok" else None,
                "distance_to_defect": hop.get("distance_to_defect"),
                "nearest_defect": hop.get("nearest_defect"),
                "closest_to_vacant_o": (details.get("observed") or {}).get("closest_to_vacant_o"),
                "forward": details.get("forward"),
                "reverse": details.get("reverse"),
                "barrier": barrier.get("value"),
                "stable_end": details.get("stable_end_side"),
                "e_kra": (named.get("e_kra") or {}).get("value"),
                "delta_e_a": (named.get("delta_e_a") or {}).get("value"),
                "barrier_spread": spread.get("value") if spread else None,
                "expected_error": expected_error(level),
                "route": details.get("route"),
                "converged": data.get("converged") if not is_committee else barrier.get("status") != "failed",
                "status": barrier.get("status"),
                "flags": ", ".join(flags) or None,
                "level_of_theory": level,
                "settings_hash": settings_hash,
                "backend": barrier.get("backend"),
                "n_atoms": config.get("n_atoms"),
            }
        )
    return rows


# ----- SQL: the filter language of descriptors.query, evaluated by the database -------------------------
def _condition(node, table, aliases: dict):
    """The SQLAlchemy expression of a parsed filter tree over the hop table (``level``: an alias of
    a (level of theory, settings) pair, from ``aliases``)."""
    from sqlalchemy import and_, false, func, not_, or_

    kind = node[0]
    if kind == "and":
        return and_(_condition(node[1], table, aliases), _condition(node[2], table, aliases))
    if kind == "or":
        return or_(_condition(node[1], table, aliases), _condition(node[2], table, aliases))
    if kind == "not":
        return not_(_condition(node[1], table, aliases))
    if node[1] == "level":
        wanted = [str(v).lower() for v in (node[2] if kind in ("in", "notin") else [node[3]])]
        if kind not in ("in", "notin") and node[2] not in ("=", "!="):
            raise_query(f"query: 'level' compares with = or in (...), not {node[2]}")
        pairs = [aliases[w] for w in wanted if w in aliases]
        hit = or_(*[and_(table.level_of_theory == lv, table.settings_hash == st) for lv, st in pairs]) if pairs else false()
        return not_(hit) if kind == "notin" or (kind == "cmp" and node[2] == "!=") else hit
    column = getattr(table, node[1])
    numeric = bool(HOP_UNITS.get(node[1])) or node[1] in ("n_tm", "n_atoms")
    if kind == "null":
        return column.is_(None)
    if kind == "notnull":
        return column.is_not(None)

    def value(v):
        return v if numeric and isinstance(v, float) else str(v).lower()

    target = column if numeric else func.lower(column)
    if kind in ("in", "notin"):
        hit = target.in_([value(v) for v in node[2]])
        return hit if kind == "in" else and_(column.is_not(None), not_(hit))
    _, _, op, v = node
    if numeric and not isinstance(v, float):
        return column.is_(None) & column.is_not(None)  # a number field compared with text: nothing matches
    v = value(v)
    return {"=": target == v, "!=": target != v, "<": target < v, "<=": target <= v, ">": target > v, ">=": target >= v}[op]


def raise_query(message: str):
    from descriptors.query import QueryError

    raise QueryError(message)


def query_hops(db, where: str | None = None, sort: str | None = None, limit: int | None = None) -> list[dict]:
    """Hop rows that satisfy ``where`` (filtered and sorted by the database), ``-field`` sorts descending;
    each with ``level``, the alias of its level of theory and settings."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from descriptors.database import HopRow
    from descriptors.query import QueryError, level_aliases, parse_filter

    levels = level_aliases(db)
    aliases = {a["alias"].lower(): (a["level_of_theory"], a["settings_hash"]) for a in levels}
    alias_of = {(a["level_of_theory"], a["settings_hash"]): a["alias"] for a in levels}
    statement = select(HopRow)
    if where:
        statement = statement.where(_condition(parse_filter(where, fields=(*HOP_FIELDS, "level")), HopRow, aliases))
    if sort:
        field = sort.lstrip("-")
        if field not in HOP_FIELDS:
            raise QueryError(f"query: unknown sort field '{field}' (hop fields: {', '.join(HOP_FIELDS)})")
        column = getattr(HopRow, field)
        statement = statement.order_by(column.is_(None), column.desc() if sort.startswith("-") else column.asc(), HopRow.id)
    else:
        statement = statement.order_by(HopRow.host, HopRow.level_of_theory, HopRow.configuration, HopRow.hop_id, HopRow.id)
    if limit is not None:
        statement = statement.limit(limit)
    with Session(db.engine) as session:
        return [
            {**{f: getattr(row, f) for f in HOP_FIELDS}, "level": alias_of.get((row.level_of_theory, row.settings_hash), "?")}
            for row in session.scalars(statement)
        ]
