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
    return Path(path).suffix == ".json" or Path(path).is_dir() and (Path(path) / CONFIG_FILE).exists()


def read_configuration(path: Path) -> tuple[DefectFramework, Configuration]:
    """The framework and configuration saved by :func:`write_configuration` (a file or its folder)."""
    from structures.hosts import check_structure
    from structures.safety import MAX_ATOMS, MAX_STRUCTURE_BYTES, decode_msonable, load_json, read_text

    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_FILE
    if not path.exists() and not path.is_symlink():
        raise LroxInputError(f"no such configuration file '{path}'")
    raw = load_json(read_text(path, "configuration file", MAX_STRUCTURE_BYTES), f"'{path}' is not an lrox configuration file: it")
    if not isinstance(raw, dict) or not isinstance(raw.get("host"), dict) or not isinstance(raw.get("configuration"), dict):
        raise LroxInputError(f"'{path}' is not an lrox configuration file (it needs 'host' and 'configuration' objects)")
    supercell = raw["configuration"].get("supercell")
    if not (isinstance(supercell, list) and len(supercell) == 3 and all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 100 for n in supercell)):
        raise LroxInputError(f"'{path}': supercell must be three multiples between 1 and 100, got {str(supercell)[:60]}")
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
