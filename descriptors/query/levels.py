"""Levels: each (level of theory, settings) pair in a database, with a short alias a filter can name."""

from __future__ import annotations

__all__ = ["level_aliases", "level_alias_base"]


def level_alias_base(level: str) -> str:
    """A short, filter-friendly name of a level of theory: ``chgnet``, ``7net-0``, ``committee``, ``gpaw``, ``vasp``."""
    text = str(level)
    if text.startswith("MLIP committee"):
        return "committee"
    if text.startswith("MLIP "):
        model, _, rest = text[len("MLIP "):].partition(", ")
        cell = rest[: -len(" cell")] if rest.endswith(" cell") else ""
        return f"{model}-{cell}" if cell else model  # 'MLIP 7net-0, 2x1x1 cell' (lrox check): 7net-0-2x1x1
    if text.startswith("GPAW"):
        return "gpaw"
    if text.startswith("VASP"):
        return "vasp"
    if text.startswith("mock VASP"):
        return "mock-vasp"
    return text.split()[0].lower() if text.split() else "unknown"


def level_aliases(db, counts: bool = True) -> list[dict]:
    """Every (level of theory, settings) in the database with its alias: ``chgnet``, ``gpaw``,
    ``7net-0``, ``committee``...; a second settings set of one level is ``chgnet-2`` (in the order
    they were first ingested), so an alias never changes once given.

    ``counts=False``: ``n_descriptors`` is left None, and where the database keeps the configuration
    view the levels with descriptors are read from it (one row per configuration and level, every
    level with a descriptor has them) instead of counting the descriptor rows (216,000 of them at
    10,000 configurations): the same levels, the same aliases."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from descriptors.store.tables import CalculationRow, ConfigurationLevelRow, DescriptorRow

    with Session(db.engine) as session:
        first = {
            (level, settings): (when, backend)
            for level, settings, when, backend in session.execute(
                select(CalculationRow.level_of_theory, CalculationRow.settings_hash, func.min(CalculationRow.ingested_at), func.min(CalculationRow.backend)).group_by(
                    CalculationRow.level_of_theory, CalculationRow.settings_hash
                )
            )
        }
        if counts or not getattr(db, "has_view", False):
            counted = dict(
                ((level, settings), n)
                for level, settings, n in session.execute(
                    select(DescriptorRow.level_of_theory, DescriptorRow.settings_hash, func.count()).group_by(DescriptorRow.level_of_theory, DescriptorRow.settings_hash)
                )
            )
        else:
            view = ConfigurationLevelRow.__table__
            counted = {(level, settings): None for level, settings in session.execute(select(view.c.level_of_theory, view.c.settings_hash).distinct())}
    keys = sorted(set(first) | set(counted), key=lambda k: (str(first.get(k, (None,))[0] or ""), k))
    taken: dict[str, int] = {}
    out = []
    for level, settings in keys:
        base = level_alias_base(level)
        taken[base] = taken.get(base, 0) + 1
        alias = base if taken[base] == 1 else f"{base}-{taken[base]}"
        when, backend = first.get((level, settings), (None, None))
        n = counted.get((level, settings), 0) if counts else None
        out.append({"alias": alias, "level_of_theory": level, "settings_hash": settings, "backend": backend, "n_descriptors": n, "first_ingested": str(when) if when else None})
    return out
