"""The door for VASP's files: vasprun.xml, OUTCAR, INCAR, KPOINTS, POSCAR/CONTCAR, CHGCAR, NEB folders
and densities of states.

Every file goes through the file door first (regular file, size, name, permissions; a compressed file
is counted while streaming and refused past the unpacking limits before pymatgen opens it), so a FIFO
named OUTCAR, a link to ``/dev/zero`` or a gzip bomb is one error, never a hang. Structures go through
the structure door (numbers, species, size); a DOS stored as a dict through the class allow-list.
pymatgen's parsers do the reading; a file they cannot parse is one :class:`LroxInputError` naming it.
The numbers a run gives (energies, forces) are judged by the caller with the number door, which
stores a run with non-finite or absurd numbers as failed with the reason.
"""

from __future__ import annotations

from pathlib import Path

from structures.doors.data import check_decodable, load_json
from structures.doors.files import MAX_RESULTS_BYTES, MAX_SPEC_BYTES, checked_file, contains, read_file_text
from structures.doors.text import shown
from structures.errors import LroxInputError

__all__ = [
    "read_vasprun",
    "outcar_contains",
    "read_outcar",
    "read_incar",
    "read_kpoints",
    "read_poscar",
    "read_chgcar",
    "neb_analysis",
    "complete_dos",
]


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {shown(text[0], 160)}" if text else type(exc).__name__


def _checked_file(path, what: str, max_bytes: int = MAX_RESULTS_BYTES) -> Path:
    return checked_file(path, what, max_bytes)


def read_vasprun(path: str | Path, what: str | None = None, **kwargs):
    """pymatgen's Vasprun of a checked file (POTCARs are never read from disk)."""
    from pymatgen.io.vasp import Vasprun

    what = what or f"vasprun.xml '{shown(path)}'"
    path = _checked_file(path, what)
    try:
        return Vasprun(str(path), parse_potcar_file=False, **kwargs)
    except Exception as exc:  # noqa: BLE001 - a truncated or damaged file
        raise LroxInputError(f"{what} is truncated or unreadable ({_reason(exc)})") from None


def outcar_contains(path: str | Path, needle: str, what: str | None = None) -> bool:
    """Whether an OUTCAR (gzipped or not) holds ``needle``, read as a stream up to the first hit."""
    return contains(path, what or f"OUTCAR '{shown(path)}'", needle, MAX_RESULTS_BYTES)


def read_outcar(path: str | Path, what: str | None = None):
    from pymatgen.io.vasp import Outcar

    what = what or f"OUTCAR '{shown(path)}'"
    path = _checked_file(path, what)
    try:
        return Outcar(str(path))
    except Exception as exc:  # noqa: BLE001
        raise LroxInputError(f"{what} is unreadable ({_reason(exc)})") from None


def read_incar(path: str | Path, what: str | None = None) -> dict:
    """An INCAR's tags (UTF-8 text within the spec size limit)."""
    from pymatgen.io.vasp import Incar

    what = what or f"INCAR '{shown(path)}'"
    text = read_file_text(path, what, MAX_SPEC_BYTES)
    try:
        return dict(Incar.from_str(text))
    except Exception as exc:  # noqa: BLE001
        raise LroxInputError(f"{what} is unreadable ({_reason(exc)})") from None


def read_kpoints(path: str | Path, what: str | None = None):
    from pymatgen.io.vasp import Kpoints

    what = what or f"KPOINTS '{shown(path)}'"
    text = read_file_text(path, what, MAX_SPEC_BYTES)
    try:
        return Kpoints.from_str(text)
    except Exception as exc:  # noqa: BLE001
        raise LroxInputError(f"{what} is unreadable ({_reason(exc)})") from None


def read_poscar(path: str | Path, what: str | None = None):
    """The structure of a POSCAR/CONTCAR (gzipped or not), through the structure door."""
    from structures.doors.files import MAX_STRUCTURE_BYTES
    from structures.doors.structures_in import structure_from_poscar_text

    what = what or f"POSCAR '{shown(path)}'"
    return structure_from_poscar_text(read_file_text(path, what, MAX_STRUCTURE_BYTES), what)


def read_chgcar(path: str | Path, what: str | None = None):
    """pymatgen's Chgcar of a checked file (a charge density, gzipped or not)."""
    from pymatgen.io.vasp import Chgcar

    what = what or f"charge density '{shown(path)}'"
    path = _checked_file(path, what)
    try:
        return Chgcar.from_file(str(path))
    except Exception as exc:  # noqa: BLE001
        raise LroxInputError(f"{what} is unreadable ({_reason(exc)})") from None


def _first(folder: Path, name: str) -> Path | None:
    from structures.doors.files import kind_of

    if kind_of(folder / name, name, follow=False) != "missing":
        return folder / name
    found = sorted(p for p in folder.glob(f"{name}*"))
    return found[0] if found else None


def neb_analysis(folder: str | Path):
    """pymatgen's NEBAnalysis of a VTST NEB folder (images 00..NN), every file it reads checked first.

    As ``NEBAnalysis.from_dir``: the end points' energies from the OUTCAR in 00 and NN (or in
    start/end, initial/final), their structures from POSCAR; the images' from OUTCAR and CONTCAR."""
    from pymatgen.analysis.transition_state import NEBAnalysis

    folder = Path(folder)
    images = sorted((int(p.name), p) for p in folder.iterdir() if p.name.isdigit() and p.is_dir())
    if len(images) < 3:
        raise LroxInputError(f"NEB folder '{shown(folder)}' has fewer than three images")
    outcars, structures = [], []
    for k, (_, image) in enumerate(images):
        terminal = k in (0, len(images) - 1)
        candidates = [image] + ([folder / pair[0 if k == 0 else 1] for pair in (("start", "end"), ("initial", "final"))] if terminal else [])
        outcar = next((found for place in candidates if (found := _first(place, "OUTCAR")) is not None), None)
        geometry = _first(image, "POSCAR" if terminal else "CONTCAR")
        if outcar is None or geometry is None:
            missing = "OUTCAR" if outcar is None else "POSCAR" if terminal else "CONTCAR"
            raise LroxInputError(f"NEB image '{shown(image)}' has no {missing}")
        outcars.append(read_outcar(outcar))
        structures.append(read_poscar(geometry))
    try:
        return NEBAnalysis.from_outcars(outcars, structures)
    except Exception as exc:  # noqa: BLE001
        raise LroxInputError(f"NEB folder '{shown(folder)}' is not readable by pymatgen NEBAnalysis ({_reason(exc)})") from None


def complete_dos(source, what: str = "density of states"):
    """A CompleteDos from a CompleteDos, its dict, a JSON file of it (gzipped or not) or a vasprun.xml:
    a dict is decoded only through the class allow-list."""
    from pymatgen.electronic_structure.dos import CompleteDos

    if isinstance(source, CompleteDos):
        return source
    if not isinstance(source, dict):
        name = Path(source).name.lower()
        if ".json" in name:
            source = load_json(read_file_text(source, what, MAX_RESULTS_BYTES), f"{what} '{shown(source)}'")
        else:
            run = read_vasprun(source, parse_eigen=False)
            if run.complete_dos is None or not run.complete_dos.pdos:
                raise LroxInputError(f"{shown(source)}: no projected DOS (was LORBIT set?)")
            return run.complete_dos
    if not isinstance(source, dict):
        raise LroxInputError(f"{what} is not a CompleteDos")
    check_decodable(source, what)
    try:
        return CompleteDos.from_dict(source)
    except Exception as exc:  # noqa: BLE001
        raise LroxInputError(f"{what} is not a CompleteDos ({_reason(exc)})") from None
