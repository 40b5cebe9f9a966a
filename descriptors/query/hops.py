"""``lrox query hops``: the hop table filtered and sorted by the database itself (the filter language as SQL)."""

from __future__ import annotations

from descriptors.query.language import QueryError, parse_filter
from descriptors.query.levels import level_aliases
from descriptors.records.schema import HOP_FIELDS, HOP_UNITS, TWIN_FIELDS

# per row: its level's alias, and where the same hop has the level it checks (lrox check), that
# level's alias and this row's barrier minus that level's
COMPARISON_FIELDS = ("compared_with", "barrier_difference")
HOP_VIEW_FIELDS = (*HOP_FIELDS, *TWIN_FIELDS, "level", *COMPARISON_FIELDS)  # what query_hops returns per row

__all__ = ["query_hops", "HOP_VIEW_FIELDS"]


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
            raise QueryError(f"query: 'level' compares with = or in (...), not {node[2]}")
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


def query_hops(db, where: str | None = None, sort: str | None = None, limit: int | None = None, fields=None) -> list[dict]:
    """Hop rows that satisfy ``where`` (filtered and sorted by the database), ``-field`` sorts descending;
    each with ``level``, the alias of its level of theory and settings, and its twin group
    (``twin_group``: equal for rows of one physical hop; ``n_twins``; ``twin_basis``;
    ``dependent_on``: the groups whose band shares one of its saddles). ``fields``: the hop fields
    the caller reads (default every one; the table ``lrox query hops`` prints reads 16 of 50)."""
    from sqlalchemy import select

    from descriptors.store.tables import HopRow, HopTwinRow

    levels = level_aliases(db, counts=False)
    aliases = {a["alias"].lower(): (a["level_of_theory"], a["settings_hash"]) for a in levels}
    alias_of = {(a["level_of_theory"], a["settings_hash"]): a["alias"] for a in levels}
    present = db.hop_columns()
    wanted = HOP_FIELDS if fields is None else [f for f in HOP_FIELDS if f in set(fields) | _NEEDED]
    kept = [f for f in wanted if f in present]  # a database written before a column: null there
    stored_twins = getattr(db, "has_twins", False)  # kept by the writers (schema 4): read with the rows
    if stored_twins:
        twins = HopTwinRow.__table__
        statement = select(*[getattr(HopRow, f) for f in kept], *[twins.c[f] for f in TWIN_FIELDS]).select_from(
            HopRow.__table__.outerjoin(twins, twins.c.id == HopRow.id)
        )
    else:
        statement = select(*[getattr(HopRow, f) for f in kept])
    if where:
        statement = statement.where(_condition(parse_filter(where, fields=(*HOP_FIELDS, "level")), HopRow, aliases))
    if sort:
        field = sort.lstrip("-")
        if field not in HOP_FIELDS:
            raise QueryError(f"query: unknown sort field '{field}' (hop fields: {', '.join(HOP_FIELDS)})")
        if field not in present:
            raise QueryError(f"query: this database was written before the hop field '{field}' existed (re-derive it: descriptors.ingest.rederive)")
        column = getattr(HopRow, field)
        statement = statement.order_by(column.is_(None), column.desc() if sort.startswith("-") else column.asc(), HopRow.id)
    else:
        statement = statement.order_by(HopRow.host, HopRow.level_of_theory, HopRow.configuration, HopRow.hop_id, HopRow.id)
    if limit is not None:
        statement = statement.limit(limit)
    with db.engine.connect() as connection:
        result = connection.execute(statement).all()  # fetched at once: row by row costs a cursor call each
    n = len(kept)
    if len(kept) == len(wanted):
        rows = [dict(zip(kept, row[:n] if stored_twins else row)) for row in result]
    else:
        rows = [{**{f: None for f in wanted}, **dict(zip(kept, row[:n] if stored_twins else row))} for row in result]
    for row in rows:
        row["level"] = alias_of.get((row["level_of_theory"], row["settings_hash"]), "?")
    _with_comparisons(db, rows, alias_of)
    if stored_twins:  # after the comparisons: the key order every reader has printed
        for row, found in zip(rows, result):
            if found[n] is None:  # no group stored (not expected: written with the hop)
                row.update(twin_group=row["hop_id"], n_twins=1, twin_basis="no twin", dependent_on=None)
            else:
                row.update(zip(TWIN_FIELDS, found[n:]))
        return rows
    return _with_twins(db, rows, present)


_NEEDED = {"id", "configuration_id", "hop_id", "level_of_theory", "settings_hash", "barrier"}  # what the level, twins and comparisons read


def compared_level(level: str) -> str | None:
    """The level a checked level is compared with: a GPAW level seeded from (or single points on the
    band of) an ML level in a cell → that ML level in that cell; an ML level in a smaller cell → the
    same ML level in the database's own cell (the cell-size difference). None for any other level."""
    import re

    text = str(level)
    match = re.search(r"(?:// seeded from|single points on the) (MLIP [^,()]+?)(?: band)?(?: \(ML end points\))?(, \S+ cell)?$", text)
    if text.startswith("GPAW") and match:
        return match.group(1) + (match.group(2) or "")
    match = re.fullmatch(r"(MLIP [^,]+), \S+ cell", text)
    return match.group(1) if match else None


def _with_comparisons(db, rows: list[dict], alias_of: dict) -> None:
    """``compared_with`` and ``barrier_difference`` of each row whose level checks another level of
    the same hop (same configuration and hop id): lrox check's GPAW against its ML band in the same
    cell, and that ML band against the database's own cell."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from descriptors.store.tables import HopRow

    compared = {level: compared_level(level) for level in {r["level_of_theory"] for r in rows}}  # per level, not per row
    wanted = set(compared.values()) - {None}
    for row in rows:
        row.update(compared_with=None, barrier_difference=None)
    if not wanted:
        return
    with Session(db.engine) as session:
        partners = {}
        for cid, hop_id, level, settings, barrier in session.execute(
            select(HopRow.configuration_id, HopRow.hop_id, HopRow.level_of_theory, HopRow.settings_hash, HopRow.barrier).where(HopRow.level_of_theory.in_(wanted))
        ):
            partners.setdefault((cid, hop_id, level), (alias_of.get((level, settings), level), barrier))
    for row in rows:
        partner = partners.get((row["configuration_id"], row["hop_id"], compared[row["level_of_theory"]]))
        if partner is None:
            continue
        row["compared_with"] = partner[0]
        if row.get("barrier") is not None and partner[1] is not None:
            row["barrier_difference"] = round(float(row["barrier"]) - float(partner[1]), 4)


def _with_twins(db, rows: list[dict], present: set[str]) -> list[dict]:
    """Each row with its twin group (descriptors.records.twins), found among every hop of its level,
    settings and host in the database, whatever the filter kept: a database written before the
    groups were kept (schema 2 or 3; lrox upgrades it at its next write). A database written before
    the twins' energies were columns gives them from its barrier rows' stored band energies."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from descriptors.records.twins import TWIN_INPUT_FIELDS, twin_groups
    from descriptors.store.reads import fill_profile_energies
    from descriptors.store.tables import HopRow

    if not rows:
        return rows
    wanted = TWIN_INPUT_FIELDS
    kept = [f for f in wanted if f in present]
    with Session(db.engine) as session:
        found = session.connection().execute(select(*[getattr(HopRow, f) for f in kept])).all()
        if len(kept) == len(wanted):
            everything = [dict(zip(wanted, r)) for r in found]
        else:
            everything = [{**{f: None for f in wanted}, **dict(zip(kept, r))} for r in found]
        fill_profile_energies(session, everything)
    info = twin_groups(everything)
    for row in rows:
        twin = info.get(row["id"])
        row.update(twin.as_row() if twin else {"twin_group": row["hop_id"], "n_twins": 1, "twin_basis": "no twin", "dependent_on": None})
    return rows


def _energies_of_profile(energies) -> dict:
    """:func:`descriptors.records.twins.energies_of_profile` (the scale benchmark's name for it)."""
    from descriptors.records.twins import energies_of_profile

    return energies_of_profile(energies)
