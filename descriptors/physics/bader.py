"""Bader charges: run the analysis on a charge density, or read an existing ACF.dat, and net charges per site.

Tool choice: ``baderkit`` (a maintained pip reimplementation of the Henkelman code on numba;
no binary to build). ``pybader`` was rejected: its reader breaks under pandas 2 and it needs
an old setuptools. baderkit 0.10.2 pins ``pymatgen<=2025.10.7`` and ``pandas<3`` although it
runs on the current stack, so the Makefile installs it with ``--no-deps`` after its real
dependencies (numba, typer, rich; the ``bader`` extra of pyproject.toml). When Henkelman's
``bader`` program is on PATH it is used instead (it is the reference implementation).

Reference density: VASP's core+valence sum AECCAR0 + AECCAR2 (written with LAECHG) when both
are present, as the Henkelman group recommends; otherwise the CHGCAR itself. A run directory
without a charge density gives :class:`BaderUnavailable`: charges are recorded as unavailable,
never guessed.
"""

from __future__ import annotations

import gzip
import logging
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "BaderUnavailable",
    "BaderFileError",
    "BaderResult",
    "parse_acf",
    "valence_electrons",
    "run_bader",
    "bader_from_directory",
    "transition_state_cations",
]

TS_CATION_CUTOFF = 3.0  # Å from the transition-state point: the cations whose octahedra face it


class BaderUnavailable(RuntimeError):
    """No charge density to partition: the charges are unavailable at this level of theory or run."""


class BaderFileError(ValueError):
    """A Bader file that cannot be read (truncated or garbled); the message names it."""


@dataclass
class BaderResult:
    electrons: list[float]  # Bader electrons per site, in structure order
    volumes: list[float] | None
    n_electrons: float
    vacuum_charge: float
    net_charges: list[float] | None = None  # valence − electrons, when valence counts are known
    elements: list[str] | None = None
    method: str = ""  # "baderkit 0.10.2 (neargrid-weight)", "bader program", "ACF.dat"
    reference: str = ""  # "AECCAR0+AECCAR2", "CHGCAR", "as written in ACF.dat"
    positions: list[list[float]] = field(default_factory=list)  # Å, from ACF.dat when read

    def as_dict(self) -> dict:
        return asdict(self)


def _open_text(path: Path):
    return gzip.open(path, "rt") if path.suffix == ".gz" else open(path)


def _find(directory: Path, name: str) -> Path | None:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.exists():
            return candidate
    return None


def parse_acf(path: str | Path) -> BaderResult:
    """Read the Henkelman ``ACF.dat``: charges, volumes, positions, vacuum charge, electron count."""
    path = Path(path)
    try:
        lines = _open_text(path).read().splitlines()
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise BaderFileError(f"{path}: cannot read ({exc})") from exc
    rows, totals = [], {}
    for line in lines:
        parts = line.split()
        if not parts or set(line.strip()) <= {"-"} or parts[0] == "#":
            continue
        if parts[0].isdigit():
            try:
                values = [float(x) for x in parts[1:]]
            except ValueError as exc:
                raise BaderFileError(f"{path}: garbled atom line '{line.strip()}'") from exc
            if len(values) < 6:
                raise BaderFileError(f"{path}: atom line with {len(values)} columns, expected 6 or more")
            rows.append(values)
            continue
        match = re.match(r"\s*(VACUUM CHARGE|VACUUM VOLUME|NUMBER OF ELECTRONS):\s*(\S+)", line)
        if match:
            try:
                totals[match.group(1)] = float(match.group(2))
            except ValueError as exc:
                raise BaderFileError(f"{path}: garbled '{match.group(1)}' line") from exc
    if not rows:
        raise BaderFileError(f"{path}: no atom lines")
    if "NUMBER OF ELECTRONS" not in totals:
        raise BaderFileError(f"{path}: truncated (no 'NUMBER OF ELECTRONS' line)")
    data = np.array(rows)
    electrons = data[:, 3]
    if not np.all(np.isfinite(data)) or np.any(electrons < 0):
        raise BaderFileError(f"{path}: non-finite or negative charges")
    total = float(electrons.sum() + totals.get("VACUUM CHARGE", 0.0))
    if abs(total - totals["NUMBER OF ELECTRONS"]) > 1e-3 * max(1.0, totals["NUMBER OF ELECTRONS"]):
        raise BaderFileError(f"{path}: atom charges sum to {total:.4f}, not the {totals['NUMBER OF ELECTRONS']:.4f} electrons it states")
    return BaderResult(
        electrons=electrons.tolist(),
        volumes=data[:, 5].tolist(),
        n_electrons=totals["NUMBER OF ELECTRONS"],
        vacuum_charge=totals.get("VACUUM CHARGE", 0.0),
        method="ACF.dat",
        reference="as written in ACF.dat",
        positions=data[:, 0:3].tolist(),
    )


def valence_electrons(directory: str | Path) -> dict[str, float] | None:
    """Valence electrons per element (ZVAL of the POTCARs), from vasprun.xml or OUTCAR; None if neither says."""
    directory = Path(directory)
    vasprun = _find(directory, "vasprun.xml")
    if vasprun is not None:
        import xml.etree.ElementTree as ET

        try:
            root = ET.parse(_open_text(vasprun)).getroot()
        except (ET.ParseError, OSError, EOFError):
            root = None
        if root is not None:
            for array in root.iter("array"):
                if array.get("name") == "atomtypes":
                    fields = [f.text.strip() for f in array.findall("field")]
                    i_el, i_val = fields.index("element"), fields.index("valence")
                    out = {}
                    for rc in array.iter("rc"):
                        cells = [c.text.strip() for c in rc.findall("c")]
                        out[cells[i_el].split("_")[0]] = float(cells[i_val])
                    if out:
                        return out
    outcar = _find(directory, "OUTCAR")
    if outcar is not None:
        titles, zvals = [], []
        with _open_text(outcar) as handle:
            for line in handle:
                if line.strip().startswith("POTCAR:"):
                    titles.append(line.split()[2].split("_")[0])
                elif "ZVAL" in line and "=" in line and not zvals:
                    zvals = [float(x) for x in line.split("=")[1].split()]
        titles = list(dict.fromkeys(titles))
        if titles and len(zvals) == len(titles):
            return dict(zip(titles, zvals))
    return None


def _with_net_charges(result: BaderResult, elements: list[str], valence: dict[str, float] | None) -> BaderResult:
    result.elements = list(elements)
    if len(elements) != len(result.electrons):
        raise BaderFileError(f"{len(result.electrons)} Bader charges for {len(elements)} sites")
    if valence and all(e in valence for e in elements):
        result.net_charges = [valence[e] - q for e, q in zip(elements, result.electrons)]
    return result


def _quiet_baderkit():
    """Import baderkit without letting it reconfigure the root logger (it calls basicConfig at import)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        import baderkit
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise BaderUnavailable("Bader analysis needs baderkit: pip install --no-deps baderkit==0.10.2 (see the Makefile)") from exc
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    return baderkit


def _plain_copy(source: Path, target: Path) -> Path:
    if source.suffix == ".gz":
        with gzip.open(source, "rb") as fin, open(target, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    else:
        shutil.copy(source, target)
    return target


def run_bader(charge: str | Path, reference: list[str | Path] | None = None, valence: dict[str, float] | None = None) -> BaderResult:
    """Partition a CHGCAR-format density (optionally with reference densities summed) into Bader basins."""
    from pymatgen.io.vasp import Chgcar

    charge = Path(charge)
    with tempfile.TemporaryDirectory(prefix="lrox-bader-") as tmp:
        tmp = Path(tmp)
        chgcar = _plain_copy(charge, tmp / "CHGCAR")
        ref_path = None
        if reference:
            grids = [Chgcar.from_file(str(_plain_copy(Path(r), tmp / Path(r).name.removesuffix(".gz")))) for r in reference]
            total = grids[0]
            for extra in grids[1:]:
                total = total.linear_add(extra, 1.0)
            ref_path = tmp / "CHGCAR_sum"
            total.write_file(str(ref_path))
        structure = Chgcar.from_file(str(chgcar)).structure
        elements = [site.specie.symbol for site in structure]
        label = "AECCAR0+AECCAR2" if reference else "CHGCAR"
        program = shutil.which("bader")
        if program:
            command = [program, str(chgcar)] + (["-ref", str(ref_path)] if ref_path else [])
            subprocess.run(command, cwd=tmp, check=True, capture_output=True, timeout=3600)
            result = parse_acf(tmp / "ACF.dat")
            result.method, result.reference = "bader program", label
            return _with_net_charges(result, elements, valence)
        root = logging.getLogger()
        level, handlers = root.level, list(root.handlers)  # baderkit's modules call basicConfig as they load
        baderkit = _quiet_baderkit()
        root.setLevel(logging.WARNING)  # baderkit logs every stage at INFO
        try:
            import contextlib
            import io

            from baderkit import Bader

            bader = Bader.from_dynamic(charge_grid=str(chgcar), reference_grid=str(ref_path) if ref_path else None, format="vasp")
            with contextlib.redirect_stdout(io.StringIO()):  # it prints "Refining N points" as it goes
                electrons = np.asarray(bader.atom_charges, dtype=float)
            volumes = np.asarray(bader.atom_volumes, dtype=float)
            vacuum = float(bader.vacuum_charge or 0.0)
            n_electrons = float(bader.total_electron_number)
            method = f"baderkit {baderkit.__version__} ({getattr(bader.method, 'value', bader.method)})"
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)
        result = BaderResult(
            electrons=electrons.tolist(),
            volumes=volumes.tolist(),
            n_electrons=n_electrons,
            vacuum_charge=vacuum,
            method=method,
            reference=label,
        )
        return _with_net_charges(result, elements, valence)


def bader_from_directory(directory: str | Path, structure=None) -> BaderResult:
    """Charges of a VASP run directory: an existing ACF.dat, else a fresh analysis of CHGCAR."""
    directory = Path(directory)
    valence = valence_electrons(directory)
    acf = _find(directory, "ACF.dat")
    if acf is not None:
        result = parse_acf(acf)
        if structure is None:
            poscar = _find(directory, "CONTCAR") or _find(directory, "POSCAR")
            if poscar is not None:
                from pymatgen.io.vasp import Poscar

                structure = Poscar.from_str(_open_text(poscar).read()).structure
        if structure is not None:
            _with_net_charges(result, [s.specie.symbol for s in structure], valence)
        return result
    chgcar = _find(directory, "CHGCAR")
    if chgcar is None:
        raise BaderUnavailable(f"{directory}: no CHGCAR or ACF.dat, so no Bader charges")
    aeccar = [_find(directory, "AECCAR0"), _find(directory, "AECCAR2")]
    return run_bader(chgcar, reference=aeccar if all(aeccar) else None, valence=valence)


def transition_state_cations(structure, charges, ts_frac_coords, moving_index: int | None = None, cutoff: float = TS_CATION_CUTOFF) -> list[dict]:
    """The cations facing a hop's transition state, with their charges.

    The transition-state point is the tetrahedral hole of a TSH hop or the O–O edge midpoint
    of an ODH hop; the cations whose octahedra share a face (or the edge) with it sit within
    ``cutoff`` of that point. The migrating Li (``moving_index``) is left out.
    """
    from descriptors.physics.electronic import TRANSITION_METALS

    out = []
    point = np.asarray(ts_frac_coords, dtype=float)
    for i, site in enumerate(structure):
        symbol = site.specie.symbol
        if i == moving_index or symbol == "O":
            continue
        distance, _ = structure.lattice.get_distance_and_image(point, site.frac_coords)
        if distance <= cutoff:
            out.append(
                {
                    "index": i,
                    "element": symbol,
                    "label": site.properties.get("label", symbol),
                    "is_tm": symbol in TRANSITION_METALS,
                    "distance": float(distance),
                    "charge": None if charges is None else float(charges[i]),
                }
            )
    return sorted(out, key=lambda c: c["distance"])
