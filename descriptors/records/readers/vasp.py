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
from structures.doors.files import exists, is_folder
from structures.doors.numbers import energy_problem
from structures.doors.structures_in import structure_problem
from structures.doors.vasp import neb_analysis, outcar_contains, read_incar, read_poscar, read_vasprun
from structures.errors import LroxInputError, LroxWarning

__all__ = ["resolve_run_folders", "result_from_vasp_tree", "vasp_run_folders", "result_of_vasp_folder", "run_folder", "is_neb_folder", "is_run_folder"]

_RUN_FILES = ("vasprun.xml", "vasprun.xml.gz", "OUTCAR", "OUTCAR.gz")


# ----- files of a run folder ----------------------------------------------------------------------------
def _has(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if exists(candidate, name):
            return candidate
    return None


def is_neb_folder(folder: Path) -> bool:
    images = [p for p in folder.iterdir() if p.is_dir() and p.name.isdigit() and len(p.name) == 2]
    return len(images) >= 3 and (folder / "00").is_dir()


def is_run_folder(folder: Path) -> bool:
    return any(exists(folder / f, f) for f in _RUN_FILES)


def run_folder(dir_name: str):
    """A job's run folder (atomate2 writes 'host:/path'); None when it is not reachable from here."""
    try:
        path = Path(dir_name.split(":", 1)[1] if ":" in dir_name and not exists(dir_name, "run folder") else dir_name)
        return path if is_folder(path, "run folder") else None
    except LroxInputError:  # a name no filesystem holds
        return None


_VASPRUNS: dict = {}


def _vasprun(folder):
    """The folder's Vasprun (eigenvalues and projected DOS included), parsed once through the VASP
    door; None if unreadable (a damaged vasprun gives no numbers, recorded as failed)."""
    key = str(folder)
    if key not in _VASPRUNS:
        found = next((folder / n for n in ("vasprun.xml", "vasprun.xml.gz") if exists(folder / n, n)), None)
        try:
            _VASPRUNS[key] = read_vasprun(found) if found else None
        except LroxInputError:
            _VASPRUNS[key] = None
    return _VASPRUNS[key]


def _complete_dos(run):
    """The run's projected DOS, built once: pymatgen's ``Vasprun.complete_dos`` builds it anew at each
    access (0.3 s for a 28-atom cell: a site comparison per site), and a folder asks for it thrice."""
    return run.complete_dos if run is not None else None


def _outcar_complete(path: Path) -> bool:
    return outcar_contains(path, "General timing and accounting")


def _outcar_reached_accuracy(path: Path) -> bool:
    return outcar_contains(path, "reached required accuracy")


def _read_poscar(folder: Path, problems: list[str]):
    """The structure of the folder's POSCAR, or None (an unreadable one is reported by name)."""
    poscar = _has(folder, "POSCAR")
    if poscar is None:
        return None
    try:
        return read_poscar(poscar)
    except LroxInputError as exc:  # any damaged or hostile file is reported by name
        problems.append(f"{poscar}: unreadable POSCAR ({exc})")
        return None


def _neb_profile(path: Path) -> dict:
    """A VTST NEB folder (00..NN with OUTCARs) as a band document's numbers: pymatgen reads the image
    energies and the reaction coordinate (every file through the VASP door); converged where every
    moving image's OUTCAR reached the required accuracy."""
    analysis = neb_analysis(path)
    converged = True
    for image in sorted(p for p in path.iterdir() if p.is_dir() and p.name.isdigit())[1:-1]:
        outcars = sorted(image.glob("OUTCAR*"))
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
            dos = _complete_dos(run)
            if dos is None or not dos.pdos:
                found["dos_error"] = f"no readable vasprun.xml with a projected DOS in {doc['dir_name']}"
            else:
                defect_cell = _has_defects(result, doc.get("configuration_id"))
                found.update(dos=dos, band_edges=band_edges_from_vasprun(run, defect_cell=defect_cell))
        if doc.get("configuration_id") not in with_bader:
            found["bader"] = _bader_of_run_folder(doc)
        documents[k] = {**doc, "from_run_folder": found}
    _VASPRUNS.clear()  # parsed runs (each with its DOS) are kept for one result only: memory stays bounded
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
_SUMMARIES: dict[tuple, dict | None] = {}  # configuration.json read → its summary (the last 64)


def _configuration_for(folder: Path, structure) -> dict:
    """The configuration summary of a run folder: lrox's configuration file, else the structure's fingerprint."""
    from structures.hosts import structure_fingerprint
    from structures.io import CONFIG_FILE, read_configuration

    for parent in [folder, *folder.parents][:4]:
        if exists(parent / CONFIG_FILE, CONFIG_FILE):
            found = (parent / CONFIG_FILE).stat()
            key = (str(parent / CONFIG_FILE), found.st_mtime_ns, found.st_size)  # a rewritten file is read again
            if key not in _SUMMARIES:
                try:
                    _, configuration = read_configuration(parent / CONFIG_FILE)
                    _SUMMARIES[key] = configuration.summary()
                except Exception:  # noqa: BLE001 - an unreadable configuration file falls back to the fingerprint
                    _SUMMARIES[key] = None
                while len(_SUMMARIES) > 64:  # a configuration's folders are read together: a few suffice
                    _SUMMARIES.pop(next(iter(_SUMMARIES)))
            if _SUMMARIES[key] is not None:
                return dict(_SUMMARIES[key])
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
    """The configuration and documents of one relaxation/static folder (and its Bader charges); every
    file through the VASP door, every number through the number door."""
    from structures.doors.files import MAX_STRUCTURE_BYTES, read_file_text
    from structures.doors.structures_in import structure_from_poscar_text

    errors = []
    run = structure = None
    vasprun = _has(folder, "vasprun.xml")
    if vasprun is not None:
        try:
            run = read_vasprun(vasprun)
            structure = run.final_structure
        except LroxInputError as exc:  # a damaged or hostile file is reported by name
            reason = str(exc).split("(", 1)[-1].rstrip(")") if "(" in str(exc) else str(exc)
            errors.append(f"{vasprun.name} truncated or unreadable ({reason.split(':')[0]})")
            problems.append(f"{vasprun}: truncated or unreadable vasprun.xml ({reason.split(':')[0]})")
    if structure is not None and structure_problem(structure, "final structure"):
        errors.append(structure_problem(structure, "final structure"))
        structure = None
    outcar = _has(folder, "OUTCAR")
    if outcar is not None:
        try:
            if not _outcar_complete(outcar):
                errors.append(f"{outcar.name} cut mid-run (no timing block)")
                problems.append(f"{outcar}: OUTCAR cut mid-run (no final timing block)")
        except LroxInputError as exc:  # a FIFO, a device, a bomb: refused, never read
            errors.append(f"{outcar.name} not readable ({exc})")
            problems.append(str(exc))
    contcar = folder / "CONTCAR"
    if exists(contcar, "CONTCAR"):
        try:
            text = read_file_text(contcar, f"CONTCAR '{contcar}'", MAX_STRUCTURE_BYTES)
            if not text.strip():
                errors.append("CONTCAR empty")
                problems.append(f"{contcar}: empty CONTCAR")
            elif structure is None:
                structure = structure_from_poscar_text(text, f"CONTCAR '{contcar}'")
        except LroxInputError as exc:
            errors.append(f"CONTCAR unreadable ({exc})")
            problems.append(f"{contcar}: unreadable CONTCAR")
    if structure is None:
        structure = _read_poscar(folder, problems)
    config = _configuration_for(folder, structure)
    cid = config["id"]
    settings = dict(run.incar) if run is not None else {}
    level = f"VASP {run.run_type}" if run is not None else "VASP (unknown functional)"
    versions = {"vasp": run.vasp_version} if run is not None else {}
    kind = "static" if settings.get("NSW", 0) in (0, None) or settings.get("IBRION") == -1 else "relax"
    energy = float(run.final_energy) if run is not None else None
    problem = energy_problem(energy, len(structure) if structure else len(run.final_structure) if run is not None else None, "final energy")
    if problem:  # NaN, ±inf, ±1e308: the run is failed with the reason, its energy not stored
        errors.append(problem)
        energy = None
    data = {"energy": energy, "n_atoms": len(structure) if structure else None}
    if structure is not None:
        data["structure"] = structure.as_dict()
    if run is not None and not run.converged_electronic:
        errors.append("SCF not converged on the final ionic step (Vasprun.converged_electronic is False)")
    if run is not None and kind == "relax" and not run.converged_ionic:
        errors.append("ionic relaxation not converged (Vasprun.converged_ionic is False)")
    status = "failed" if errors or run is None else "success"
    electronic = {}
    dos = _complete_dos(run) if not errors else None
    if dos is not None and dos.pdos:
        defect_cell = bool(config.get("defects")) and config.get("host") != "unknown"
        electronic = {"dos": dos, "band_edges": band_edges_from_vasprun(run, defect_cell=defect_cell)}
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
    structure = _read_poscar(folder / "00", problems)
    config = _configuration_for(folder, structure)
    incar, reason = {}, None
    if exists(folder / "INCAR", "INCAR"):
        try:
            incar = read_incar(folder / "INCAR")
        except LroxInputError as exc:  # bytes that are not text, a FIFO: the NEB fails with the reason
            reason = str(exc)
    common = (folder, config["id"], "neb", "VASP NEB", incar, {})
    try:
        if reason:
            raise LroxInputError(reason)
        profile = _neb_profile(folder)
    except Exception as exc:  # noqa: BLE001 - missing end-point OUTCARs, damaged images, ...
        text = str(exc)[:160] if isinstance(exc, LroxInputError) else f"{type(exc).__name__}: {str(exc)[:120]}"
        reason = f"NEB not readable by pymatgen NEBAnalysis ({text})"
        problems.append(f"{folder}: {reason}")
        return config, [_found(*common, "failed", reason, hop_id=f"neb-{folder.name}", data={})]
    from descriptors.physics.barriers import migration_barrier

    barrier = migration_barrier(profile["energies"], r=profile["r"], converged=profile["converged"])
    return config, [_found(*common, "success", None, hop_id=f"neb-{folder.name}", data={"barrier": barrier.as_dict()}, **profile)]


def vasp_run_folders(root: Path) -> list[tuple[Path, str]]:
    """Every VASP run folder under ``root`` with its kind ("neb" or "run"), in path order: found
    first (names only), so that a tree of a thousand configurations is then read one folder at a
    time (:func:`result_of_vasp_folder`) with progress and in bounded memory."""
    found: list[tuple[Path, str]] = []
    skip: set[Path] = set()
    for folder in sorted([root, *(p for p in root.rglob("*") if p.is_dir())]):
        if any(parent in skip for parent in folder.parents):
            continue
        try:
            if is_neb_folder(folder):
                skip.add(folder)
                found.append((folder, "neb"))
            elif is_run_folder(folder) and not (folder.name.isdigit() and is_neb_folder(folder.parent)):
                found.append((folder, "run"))
        except OSError:  # unreadable: reported when it is read
            found.append((folder, "run"))
    return found


def result_of_vasp_folder(root: Path, folder: Path, kind: str) -> tuple[dict | None, list[str]]:
    """The normalized result of one run or NEB folder found under ``root`` (None if unreadable)."""
    problems: list[str] = []
    try:
        config, docs = (_neb_documents if kind == "neb" else _run_documents)(folder, problems)
    except OSError as exc:
        return None, [*problems, f"{folder}: unreadable ({exc})"]
    return {"screen": None, "source": str(root), "configurations": [config], "documents": docs}, problems


def result_from_vasp_tree(root: Path) -> tuple[dict | None, list[str]]:
    """The normalized result of every VASP run or NEB folder under ``root`` (None if there is none);
    problems name the damaged files. Holds the whole tree: ``lrox ingest`` reads folder by folder."""
    configurations, documents, problems = {}, [], []
    for folder, kind in vasp_run_folders(root):
        result, found = result_of_vasp_folder(root, folder, kind)
        problems += found
        if result is None:
            continue
        configurations.update({c["id"]: c for c in result["configurations"]})
        documents += result["documents"]
    if not documents:
        return None, problems
    return {"screen": None, "source": str(root), "configurations": list(configurations.values()), "documents": documents}, problems
