"""Writing configurations to disk and reading them back, self-contained (the host travels along)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from monty.json import MontyDecoder, MontyEncoder

from structures.configurations import Configuration
from structures.errors import LroxInputError
from structures.framework import DefectFramework
from structures.hosts import Host

__all__ = ["write_configuration", "read_configuration", "is_configuration_file"]

CONFIG_FILE = "configuration.json"


def write_configuration(directory: Path, host: Host, configuration: Configuration) -> Path:
    """``DIR/<id>/POSCAR`` and ``DIR/<id>/configuration.json``; returns the folder."""
    folder = Path(directory) / configuration.id
    folder.mkdir(parents=True, exist_ok=True)
    configuration.structure.to(filename=str(folder / "POSCAR"), fmt="poscar")
    payload = {"host": host.as_dict(), "configuration": configuration.as_dict()}
    (folder / CONFIG_FILE).write_text(json.dumps(payload, cls=MontyEncoder))
    return folder


def is_configuration_file(path: Path) -> bool:
    return Path(path).suffix == ".json" or Path(path).is_dir() and (Path(path) / CONFIG_FILE).exists()


def read_configuration(path: Path) -> tuple[DefectFramework, Configuration]:
    """The framework and configuration saved by :func:`write_configuration` (a file or its folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_FILE
    try:
        payload = json.loads(path.read_text(), cls=MontyDecoder)
        host, configuration = payload["host"], payload["configuration"]
    except FileNotFoundError:
        raise LroxInputError(f"no such configuration file '{path}'") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise LroxInputError(f"'{path}' is not an lrox configuration file ({type(exc).__name__})") from None
    if not isinstance(host, Host) or not isinstance(configuration, Configuration):
        raise LroxInputError(f"'{path}' is not an lrox configuration file")
    framework = DefectFramework.from_host(host, tuple(configuration.supercell))
    lattice = framework.structure.lattice
    for defect in configuration.defects:  # re-anchor points by position, not by stored index
        d = lattice.get_all_distances(np.array([defect.frac_coords]), framework.frac_coords)[0]
        if d.min() > 0.1:
            raise LroxInputError(f"'{path}': defect at {defect.frac_coords} is not on a site of its host")
        defect.point = int(d.argmin())
    return framework, configuration
