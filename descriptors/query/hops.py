"""``lrox query hops``: the hop table filtered and sorted by the database itself (the filter language as SQL)."""

from __future__ import annotations

from descriptors.query.language import QueryError, parse_filter
from descriptors.query.levels import level_aliases
from descriptors.records.schema import HOP_FIELDS, HOP_UNITS

__all__ = ["query_hops"]


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


def query_hops(db, where: str | None = None, sort: str | None = None, limit: int | None = None) -> list[dict]:
    """Hop rows that satisfy ``where`` (filtered and sorted by the database), ``-field`` sorts descending;
    each with ``level``, the alias of its level of theory and settings."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from descriptors.store.tables import HopRow

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
