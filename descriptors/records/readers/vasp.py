"""VASP run folders, read into the normalized result: the one place lrox reads a VASP folder.

Two uses, one reader:

* :func:`resolve_run_folders`: the documents of a VASP screen (atomate2's jobs, run on a cluster or
  emulated) name their run folders (``dir_name``); each folder is read once here, so the extractor
  never opens a file: a run that did not converge (SCF on its last ionic step, or the ionic
  relaxation) becomes failed with the reason; a static gets what its folder holds under
  ``from_run_folder``: its projected DOS and band edges (``dos``, ``band_edges``; ``dos_error``
  where the vasprun.xml gives none) and, when no Bader job of its own exists, the Bader charges of
  its folder (``bader``).
* :func:`result_from_vasp_tree`: plain run folders found on disk (relaxations and statics with a
  vasprun.xml or OUTCAR, VTST NEB folders with images 00, 01, ...), each read into a document
  marked ``found_on_disk``. The configuration comes from an lrox ``configuration.json`` in the
  folder or above it (written by ``lrox enumerate`` and by dry runs); without one, the structure's
  fingerprint names it (``vasp-<hash>``) and its host is ``unknown``.

Damaged files (a truncated vasprun.xml, an OUTCAR cut mid-run, an empty CONTCAR, a garbled
ACF.dat) are reported by path in ``problems``; the calculation is stored as failed with that
reason, and the rest of the tree is read.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

from descriptors.physics.bader import BaderFileError, BaderUnavailable, bader_from_directory
from descriptors.physics.electronic import band_edges_from_vasprun
from descriptors.records.rows import status_of
from structures.errors import LroxWarning

__all__ = ["resolve_run_folders", "result_from_vasp_tree", "run_folder", "is_neb_folder", "is_run_folder"]

_RUN_FILES = ("vasprun.xml", "vasprun.xml.gz", "OUTCAR", "OUTCAR.gz")


# ----- files of a run folder ----------------------------------------------------------------------------
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


def run_folder(dir_name: str):
    """A job's run folder (atomate2 writes 'host:/path'); None when it is not reachable from here."""
    path = Path(dir_name.split(":", 1)[1] if ":" in dir_name and not Path(dir_name).exists() else dir_name)
    return path if path.is_dir() else None


_VASPRUNS: dict = {}


def _vasprun(folder):
    """The folder's Vasprun (eigenvalues and projected DOS included), parsed once; None if unreadable."""
    from pymatgen.io.vasp import Vasprun

    key = str(folder)
    if key not in _VASPRUNS:
        found = next((folder / n for n in ("vasprun.xml", "vasprun.xml.gz") if (folder / n).exists()), None)
        try:
            _VASPRUNS[key] = Vasprun(str(found), parse_potcar_file=False) if found else None
        except Exception:  # noqa: BLE001 - a damaged vasprun gives no numbers, recorded as failed
            _VASPRUNS[key] = None
    return _VASPRUNS[key]


def _outcar_complete(path: Path) -> bool:
    from monty.io import zopen

    with zopen(path, "rt") as handle:
        return any("General timing and accounting" in line for line in handle)


def _outcar_reached_accuracy(path: Path) -> bool:
    from monty.io import zopen

    with zopen(path, "rt") as handle:
        return any("reached required accuracy" in line for line in handle)


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


def _neb_profile(path: Path) -> dict:
    """A VTST NEB folder (00..NN with OUTCARs) as a band document's numbers: pymatgen reads the image
    energies and the reaction coordinate; converged where every moving image's OUTCAR reached the
    required accuracy."""
    from pymatgen.analysis.transition_state import NEBAnalysis

    analysis = NEBAnalysis.from_dir(str(path))
    converged = True
    for image in sorted(p for p in path.iterdir() if p.is_dir() and p.name.isdigit())[1:-1]:
        outcars = list(image.glob("OUTCAR*"))
        if not outcars:
            converged = False
            continue
        converged &= _outcar_reached_accuracy(outcars[0])
    return {"energies": [float(e) for e in analysis.energies], "r": [float(x) for x in analysis.r], "converged": converged}


# ----- the documents of a VASP screen: read their run folders ----------------------------------------------
def resolve_run_folders(result: dict) -> dict:
    """The result with every run folder its documents name read into them (see the module docstring)."""
    documents = [_checked(d) if isinstance(d, dict) else d for d in result.get("documents", [])]
    with_bader = {d.get("configuration_id") for d in documents if isinstance(d, dict) and d.get("kind") == "bader"}
    for k, doc in enumerate(documents):
        if not isinstance(doc, dict) or doc.get("kind") != "static" or not doc.get("dir_name"):
            continue
        found = {}
        if status_of(doc) == "success" and not doc.get("dos"):
            folder = run_folder(doc["dir_name"])
            run = _vasprun(folder) if folder is not None else None
            if run is None or run.complete_dos is None or not run.complete_dos.pdos:
                found["dos_error"] = f"no readable vasprun.xml with a projected DOS in {doc['dir_name']}"
            else:
                defect_cell = _has_defects(result, doc.get("configuration_id"))
                found.update(dos=run.complete_dos, band_edges=band_edges_from_vasprun(run, defect_cell=defect_cell))
        if doc.get("configuration_id") not in with_bader:
            found["bader"] = _bader_of_run_folder(doc)
        documents[k] = {**doc, "from_run_folder": found}
    return {**result, "documents": documents}


def _has_defects(result: dict, configuration_id) -> bool:
    return bool(next((c.get("defects") for c in result.get("configurations", []) if isinstance(c, dict) and c.get("id") == configuration_id), None))


def _checked(doc: dict) -> dict:
    """A VASP document whose run did not converge (SCF on the steps that matter, or the ionic
    relaxation) becomes failed with the reason; nothing downstream then uses its numbers."""
    if not doc.get("dir_name") or status_of(doc) != "success" or doc.get("kind") not in ("relax", "static", "reference"):
        return doc
    folder = run_folder(doc["dir_name"])
    run = _vasprun(folder) if folder is not None else None
    if run is None:
        return doc
    problems = []
    if not run.converged_electronic:
        problems.append("SCF not converged on the final ionic step (Vasprun.converged_electronic is False)")
    if doc["kind"] in ("relax", "reference") and not run.converged_ionic:
        problems.append("ionic relaxation not converged (Vasprun.converged_ionic is False)")
    if not problems:
        return doc
    warnings.warn(f"{doc.get('label', doc['dir_name'])}: {'; '.join(problems)}: stored as failed", LroxWarning, stacklevel=2)
    return {**doc, "status": "failed", "reason": "; ".join(problems)}


def _bader_of_run_folder(static: dict) -> dict:
    """Bader charges of a VASP static's run folder (an ACF.dat, else CHGCAR with the AECCAR0+AECCAR2
    reference), as a Bader document; a missing or unreadable density makes it failed with the reason."""
    doc = {"configuration_id": static["configuration_id"], "kind": "bader"}
    if status_of(static) != "success":
        return {**doc, "status": "failed", "reason": static.get("reason") or "the static failed"}
    folder = run_folder(static["dir_name"])
    if folder is None:
        return {**doc, "status": "failed", "reason": f"run folder {static['dir_name']} is not reachable from here"}
    try:
        result = bader_from_directory(folder)
    except (BaderUnavailable, BaderFileError) as exc:
        return {**doc, "status": "failed", "reason": str(exc)}
    if result.net_charges is None:
        return {**doc, "status": "failed", "reason": f"{folder}: no POTCAR valences to turn Bader electrons into net charges"}
    return {**doc, "status": "success", "charges": result.net_charges, "method": result.method, "reference": result.reference}


# ----- plain run folders found on disk ---------------------------------------------------------------------
def _configuration_for(folder: Path, structure) -> dict:
    """The configuration summary of a run folder: lrox's configuration file, else the structure's fingerprint."""
    from structures.hosts import structure_fingerprint
    from structures.io import CONFIG_FILE, read_configuration

    for parent in [folder, *folder.parents][:4]:
        if (parent / CONFIG_FILE).exists():
            try:
                _, configuration = read_configuration(parent / CONFIG_FILE)
                return configuration.summary()
            except Exception:  # noqa: BLE001 - an unreadable configuration file falls back to the fingerprint
                break
    fingerprint = structure_fingerprint(structure)[:12] if structure is not None else hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    formula = structure.composition.formula.replace(" ", "") if structure is not None else ""
    return {
        "id": f"vasp-{fingerprint}",
        "host": "unknown",
        "name": f"VASP run {folder.name} ({formula})",
        "formula": formula,
        "n_atoms": len(structure) if structure is not None else 0,
        "supercell": "",
        "defects": [],
    }


def _settings_hash(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _found(folder: Path, config_id: str, kind: str, level: str, settings: dict, versions: dict, status: str, error, **fields) -> dict:
    """A document of a run found on disk: its calculation is keyed by the folder's path."""
    return {
        "kind": kind,
        "label": f"{kind} {folder.name}",
        "key": str(folder),
        "source": str(folder),
        "configuration_id": config_id,
        "status": status,
        "reason": error,
        "provenance": {"backend": "vasp", "level_of_theory": level, "settings_hash": _settings_hash(settings), "settings": settings, "code_versions": versions},
        "wall_time": None,
        "found_on_disk": True,
        **fields,
    }


def _run_documents(folder: Path, problems: list[str]) -> tuple[dict, list[dict]]:
    """The configuration and documents of one relaxation/static folder (and its Bader charges)."""
    from pymatgen.io.vasp import Poscar, Vasprun

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
    electronic = {}
    if run is not None and run.complete_dos is not None and run.complete_dos.pdos and not errors:
        defect_cell = bool(config.get("defects")) and config.get("host") != "unknown"
        electronic = {"dos": run.complete_dos, "band_edges": band_edges_from_vasprun(run, defect_cell=defect_cell)}
    docs = [_found(folder, cid, kind, level, settings, versions, status, "; ".join(errors) or None, data=data, **electronic)]
    if _has(folder, "ACF.dat") or _has(folder, "CHGCAR"):
        try:
            bader = bader_from_directory(folder, structure)
            docs.append(_found(folder, cid, "bader", level, settings, versions, "success", None, data=bader.as_dict()))
        except (BaderFileError, BaderUnavailable) as exc:
            problems.append(f"{folder}: Bader: {exc}")
            docs.append(_found(folder, cid, "bader", level, settings, versions, "failed", str(exc), data={}))
    return config, docs


def _neb_documents(folder: Path, problems: list[str]) -> tuple[dict, list[dict]]:
    from pymatgen.io.vasp import Incar

    structure = _read_poscar(folder / "00", problems)
    config = _configuration_for(folder, structure)
    incar = dict(Incar.from_file(str(folder / "INCAR"))) if (folder / "INCAR").exists() else {}
    common = (folder, config["id"], "neb", "VASP NEB", incar, {})
    try:
        profile = _neb_profile(folder)
    except Exception as exc:  # noqa: BLE001 - missing end-point OUTCARs, damaged images, ...
        reason = f"NEB not readable by pymatgen NEBAnalysis ({type(exc).__name__}: {str(exc)[:120]})"
        problems.append(f"{folder}: {reason}")
        return config, [_found(*common, "failed", reason, hop_id=f"neb-{folder.name}", data={})]
    from descriptors.physics.barriers import migration_barrier

    barrier = migration_barrier(profile["energies"], r=profile["r"], converged=profile["converged"])
    return config, [_found(*common, "success", None, hop_id=f"neb-{folder.name}", data={"barrier": barrier.as_dict()}, **profile)]


def result_from_vasp_tree(root: Path) -> tuple[dict | None, list[str]]:
    """The normalized result of every VASP run or NEB folder under ``root`` (None if there is none);
    problems name the damaged files."""
    configurations, documents, problems = {}, [], []
    skip: set[Path] = set()
    for folder in sorted([root, *(p for p in root.rglob("*") if p.is_dir())]):
        if any(parent in skip for parent in folder.parents):
            continue
        try:
            if is_neb_folder(folder):
                skip.add(folder)
                config, docs = _neb_documents(folder, problems)
            elif is_run_folder(folder) and not (folder.name.isdigit() and is_neb_folder(folder.parent)):
                config, docs = _run_documents(folder, problems)
            else:
                continue
        except OSError as exc:
            problems.append(f"{folder}: unreadable ({exc})")
            continue
        configurations[config["id"]] = config
        documents += docs
    if not documents:
        return None, problems
    return {"screen": None, "source": str(root), "configurations": list(configurations.values()), "documents": documents}, problems
