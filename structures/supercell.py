"""Supercells chosen reproducibly from a minimum periodic-image distance and an atom budget."""

from __future__ import annotations

import itertools
import re
import warnings

import numpy as np
from pymatgen.core import Lattice, Structure

from structures.errors import LroxInputError

__all__ = [
    "DEFAULT_MIN_IMAGE_DISTANCE",
    "FINITE_SIZE_DELTA",
    "cell_convergence_flag",
    "min_image_distance",
    "parse_supercell",
    "choose_supercell",
    "most_compact_supercell_matrix",
    "make_supercell",
]


def min_image_distance(lattice: Lattice) -> float:
    """Length of the shortest non-zero lattice vector: the closest a defect comes to its own image."""
    reduced = lattice.get_lll_reduced_lattice().matrix
    best = np.inf
    for n in itertools.product(range(-2, 3), repeat=3):
        if n != (0, 0, 0):
            best = min(best, float(np.linalg.norm(np.array(n) @ reduced)))
    return best


DEFAULT_MIN_IMAGE_DISTANCE = 8.0  # Å: screens and 'lrox enumerate' without a supercell (see benchmarks/RESULTS.md)

# Finite-size error of a barrier next to a defect, measured (benchmarks/cell_convergence.py, SevenNet-0,
# Li2MnO3, against the 192-atom cell, 9.9 Å): the hop whose shared O–O edge has lost an O is off by
# −0.052 eV in the 48-atom cell (the vacancy 5.0 Å from its image) and by +0.032 eV in the 96-atom
# cell (8.5 Å); the pristine hop by +0.030 and +0.027 eV. 0.05 eV is the tolerance: cells below
# DEFAULT_MIN_IMAGE_DISTANCE give defect configurations' barriers a "cell not converged" flag.
FINITE_SIZE_DELTA = (5.03, -0.052)  # (image distance Å, barrier change eV) of that measurement


def cell_convergence_flag(image_distance: float | None) -> str | None:
    """The flag a defect configuration's barrier carries in a cell below the converged image distance."""
    if image_distance is None or image_distance >= DEFAULT_MIN_IMAGE_DISTANCE - 1e-6:
        return None
    at, delta = FINITE_SIZE_DELTA
    return (
        f"cell not converged (Δ = {delta:+.2f} eV: a defect {image_distance:.1f} Å from its image; measured for a Li2MnO3 "
        f"hop on an O-vacancy edge at {at:.1f} Å against 9.9 Å, benchmarks/RESULTS.md)"
    )
MAX_MULTIPLE = 100


def parse_supercell(text: str) -> tuple[int, int, int]:
    """``"2x1x2"`` → (2, 1, 2). Raises LroxInputError for anything else (each multiple 1..100)."""
    match = re.fullmatch(r"\s*(\d{1,6})\s*[xX×,]\s*(\d{1,6})\s*[xX×,]\s*(\d{1,6})\s*", str(text)[:100])
    if not match:
        raise LroxInputError(f"bad supercell '{str(text)[:40]}': expected three positive integers like 2x1x2")
    dims = tuple(int(x) for x in match.groups())
    if min(dims) < 1 or max(dims) > MAX_MULTIPLE:
        raise LroxInputError(f"bad supercell '{text}': every multiple must be between 1 and {MAX_MULTIPLE}")
    return dims  # type: ignore[return-value]


def choose_supercell(
    structure: Structure,
    min_distance: float | None = None,
    max_atoms: int = 250,
    supercell: tuple[int, int, int] | None = None,
    max_multiple: int = 8,
) -> tuple[int, int, int]:
    """Diagonal multiples of the conventional cell.

    With ``supercell`` given it is checked against ``min_distance`` and ``max_atoms``.
    Otherwise the smallest cell (fewest atoms) whose minimum image distance is at
    least ``min_distance`` is returned; ties go to the larger image distance,
    then the more isotropic cell, then the lexicographically smallest multiples,
    so the same inputs always give the same cell.
    """
    import math

    from structures.safety import MAX_ATOMS

    if min_distance is not None and not (math.isfinite(min_distance) and 0 < min_distance <= 100):
        raise LroxInputError(f"minimum image distance must be positive and finite (Å, at most 100), got {min_distance}")
    if not 1 <= max_atoms <= MAX_ATOMS:
        raise LroxInputError(f"maximum atom count must be between 1 and {MAX_ATOMS}, got {max_atoms}")
    n0 = len(structure)
    if supercell is not None:
        dims = tuple(int(x) for x in supercell)
        lattice = Lattice(np.diag(dims) @ structure.lattice.matrix)
        distance = min_image_distance(lattice)
        if min_distance is not None and distance < min_distance - 1e-6:
            raise LroxInputError(
                f"supercell {'x'.join(map(str, dims))} has a minimum image distance of {distance:.2f} Å, "
                f"below the requested {min_distance:.2f} Å"
            )
        if n0 * int(np.prod(dims)) > max_atoms:
            raise LroxInputError(
                f"supercell {'x'.join(map(str, dims))} has {n0 * int(np.prod(dims))} atoms, more than the "
                f"maximum of {max_atoms}"
            )
        return dims  # type: ignore[return-value]
    target = 0.0 if min_distance is None else min_distance
    best = None
    for dims in itertools.product(range(1, max_multiple + 1), repeat=3):
        n_atoms = n0 * dims[0] * dims[1] * dims[2]
        if n_atoms > max_atoms:
            continue
        lattice = Lattice(np.diag(dims) @ structure.lattice.matrix)
        distance = min_image_distance(lattice)
        if distance < target - 1e-6:
            continue
        abc = lattice.abc
        key = (n_atoms, -round(distance, 3), round(max(abc) / min(abc), 3), dims)
        if best is None or key < best:
            best = key
    if best is None:
        raise LroxInputError(
            f"no supercell of at most {max_atoms} atoms reaches a minimum image distance of {target:.2f} Å; "
            "raise --max-atoms or lower --min-image-distance"
        )
    return best[3]


def most_compact_supercell_matrix(lattice: Lattice, index: int) -> np.ndarray:
    """Hermite-normal-form supercell of the given index with the largest minimum image distance."""
    best = None
    for a in range(1, index + 1):
        if index % a:
            continue
        for c in range(1, index // a + 1):
            if (index // a) % c:
                continue
            f = index // a // c
            for b, d, e in itertools.product(range(c), range(f), range(f)):
                hnf = np.array([[a, 0, 0], [b, c, 0], [d, e, f]])
                distance = min_image_distance(Lattice(hnf @ lattice.matrix))
                key = (-round(distance, 3), hnf.flatten().tolist())
                if best is None or key < best[0]:
                    best = (key, hnf)
    return best[1]


def supercell_with_properties(structure: Structure, matrix) -> Structure:
    """``structure * matrix`` keeping site properties; anions' ``layer = None`` is expected, not warned."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Not all sites have property")
        return structure * matrix


def make_supercell(structure: Structure, dims: tuple[int, int, int]) -> Structure:
    """Diagonal supercell keeping site properties, sites in a canonical order (species, then position)."""
    cell = supercell_with_properties(structure, np.diag(dims))
    order = sorted(
        range(len(cell)),
        key=lambda i: (cell[i].specie.symbol, *np.round(np.mod(cell[i].frac_coords, 1.0), 4) % 1.0),
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Not all sites have property")
        return Structure.from_sites([cell[i] for i in order])
