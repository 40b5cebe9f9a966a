"""Writing configurations to disk and reading them back, self-contained (the host travels along)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from monty.json import MontyEncoder

from structures.configurations import Configuration
from structures.errors import LroxInputError
from structures.framework import DefectFramework
from structures.hosts import Host

__all__ = ["write_configuration", "write_configuration_file", "read_configuration", "is_configuration_file"]

CONFIG_FILE = "configuration.json"


def write_configuration(directory: Path, host: Host, configuration: Configuration) -> Path:
    """``DIR/<id>/POSCAR`` and ``DIR/<id>/configuration.json``; returns the folder."""
    folder = Path(directory) / configuration.id
    folder.mkdir(parents=True, exist_ok=True)
    configuration.structure.to(filename=str(folder / "POSCAR"), fmt="poscar")
    write_configuration_file(folder, host, configuration)
    return folder


def write_configuration_file(folder: Path, host: Host, configuration: Configuration) -> Path:
    """``folder/configuration.json``: host and configuration, self-contained (what ``read_configuration`` reads)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"host": host.as_dict(), "configuration": configuration.as_dict()}
    (folder / CONFIG_FILE).write_text(json.dumps(payload, cls=MontyEncoder))
    return folder / CONFIG_FILE


def is_configuration_file(path: Path) -> bool:
    from structures.doors.files import exists, is_folder

    return Path(path).suffix == ".json" or is_folder(path, "configuration") and exists(Path(path) / CONFIG_FILE)


def read_configuration(path: Path) -> tuple[DefectFramework, Configuration]:
    """The framework and configuration saved by :func:`write_configuration` (a file or its folder)."""
    from structures.doors.data import decode_msonable, load_json
    from structures.doors.files import MAX_STRUCTURE_BYTES, exists, is_folder, read_file_text
    from structures.doors.numbers import MAX_ATOMS, structure_dict_problem
    from structures.hosts import check_structure

    path = Path(path)
    if is_folder(path, "configuration"):
        path = path / CONFIG_FILE
    if not exists(path, "configuration file"):
        raise LroxInputError(f"no such configuration file '{path}'")
    raw = load_json(read_file_text(path, "configuration file", MAX_STRUCTURE_BYTES), f"'{path}' is not an lrox configuration file: it")
    if not isinstance(raw, dict) or not isinstance(raw.get("host"), dict) or not isinstance(raw.get("configuration"), dict):
        raise LroxInputError(f"'{path}' is not an lrox configuration file (it needs 'host' and 'configuration' objects)")
    supercell = raw["configuration"].get("supercell")
    if not (isinstance(supercell, list) and len(supercell) == 3 and all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 100 for n in supercell)):
        raise LroxInputError(f"'{path}': supercell must be three multiples between 1 and 100, got {str(supercell)[:60]}")
    for part in ("host", "configuration"):
        structure = raw[part].get("structure")
        problem = structure_dict_problem(structure, f"the {part}'s structure") if structure is not None else None
        if problem:
            raise LroxInputError(f"'{path}': {problem}")
    try:
        payload = decode_msonable(raw, f"configuration file '{path}'")
        host, configuration = payload["host"], payload["configuration"]
    except LroxInputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any malformed content
        raise LroxInputError(f"'{path}' is not an lrox configuration file ({type(exc).__name__})") from None
    if not isinstance(host, Host) or not isinstance(configuration, Configuration):
        raise LroxInputError(f"'{path}' is not an lrox configuration file")
    check_structure(host.structure, f"host of '{path}'")
    n_atoms = len(host.structure) * supercell[0] * supercell[1] * supercell[2]
    if n_atoms > MAX_ATOMS:
        raise LroxInputError(f"'{path}': a {'x'.join(map(str, supercell))} supercell of this host has {n_atoms} atoms, more than {MAX_ATOMS}")
    framework = DefectFramework.from_host(host, tuple(configuration.supercell))
    lattice = framework.structure.lattice
    for defect in configuration.defects:  # re-anchor points by position, not by stored index
        d = lattice.get_all_distances(np.array([defect.frac_coords]), framework.frac_coords)[0]
        if d.min() > 0.1:
            raise LroxInputError(f"'{path}': defect at {defect.frac_coords} is not on a site of its host")
        defect.point = int(d.argmin())
    return framework, configuration


def configuration_folder(index: int, config) -> str:
    """``001_Ti_on_Mn_4g_TM_layer``: a folder name a person reads (the id is in its configuration.json)."""
    import re

    slug = re.sub(r"[^A-Za-z0-9]+", "_", config.name).strip("_")[:60] or "configuration"
    return f"{index:03d}_{slug}"


def poscar_text(structure, comment: str | None = None) -> str:
    """What pymatgen's ``Poscar(structure).get_str()`` writes (VASP 5 names, direct coordinates,
    16 significant figures, selective dynamics where the sites carry it), built in linear time.

    pymatgen's writer reads ``Poscar.selective_dynamics`` once per site, and that property
    rebuilds the properties of every site: quadratic in the atoms (120 s of the 903-calculation
    Li-rich dry run, 240-atom cells), after two copies of the structure. Here the site properties
    are read once, into one array. Structures this writer does not cover (disordered sites,
    velocities) go to pymatgen's; tests/test_scale.py checks the two agree byte for byte.
    ``comment``: the first line (pymatgen's default, the formula, where None).
    """
    layout = _poscar_layout(structure, comment)
    if layout is None:
        from pymatgen.io.vasp import Poscar

        return Poscar(structure, comment=comment).get_str()
    return _poscar_with(layout, structure.frac_coords)


def poscar_texts_along(structure, frac_coords: list, comment: str | None = None) -> list[str]:
    """The POSCAR (:func:`poscar_text`) of ``structure`` with its sites at each of ``frac_coords``
    (arrays of the sites' fractional coordinates: a band's images), its header and each site's
    species and flags written once for all of them, no Structure built per image."""
    layout = _poscar_layout(structure, comment)
    if layout is None:
        from pymatgen.core import Structure

        moved = [Structure(structure.lattice, structure.species, coords, site_properties=structure.site_properties, properties=structure.properties) for coords in frac_coords]
        return [poscar_text(image, comment) for image in moved]
    return [_poscar_with(layout, coords) for coords in frac_coords]


def _poscar_layout(structure, comment: str | None) -> tuple[list[str], list[str]] | None:
    """A POSCAR's lines but the coordinates (header; each site's flags and species), or None
    where pymatgen's own writer must write it."""
    import itertools

    from pymatgen.core import Lattice

    properties = structure.site_properties  # read once
    extras = ("lattice_velocities", "predictor_corrector_preamble")
    if not structure.is_ordered or any(properties.get(k) is not None for k in ("velocities", "predictor_corrector")) or any(structure.properties.get(k) is not None for k in extras):
        return None
    selective = properties.get("selective_dynamics")
    if selective is not None and len(selective) != len(structure):
        return None  # some sites without the flags: pymatgen's own behaviour
    lattice = structure.lattice
    if np.linalg.det(lattice.matrix) < 0:  # VASP's left-handed-cell bug, as pymatgen handles it
        lattice = Lattice(-lattice.matrix)
    symbols = [site.specie.symbol for site in structure]
    groups = [(symbol, len(list(run))) for symbol, run in itertools.groupby(symbols)]
    header = [structure.formula if comment is None else comment, "1.0", *(" ".join(_POSCAR_NUMBER(c) for c in row) for row in lattice.matrix.tolist())]
    header.append(" ".join(symbol for symbol, _ in groups))
    header.append(" ".join(str(count) for _, count in groups))
    flags = [""] * len(structure)
    if selective is not None:
        header.append("Selective dynamics")
        flags = [" " + " ".join("T" if free else "F" for free in row) for row in np.asarray(selective, dtype=bool).tolist()]
    header.append("direct")
    return header, [f"{flag} {site.species_string}" for flag, site in zip(flags, structure)]


_POSCAR_NUMBER = "{:21.16f}".format


def _poscar_with(layout: tuple[list[str], list[str]], frac_coords) -> str:
    header, ends = layout
    lines = [" ".join(_POSCAR_NUMBER(c) for c in row) + end for row, end in zip(np.asarray(frac_coords).tolist(), ends)]
    return "\n".join(header + lines) + "\n"


def write_poscar(structure, path: Path) -> None:
    """``path`` as a POSCAR of ``structure`` (:func:`poscar_text`)."""
    Path(path).write_text(poscar_text(structure), encoding="utf-8")


__all__ += ["poscar_text", "poscar_texts_along", "write_poscar"]
