"""What ``lrox check`` re-evaluates: the ML hops a selection names, with what it needs to rebuild them.

A selection is hop ids (comma-separated: the full id or its unique last part) or a filter in the
query language over the hop table (``mechanism = TSH and n_tm <= 1``). Only hops computed at a
plain ML level (``MLIP <model>``, in the database's own cell) are checked: the ML level whose
verdicts the DFT level is to judge.
"""

from __future__ import annotations

from structures.errors import LroxInputError

__all__ = ["hops_to_check", "is_id_selection"]


def is_id_selection(selection: str) -> bool:
    """Hop ids (``li2mno3-...-hop-8c1dff1220``, or the last part ``8c1dff1220``), comma-separated,
    rather than a filter (a filter has an operator or a space)."""
    tokens = [t.strip() for t in selection.split(",")]
    return all(t and not any(c in t for c in " =<>!()'\"") for t in tokens)


def _plain_ml(level: str) -> bool:
    return level.startswith("MLIP ") and " cell" not in level and not level.startswith("MLIP committee")


def hops_to_check(db, selection: str) -> list[dict]:
    """One entry per selected hop at a plain ML level: ``hop_id``, ``configuration_id``, ``configuration``
    (its stored summary), ``host``, ``supercell``, ``n_atoms``, ``level_of_theory``, ``settings`` (of
    its ML band), ``hop`` (its stored summary) and ``barrier``. Raises :class:`LroxInputError` when
    the selection names a hop the database does not hold at an ML level, or selects nothing."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from descriptors.query.hops import query_hops
    from descriptors.store.tables import CalculationRow, ConfigurationRow

    if not selection or not selection.strip():
        raise LroxInputError("check: --hops needs hop ids or a filter")
    if is_id_selection(selection):
        rows = [r for r in query_hops(db) if _plain_ml(r["level_of_theory"])]
        chosen = []
        for token in (t.strip() for t in selection.split(",")):
            hits = [r for r in rows if r["hop_id"] == token or r["hop_id"].rsplit("-", 1)[-1] == token]
            if not hits:
                raise LroxInputError(f"check: no hop '{token}' at an ML level in this database ('lrox query hops' lists them)")
            if len({r["hop_id"] for r in hits}) > 1:
                raise LroxInputError(f"check: '{token}' names {len({r['hop_id'] for r in hits})} hops; give the full hop id")
            chosen += hits
    else:
        chosen = [r for r in query_hops(db, selection) if _plain_ml(r["level_of_theory"])]
        if not chosen:
            raise LroxInputError(f"check: the filter '{selection}' selects no hop at an ML level")
    seen, unique = set(), []
    for r in chosen:
        key = (r["configuration_id"], r["hop_id"], r["level_of_theory"], r["settings_hash"])
        if key not in seen:
            seen.add(key)
            unique.append(r)
    out = []
    with Session(db.engine) as session:
        for r in unique:
            config = session.get(ConfigurationRow, r["configuration_id"])
            calc = session.get(CalculationRow, r["calculation_id"]) if r.get("calculation_id") else None
            if config is None or calc is None:
                raise LroxInputError(f"check: hop {r['hop_id']} has no stored configuration or band in this database")
            out.append({
                "hop_id": r["hop_id"],
                "configuration_id": r["configuration_id"],
                "configuration": dict(config.summary or {}),
                "configuration_name": config.name,
                "host": config.host,
                "supercell": config.supercell,
                "n_atoms": config.n_atoms,
                "defect": r.get("defect"),
                "level_of_theory": r["level_of_theory"],
                "settings": dict(calc.settings or {}),
                "hop": dict((calc.data or {}).get("hop") or {}),
                "barrier": r.get("barrier"),
            })
    return out
