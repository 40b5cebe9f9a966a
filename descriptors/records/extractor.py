"""The one extractor: a normalized screen result in, configuration, calculation and descriptor rows out.

Every source (a local run's ``results.json``, a jobflow/atomate2 job store, VASP run folders) is read
into the same normalized result by its reader (:mod:`descriptors.records.readers`), with every file
already read; this module decides what each document gives, calls the physics modules
(:mod:`descriptors.physics`) for the numbers and the row builders (:mod:`descriptors.records.rows`)
to assemble them. Pure: nothing here opens a file or a database.

What a document gives depends on what it holds, never on where it came from:

* a calculation lrox set up (a job document: it knows its configuration, hop and role) gives every
  descriptor its role allows: geometry of a relaxation, vacancy energies by lineage id, barriers,
  E_KRA and ΔE_a of a hop, band centres of a static's DOS, Bader charges;
* a run found on disk without lrox's job document (``found_on_disk``: a VASP folder) says what it
  computed but not what it was for, so it gives only what needs no role: the electronic
  descriptors of its DOS and the forward barrier of its band; a failure stays on its calculation.
"""

from __future__ import annotations

from descriptors.physics.barriers import migration_barrier, reaction_coordinate
from descriptors.physics.geometry import geometry_descriptors
from descriptors.records.bands import compact_band
from descriptors.records.barrier_rows import band_mechanism, barrier_rows
from descriptors.records.committee import committee_levels, committee_rows
from descriptors.records.electronic_rows import bader_rows, electronic_rows
from descriptors.records.rows import KEPT, calculation_row, configuration_row, descriptor_row, not_usable, status_of, structure_of
from descriptors.records.schema import GEOMETRY_NAMES
from descriptors.records.vacancies import vacancy_rows

__all__ = ["records_from_result", "calculation_data"]


def calculation_data(doc: dict) -> dict:
    """What a calculation row keeps of its document: the document's own ``data`` where its reader
    stated it, else its kind's fields (a relaxation's structure; a band's reaction coordinate, its
    observed mechanism and the band itself, kept to seed this hop at another level)."""
    if "data" in doc:
        return doc["data"]
    kind = doc.get("kind", "unknown")
    data = {k: doc.get(k) for k in KEPT.get(kind, ())}
    if kind == "relax":
        structure = structure_of(doc.get("structure"))
        data["structure"] = structure.as_dict() if structure is not None else None
    elif kind == "neb":
        images = [structure_of(s) for s in doc.get("images") or []]
        if images and doc.get("energies") and len(images) == len(doc["energies"]):
            data["r"] = reaction_coordinate(images).tolist()
            data["mechanism_observed"] = band_mechanism(doc, images)
            data["band"] = compact_band(images)
    elif kind == "static":
        data["has_dos"] = bool(doc.get("dos"))
    return data


def records_from_result(result: dict, source: str = "") -> tuple[list[dict], list[dict], list[dict]]:
    """(configuration rows, calculation rows, descriptor rows) of one normalized screen result."""
    screen = result.get("screen", "")
    source = result.get("source") or source
    summaries = {c["id"]: c for c in result.get("configurations", [])}
    configs = [configuration_row(s) for s in summaries.values()]
    docs = [d for d in result.get("documents", []) if isinstance(d, dict)]
    calcs, rows = [], []
    calc_of = {}
    for doc in docs:
        calc = calculation_row(doc, screen, source, calculation_data(doc))
        if calc["configuration_id"] is not None and calc["configuration_id"] not in summaries:
            continue  # a document of a configuration this result does not describe
        calcs.append(calc)
        calc_of[id(doc)] = calc
    found = [d for d in docs if d.get("found_on_disk") and id(d) in calc_of]
    docs = [d for d in docs if not d.get("found_on_disk")]
    rows += _found_on_disk_rows(found, calc_of, summaries)

    relax_docs = [d for d in docs if d.get("kind") == "relax" and d.get("configuration_id") in summaries]
    relax = {d["configuration_id"]: d for d in reversed(relax_docs)}  # a committee's first member wins
    statics = {d["configuration_id"]: d for d in docs if d.get("kind") == "static" and d.get("configuration_id") in summaries}
    refs = {d.get("species"): d for d in docs if d.get("kind") == "reference"}

    for cid, doc in relax.items():
        rows += _geometry_rows(cid, doc, calc_of[id(doc)], summaries[cid])

    members = committee_levels(result)
    if members:  # every member's numbers at its own level; each of its energy differences on its own
        for member in members:
            mine = [d for d in docs if (d.get("provenance") or {}).get("level_of_theory") == member]
            m_relax = {d["configuration_id"]: d for d in mine if d.get("kind") == "relax" and d.get("configuration_id") in summaries}
            m_refs = {d.get("species"): d for d in mine if d.get("kind") == "reference"}
            rows += vacancy_rows(summaries, m_relax, {}, m_refs, calc_of, result.get("oxygen"))
            rows += barrier_rows(summaries, mine, calc_of, result.get("min_image_distance"))
        rows += committee_rows(rows, members, result["provenance"])
    else:
        rows += vacancy_rows(summaries, relax, statics, refs, calc_of, result.get("oxygen"))
        rows += barrier_rows(summaries, docs, calc_of, result.get("min_image_distance"))

    # electronic structure and charges
    for doc in (d for d in docs if d.get("kind") == "static" and d.get("configuration_id") in summaries):
        rows += electronic_rows(doc, calc_of[id(doc)], defect_cell=bool(summaries[doc["configuration_id"]].get("defects")))
    for doc in (d for d in docs if d.get("kind") == "bader" and d.get("configuration_id") in summaries):
        rows += bader_rows(doc, calc_of[id(doc)], summaries, relax, docs)
    # a VASP static has no Bader job of its own: its reader attached the charges of its run folder
    with_bader = {d.get("configuration_id") for d in docs if d.get("kind") == "bader"}
    for doc in (d for d in docs if d.get("kind") == "static" and d.get("configuration_id") in summaries):
        charges = (doc.get("from_run_folder") or {}).get("bader")
        if charges and doc["configuration_id"] not in with_bader:
            rows += bader_rows(charges, calc_of[id(doc)], summaries, relax, docs)
    return configs, calcs, rows


def _geometry_rows(cid: str, doc: dict, calc: dict, summary: dict) -> list[dict]:
    """Li-slab spacing, TM–O bonds and O–O distances of a relaxed configuration, averaged and near its first defect."""
    if status_of(doc) != "success":
        return not_usable(cid, ("li_slab_spacing",), calc, doc)
    defects = summary.get("defects", [])
    centre = defects[0]["frac_coords"] if defects else None
    if doc.get("structure") is None:
        return [descriptor_row(cid, "li_slab_spacing", None, calc, status="failed", flags=["the relaxation document holds no structure"])]
    try:
        geometry = geometry_descriptors(structure_of(doc["structure"]), centre)
    except ValueError as exc:
        return [descriptor_row(cid, "li_slab_spacing", None, calc, status="failed", flags=[str(exc)])]
    radius = geometry.pop("near_radius")
    rows = []
    for name in GEOMETRY_NAMES:
        if geometry.get(name) is not None:
            details = {"near_radius": radius} if name.endswith("_near") else {}
            rows.append(descriptor_row(cid, name, geometry[name], calc, details=details))
    return rows


def _found_on_disk_rows(found: list[dict], calc_of: dict, summaries: dict) -> list[dict]:
    """What runs found on disk give without knowing their role: the electronic descriptors of a DOS
    they hold, and the forward barrier of a band (its hop unknown: no E_KRA, no pristine reference)."""
    rows = []
    for doc in found:
        calc, cid = calc_of[id(doc)], doc["configuration_id"]
        if doc.get("kind") == "neb":
            if status_of(doc) != "success":
                rows.append(descriptor_row(cid, "barrier", None, calc, doc.get("hop_id") or "", status="failed", flags=[doc.get("reason") or "NEB failed"]))
                continue
            b = migration_barrier(doc["energies"], r=doc.get("r"), converged=doc.get("converged"))
            rows.append(descriptor_row(cid, "barrier", b.forward, calc, doc.get("hop_id") or "", status="flagged" if b.flags else "ok", flags=b.flags, details=b.as_dict()))
        elif doc.get("dos") and status_of(doc) == "success":
            defect_cell = configuration_row(summaries[cid])["defect"] not in ("pristine", "unknown")
            rows += electronic_rows(doc, calc, defect_cell=defect_cell)
    return rows
