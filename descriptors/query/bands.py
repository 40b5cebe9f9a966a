"""The converged ML bands of a database's hops, to seed the same hops at another level of theory (P3)."""

from __future__ import annotations

from descriptors.physics.levels import expected_error

__all__ = ["converged_bands"]


def converged_bands(db, hop_ids, level_prefix: tuple[str, ...] = ("MLIP", "mock")) -> dict:
    """hop id → (level of theory, band as plain data) of the converged NEBs of those hops at an ML
    level (the level with the lowest validation MAE where several have the hop; a mock band, which
    seeds only the plumbing tests' emulated VASP, comes last)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from descriptors.store.tables import CalculationRow

    wanted = set(hop_ids)
    found: dict[str, list] = {}
    with Session(db.engine) as session:
        rows = session.execute(
            select(CalculationRow.hop_id, CalculationRow.level_of_theory, CalculationRow.data).where(
                CalculationRow.kind == "neb", CalculationRow.status == "success"
            )
        )
        for hop_id, level, data in rows:
            if hop_id in wanted and level.startswith(level_prefix) and (data or {}).get("band") and (data or {}).get("converged"):
                found.setdefault(hop_id, []).append((level, data["band"]))
    out = {}
    for hop_id, candidates in found.items():
        level, band = min(candidates, key=lambda c: (c[0].startswith("mock"), expected_error(c[0]) if expected_error(c[0]) is not None else 9.0, c[0]))
        out[hop_id] = (level, band)
    return out
