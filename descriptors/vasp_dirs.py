"""Plain VASP run folders as database records: relaxations/statics (energy, DOS descriptors, Bader) and VTST NEBs.

A folder is a run when it holds a vasprun.xml or an OUTCAR, and an NEB when it holds image
folders 00, 01, ... . The configuration comes from an lrox ``configuration.json`` in the folder
or above it (written by ``lrox enumerate`` and by dry runs); without one, the structure's
fingerprint names it (``vasp-<hash>``) and its defect is ``unknown``.

Damaged files (a truncated vasprun.xml, an OUTCAR cut mid-run, an empty CONTCAR, a garbled
ACF.dat) are reported by path; the calculation is stored as failed with that reason, and the
rest of the tree is ingested.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from descriptors.extract import calculation_id, configuration_row, descriptor_row

__all__ = ["records_from_vasp_tree", "is_neb_folder", "is_run_folder"]

_RUN_FILES = ("vasprun.xml", "vasprun.xml.gz", "OUTCAR", "OUTCAR.gz")


def _has(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.exists():
            return candidate
    return None


def is_neb_folder(folder: Path) -> bool:
    images = [p for p in folder.iterdir() if p.is_dir() and p.name.isdigit() and len(p.name) == 2]
    return len(images) >= 3 and (folder / "00").is_dir()


def is_run_folder(folder: Path) -> bool:
    return any((folder / f).exists() for f in _RUN_FILES)


def _configuration_for(folder: Path, structure) -> dict:
    from structures.io import CONFIG_FILE, read_configuration

    for parent in [folder, *folder.parents][:4]:
        if (parent / CONFIG_FILE).exists():
            try:
                _, configuration = read_configuration(parent / CONFIG_FILE)
                return configuration_row(configuration.summary())
            except Exception:  # noqa: BLE001 - an unreadable configuration file falls back to the fingerprint
                break
    from structures.hosts import structure_fingerprint

    fingerprint = structure_fingerprint(structure)[:12] if structure is not None else hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    formula = structure.composition.formula.replace(" ", "") if structure is not None else ""
    return configuration_row(
        {
            "id": f"vasp-{fingerprint}",
            "host": "unknown",
            "name": f"VASP run {folder.name} ({formula})",
            "formula": formula,
            "n_atoms": len(structure) if structure is not None else 0,
            "supercell": "",
            "defects": [],
        }
    ) | {"defect": "unknown"}


def _read_poscar(folder: Path, problems: list[str]):
    """The structure of the folder's POSCAR, or None (an unreadable one is reported by name)."""
    from pymatgen.io.vasp import Poscar

    poscar = _has(folder, "POSCAR")
    if poscar is None:
        return None
    try:
        return Poscar.from_file(str(poscar)).structure
    except Exception:  # noqa: BLE001 - any parse failure of a damaged file is reported by name
        problems.append(f"{poscar}: unreadable POSCAR")
        return None


def _settings_hash(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _outcar_complete(path: Path) -> bool:
    from monty.io import zopen

    with zopen(path, "rt") as handle:
        return any("General timing and accounting" in line for line in handle)


def _calc_row(folder: Path, config_id: str, kind: str, level: str, settings: dict, versions: dict, status: str, error, data: dict, hop_id=None) -> dict:
    settings_hash = _settings_hash(settings)
    return {
        "id": calculation_id(config_id, kind, str(folder), hop_id, settings_hash, level),
        "configuration_id": config_id,
        "screen": None,
        "kind": kind,
        "label": f"{kind} {folder.name}",
        "hop_id": hop_id,
        "backend": "vasp",
        "level_of_theory": level,
        "settings_hash": settings_hash,
        "settings": settings,
        "code_versions": versions,
        "status": status,
        "error": error,
        "wall_time": None,
        "source": str(folder),
        "data": data,
    }


def _run_records(folder: Path, problems: list[str]):
    """Records of one relaxation/static folder."""
    from pymatgen.io.vasp import Poscar, Vasprun

    configs, calcs, rows = [], [], []
    errors = []
    run = structure = None
    vasprun = _has(folder, "vasprun.xml")
    if vasprun is not None:
        try:
            run = Vasprun(str(vasprun), parse_potcar_file=False)
            structure = run.final_structure
        except Exception as exc:  # noqa: BLE001 - any parse failure of a damaged file is reported by name
            errors.append(f"{vasprun.name} truncated or unreadable ({type(exc).__name__})")
            problems.append(f"{vasprun}: truncated or unreadable vasprun.xml ({type(exc).__name__})")
    outcar = _has(folder, "OUTCAR")
    if outcar is not None and not _outcar_complete(outcar):
        errors.append(f"{outcar.name} cut mid-run (no timing block)")
        problems.append(f"{outcar}: OUTCAR cut mid-run (no final timing block)")
    contcar = folder / "CONTCAR"
    if contcar.exists():
        text = contcar.read_text(errors="replace")
        if not text.strip():
            errors.append("CONTCAR empty")
            problems.append(f"{contcar}: empty CONTCAR")
        elif structure is None:
            try:
                structure = Poscar.from_str(text).structure
            except Exception as exc:  # noqa: BLE001
                errors.append(f"CONTCAR unreadable ({type(exc).__name__})")
                problems.append(f"{contcar}: unreadable CONTCAR")
    if structure is None:
        structure = _read_poscar(folder, problems)
    config = _configuration_for(folder, structure)
    configs.append(config)
    cid = config["id"]
    settings = dict(run.incar) if run is not None else {}
    level = f"VASP {run.run_type}" if run is not None else "VASP (unknown functional)"
    versions = {"vasp": run.vasp_version} if run is not None else {}
    kind = "static" if settings.get("NSW", 0) in (0, None) or settings.get("IBRION") == -1 else "relax"
    data = {"energy": float(run.final_energy) if run is not None else None, "n_atoms": len(structure) if structure else None}
    if structure is not None:
        data["structure"] = structure.as_dict()
    if run is not None and not run.converged_electronic:
        errors.append("SCF not converged on the final ionic step (Vasprun.converged_electronic is False)")
    if run is not None and kind == "relax" and not run.converged_ionic:
        errors.append("ionic relaxation not converged (Vasprun.converged_ionic is False)")
    status = "failed" if errors or run is None else "success"
    calc = _calc_row(folder, cid, kind, level, settings, versions, status, "; ".join(errors) or None, data)
    calcs.append(calc)
    if run is not None and run.complete_dos is not None and run.complete_dos.pdos and not errors:
        from descriptors.electronic import band_edges_from_vasprun
        from descriptors.extract import _electronic_rows

        defect_cell = config.get("defect") not in ("pristine", "unknown")
        doc = {"configuration_id": cid, "status": "success", "dos": run.complete_dos}
        edges = band_edges_from_vasprun(run, defect_cell=defect_cell)
        rows += _electronic_rows({**doc, "eigenvalues": None}, calc, defect_cell=defect_cell, edges=edges)
    # Bader: an existing ACF.dat or a charge density
    if _has(folder, "ACF.dat") or _has(folder, "CHGCAR"):
        from descriptors.bader import BaderFileError, BaderUnavailable, bader_from_directory

        try:
            bader = bader_from_directory(folder, structure)
            bader_calc = _calc_row(folder, cid, "bader", level, settings, versions, "success", None, bader.as_dict())
        except (BaderFileError, BaderUnavailable) as exc:
            problems.append(f"{folder}: Bader: {exc}")
            bader_calc = _calc_row(folder, cid, "bader", level, settings, versions, "failed", str(exc), {})
        calcs.append(bader_calc)
    return configs, calcs, rows


def _neb_records(folder: Path, problems: list[str]):
    from descriptors.barriers import barrier_from_vasp_dir

    structure = _read_poscar(folder / "00", problems)
    config = _configuration_for(folder, structure)
    cid = config["id"]
    incar = {}
    if (folder / "INCAR").exists():
        from pymatgen.io.vasp import Incar

        incar = dict(Incar.from_file(str(folder / "INCAR")))
    level = "VASP NEB"
    hop_id = f"neb-{folder.name}"
    try:
        barrier = barrier_from_vasp_dir(folder)
    except Exception as exc:  # noqa: BLE001 - missing end-point OUTCARs, damaged images, ...
        reason = f"NEB not readable by pymatgen NEBAnalysis ({type(exc).__name__}: {str(exc)[:120]})"
        problems.append(f"{folder}: {reason}")
        calc = _calc_row(folder, cid, "neb", level, incar, {}, "failed", reason, {}, hop_id)
        return [config], [calc], [descriptor_row(cid, "barrier", None, calc, hop_id, status="failed", flags=[reason])]
    calc = _calc_row(folder, cid, "neb", level, incar, {}, "success", None, {"barrier": barrier.as_dict()}, hop_id)
    row = descriptor_row(cid, "barrier", barrier.forward, calc, hop_id, status="flagged" if barrier.flags else "ok", flags=barrier.flags, details=barrier.as_dict())
    return [config], [calc], [row]


def records_from_vasp_tree(root: Path) -> tuple[tuple[list, list, list], list[str]]:
    """Records of every VASP run or NEB folder under ``root``; problems name the damaged files."""
    configs, calcs, rows, problems = [], [], [], []
    skip: set[Path] = set()
    for folder in sorted([root, *(p for p in root.rglob("*") if p.is_dir())]):
        if any(parent in skip for parent in folder.parents):
            continue
        try:
            if is_neb_folder(folder):
                skip.add(folder)
                records = _neb_records(folder, problems)
            elif is_run_folder(folder) and not (folder.name.isdigit() and is_neb_folder(folder.parent)):
                records = _run_records(folder, problems)
            else:
                continue
        except OSError as exc:
            problems.append(f"{folder}: unreadable ({exc})")
            continue
        configs += records[0]
        calcs += records[1]
        rows += records[2]
    return (configs, calcs, rows), problems
