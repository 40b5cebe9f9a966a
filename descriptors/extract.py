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

from descriptors.barriers import MECHANISM_MISMATCH, migration_barrier, reaction_coordinate
from descriptors.vacancy import ChemicalPotential, oxygen_chemical_potential, vacancy_formation_energy

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
    "e_kra": "eV",
    "delta_e_a": "eV",
    "e_vac_o": "eV",
    "e_vac_o_tp": "eV",
    "e_vac_li": "eV",
    "delta_e_vac_o": "eV",
    "barrier_spread": "eV",
    "band_gap": "eV",
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
        "charge_change": summary.get("charge_change"),
        "compensation": summary.get("compensation"),
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
        data = {k: doc.get(k) for k in ("energies", "converged", "n_steps", "force_calls", "endpoint_steps", "hop", "route", "routes")}
        images = [_structure(s) for s in doc.get("images") or []]
        if images and doc.get("energies") and len(images) == len(doc["energies"]):
            from descriptors.bands import compact_band

            data["r"] = reaction_coordinate(images).tolist()
            data["mechanism_observed"] = _observed(doc, images)
            data["band"] = compact_band(images)  # kept to seed this hop at another level (P3)
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
        "o2_correction": prov.get("o2_correction"),
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
    docs = [_checked_vasp_run(d) for d in result.get("documents", []) if isinstance(d, dict)]
    calcs, rows = [], []
    calc_of = {}
    for doc in docs:
        calc = _calculation(doc, screen, source)
        if calc["configuration_id"] is not None and calc["configuration_id"] not in summaries:
            continue  # a document of a configuration this result does not describe
        calcs.append(calc)
        calc_of[id(doc)] = calc

    relax_docs = [d for d in docs if d.get("kind") == "relax" and d.get("configuration_id") in summaries]
    relax = {d["configuration_id"]: d for d in reversed(relax_docs)}  # a committee's first member wins
    statics = {d["configuration_id"]: d for d in docs if d.get("kind") == "static" and d.get("configuration_id") in summaries}
    refs = {d.get("species"): d for d in docs if d.get("kind") == "reference"}

    # geometry of every relaxed configuration
    for cid, doc in relax.items():
        calc = calc_of[id(doc)]
        if _status(doc) != "success":
            rows += _not_usable(cid, ("li_slab_spacing",), calc, doc)
            continue
        defects = summaries[cid].get("defects", [])
        centre = defects[0]["frac_coords"] if defects else None
        if doc.get("structure") is None:
            rows.append(descriptor_row(cid, "li_slab_spacing", None, calc, status="failed", flags=["the relaxation document holds no structure"]))
            continue
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

    members = _committee(result)
    if members:  # every member's numbers at its own level; each of its energy differences on its own
        for member in members:
            mine = [d for d in docs if (d.get("provenance") or {}).get("level_of_theory") == member]
            m_relax = {d["configuration_id"]: d for d in mine if d.get("kind") == "relax" and d.get("configuration_id") in summaries}
            m_refs = {d.get("species"): d for d in mine if d.get("kind") == "reference"}
            rows += _vacancy_rows(summaries, m_relax, {}, m_refs, calc_of, result.get("oxygen"))
            rows += _barrier_rows(summaries, mine, calc_of, result.get("min_image_distance"))
        rows += _committee_rows(rows, members, result["provenance"])
    else:
        rows += _vacancy_rows(summaries, relax, statics, refs, calc_of, result.get("oxygen"))
        rows += _barrier_rows(summaries, docs, calc_of, result.get("min_image_distance"))

    # electronic structure and charges
    for doc in (d for d in docs if d.get("kind") == "static" and d.get("configuration_id") in summaries):
        rows += _electronic_rows(doc, calc_of[id(doc)], defect_cell=bool(summaries[doc["configuration_id"]].get("defects")))
    for doc in (d for d in docs if d.get("kind") == "bader" and d.get("configuration_id") in summaries):
        rows += _bader_rows(doc, calc_of[id(doc)], summaries, relax, docs)
    # VASP statics have no Bader job of their own: the charges come from the run folder
    with_bader = {d.get("configuration_id") for d in docs if d.get("kind") == "bader"}
    for doc in (d for d in docs if d.get("kind") == "static" and d.get("dir_name") and d.get("configuration_id") in summaries):
        if doc["configuration_id"] not in with_bader:
            rows += _bader_rows(_bader_of_run_folder(doc), calc_of[id(doc)], summaries, relax, docs)
    return configs, calcs, rows


# ----- committees: their own level of theory, made of the members' numbers ---------------------------------
COMMITTEE_MEANS = ("barrier", "e_kra", "delta_e_a", "e_vac_o", "e_vac_o_tp", "e_vac_li", "delta_e_vac_o")


def _committee(result: dict) -> list[str]:
    """The member levels ("MLIP 7net-0", ...) of a committee screen, in the spec's order; [] otherwise."""
    prov = result.get("provenance") or {}
    if prov.get("backend") != "mlip":
        return []
    from workflows.calculators import committee_members, level_of_theory

    models = committee_members(prov.get("settings") or {})
    return [level_of_theory("mlip", {"model": m}) for m in models] if len(models) > 1 else []


def _committee_rows(rows: list[dict], members: list[str], prov: dict) -> list[dict]:
    """The committee's rows: each energy-derived number is the mean of the members' values (every
    member computed it from its own relaxations and references; no difference mixes two models),
    with ``barrier_spread`` (max − min of the members' barriers) per hop; the geometry descriptors
    are the first member's, whose relaxed cells also feed the statics."""
    level, settings_hash = prov["level_of_theory"], prov["settings_hash"]
    grouped: dict[tuple, dict[str, dict]] = {}
    for row in rows:
        if row["level_of_theory"] in members:
            grouped.setdefault((row["configuration_id"], row["name"], row["subject"]), {})[row["level_of_theory"]] = row
    out = []

    def committee_row(template, value, status, flags, details):
        return {**template, "level_of_theory": level, "settings_hash": settings_hash, "value": value, "status": status, "flags": flags, "details": details}

    for (cid, name, subject), by_member in grouped.items():
        first = by_member.get(members[0])
        if name in GEOMETRY_NAMES and first is not None:
            out.append(committee_row(first, first["value"], first["status"], first["flags"], {**first["details"], "geometry_of": members[0]}))
            continue
        if name not in COMMITTEE_MEANS:
            continue
        values = {m: r["value"] for m, r in by_member.items() if r["value"] is not None and r["status"] in ("ok", "flagged")}
        template = first or next(iter(by_member.values()))
        # what the hop is (labels, expected mechanism) is the same for every member; what happened is each member's
        kept = {k: template["details"][k] for k in ("start", "end", "hop", "mechanism_expected", "relative_to", "vacancy_site", "reference_hop_id") if k in template["details"]}
        details = {
            **kept,
            "members": {m: by_member[m]["value"] if m in by_member else None for m in members},
            "member_calculations": {m: r["calculation_id"] for m, r in by_member.items()},
        }
        if name == "barrier":
            details["mechanism_observed"] = {m: r["details"].get("mechanism_observed") for m, r in by_member.items()}
        if len(values) < len(members):
            missing = [m for m in members if m not in values]
            out.append(committee_row(template, None, "failed", [f"no value from {', '.join(missing)}"], details))
            continue
        flags = sorted({f"{m}: {f}" for m, r in by_member.items() for f in r["flags"]})
        mean = sum(values.values()) / len(values)
        spread = max(values.values()) - min(values.values())
        status = "flagged" if flags else "ok"
        out.append(committee_row(template, mean, status, flags, {**details, "spread": spread}))
        if name == "barrier":
            out.append(committee_row({**template, "name": "barrier_spread", "unit": "eV"}, spread, status, flags, details))
    return out


# ----- VASP runs: a number only from a converged run ---------------------------------------------------
def _checked_vasp_run(doc: dict) -> dict:
    """A VASP document whose run did not converge (SCF on the steps that matter, or the ionic
    relaxation) becomes failed with the reason; nothing downstream then uses its numbers."""
    if not doc.get("dir_name") or _status(doc) != "success" or doc.get("kind") not in ("relax", "static", "reference"):
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
    import warnings

    from structures.errors import LroxWarning

    warnings.warn(f"{doc.get('label', doc['dir_name'])}: {'; '.join(problems)}: stored as failed", LroxWarning, stacklevel=2)
    return {**doc, "status": "failed", "reason": "; ".join(problems)}


_VASPRUNS: dict = {}


def _vasprun(folder):
    """The folder's Vasprun (eigenvalues and projected DOS included), parsed once; None if unreadable."""
    from pymatgen.io.vasp import Vasprun

    key = str(folder)
    if key not in _VASPRUNS:
        found = next((folder / n for n in ("vasprun.xml", "vasprun.xml.gz") if (folder / n).exists()), None)
        try:
            _VASPRUNS[key] = Vasprun(str(found), parse_potcar_file=False) if found else None
        except Exception:  # noqa: BLE001 - a damaged vasprun gives no numbers, recorded as failed below
            _VASPRUNS[key] = None
    return _VASPRUNS[key]


# ----- vacancy formation energies: relations by id ------------------------------------------------------
def _o2_correction(calc: dict) -> str:
    """What this calculation's energies include (stored provenance, else the registry)."""
    if calc.get("o2_correction"):
        return calc["o2_correction"]
    from workflows.calculators import o2_correction

    return o2_correction(calc["backend"], calc.get("settings") or {}).value


def _vacancy_rows(summaries, relax, statics, refs, calc_of, oxygen: dict | None = None) -> list[dict]:
    """E_f of every configuration with one vacancy against its parent (the same configuration
    without it, by id), and for a vacancy beside other defects its change against the isolated
    vacancy of the same site orbit (``delta_e_vac_o``, by id).

    Energies: the statics' where both cells have one at the relaxation's level of theory (the
    VASP flow runs them), else the relaxations'; never one of each.
    """
    rows = []

    def ok(doc):
        return doc is not None and _status(doc) == "success" and doc.get("energy") is not None

    def energies(cid, parent):
        static_c, static_p = statics.get(cid), statics.get(parent)
        level = (relax.get(cid) or {}).get("provenance", {}).get("level_of_theory")
        same = all(ok(x) and x.get("provenance", {}).get("level_of_theory") == level for x in (static_c, static_p))
        if same:
            return static_c["energy"], static_p["energy"], "static"
        if ok(relax.get(cid)) and ok(relax.get(parent)):
            return relax[cid]["energy"], relax[parent]["energy"], "relaxation"
        return None, None, None

    formation: dict[str, float] = {}
    pending = []
    for cid, s in summaries.items():
        defects = s.get("defects", [])
        vacancies = [k for k, d in enumerate(defects) if d["kind"] == "vacancy"]
        if len(vacancies) != 1 or cid not in relax:
            continue
        k = vacancies[0]
        vacancy = defects[k]
        element = vacancy.get("host_species") or vacancy["site"].split("(")[0]
        name = {"O": "e_vac_o", "Li": "e_vac_li"}.get(element)
        if name is None:
            continue
        calc = calc_of[id(relax[cid])]
        parents, singles = s.get("parent_ids") or [], s.get("defect_ids") or []
        parent = parents[k] if len(parents) == len(defects) else None
        reference = refs.get("O2" if element == "O" else "Li")
        problems = []
        if parent is None:
            problems.append("no lineage ids in this result (written by an older lrox): enumerate again")
        elif parent not in summaries:
            problems.append(f"the same configuration without the vacancy ({parent}) is not in this screen")
        if not problems:
            e_defect, e_parent, source = energies(cid, parent)
            if source is None:
                problems.append("the relaxation of this configuration or of its parent failed")
        if reference is None or _status(reference) != "success" or reference.get("energy_per_atom") is None:
            problems.append(f"no {'O2' if element == 'O' else 'Li metal'} reference at this level of theory")
        if problems:
            rows.append(descriptor_row(cid, name, None, calc, status="failed", flags=problems))
            continue
        if element == "O":
            mu = oxygen_chemical_potential(reference["energy_per_atom"], calc["level_of_theory"], _o2_correction(calc))
        else:
            mu = ChemicalPotential(
                element="Li",
                reference=reference["energy_per_atom"],
                reference_source=f"bcc Li metal, {calc['level_of_theory']}",
                correction=0.0,
                correction_source="none",
                delta=0.0,
                level_of_theory=calc["level_of_theory"],
            )
        value = vacancy_formation_energy(e_defect, e_parent, mu)
        details = {"chemical_potential": mu.as_dict(), "relative_to": parent, "energies_from": source, "vacancy_site": vacancy.get("name") or vacancy["site"]}
        rows.append(descriptor_row(cid, name, value, calc, details=details))
        formation[cid] = value
        if element == "O" and oxygen and oxygen.get("temperature") is not None:
            mu_tp = oxygen_chemical_potential(
                reference["energy_per_atom"], calc["level_of_theory"], _o2_correction(calc), temperature=oxygen["temperature"], pressure=oxygen.get("pressure", 1.0)
            )
            rows.append(descriptor_row(cid, "e_vac_o_tp", vacancy_formation_energy(e_defect, e_parent, mu_tp), calc, details={**details, "chemical_potential": mu_tp.as_dict()}))
        if element == "O" and len(defects) > 1 and len(singles) == len(defects):
            pending.append((cid, singles[k], value, calc, [d.get("name") or d["site"] for d in defects if d is not vacancy]))
    for cid, isolated, value, calc, near in pending:
        if isolated in formation:
            details = {"isolated_vacancy": isolated, "isolated_e_vac_o": formation[isolated], "near": near}
            rows.append(descriptor_row(cid, "delta_e_vac_o", value - formation[isolated], calc, details=details))
        else:
            reason = f"the isolated vacancy of the same site ({isolated}) has no E_vac(O) in this screen"
            rows.append(descriptor_row(cid, "delta_e_vac_o", None, calc, status="failed", flags=[reason]))
    return rows


# ----- barriers: one hop, every number that describes it -------------------------------------------------
def _observed(doc: dict, images) -> dict | None:
    """The mechanism the converged band took (structures.hops.observed_mechanism), where its hop says
    which atoms to look at."""
    from structures.hops import observed_mechanism

    geometry = (doc.get("hop") or {}).get("saddle_geometry")
    if not geometry or not doc.get("energies"):
        return None
    try:
        return observed_mechanism(images, doc["energies"], geometry)
    except (ValueError, IndexError):
        return None


def _barrier_rows(summaries, docs, calc_of, image_distance: float | None = None) -> list[dict]:
    """``barrier`` (from the more stable end point), ``e_kra`` and, where the same hop ran in the
    pristine host at the same level and settings, ``delta_e_a`` = ΔE_KRA; each with the expected
    and the observed mechanism (a disagreement flags the row). In a cell below the converged image
    distance, a defect configuration's barriers are flagged ``cell not converged (Δ = …)``."""
    from structures.supercell import cell_convergence_flag

    finite_size = cell_convergence_flag(image_distance)
    rows = []
    kra: dict[tuple, tuple[float, str, list]] = {}  # (hop id, level, settings) → (E_KRA, calc id, flags)
    pending = []
    nebs = [d for d in docs if d.get("kind") == "neb" and d.get("configuration_id") in summaries]
    for doc in nebs:
        cid, calc = doc["configuration_id"], calc_of[id(doc)]
        hop = doc.get("hop") or {}
        subject = doc.get("hop_id") or ""
        if _status(doc) != "success" or not doc.get("energies"):
            flags = [doc.get("reason") or "NEB failed"]
            for name in ("barrier", "e_kra"):
                rows.append(descriptor_row(cid, name, None, calc, subject, status="failed", flags=flags, details={"hop": hop}))
            continue
        b = migration_barrier(doc["energies"], r=calc["data"].get("r"), converged=doc.get("converged"))
        observed = calc["data"].get("mechanism_observed") or {}
        expected = hop.get("mechanism")
        flags = list(b.flags)
        if expected in ("ODH", "TSH") and observed.get("mechanism") in ("ODH", "TSH") and observed["mechanism"] != expected:
            flags.append(MECHANISM_MISMATCH)
        if finite_size and summaries[cid].get("defects"):
            flags.append(finite_size)
        details = {
            **b.as_dict(),
            "flags": flags,
            "start": hop.get("start"),
            "end": hop.get("end"),
            "mechanism_expected": expected,
            "mechanism_observed": observed.get("mechanism"),
            "observed": observed,
            "route": doc.get("route"),
            "routes": doc.get("routes"),
            "hop": hop,
            "energies": list(doc["energies"]),
        }
        status = "flagged" if flags else "ok"
        rows.append(descriptor_row(cid, "barrier", b.stable_end, calc, subject, status=status, flags=flags, details=details))
        rows.append(descriptor_row(cid, "e_kra", b.e_kra, calc, subject, status=status, flags=flags, details=details))
        key = (subject, calc["level_of_theory"], calc["settings_hash"])
        kra[key] = (b.e_kra, calc["id"], flags)
        if summaries[cid].get("defects") and hop.get("reference_hop_id"):
            pending.append((cid, calc, subject, hop["reference_hop_id"], b.e_kra, flags))
    for cid, calc, subject, reference, value, flags in pending:
        found = kra.get((reference, calc["level_of_theory"], calc["settings_hash"]))
        if found is None:
            continue  # the pristine host's hop did not run at this level and settings
        ref_value, ref_calc, ref_flags = found
        both = sorted(set(flags) | {f"reference {f}" for f in ref_flags})
        details = {"reference_hop_id": reference, "reference_e_kra": ref_value, "reference_calculation": ref_calc, "e_kra": value}
        rows.append(descriptor_row(cid, "delta_e_a", value - ref_value, calc, subject, status="flagged" if both else "ok", flags=both, details=details))
    return rows


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


def _electronic_rows(doc: dict, calc: dict, defect_cell: bool = False, edges=None) -> list[dict]:
    """Band centres and widths from the projected DOS; the VBM and gap from the eigenvalues
    (``edges`` given, the eigenvalues of a GPAW static, or the vasprun.xml of a VASP run folder)."""
    from descriptors.electronic import band_edges, band_edges_from_vasprun, electronic_descriptors

    cid = doc["configuration_id"]
    names = ("o2p_center", "o2p_center_vbm", "o2p_center_full", "band_gap")
    if edges is None and doc.get("eigenvalues") and doc.get("occupations"):
        # occupations of a smeared SCF (GPAW's Fermi–Dirac): a state is occupied above half filling
        edges = band_edges(doc["eigenvalues"], doc["occupations"], occupied_above=0.5, defect_cell=defect_cell)
    if _status(doc) == "success" and not doc.get("dos") and doc.get("dir_name"):
        folder = run_folder(doc["dir_name"])
        run = _vasprun(folder) if folder is not None else None
        if run is None or run.complete_dos is None or not run.complete_dos.pdos:
            reason = f"no readable vasprun.xml with a projected DOS in {doc['dir_name']}"
            return [descriptor_row(cid, n, None, calc, status="failed", flags=[reason]) for n in names]
        doc = {**doc, "dos": run.complete_dos}
        edges = band_edges_from_vasprun(run, defect_cell=defect_cell)
    if _status(doc) != "success" or not doc.get("dos"):
        return _not_usable(cid, names, calc, doc)
    try:
        e = electronic_descriptors(doc["dos"], edges)
    except ValueError as exc:
        return [descriptor_row(cid, n, None, calc, status="failed", flags=[str(exc)]) for n in names]
    window = lambda b: {"window": b.window, "emin": b.emin, "emax": b.emax}  # noqa: E731
    common = {"efermi": e.efermi, "vbm": e.vbm, "gap": e.gap, "vbm_from": e.edge_source, "defect_levels": list(e.defect_levels)}
    if doc.get("cell_configuration"):  # run on the same defects in a smaller cell than the screen's
        common["cell"] = static_cell_text(doc)
    # a VBM read off a broadened DOS is not the reference meant for comparing codes: flagged
    vbm_flags = [] if e.edge_source == "eigenvalues" else ["vbm_from_dos"]
    vbm_status = "flagged" if vbm_flags else "ok"
    rows = [
        descriptor_row(cid, "o2p_center", e.o2p.centre_vs_ef, calc, details={**window(e.o2p), "reference": "E_F", **common}),
        descriptor_row(cid, "o2p_center_vbm", e.o2p.centre_vs_vbm, calc, status=vbm_status, flags=vbm_flags, details={**window(e.o2p), "reference": "VBM", **common}),
        descriptor_row(cid, "o2p_center_full", e.o2p_full.centre_vs_ef, calc, details={**window(e.o2p_full), "reference": "E_F", **common}),
        descriptor_row(cid, "o2p_width", e.o2p.width, calc, details={**window(e.o2p), **common}),
        descriptor_row(cid, "band_gap", e.gap, calc, status=vbm_status, flags=vbm_flags, details=common),
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


def static_cell_text(static: dict) -> str:
    """'2x1x1 cell, 47 atoms': the cell a static ran in where it is not the screen's."""
    cell = static.get("cell_configuration") or {}
    dims = cell.get("supercell") or ""
    return f"{dims if isinstance(dims, str) else 'x'.join(map(str, dims))} cell, {cell.get('n_atoms')} atoms"


def _bader_rows(doc: dict, calc: dict, summaries, relax, docs) -> list[dict]:
    """Charges read on the structure they belong to: the static's own cell (which a GPAW static in
    a smaller cell does not share with the screen's relaxation and NEB), else the relaxation's."""
    from descriptors.bader import transition_state_cations

    cid = doc["configuration_id"]
    if _status(doc) != "success" or not doc.get("charges"):
        return _not_usable(cid, ("bader_dopant_charge", *BADER_MEANS), calc, doc)
    charges = doc["charges"]
    rows = []
    static = next((d for d in docs if d.get("kind") == "static" and d.get("configuration_id") == cid and _status(d) == "success"), None)
    other_cell = bool(static and static.get("cell_configuration"))
    cell_details = {"cell": static_cell_text(static)} if other_cell else {}
    relaxed = relax.get(cid)
    if static is not None and static.get("structure") is not None:
        structure = _structure(static["structure"])
    else:
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
                rows.append(
                    descriptor_row(cid, name, float(np.mean(values)), calc, details={"n_sites": len(values), "min": float(min(values)), "max": float(max(values)), **cell_details})
                )
    source = static["cell_configuration"] if other_cell else summaries[cid]
    defects = [d for d in source.get("defects", []) if d["kind"] != "vacancy"]
    if structure is not None and defects:
        centre = np.asarray(defects[0]["frac_coords"])
        index = min(range(len(structure)), key=lambda i: structure.lattice.get_distance_and_image(centre, structure[i].frac_coords)[0])
        rows.append(
            descriptor_row(cid, "bader_dopant_charge", charges[index], calc, details={"site_index": index, "species": structure[index].specie.symbol, **cell_details})
        )
    for neb in (d for d in docs if d.get("kind") == "neb" and d.get("configuration_id") == cid and _status(d) == "success"):
        images = [_structure(s) for s in neb.get("images") or []]
        if structure is None or not images:
            continue
        if other_cell:  # the charges are of another cell than the NEB's: no site of one is a site of the other
            rows.append(
                descriptor_row(
                    cid, "ts_cation_charge", None, calc, subject=neb.get("hop_id") or "", status="unavailable",
                    flags=[f"the Bader charges are of the {static_cell_text(static)}, not the NEB's cell"], details=cell_details,
                )
            )
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
