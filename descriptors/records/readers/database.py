"""A stored lrox database's rows read back into normalized results, so that a newer lrox can derive
its descriptors again from the calculations already computed (nothing reruns).

A calculation row keeps what its descriptors are derived from: a relaxation's energy and structure,
a band's image energies, its hop and the band itself (``data["band"]``). What a row does not keep
(a static's DOS, a run folder's files) cannot be derived again: :func:`descriptors.ingest.rederive`
re-derives the barrier rows and keeps every other stored row as it is.
"""

from __future__ import annotations

import re

__all__ = ["results_from_rows", "REDERIVED"]

# descriptor names derived from the bands (and the configurations' lineage), which a re-derivation replaces
REDERIVED = frozenset({"barrier", "e_kra", "delta_e_a", "barrier_spread"})
_IMAGE_DISTANCE = re.compile(r"a defect ([0-9.]+) Å from its image")


def _document(calc: dict) -> dict:
    """The job document a calculation row was written from, as far as the row kept it."""
    from descriptors.records.bands import band_structures

    data = dict(calc.get("data") or {})
    doc = {
        **data,
        "kind": calc["kind"],
        "status": calc["status"],
        "reason": calc.get("error"),
        "label": calc.get("label", ""),
        "configuration_id": calc.get("configuration_id"),
        "hop_id": calc.get("hop_id"),
        "wall_time": calc.get("wall_time"),
        "source": calc.get("source"),
        "provenance": {
            "backend": calc["backend"],
            "level_of_theory": calc["level_of_theory"],
            "settings_hash": calc["settings_hash"],
            "settings": calc.get("settings") or {},
            "code_versions": calc.get("code_versions") or {},
            "o2_correction": calc.get("o2_correction"),
        },
    }
    if calc["kind"] == "neb" and data.get("band"):
        doc["images"] = band_structures(data["band"])  # the extractor derives the mechanism from these again
    return doc


def _committee_provenance(descriptors: list[dict], configurations: set) -> dict:
    """A committee screen's own provenance, from its stored committee rows (its members are named in
    its level of theory, in the spec's order): the extractor then derives the committee's rows again."""
    found = {(d["level_of_theory"], d["settings_hash"]) for d in descriptors
             if d["configuration_id"] in configurations and str(d["level_of_theory"]).startswith("MLIP committee(")}
    if len(found) != 1:
        return {}
    level, settings_hash = found.pop()
    members = [m.strip() for m in level[len("MLIP committee(") : -1].split(",")]
    return {"backend": "mlip", "level_of_theory": level, "settings_hash": settings_hash, "settings": {"model": members}}


def results_from_rows(configurations: list[dict], calculations: list[dict], descriptors: list[dict]) -> list[dict]:
    """One normalized result per screen of a database's rows (a calculation of no screen joins ``None``'s).

    ``min_image_distance`` is read back from a stored finite-size flag where one was written."""
    summaries = {c["id"]: c["summary"] for c in configurations}
    distance = None
    for d in descriptors:
        for flag in d.get("flags") or []:
            found = _IMAGE_DISTANCE.search(str(flag))
            if found:
                distance = float(found.group(1))
    by_screen: dict = {}
    for calc in calculations:
        by_screen.setdefault(calc.get("screen"), []).append(calc)
    results = []
    for screen, calcs in by_screen.items():
        used = {c.get("configuration_id") for c in calcs} - {None}
        # the parents a ΔE_a is measured against belong with their children, whichever screen ran them
        for cid in list(used):
            used |= set((summaries.get(cid) or {}).get("parent_ids") or [])
        documents = [_document(c) for c in calcs]
        results.append({
            "screen": screen,
            "configurations": [summaries[c] for c in sorted(used) if c in summaries],
            "documents": [d for d in documents if d.get("configuration_id") is None or d["configuration_id"] in summaries],
            "provenance": _committee_provenance(descriptors, used),
            "oxygen": None,
            "min_image_distance": distance,
        })
    return results
