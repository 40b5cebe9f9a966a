"""The door for numbers: every number that becomes a stored energy, force, coordinate or lattice, and
every number a user types, is finite and within physical bounds, or it is refused with its name.

Two kinds of answer:

* :func:`finite` raises :class:`LroxInputError` (a number a user typed: one error line);
* the ``*_problem`` functions return what is wrong, or None (a number a calculation produced: the
  caller stores the calculation as failed with that reason, never the number).

The bounds are wide: nothing a real calculation gives comes near them, so they only catch what is
not a calculation's number at all (NaN, ±inf, ±1e308, a blown-up structure).
"""

from __future__ import annotations

import math
import re

import numpy as np

from structures.errors import LroxInputError

__all__ = [
    "MAX_ATOMS",
    "MAX_ENERGY_PER_ATOM",
    "MAX_FORCE",
    "finite",
    "number_in_text",
    "energy_problem",
    "values_problem",
    "lattice_problem",
    "coordinates_problem",
    "structure_dict_problem",
    "numbers_problem",
    "sites_in",
    "is_number",
]

MAX_ATOMS = 5000  # no structure lrox computes comes near this; a bigger cell is a mistake or an attack
MAX_ENERGY_PER_ATOM = 1.0e3  # eV/atom (absolute): DFT and ML total energies are a few to tens of eV/atom
MAX_FORCE = 100.0  # eV/Å: beyond this a structure has blown up
MIN_LATTICE_LENGTH = 0.5  # Å
MAX_LATTICE_LENGTH = 1.0e4  # Å
MAX_FRACTIONAL = 1.0e3  # a fractional coordinate this far outside the cell is not a position
MAX_CARTESIAN = 1.0e6  # Å
MAX_NUMBER_TEXT = 64  # characters of one number typed or read as text
MAX_PROPERTY = 1.0e6  # any other number a structure carries (charge, magnetic moments, site properties)


def is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def finite(value, name: str, minimum: float | None = None, maximum: float | None = None, strictly_above: bool = False) -> float:
    """A finite number within bounds, or a one-line error naming ``name``."""
    from structures.doors.text import shown

    if isinstance(value, str) and len(value.strip()) > MAX_NUMBER_TEXT:
        raise LroxInputError(f"{name} must be a number, got '{shown(value, 40)}'")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise LroxInputError(f"{name} must be a number, got '{shown(value, 40)}'") from None
    if not math.isfinite(number):
        raise LroxInputError(f"{name} must be a finite number, got '{shown(value, 40)}'")
    if minimum is not None and (number <= minimum if strictly_above else number < minimum):
        if minimum == 0:
            raise LroxInputError(f"{name} {'must be positive' if strictly_above else 'must not be negative'}, got {shown(value, 40)}")
        raise LroxInputError(f"{name} must be {'above' if strictly_above else 'at least'} {minimum:g}, got {shown(value, 40)}")
    if maximum is not None and number > maximum:
        raise LroxInputError(f"{name} must be at most {maximum:g}, got {shown(value, 40)}")
    return number


def number_in_text(text: str, name: str, bound: float) -> float:
    """A number written in a file (``1.5``, ``-2e3``, Fortran's ``1.5D3``): finite and within ±bound."""
    from structures.doors.text import shown

    token = str(text).strip()
    try:
        if len(token) > MAX_NUMBER_TEXT or "_" in token:
            raise ValueError
        value = float(re.sub(r"(?<=\d)[dD](?=[-+]?\d)", "e", token))
    except ValueError:
        raise LroxInputError(f"{name}: '{shown(token, 40)}' is not a number") from None
    if not math.isfinite(value):
        raise LroxInputError(f"{name}: '{shown(token, 40)}' is non-finite (NaN or infinite)")
    if abs(value) > bound:
        raise LroxInputError(f"{name}: {shown(token, 40)} is beyond ±{bound:g}")
    return value


def energy_problem(energy, n_atoms: int | None, name: str = "energy") -> str | None:
    """Why ``energy`` (eV, the whole cell of ``n_atoms``) is not a calculation's energy, or None."""
    if energy is None:
        return None
    if not is_number(energy):
        return f"{name} {str(energy)[:30]!r} is not a number"
    try:
        value = float(energy)
    except OverflowError:
        return f"{name} is beyond any floating-point number"
    if not math.isfinite(value):
        return f"{name} is {value} (not finite)"
    per_atom = abs(value) / max(int(n_atoms or 1), 1)
    if per_atom > MAX_ENERGY_PER_ATOM:
        return f"{name} {value:.4g} eV ({per_atom:.3g} eV/atom) is outside any physical range (at most {MAX_ENERGY_PER_ATOM:g} eV/atom)"
    return None


def values_problem(values, name: str, bound: float) -> str | None:
    """Why an array of numbers (nested lists) is not finite and within ±bound, or None."""
    if values is None:
        return None
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError, OverflowError):
        return f"{name} holds something that is not a number"
    if array.size == 0:
        return None
    if not np.all(np.isfinite(array)):
        return f"{name} holds non-finite numbers (NaN or infinite)"
    largest = float(np.abs(array).max())
    if largest > bound:
        return f"{name} holds {largest:.4g}, outside any physical range (at most {bound:g})"
    return None


def lattice_problem(matrix, name: str = "lattice") -> str | None:
    """Why a 3×3 lattice is not a cell (non-finite, absurd lengths, no volume), or None."""
    problem = values_problem(matrix, f"{name} vectors", MAX_LATTICE_LENGTH)
    if problem:
        return problem
    array = np.asarray(matrix, dtype=float)
    if array.shape != (3, 3):
        return f"{name} is not three vectors of three numbers"
    lengths = np.linalg.norm(array, axis=1)
    if lengths.min() < MIN_LATTICE_LENGTH:
        return f"{name} vector of {lengths.min():.3g} Å is shorter than any cell ({MIN_LATTICE_LENGTH} Å): zero or near-zero volume"
    # the volume from the normalised vectors (no overflow), then scaled
    volume = abs(float(np.linalg.det(array / lengths[:, None]))) * float(np.prod(lengths))
    if not math.isfinite(volume) or volume <= 1e-8 * float(np.prod(lengths)):
        return f"{name} vectors are (nearly) coplanar: zero or near-zero volume"
    return None


def coordinates_problem(coordinates, name: str = "coordinates", fractional: bool = True) -> str | None:
    """Why site coordinates are not positions (non-finite, or far outside the cell), or None."""
    return values_problem(coordinates, f"{name} ({'fractional' if fractional else 'Cartesian'})", MAX_FRACTIONAL if fractional else MAX_CARTESIAN)


def numbers_problem(data, name: str, bound: float = MAX_PROPERTY, skip: tuple[str, ...] = ()) -> str | None:
    """Why some number anywhere in plain data (nested mappings and lists; keys in ``skip`` passed
    over) is not finite and within ±bound, or None: what a structure carries beside its lattice and
    coordinates (occupancies, charge, oxidation states, magnetic moments, site properties)."""
    stack = [(data, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            stack.extend((v, f"{where}.{k}" if where else str(k)[:40]) for k, v in node.items() if k not in skip)
        elif isinstance(node, (list, tuple)):
            stack.extend((v, where) for v in node)
        elif isinstance(node, np.ndarray):
            if node.dtype.kind in "fciu":
                problem = values_problem(node, f"{name}: {where or 'a value'}", bound)
                if problem:
                    return problem
        elif is_number(node):
            value = float(node) if not isinstance(node, int) or abs(node) < 2**1023 else math.inf
            if not math.isfinite(value):
                return f"{name}: {where or 'a value'} is {node!s:.30} (not finite)"
            if abs(value) > bound:
                return f"{name}: {where or 'a value'} is {value:.4g}, outside any physical range (at most {bound:g})"
    return None


def sites_in(data) -> int:
    """How many sites plain data holds in all (every mapping with a list of ``sites``, nested ones included)."""
    total, stack = 0, [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("sites"), list):
                total += len(node["sites"])
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    return total


def structure_dict_problem(data, name: str = "structure") -> str | None:
    """Why a structure's dict (pymatgen's ``as_dict``) is not one lrox can use, or None: its shape,
    its lattice, its site count (at most :data:`MAX_ATOMS`) and every coordinate, checked before
    pymatgen builds anything."""
    if not isinstance(data, dict):
        return f"{name} is not a mapping"
    lattice, sites = data.get("lattice"), data.get("sites")
    if not isinstance(lattice, dict) or "matrix" not in lattice or not isinstance(sites, list):
        return f"{name} has no lattice matrix and list of sites"
    if data.get("charge") is not None and not is_number(data["charge"]):
        return f"{name}: its charge is not a number"
    total = sites_in(data)  # a structure nested in a site property is built too: its sites count
    if total > MAX_ATOMS:
        return f"{name} has {total} sites{' (nested structures included)' if total != len(sites) else ''}, more than the {MAX_ATOMS} lrox takes"
    problem = lattice_problem(lattice["matrix"], f"{name} lattice")
    if problem:
        return problem
    frac = []
    for site in sites:
        if not isinstance(site, dict) or not isinstance(site.get("species"), list) or not isinstance(site.get("abc", site.get("xyz")), list):
            return f"{name} has a site without species and coordinates"
        frac.append(site.get("abc", site.get("xyz")))
    problem = numbers_problem({k: v for k, v in data.items() if k != "lattice"}, name, skip=("abc", "xyz"))
    if problem:
        return problem
    try:
        array = np.asarray(frac, dtype=float)
    except (TypeError, ValueError, OverflowError):
        return f"{name} has coordinates that are not three numbers"
    if array.size and array.shape[-1] != 3:
        return f"{name} has coordinates that are not three numbers"
    return coordinates_problem(array, f"{name} coordinates", fractional="abc" in (sites[0] if sites else {}))
