"""Li migration barriers from an NEB energy profile."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MigrationBarrier", "migration_barrier"]


@dataclass(frozen=True)
class MigrationBarrier:
    """Forward = E(saddle) − E(initial); reverse = E(saddle) − E(final), in eV."""

    forward: float
    reverse: float
    saddle_index: int
    max_at_endpoint: bool  # the highest image is an end point: no barrier was bracketed
    endpoint_not_lowest: bool  # an intermediate image lies below both end points


def migration_barrier(energies: list[float]) -> MigrationBarrier:
    """Barriers from the image energies (end points included), with the flags a user must see."""
    e = np.asarray(energies, dtype=float)
    if e.ndim != 1 or len(e) < 3 or not np.all(np.isfinite(e)):
        raise ValueError("an NEB profile needs at least three finite image energies")
    top = int(np.argmax(e))
    return MigrationBarrier(
        forward=float(e[top] - e[0]),
        reverse=float(e[top] - e[-1]),
        saddle_index=top,
        max_at_endpoint=top in (0, len(e) - 1),
        endpoint_not_lowest=bool(e[1:-1].min() < min(e[0], e[-1]) - 1e-6),
    )
