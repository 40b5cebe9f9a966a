"""The three kinds of database row, and nothing else: a configuration, a calculation, a descriptor.

Every descriptor row says what it is (name, subject, unit), where it came from (level of theory,
backend, settings hash, calculation id), and whether to trust it (status ok / flagged / failed /
unavailable, with flags and the reason). The row builders only assemble: the numbers come from
:mod:`descriptors.physics`, the decisions of what to extract from :mod:`descriptors.records.extractor`.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from descriptors.records.schema import UNITS

__all__ = ["status_of", "structure_of", "configuration_row", "calculation_id", "calculation_row", "descriptor_row", "not_usable"]

_DEFECT_WORD = {"substitution": "dopant", "vacancy": "vacancy", "interstitial": "interstitial"}
# what a calculation row keeps of its document, by kind (a document's own ``data`` replaces this)
KEPT = {
    "relax": ("energy", "n_atoms", "converged", "n_steps", "max_force"),
    "neb": ("energies", "converged", "n_steps", "force_calls", "endpoint_steps", "hop", "route", "routes", "computed_as", "shared_with",
            "seeded_from", "start_band", "magnetic_moments", "scf_iterations", "cell"),
    "reference": ("species", "energy_per_atom"),
    "static": ("energy", "efermi", "charge_density_file"),
    "bader": ("charges", "site_labels"),
}


def status_of(doc: dict) -> str:
    """A document's status as text (jobflow may hand over the enum)."""
    status = doc.get("status")
    return str(getattr(status, "value", status))


def structure_of(value):
    """A pymatgen Structure from a document's structure (already one, or its dict, through the
    structure door: no class a file names is decoded); None stays None."""
    from pymatgen.core import Structure

    from structures.doors.structures_in import structure_from_dict

    if value is None or isinstance(value, Structure):
        return value
    return structure_from_dict(value, "a document's structure")


def configuration_row(summary: dict) -> dict:
    """The configurations-table row of a ``Configuration.summary()`` (a structure of unknown host, a run
    found on disk without lrox's configuration file, has defect ``unknown``)."""
    defects = summary.get("defects", [])
    kinds = sorted({_DEFECT_WORD.get(d["kind"], d["kind"]) for d in defects})
    dopants = sorted({d["species"] for d in defects if d["kind"] != "vacancy" and d.get("species")})
    defect = "unknown" if summary.get("host") == "unknown" else "+".join(kinds) if kinds else "pristine"
    return {
        "id": summary["id"],
        "host": summary.get("host", ""),
        "supercell": str(summary.get("supercell", "")),
        "name": summary.get("name", ""),
        "formula": summary.get("formula", ""),
        "n_atoms": int(summary.get("n_atoms", 0)),
        "defect": defect,
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


def _seconds(value) -> float | None:
    """A document's wall time as stored: a number of seconds the database door reads back, else unknown."""
    from structures.doors.databases import MAX_STORED_NUMBER
    from structures.doors.numbers import is_number

    try:
        seconds = float(value) if is_number(value) else None
    except OverflowError:  # an integer beyond any float
        return None
    return seconds if seconds is not None and 0 <= seconds <= MAX_STORED_NUMBER else None


def calculation_row(doc: dict, screen, source: str, data: dict) -> dict:
    """The calculations-table row of a document; ``data`` is what it keeps (energies, profile, structure...).

    Its id hashes what the calculation is: configuration, kind, ``key`` (a run folder's path; the
    label where the document has none), hop, settings and level.
    """
    prov = doc.get("provenance") or {}
    level = prov.get("level_of_theory", "unknown")
    kind = doc.get("kind", "unknown")
    label = doc.get("label", "")
    return {
        "id": calculation_id(doc.get("configuration_id"), kind, doc.get("key", label), doc.get("hop_id"), prov.get("settings_hash", ""), level),
        "configuration_id": doc.get("configuration_id"),
        "screen": screen,
        "kind": kind,
        "label": label,
        "hop_id": doc.get("hop_id"),
        "backend": prov.get("backend", "unknown"),
        "level_of_theory": level,
        "settings_hash": prov.get("settings_hash", ""),
        "settings": prov.get("settings", {}),
        "code_versions": prov.get("code_versions", {}),
        "o2_correction": prov.get("o2_correction"),
        "status": status_of(doc),
        "error": None if doc.get("reason") is None else str(doc.get("reason")),  # text, as the column (a document may give a number)
        "wall_time": _seconds(doc.get("wall_time")),
        "source": doc.get("source") or source,
        "data": data,
    }


def not_usable(config_id, names, calc, doc) -> list[dict]:
    """Rows of a calculation that gave no number: unavailable at this level, or failed with its reason."""
    status = "unavailable" if status_of(doc) == "not_available" else "failed"
    reason = str(doc.get("reason") or status)  # a flag is text: the database door reads nothing else back
    return [descriptor_row(config_id, n, None, calc, status=status, flags=[reason]) for n in names]
