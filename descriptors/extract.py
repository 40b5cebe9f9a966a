"""From a screen's results (the collector's ScreenResult) to database rows: configurations, calculations, descriptors.

Pure functions: nothing here opens a database or launches a job. Every descriptor row says
what it is (name, subject, unit), where it came from (level of theory, backend, settings
hash, calculation id), and whether to trust it (status ok / flagged / failed / unavailable,
with flags and the reason).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from descriptors.barriers import migration_barrier, reaction_coordinate
from descriptors.vacancy import oxygen_chemical_potential, vacancy_formation_energy

__all__ = ["records_from_result", "configuration_row", "calculation_id", "descriptor_row", "GEOMETRY_NAMES", "UNITS"]

GEOMETRY_NAMES = (
    "li_slab_spacing",
    "interlayer_distance",
    "tm_o_mean",
    "tm_o_min",
    "tm_o_max",
    "o_o_min",
    "li_slab_spacing_near",
    "tm_o_mean_near",
    "o_o_min_near",
)
UNITS = {
    **{name: "Å" for name in GEOMETRY_NAMES},
    "barrier": "eV",
    "e_vac_o": "eV",
    "e_vac_li": "eV",
    "e_sub": "eV",
    "delta_e_vac_o": "eV",
    "o2p_center": "eV",
    "o2p_center_vbm": "eV",
    "o2p_center_full": "eV",
    "o2p_width": "eV",
    "tm_d_center": "eV",
    "dp_separation": "eV",
    "covalency": "",
    "bader_dopant_charge": "e",
    "bader_charge_li": "e",
    "bader_charge_tm": "e",
    "bader_charge_o": "e",
    "ts_cation_charge": "e",
}
BADER_MEANS = ("bader_charge_li", "bader_charge_tm", "bader_charge_o")  # mean net charge per sublattice
_DEFECT_WORD = {"substitution": "dopant", "vacancy": "vacancy", "interstitial": "interstitial"}


def _status(doc: dict) -> str:
    status = doc.get("status")
    return str(getattr(status, "value", status))


def _structure(value):
    from pymatgen.core import Structure

    if value is None or isinstance(value, Structure):
        return value
    return Structure.from_dict(value)


def configuration_row(summary: dict) -> dict:
    """The configurations-table row of a ``Configuration.summary()``."""
    defects = summary.get("defects", [])
    kinds = sorted({_DEFECT_WORD.get(d["kind"], d["kind"]) for d in defects})
    dopants = sorted({d["species"] for d in defects if d["kind"] != "vacancy" and d.get("species")})
    return {
        "id": summary["id"],
        "host": summary.get("host", ""),
        "supercell": str(summary.get("supercell", "")),
        "name": summary.get("name", ""),
        "formula": summary.get("formula", ""),
        "n_atoms": int(summary.get("n_atoms", 0)),
        "defect": "+".join(kinds) if kinds else "pristine",
        "dopant": ",".join(dopants) or None,
        "site": "; ".join(d["site"] for d in defects) or None,
        "pair_distance": summary.get("pair_distance"),
        "net_charge": summary.get("net_charge"),
        "multiplicity": summary.get("multiplicity"),
        "summary": summary,
    }


def calculation_id(configuration_id, kind, label, hop_id, settings_hash, level) -> str:
    """Content hash of what a calculation is: the same calculation ingested twice is the same row."""
    key = json.dumps([configuration_id, kind, label, hop_id, settings_hash, level])
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def descriptor_row(configuration_id, name, value, calc: dict, subject="", status="ok", flags=None, details=None) -> dict:
    if value is not None and not np.isfinite(value):
        value, status, flags = None, "failed", [*(flags or []), "non-finite value"]
    return {
        "configuration_id": configuration_id,
        "name": name,
        "subject": subject or "",
        "level_of_theory": calc["level_of_theory"],
        "backend": calc["backend"],
        "settings_hash": calc["settings_hash"],
        "value": None if value is None else float(value),
        "unit": UNITS.get(name, ""),
        "status": status,
        "flags": list(flags or []),
        "details": details or {},
        "calculation_id": calc["id"],
    }


def _calculation(doc: dict, screen: str, source: str) -> dict:
    prov = doc.get("provenance") or {}
    level = prov.get("level_of_theory", "unknown")
    data = {}
    kind = doc.get("kind", "unknown")
    if kind == "relax":
        data = {k: doc.get(k) for k in ("energy", "n_atoms", "converged", "n_steps", "max_force")}
        structure = _structure(doc.get("structure"))
        data["structure"] = structure.as_dict() if structure is not None else None
    elif kind == "neb":
        data = {k: doc.get(k) for k in ("energies", "converged", "n_steps", "force_calls", "endpoint_steps", "hop")}
        images = [_structure(s) for s in doc.get("images") or []]
        if images and doc.get("energies") and len(images) == len(doc["energies"]):
            data["r"] = reaction_coordinate(images).tolist()
    elif kind == "reference":
        data = {k: doc.get(k) for k in ("species", "energy_per_atom")}
    elif kind == "static":
        data = {k: doc.get(k) for k in ("energy", "efermi", "charge_density_file")}
        data["has_dos"] = bool(doc.get("dos"))
    elif kind == "bader":
        data = {k: doc.get(k) for k in ("charges", "site_labels")}
    return {
        "id": calculation_id(doc.get("configuration_id"), kind, doc.get("label", ""), doc.get("hop_id"), prov.get("settings_hash", ""), level),
        "configuration_id": doc.get("configuration_id"),
        "screen": screen,
        "kind": kind,
        "label": doc.get("label", ""),
        "hop_id": doc.get("hop_id"),
        "backend": prov.get("backend", "unknown"),
        "level_of_theory": level,
        "settings_hash": prov.get("settings_hash", ""),
        "settings": prov.get("settings", {}),
        "code_versions": prov.get("code_versions", {}),
        "status": _status(doc),
        "error": doc.get("reason"),
        "wall_time": doc.get("wall_time"),
        "source": source,
        "data": data,
    }


def _not_usable(config_id, names, calc, doc) -> list[dict]:
    status = "unavailable" if _status(doc) == "not_available" else "failed"
    reason = doc.get("reason") or status
    return [descriptor_row(config_id, n, None, calc, status=status, flags=[reason]) for n in names]


def records_from_result(result: dict, source: str = "") -> tuple[list[dict], list[dict], list[dict]]:
    """(configuration rows, calculation rows, descriptor rows) of one screen result."""
    from descriptors.geometry import geometry_descriptors

    screen = result.get("screen", "")
    summaries = {c["id"]: c for c in result.get("configurations", [])}
    configs = [configuration_row(s) for s in summaries.values()]
    docs = [d for d in result.get("documents", []) if isinstance(d, dict)]
    calcs, rows = [], []
    calc_of = {}
    for doc in docs:
        calc = _calculation(doc, screen, source)
        if calc["configuration_id"] is not None and calc["configuration_id"] not in summaries:
            continue  # a document of a configuration this result does not describe
        calcs.append(calc)
        calc_of[id(doc)] = calc

    relax = {d["configuration_id"]: d for d in docs if d.get("kind") == "relax" and d.get("configuration_id") in summaries}
    refs = {d.get("species"): d for d in docs if d.get("kind") == "reference"}

    # geometry of every relaxed configuration
    for cid, doc in relax.items():
        calc = calc_of[id(doc)]
        if _status(doc) != "success":
            rows += _not_usable(cid, ("li_slab_spacing",), calc, doc)
            continue
        defects = summaries[cid].get("defects", [])
        centre = defects[0]["frac_coords"] if defects else None
        try:
            geometry = geometry_descriptors(_structure(doc["structure"]), centre)
        except ValueError as exc:
            rows.append(descriptor_row(cid, "li_slab_spacing", None, calc, status="failed", flags=[str(exc)]))
            continue
        radius = geometry.pop("near_radius")
        for name in GEOMETRY_NAMES:
            if geometry.get(name) is not None:
                details = {"near_radius": radius} if name.endswith("_near") else {}
                rows.append(descriptor_row(cid, name, geometry[name], calc, details=details))

    rows += _vacancy_rows(summaries, relax, refs, calc_of)

    # barriers, one per hop
    for doc in (d for d in docs if d.get("kind") == "neb" and d.get("configuration_id") in summaries):
        cid, calc = doc["configuration_id"], calc_of[id(doc)]
        hop = doc.get("hop") or {}
        subject = doc.get("hop_id") or ""
        if _status(doc) != "success" or not doc.get("energies"):
            rows.append(descriptor_row(cid, "barrier", None, calc, subject, status="failed", flags=[doc.get("reason") or "NEB failed"], details={"hop": hop}))
            continue
        b = migration_barrier(doc["energies"], r=calc["data"].get("r"), converged=doc.get("converged"))
        details = {**b.as_dict(), "hop": hop, "energies": list(doc["energies"])}
        rows.append(descriptor_row(cid, "barrier", b.forward, calc, subject, status="flagged" if b.flags else "ok", flags=b.flags, details=details))

    # electronic structure and charges
    for doc in (d for d in docs if d.get("kind") == "static" and d.get("configuration_id") in summaries):
        rows += _electronic_rows(doc, calc_of[id(doc)])
    for doc in (d for d in docs if d.get("kind") == "bader" and d.get("configuration_id") in summaries):
        rows += _bader_rows(doc, calc_of[id(doc)], summaries, relax, docs)
    # VASP statics have no Bader job of their own: the charges come from the run folder
    with_bader = {d.get("configuration_id") for d in docs if d.get("kind") == "bader"}
    for doc in (d for d in docs if d.get("kind") == "static" and d.get("dir_name") and d.get("configuration_id") in summaries):
        if doc["configuration_id"] not in with_bader:
            rows += _bader_rows(_bader_of_run_folder(doc), calc_of[id(doc)], summaries, relax, docs)
    return configs, calcs, rows


def _bader_of_run_folder(static: dict) -> dict:
    """Bader charges of a VASP static's run folder (an ACF.dat, else CHGCAR with the AECCAR0+AECCAR2
    reference), as the document the Bader rows are made from; a missing or unreadable density
    makes it failed with the reason."""
    from descriptors.bader import BaderFileError, BaderUnavailable, bader_from_directory

    doc = {"configuration_id": static["configuration_id"], "kind": "bader"}
    if _status(static) != "success":
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


def _vacancy_rows(summaries, relax, refs, calc_of) -> list[dict]:
    """E_f of single vacancies against the host, of dopant–vacancy pairs against the doped cell, and the dopant's effect."""
    rows = []
    by_defects = {}
    for cid, s in summaries.items():
        key = tuple(sorted((d["kind"], d.get("species") or "", d["site"]) for d in s.get("defects", [])))
        by_defects[key] = cid

    def energy(cid):
        doc = relax.get(cid)
        return doc.get("energy") if doc is not None and _status(doc) == "success" else None

    isolated = {}
    pending = []
    for cid, s in summaries.items():
        defects = s.get("defects", [])
        vacancies = [d for d in defects if d["kind"] == "vacancy"]
        if len(vacancies) != 1 or cid not in relax:
            continue
        vacancy = vacancies[0]
        element = vacancy["site"].split("(")[0]
        name = {"O": "e_vac_o", "Li": "e_vac_li"}.get(element)
        if name is None:
            continue
        rest = tuple(sorted((d["kind"], d.get("species") or "", d["site"]) for d in defects if d is not vacancy))
        parent = by_defects.get(rest)
        calc = calc_of[id(relax[cid])]
        reference = refs.get("O2" if element == "O" else "Li")
        problems = []
        if parent is None:
            problems.append("the same configuration without the vacancy is not in this screen")
        elif energy(parent) is None:
            problems.append("the parent configuration's relaxation failed")
        if energy(cid) is None:
            problems.append(f"relaxation {_status(relax[cid])}: {relax[cid].get('reason') or ''}".strip())
        if reference is None or _status(reference) != "success" or reference.get("energy_per_atom") is None:
            problems.append(f"no {'O2' if element == 'O' else 'Li metal'} reference at this level of theory")
        if problems:
            rows.append(descriptor_row(cid, name, None, calc, status="failed", flags=problems))
            continue
        if element == "O":
            mu = oxygen_chemical_potential(reference["energy_per_atom"], calc["level_of_theory"])
        else:
            from descriptors.vacancy import ChemicalPotential

            mu = ChemicalPotential(
                element="Li",
                reference=reference["energy_per_atom"],
                reference_source=f"bcc Li metal, {calc['level_of_theory']}",
                correction=0.0,
                correction_source="none",
                delta=0.0,
                level_of_theory=calc["level_of_theory"],
            )
        value = vacancy_formation_energy(energy(cid), energy(parent), mu)
        details = {"chemical_potential": mu.as_dict(), "relative_to": parent, "vacancy_site": vacancy["site"]}
        rows.append(descriptor_row(cid, name, value, calc, details=details))
        if not rest:
            isolated[(element, vacancy["site"])] = value
        else:
            pending.append((cid, element, vacancy["site"], value, calc, rest))
    # substitution energies, where both elemental references exist at this level of theory
    from descriptors.vacancy import ChemicalPotential, substitution_energy

    pristine = by_defects.get(())
    for cid, s in summaries.items():
        defects = s.get("defects", [])
        if len(defects) != 1 or defects[0]["kind"] != "substitution" or cid not in relax or pristine is None:
            continue
        added, removed = defects[0]["species"], defects[0]["site"].split("(")[0]
        ref_add, ref_rem = refs.get(added), refs.get(removed)
        if not all(r is not None and _status(r) == "success" and r.get("energy_per_atom") is not None for r in (ref_add, ref_rem)):
            continue  # no reference chemical potential defined: no number
        if energy(cid) is None or energy(pristine) is None:
            continue
        calc = calc_of[id(relax[cid])]
        mus = [
            ChemicalPotential(el, ref["energy_per_atom"], f"{el} elemental reference, {calc['level_of_theory']}", 0.0, "none", 0.0, level_of_theory=calc["level_of_theory"])
            for el, ref in ((removed, ref_rem), (added, ref_add))
        ]
        value = substitution_energy(energy(cid), energy(pristine), [mus[0]], [mus[1]])
        rows.append(descriptor_row(cid, "e_sub", value, calc, details={"removed": mus[0].as_dict(), "added": mus[1].as_dict(), "relative_to": pristine}))
    for cid, element, site, value, calc, rest in pending:
        if element != "O":
            continue
        base = isolated.get((element, site))
        if base is not None:
            details = {"isolated_vacancy": base, "site": site, "near": [r[1] + " on " + r[2] for r in rest]}
            rows.append(descriptor_row(cid, "delta_e_vac_o", value - base, calc, details=details))
    return rows


def _electronic_rows(doc: dict, calc: dict) -> list[dict]:
    from descriptors.electronic import electronic_descriptors

    cid = doc["configuration_id"]
    names = ("o2p_center", "o2p_center_full")
    if _status(doc) == "success" and not doc.get("dos") and doc.get("dir_name"):
        dos = _dos_from_folder(doc["dir_name"])
        if dos is None:
            reason = f"no readable vasprun.xml with a projected DOS in {doc['dir_name']}"
            return [descriptor_row(cid, n, None, calc, status="failed", flags=[reason]) for n in names]
        doc = {**doc, "dos": dos}
    if _status(doc) != "success" or not doc.get("dos"):
        return _not_usable(cid, names, calc, doc)
    try:
        e = electronic_descriptors(doc["dos"])
    except ValueError as exc:
        return [descriptor_row(cid, n, None, calc, status="failed", flags=[str(exc)]) for n in names]
    window = lambda b: {"window": b.window, "emin": b.emin, "emax": b.emax}  # noqa: E731
    common = {"efermi": e.efermi, "vbm": e.vbm, "gap": e.gap}
    rows = [
        descriptor_row(cid, "o2p_center", e.o2p.centre_vs_ef, calc, details={**window(e.o2p), "reference": "E_F", **common}),
        descriptor_row(cid, "o2p_center_vbm", e.o2p.centre_vs_vbm, calc, details={**window(e.o2p), "reference": "VBM", **common}),
        descriptor_row(cid, "o2p_center_full", e.o2p_full.centre_vs_ef, calc, details={**window(e.o2p_full), "reference": "E_F", **common}),
        descriptor_row(cid, "o2p_width", e.o2p.width, calc, details={**window(e.o2p), **common}),
    ]
    if e.tm_d is not None:
        rows.append(descriptor_row(cid, "tm_d_center", e.tm_d.centre_vs_ef, calc, details={**window(e.tm_d), "reference": "E_F", **common}))
        rows.append(descriptor_row(cid, "covalency", e.covalency, calc, details={"definition": "overlap of normalised TM d and O 2p PDOS", **window(e.o2p)}))
        rows.append(descriptor_row(cid, "dp_separation", e.dp_separation, calc, details=window(e.o2p)))
    return rows


def run_folder(dir_name: str):
    """A job's run folder (atomate2 writes 'host:/path'); None when it is not reachable from here."""
    from pathlib import Path

    path = Path(dir_name.split(":", 1)[1] if ":" in dir_name and not Path(dir_name).exists() else dir_name)
    return path if path.is_dir() else None


def _dos_from_folder(dir_name: str):
    """The projected DOS of a VASP run folder (vasprun.xml), or None when there is none to read."""
    from descriptors.electronic import load_complete_dos

    folder = run_folder(dir_name)
    if folder is None:
        return None
    for name in ("vasprun.xml", "vasprun.xml.gz"):
        if (folder / name).exists():
            try:
                return load_complete_dos(folder / name)
            except Exception:  # noqa: BLE001 - a damaged vasprun gives no DOS, recorded as failed below
                return None
    return None


def _bader_rows(doc: dict, calc: dict, summaries, relax, docs) -> list[dict]:
    from descriptors.bader import transition_state_cations

    cid = doc["configuration_id"]
    if _status(doc) != "success" or not doc.get("charges"):
        return _not_usable(cid, ("bader_dopant_charge", *BADER_MEANS), calc, doc)
    charges = doc["charges"]
    rows = []
    relaxed = relax.get(cid)
    structure = _structure(relaxed.get("structure")) if relaxed and _status(relaxed) == "success" else None
    if structure is not None and len(structure) == len(charges):
        groups = {"bader_charge_li": [], "bader_charge_tm": [], "bader_charge_o": []}
        for site, charge in zip(structure, charges):
            element = site.specie
            key = "bader_charge_li" if element.symbol == "Li" else "bader_charge_o" if element.symbol == "O" else "bader_charge_tm" if element.is_transition_metal else None
            if key:
                groups[key].append(charge)
        for name, values in groups.items():
            if values:
                rows.append(descriptor_row(cid, name, float(np.mean(values)), calc, details={"n_sites": len(values), "min": float(min(values)), "max": float(max(values))}))
    defects = [d for d in summaries[cid].get("defects", []) if d["kind"] != "vacancy"]
    if structure is not None and defects:
        centre = np.asarray(defects[0]["frac_coords"])
        index = min(range(len(structure)), key=lambda i: structure.lattice.get_distance_and_image(centre, structure[i].frac_coords)[0])
        rows.append(descriptor_row(cid, "bader_dopant_charge", charges[index], calc, details={"site_index": index, "species": structure[index].specie.symbol}))
    for neb in (d for d in docs if d.get("kind") == "neb" and d.get("configuration_id") == cid and _status(d) == "success"):
        images = [_structure(s) for s in neb.get("images") or []]
        if structure is None or not images:
            continue
        saddle = int(np.argmax(neb["energies"]))
        li_ts = images[saddle][-1].frac_coords  # the moving Li is the last site of every image
        facing = transition_state_cations(structure, charges, li_ts)
        tm = [c["charge"] for c in facing if c["is_tm"]]
        rows.append(
            descriptor_row(
                cid,
                "ts_cation_charge",
                float(np.mean(tm)) if tm else None,
                calc,
                subject=neb.get("hop_id") or "",
                status="ok" if tm else "unavailable",
                flags=[] if tm else ["no transition-metal cation faces this transition state"],
                details={"cations": facing},
            )
        )
    return rows
