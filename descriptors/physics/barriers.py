"""Li migration barriers from an NEB energy profile.

The spline through the images is pymatgen's :class:`NEBAnalysis` (Henkelman-style piecewise
cubic with zero slope at the end points); this module adds what a screen needs on top of it:
forward and reverse barriers, the highest image, and flags for profiles that must not be
trusted as they stand.
"""

from __future__ import annotations

import math

from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "MECHANISM_MISMATCH",
    "RESOLUTION_ULPS",
    "energy_resolution",
    "profile_extrema",
    "only_mechanism_flags",
    "MigrationBarrier",
    "migration_barrier",
    "barrier_from_neb_analysis",
    "reaction_coordinate",
    "neb_analysis",
]

# How far apart two energies of one model must be to differ. The embedded ML potentials return
# float32 totals: at |E| ≈ 586 eV (a 96-atom Li2MnO3 cell) one unit in the last place is 6.1e-5 eV.
# The same saddle converged in two different bands of the design-rules example came out 0-4 ulps
# apart (the nearest two distinct saddles there are 19 ulps apart), so 8 ulps (4.9e-4 eV at 586 eV)
# is the resolution: closer energies are equal, and an image has to lie further than that below its
# end points before the profile is flagged for it. Energies of a float64 code (VASP, GPAW) are
# judged on the same float32 grid, which is coarser than their SCF convergence never matters.
RESOLUTION_ULPS = 8


def energy_resolution(energies) -> float:
    """The energy difference (eV) below which two of these energies are the same: RESOLUTION_ULPS
    float32 ulps at the largest |E| (never below one ulp at 1 eV)."""
    if isinstance(energies, (list, tuple)) and len(energies) == 1 and isinstance(energies[0], float):
        # one energy (the twin sweep asks this for every pair it compares): no array built
        one = abs(energies[0])
        largest = one if math.isfinite(one) else 1.0
        return RESOLUTION_ULPS * float(np.spacing(np.float32(max(largest, 1.0))))
    e = np.abs(np.asarray(energies, dtype=float))
    largest = float(e.max()) if e.size and np.all(np.isfinite(e)) else 1.0
    return RESOLUTION_ULPS * float(np.spacing(np.float32(max(largest, 1.0))))


def profile_extrema(energies) -> tuple[list[int], list[int]]:
    """(interior maxima, interior minima) of an image profile, each with a prominence beyond the
    energy resolution (scipy's ``find_peaks``: a maximum must drop by more than the resolution on
    both sides before the profile climbs higher; a step of a few ulps is no extremum). Minima are
    kept only between two maxima. A TSH band through a tetrahedral site with a shallow minimum there
    has two maxima, one per octahedron-tetrahedron face, and that minimum between them.
    """
    from scipy.signal import find_peaks

    e = np.asarray(energies, dtype=float)
    tol = energy_resolution(e)
    maxima = [int(k) for k in find_peaks(e, prominence=tol)[0]]
    minima = [int(k) for k in find_peaks(-e, prominence=tol)[0]]
    minima = [k for k in minima if any(m < k for m in maxima) and any(m > k for m in maxima)]
    return maxima, minima


@dataclass(frozen=True)
class MigrationBarrier:
    """Forward = E(saddle) − E(initial); reverse = E(saddle) − E(final), in eV.

    * ``stable_end``: the barrier from the more stable end point, max(forward, reverse): what
      tables of barriers quote; ``stable_end_side`` says which end that is.
    * ``e_kra``: the kinetically resolved activation barrier E(saddle) − ½[E(initial) + E(final)]
      (Van der Ven, Ceder et al., PRB 64, 184307 (2001)). It separates the hop's own cost from
      the end points' energy difference and does not depend on the direction, so it is the one
      that compares hops between same-label sites (4h→4h, or any hop in a P1 cell).

    ``spline_forward`` is the highest maximum of the spline through the images, relative to
    the initial image (eV), at normalised reaction coordinate ``spline_coordinate``; it is
    ``None`` when the profile has no interior maximum.

    ``saddles``: every interior maximum beyond the resolution, highest first, as (image, E_KRA of
    that maximum): a band through a tetrahedral site with a minimum there has two, and ``e_kra`` is
    the higher one. ``intermediate_minimum``: (image, E − ½[E(initial) + E(final)]) of a minimum
    between two maxima, or None. ``resolution``: the energy resolution the flags were judged at.
    """

    forward: float
    reverse: float
    saddle_index: int
    n_images: int
    e_kra: float = 0.0
    stable_end: float = 0.0
    stable_end_side: str = "initial"  # "initial" | "final"
    spline_forward: float | None = None
    spline_coordinate: float | None = None
    max_at_endpoint: bool = False  # the highest image is an end point: no barrier was bracketed
    endpoint_not_lowest: bool = False  # an intermediate image lies below both end points (beyond the resolution)
    not_converged: bool = False  # the band did not reach its force criterion
    flat_band: bool = False  # every image within 1 meV of the initial one: no saddle at all
    saddles: tuple = ()
    intermediate_minimum: tuple | None = None
    resolution: float = 0.0

    @property
    def flags(self) -> list[str]:
        """Names of the warnings that apply; empty for a clean profile."""
        names = ("flat_band", "max_at_endpoint", "endpoint_not_lowest", "not_converged")
        return [name for name in names if getattr(self, name)]

    @property
    def trustworthy(self) -> bool:
        return not self.flags

    def as_dict(self) -> dict:
        return {**asdict(self), "flags": self.flags}


MECHANISM_MISMATCH = "mechanism_mismatch"


def only_mechanism_flags(flags) -> bool:
    """True when a barrier is flagged only because its hop took another path than expected.

    Such a barrier is still a sound number (the path it took is stored beside it); every other flag
    marks a doubtful profile. ``flags``: a list, or the hop table's comma-joined text; a committee's
    flags carry their member ("MLIP 7net-0: mechanism_mismatch").
    """
    if isinstance(flags, str):
        flags = flags.split(",")
    flags = [str(f).strip() for f in (flags or []) if str(f).strip()]
    return bool(flags) and all(f == MECHANISM_MISMATCH or f.endswith(f": {MECHANISM_MISMATCH}") for f in flags)


def reaction_coordinate(images) -> np.ndarray:
    """Cumulative root-sum-square displacement between successive images (Å), as pymatgen uses."""
    steps = [0.0]
    for previous, current in zip(images[:-1], images[1:]):
        d = np.array([b.distance(a) for a, b in zip(previous, current, strict=True)])
        steps.append(float(np.sqrt(np.sum(d**2))))
    return np.cumsum(steps)


def neb_analysis(energies, images=None, r=None):
    """A pymatgen ``NEBAnalysis`` for an image profile (reaction coordinate from the images when given)."""
    from pymatgen.analysis.transition_state import NEBAnalysis

    e = np.asarray(energies, dtype=float)
    if r is None:
        r = reaction_coordinate(images) if images is not None else np.arange(len(e), dtype=float)
    r = np.asarray(r, dtype=float)
    if len(r) != len(e):
        raise ValueError(f"{len(e)} energies but {len(r)} reaction coordinates")
    if np.any(np.diff(r) <= 0):
        raise ValueError("the reaction coordinate must increase from image to image")
    return NEBAnalysis(r=r, energies=e, forces=np.zeros_like(e), structures=list(images) if images is not None else [])


def _validate(energies) -> np.ndarray:
    e = np.asarray(energies, dtype=float)
    if e.ndim != 1 or len(e) < 3 or not np.all(np.isfinite(e)):
        raise ValueError("an NEB profile needs at least three finite image energies")
    return e


def migration_barrier(energies, images=None, r=None, converged: bool | None = None) -> MigrationBarrier:
    """Barriers from the image energies (end points included), with the flags a user must see.

    ``images`` (pymatgen structures) or ``r`` give the reaction coordinate for the spline;
    without either, images are taken as equally spaced.
    """
    e = _validate(energies)
    top = int(np.argmax(e))
    spline_forward = spline_coordinate = None
    try:
        analysis = neb_analysis(e, images=images, r=r)
        maxima = analysis.get_extrema()[1]
    except ValueError:
        maxima = []
    if maxima:
        coordinate, mev = max(maxima, key=lambda m: m[1])
        spline_forward, spline_coordinate = float(mev) / 1000.0, float(coordinate)
    forward, reverse = float(e[top] - e[0]), float(e[top] - e[-1])
    ends = 0.5 * (e[0] + e[-1])
    resolution = energy_resolution(e)
    maxima, minima = profile_extrema(e)
    saddles = tuple((int(k), float(e[k] - ends)) for k in sorted(maxima, key=lambda k: -e[k]))
    minimum = min(minima, key=lambda k: e[k]) if minima else None
    return MigrationBarrier(
        forward=forward,
        reverse=reverse,
        saddle_index=top,
        n_images=len(e),
        e_kra=float(e[top] - 0.5 * (e[0] + e[-1])),
        stable_end=max(forward, reverse),
        stable_end_side="initial" if e[0] <= e[-1] else "final",
        flat_band=bool(np.ptp(e) < 1e-3),
        spline_forward=spline_forward,
        spline_coordinate=spline_coordinate,
        max_at_endpoint=top in (0, len(e) - 1),
        endpoint_not_lowest=bool(e[1:-1].min() < min(e[0], e[-1]) - resolution),
        not_converged=converged is False,
        saddles=saddles,
        intermediate_minimum=None if minimum is None else (int(minimum), float(e[minimum] - ends)),
        resolution=resolution,
    )


def barrier_from_neb_analysis(analysis, converged: bool | None = None) -> MigrationBarrier:
    """The same descriptor from a pymatgen ``NEBAnalysis`` (e.g. ``NEBAnalysis.from_dir`` on a VASP NEB)."""
    return migration_barrier(np.asarray(analysis.energies), r=np.asarray(analysis.r), converged=converged)
