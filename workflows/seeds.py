"""Where a DFT band starts: the converged ML band of the same hop, or IDPP only when asked.

``lrox run --seed-path-from DB`` (VASP and GPAW) and ``lrox check`` seed each DFT band with the
converged band of the same hop (hop id, and through it its configuration) from an ML screen's
database (:func:`descriptors.query.bands.converged_bands`). A hop without one is refused by name:
a DFT band started from IDPP costs more SCF steps and may find another path, so falling back is
the user's choice (``--seed-fallback idpp``), never a silent one.
"""

from __future__ import annotations

from enum import Enum

from structures.errors import LroxInputError

__all__ = ["SeedFallback", "seeds_for"]


class SeedFallback(str, Enum):
    NONE = "none"  # a hop without an ML band is an error
    IDPP = "idpp"  # a hop without an ML band starts from IDPP (its level is then the plain one)


def seeds_for(db, hops: list[tuple[str, str]], fallback: SeedFallback | str = SeedFallback.NONE, ml_only: bool = True) -> tuple[dict, dict, list[str]]:
    """(hop id → band, hop id → its level, notes) for ``hops`` ((configuration id, hop id) pairs).

    ``ml_only``: only an ML level seeds (a mock band seeds only the emulated VASP's plumbing).
    Raises :class:`LroxInputError` naming the first hop without a converged band, unless
    ``fallback`` is ``idpp`` (then the notes name those hops)."""
    from descriptors.query.bands import converged_bands

    fallback = SeedFallback(str(getattr(fallback, "value", fallback)).lower())
    found = converged_bands(db, [hop for _, hop in hops], level_prefix=("MLIP",) if ml_only else ("MLIP", "mock"))
    missing = [(cid, hop) for cid, hop in hops if hop not in found]
    notes = []
    if missing and fallback is SeedFallback.NONE:
        cid, hop = missing[0]
        more = f" (and {len(missing) - 1} more hops)" if len(missing) > 1 else ""
        raise LroxInputError(
            f"--seed-path-from: no converged ML band of hop {hop} (configuration {cid}) in that database{more}; "
            "run the ML screen first, or start these bands from IDPP with --seed-fallback idpp"
        )
    if missing:
        notes.append(f"{len(missing)} of {len(hops)} hops have no converged ML band: IDPP start (--seed-fallback idpp): " + ", ".join(h for _, h in missing[:5]) + (" ..." if len(missing) > 5 else ""))
    return {h: band for h, (_, band) in found.items()}, {h: level for h, (level, _) in found.items()}, notes
