"""The door for structures: one loader for every format lrox reads a structure from.

Formats, by file name: POSCAR/CONTCAR (``POSCAR*``, ``CONTCAR*``, ``*.vasp``), CIF (``*.cif``,
``*.mcif``), JSON (``*.json``: pymatgen's ``Structure.as_dict``), YAML (``*.yaml``, ``*.yml``: the
same dict), extended XYZ (``*.extxyz``, ``*.xyz`` with a ``Lattice``) and ``vasprun*.xml`` (its
final structure); each may be gzipped. Whatever the format, the loader guarantees:

* the file went through the file door (regular file, size, name, permissions, bounded unpacking);
* **no file names code**: JSON and YAML are read as plain data (YAML without anchors or aliases),
  and a structure is built from a dict only after every ``@module``/``@class`` in it (site
  properties included: pymatgen decodes those with monty's MontyDecoder) is on the allow-list;
* **the number of sites is capped before anything is built**: a POSCAR's counts and a JSON's site
  list against :data:`MAX_ATOMS`, a CIF's own site count × the order of its space group (the most
  its symmetry can expand to) against :data:`MAX_CIF_ATOMS` (pymatgen's expansion is quadratic);
* **every number is a number**: lattice lengths and angles, the scale factor and every coordinate
  are finite and within physical bounds before pymatgen sees them (a fractional coordinate of 1e308
  is refused, never wrapped into the cell), and again on the built structure;
* every species is a real element (a POSCAR species line ``Li X O`` is refused, not a dummy atom).

Every refusal is one :class:`LroxInputError` naming the file.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import numpy as np

from structures.doors.data import check_decodable, load_json, load_yaml
from structures.doors.files import COMPRESSED_SUFFIXES, MAX_RESULTS_BYTES, MAX_STRUCTURE_BYTES, read_file_text, regular_file
from structures.doors.numbers import (
    MAX_ATOMS,
    MAX_CARTESIAN,
    MAX_FRACTIONAL,
    MAX_LATTICE_LENGTH,
    coordinates_problem,
    lattice_problem,
    is_number,
    number_in_text,
    numbers_problem,
    structure_dict_problem,
)
from structures.doors.text import shown
from structures.errors import LroxInputError

__all__ = [
    "STRUCTURE_FORMATS",
    "structure_format",
    "load_structure",
    "structure_from_dict",
    "structure_from_poscar_text",
    "structure_from_cif_text",
    "structure_problem",
]

STRUCTURE_FORMATS = "POSCAR/CONTCAR (.vasp), CIF, JSON, YAML, extended XYZ and vasprun.xml"


def structure_format(path: str | Path) -> str | None:
    """'poscar', 'cif', 'json', 'yaml', 'extxyz' or 'vasprun' by the file's name, else None."""
    name = Path(path).name
    lower = name.lower()
    for suffix in COMPRESSED_SUFFIXES:
        if lower.endswith(suffix):
            lower, name = lower[: -len(suffix)], name[: -len(suffix)]
    if lower.endswith((".cif", ".mcif")):
        return "cif"
    if "POSCAR" in name or "CONTCAR" in name or lower.endswith(".vasp"):
        return "poscar"
    if lower.startswith("vasprun") and lower.endswith(".xml"):
        return "vasprun"
    if lower.endswith(".json"):
        return "json"
    if lower.endswith((".yaml", ".yml")):
        return "yaml"
    if lower.endswith((".extxyz", ".xyz")):
        return "extxyz"
    return None


def structure_problem(structure, what: str = "structure") -> str | None:
    """Why a built structure is not one lrox can use (size, numbers, species), or None."""
    from pymatgen.core import DummySpecies, Element, Species

    if len(structure) > MAX_ATOMS:
        return f"{what} has {len(structure)} atoms, more than the {MAX_ATOMS} lrox takes"
    problem = lattice_problem(structure.lattice.matrix, f"{what} lattice") or coordinates_problem(structure.frac_coords, f"{what} coordinates")
    if problem:
        return problem
    charge = getattr(structure, "_charge", None)  # as given (pymatgen's property does arithmetic on it)
    if charge is not None and not is_number(charge):
        return f"{what}: its charge {shown(charge, 20)!r} is not a number"
    problem = numbers_problem({"charge": charge, "properties": dict(structure.properties or {})}, what)
    if problem:
        return problem
    for k, site in enumerate(structure):
        for species, amount in site.species.items():
            if isinstance(species, DummySpecies) or not isinstance(species, (Element, Species)):
                return f"{what}: '{shown(species, 20)}' is not an element"
            if not (math.isfinite(amount) and 0 < amount <= 1 + 1e-3):
                return f"{what}: site {k + 1} has an occupancy of {amount:.4g} ({shown(species, 20)}); an occupancy is above 0 and at most 1"
            oxidation = getattr(species, "oxi_state", None)
            if oxidation is not None and not (math.isfinite(oxidation) and abs(oxidation) <= 20):
                return f"{what}: site {k + 1} has an oxidation state of {oxidation:.4g}"
        if site.properties:
            problem = numbers_problem(dict(site.properties), f"{what}: site {k + 1} property")
            if problem:
                return problem
    return None


def _checked(structure, what: str):
    problem = structure_problem(structure, what)
    if problem:
        raise LroxInputError(problem if problem.startswith(what) else f"{what}: {problem}")
    return structure


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return shown(text[0] if text else type(exc).__name__, 200)


def structure_from_dict(data, what: str = "structure"):
    """A Structure from pymatgen's dict, after its shape, size, numbers and every class it names are checked."""
    from pymatgen.core import Structure

    problem = structure_dict_problem(data, what)
    if problem:
        raise LroxInputError(problem if problem.startswith(what) else f"{what}: {problem}")
    check_decodable(data, what)
    try:
        structure = Structure.from_dict(data)
    except LroxInputError:
        raise
    except Exception as exc:  # noqa: BLE001 - pymatgen raises many kinds for a malformed dict
        raise LroxInputError(f"{what} is not a structure ({_reason(exc)})") from None
    return _checked(structure, what)


# ----- POSCAR -------------------------------------------------------------------------------------------
def _is_element(symbol: str) -> bool:
    from pymatgen.core import Element

    return Element.is_valid_symbol(symbol.split("/")[0].split("_")[0])


def _poscar_checks(text: str, what: str) -> None:
    """A POSCAR's numbers, species and counts, checked line by line before pymatgen reads it."""
    lines = [line.split("#", 1)[0].split("!", 1)[0].split() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) < 8:
        raise LroxInputError(f"{what}: too short to hold a cell and atoms")
    scale = lines[1]
    if not scale or len(scale) not in (1, 3):
        raise LroxInputError(f"{what}: line 2 should hold the scale factor")
    factors = [number_in_text(x, f"{what}: scale factor", MAX_LATTICE_LENGTH**3) for x in scale]
    if any(f == 0 for f in factors):
        raise LroxInputError(f"{what}: a scale factor of 0 leaves no cell")
    for k in range(2, 5):
        if len(lines[k]) < 3:
            raise LroxInputError(f"{what}: line {k + 1} should hold a lattice vector (three numbers)")
        for x in lines[k][:3]:
            number_in_text(x, f"{what}: lattice vector on line {k + 1}", MAX_LATTICE_LENGTH)
    counts_line = 5
    if lines[5] and not re.fullmatch(r"[-+]?\d+", lines[5][0]):
        symbols = lines[5]
        bad = next((s for s in symbols if not _is_element(s)), None)
        if bad is not None:
            raise LroxInputError(f"{what}: '{shown(bad, 20)}' on line 6 is not an element")
        counts_line = 6
    try:
        counts = [int(x) for x in lines[counts_line]]
    except (ValueError, IndexError):
        raise LroxInputError(f"{what}: line {counts_line + 1} should hold the atom counts") from None
    if not counts or any(c < 0 for c in counts) or sum(counts) == 0:
        raise LroxInputError(f"{what}: atom counts {shown(counts, 60)} are not possible")
    if sum(counts) > MAX_ATOMS:
        raise LroxInputError(f"{what} has {sum(counts)} atoms, more than the {MAX_ATOMS} lrox takes")
    if counts_line == 6 and len(counts) != len(lines[5]):
        raise LroxInputError(f"{what}: {len(lines[5])} species on line 6 but {len(counts)} counts on line 7")
    start = counts_line + 1
    if start < len(lines) and lines[start] and lines[start][0][0].lower() == "s":
        start += 1  # Selective dynamics
    if start >= len(lines) or not lines[start]:
        raise LroxInputError(f"{what}: line {start + 1} should say Direct or Cartesian")
    cartesian = lines[start][0][0].lower() in "ck"
    start += 1
    coordinates = [line for line in lines[start : start + sum(counts)] if len(line) >= 3]
    if len(coordinates) != sum(counts):
        raise LroxInputError(f"{what}: the counts add up to {sum(counts)} atoms but {len(coordinates)} coordinate lines follow")
    bound = MAX_CARTESIAN if cartesian else MAX_FRACTIONAL
    for k, line in enumerate(coordinates):
        for x in line[:3]:
            number_in_text(x, f"{what}: coordinate of atom {k + 1}", bound)


def structure_from_poscar_text(text: str, what: str = "POSCAR"):
    """A Structure from a POSCAR's text, its numbers, species and counts checked first."""
    from pymatgen.io.vasp import Poscar

    _poscar_checks(text, what)
    try:
        structure = Poscar.from_str(text).structure
    except Exception as exc:  # noqa: BLE001
        raise LroxInputError(f"{what}: {_reason(exc)}") from None
    return _checked(structure, what)


# ----- CIF ----------------------------------------------------------------------------------------------
# every key pymatgen's CifParser takes symmetry from (get_symops, get_magsymops): it tries the operation
# lists in turn (skipping one it cannot parse), then the group's names, then its number. The door
# bounds the expansion by the largest of them all, so no key the door does not know can multiply it.
_SYMMETRY_OPERATIONS = ("_symmetry_equiv_pos_as_xyz", "_symmetry_equiv_pos_as_xyz_", "_space_group_symop_operation_xyz",
                        "_space_group_symop_operation_xyz_", "_space_group_symop.operation_xyz", "_symmetry_equiv.pos_as_xyz")
_MAGNETIC_OPERATIONS, _MAGNETIC_CENTERINGS = "_space_group_symop_magn_operation_xyz", "_space_group_symop_magn_centering_xyz"  # '.' read as '_'
_GROUP_NAMES = ("_symmetry_space_group_name_H-M", "_symmetry_space_group_name_H_M", "_symmetry_space_group_name_H-M_",
                "_symmetry_space_group_name_H_M_", "_space_group_name_Hall", "_space_group_name_Hall_", "_space_group_name_H-M_alt",
                "_space_group_name_H-M_alt_", "_symmetry_space_group_name_hall", "_symmetry_space_group_name_hall_",
                "_symmetry_space_group_name_h-m", "_symmetry_space_group_name_h-m_", "_space_group.name_H-M_alt", "_symmetry_space_group_name_Hall",
                "_space_group.name_Hall")
_GROUP_NUMBERS = ("_space_group_IT_number", "_space_group_IT_number_", "_symmetry_Int_Tables_number", "_symmetry_Int_Tables_number_",
                  "_space_group.IT_number")
_LARGEST_GROUP_ORDER = 192  # Fm-3m and friends: what an unreadable group name may mean
# pymatgen's CIF reader compares every generated site with every other (quadratic: 3000 sites take
# seconds, 5000 over ten): a CIF may expand to at most this many atoms; a larger cell comes as a POSCAR
MAX_CIF_ATOMS = 2000
_CELL = {"_cell_length_a": (0.5, MAX_LATTICE_LENGTH), "_cell_length_b": (0.5, MAX_LATTICE_LENGTH), "_cell_length_c": (0.5, MAX_LATTICE_LENGTH),
         "_cell_angle_alpha": (1.0, 179.0), "_cell_angle_beta": (1.0, 179.0), "_cell_angle_gamma": (1.0, 179.0)}


def _cif_number(text: str, name: str, what: str, bound: float) -> float:
    return number_in_text(re.sub(r"\(\d+\)$", "", str(text).strip()), f"{what}: {name}", bound)


def _listed(value) -> list:
    return value if isinstance(value, list) else [value] if value else []


def _check_operations(operations: list, key: str, what: str) -> None:
    """Each listed operation is an operation: pymatgen reads text it cannot parse as a zero matrix,
    which moves every site onto the origin (80 sites silently became one)."""
    from pymatgen.core.operations import MagSymmOp, SymmOp

    magnetic = "magn" in key
    for text in operations[: MAX_CIF_ATOMS + 1]:
        try:
            operation = MagSymmOp.from_xyzt_str(str(text)) if magnetic else SymmOp.from_xyz_str(str(text))
            determinant = float(np.linalg.det(operation.rotation_matrix))
        except Exception:  # noqa: BLE001 - pymatgen raises several kinds for text that is no operation
            determinant = 0.0
        if not (math.isfinite(determinant) and abs(abs(determinant) - 1) < 1e-6):
            raise LroxInputError(f"{what}: {key} '{shown(text, 40)}' is not a symmetry operation")


def _group_order(data: dict, what: str) -> int:
    """The most symmetry operations a CIF block's atoms can be expanded by, whichever of its keys
    pymatgen takes them from (see :data:`_SYMMETRY_OPERATIONS`); every listed operation checked."""
    from pymatgen.symmetry.groups import SpaceGroup

    orders = [1]
    underscored = {"_".join(key.split(".")): value for key, value in data.items()}
    for key in _SYMMETRY_OPERATIONS:
        operations = _listed(data.get(key))
        if operations:
            _check_operations(operations, key, what)
            orders.append(len(operations))
    magnetic = _listed(underscored.get(_MAGNETIC_OPERATIONS))
    if magnetic:
        centerings = _listed(underscored.get(_MAGNETIC_CENTERINGS))
        _check_operations(magnetic + centerings, "_space_group_symop_magn_operation.xyz", what)
        orders.append(len(magnetic) * max(len(centerings), 1))
    for key in (*_GROUP_NAMES, *_GROUP_NUMBERS):
        if data.get(key):
            symbol = str(data[key]).strip().strip("'\"")
            try:
                group = SpaceGroup.from_int_number(int(float(symbol))) if key in _GROUP_NUMBERS else SpaceGroup(re.sub(r"[\s_]", "", symbol))
                orders.append(int(group.order))
            except Exception:  # noqa: BLE001 - an unknown symbol: assume the largest
                orders.append(_LARGEST_GROUP_ORDER)
    return max(orders)


def _cif_checks(text: str, what: str) -> None:
    """A CIF's cell numbers, coordinates and the most sites its symmetry can make, before expansion."""
    from pymatgen.io.cif import CifFile

    try:
        blocks = CifFile.from_str(text).data
    except Exception as exc:  # noqa: BLE001
        raise LroxInputError(f"{what}: not a CIF ({_reason(exc)})") from None
    most = 0
    for block in blocks.values():
        data = block.data
        labels = next((data[k] for k in ("_atom_site_label", "_atom_site_type_symbol", "_atom_site_fract_x") if k in data), [])
        n_sites = len(labels) if isinstance(labels, list) else 1
        if not n_sites:
            continue
        for key, (low, high) in _CELL.items():
            if key in data:
                value = _cif_number(data[key], key, what, high)
                if not low <= value <= high:
                    raise LroxInputError(f"{what}: {key} {value:g} is outside {low:g}..{high:g}")
        for key in ("_atom_site_fract_x", "_atom_site_fract_y", "_atom_site_fract_z"):
            values = data.get(key, [])
            for value in values if isinstance(values, list) else [values]:
                if str(value).strip() not in ("?", "."):
                    _cif_number(value, key, what, MAX_FRACTIONAL)
        occupancies = data.get("_atom_site_occupancy", [])
        for value in occupancies if isinstance(occupancies, list) else [occupancies]:
            if str(value).strip() not in ("?", "."):  # pymatgen drops a site whose occupancy is NaN: refused here, never lost
                occupancy = _cif_number(value, "_atom_site_occupancy", what, MAX_FRACTIONAL)
                if not 0 < occupancy <= 1 + 1e-3:
                    raise LroxInputError(f"{what}: _atom_site_occupancy {occupancy:g} is not above 0 and at most 1")
        most += n_sites * _group_order(data, what)
    if most > MAX_CIF_ATOMS:
        raise LroxInputError(
            f"{what}: its sites times the order of its space group make up to {most} atoms, more than the {MAX_CIF_ATOMS} lrox expands "
            "from a CIF; give the cell as a POSCAR (P1) if it really is that large"
        )


def structure_from_cif_text(text: str, what: str = "CIF"):
    """The first structure of a CIF, its cell numbers and symmetry-expanded size checked first."""
    import warnings

    from pymatgen.io.cif import CifParser

    _cif_checks(text, what)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structures = CifParser(io.StringIO(text)).parse_structures(primitive=False)
        structure = structures[0]
    except Exception as exc:  # noqa: BLE001
        raise LroxInputError(f"{what}: {_reason(exc)}") from None
    return _checked(structure, what)


# ----- extended XYZ and vasprun.xml ----------------------------------------------------------------------
def _structure_from_extxyz(text: str, what: str):
    from ase.io import read
    from pymatgen.io.ase import AseAtomsAdaptor

    first = text.split("\n", 1)[0].strip()
    if not first.isdigit() or not 0 < int(first) <= MAX_ATOMS:
        raise LroxInputError(f"{what}: the first line must be the number of atoms (1 to {MAX_ATOMS})")
    try:
        atoms = read(io.StringIO(text), format="extxyz", index=0)
    except Exception as exc:  # noqa: BLE001
        raise LroxInputError(f"{what}: {_reason(exc)}") from None
    problem = lattice_problem(np.asarray(atoms.cell), f"{what} lattice") if atoms.cell.rank == 3 else f"{what} has no cell (give a Lattice)"
    if problem or coordinates_problem(atoms.positions, f"{what} positions", fractional=False):
        raise LroxInputError(problem or coordinates_problem(atoms.positions, f"{what} positions", fractional=False))
    return _checked(AseAtomsAdaptor.get_structure(atoms), what)


def load_structure(path: str | Path, what: str | None = None):
    """The structure in a file of any format lrox reads (see the module docstring), every guard applied."""
    path = Path(path)
    what = what or f"structure file '{shown(path)}'"
    regular_file(path, what, MAX_STRUCTURE_BYTES if structure_format(path) != "vasprun" else MAX_RESULTS_BYTES)  # a FIFO or device first
    kind = structure_format(path)
    if kind is None:
        raise LroxInputError(f"{what}: lrox reads structures from {STRUCTURE_FORMATS} files (named by their extension)")
    if kind == "vasprun":
        from pymatgen.io.vasp import Vasprun

        from structures.doors.files import checked_file

        checked = checked_file(path, what, MAX_RESULTS_BYTES)
        try:
            run = Vasprun(str(checked), parse_potcar_file=False, parse_dos=False, parse_eigen=False)
        except Exception as exc:  # noqa: BLE001 - a truncated or damaged file
            raise LroxInputError(f"{what}: truncated or unreadable vasprun.xml ({_reason(exc)})") from None
        return _checked(run.final_structure, what)
    text = read_file_text(path, what, MAX_STRUCTURE_BYTES)
    if kind == "poscar":
        return structure_from_poscar_text(text, what)
    if kind == "cif":
        return structure_from_cif_text(text, what)
    if kind == "extxyz":
        return _structure_from_extxyz(text, what)
    data = load_json(text, what) if kind == "json" else load_yaml(text, what)
    if isinstance(data, dict) and isinstance(data.get("structure"), dict) and "sites" not in data:
        data = data["structure"]  # a document holding a structure (an lrox or atomate2 output)
    return structure_from_dict(data, what)

