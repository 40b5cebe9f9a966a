"""Electronic structure and charges as rows: band centres and edges from a DOS, Bader charges per sublattice,
of the dopant, and of the cations facing each hop's saddle."""

from __future__ import annotations

import numpy as np

from descriptors.physics.bader import transition_state_cations
from descriptors.physics.electronic import band_edges, electronic_descriptors
from descriptors.records.rows import descriptor_row, not_usable, status_of, structure_of
from descriptors.records.schema import BADER_MEANS

__all__ = ["electronic_rows", "bader_rows", "static_cell_text"]


def electronic_rows(doc: dict, calc: dict, defect_cell: bool = False) -> list[dict]:
    """Band centres and widths from the projected DOS; the VBM and gap from the eigenvalues: the
    ``band_edges`` its reader found (a VASP run's, from its vasprun.xml), else its GPAW eigenvalues
    and occupations. A static whose run folder gave no DOS (``dos_error``) fails every row with why."""
    cid = doc["configuration_id"]
    names = ("o2p_center", "o2p_center_vbm", "o2p_center_full", "band_gap")
    folder = doc.get("from_run_folder") or {}
    if folder.get("dos_error"):
        return [descriptor_row(cid, n, None, calc, status="failed", flags=[folder["dos_error"]]) for n in names]
    if folder.get("dos"):
        doc = {**doc, "dos": folder["dos"]}
    edges = folder.get("band_edges") or doc.get("band_edges")
    if edges is None and doc.get("eigenvalues") and doc.get("occupations"):
        # occupations of a smeared SCF (GPAW's Fermi–Dirac): a state is occupied above half filling
        edges = band_edges(doc["eigenvalues"], doc["occupations"], occupied_above=0.5, defect_cell=defect_cell)
    if status_of(doc) != "success" or not doc.get("dos"):
        return not_usable(cid, names, calc, doc)
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


def static_cell_text(static: dict) -> str:
    """'2x1x1 cell, 47 atoms': the cell a static ran in where it is not the screen's."""
    cell = static.get("cell_configuration") or {}
    dims = cell.get("supercell") or ""
    return f"{dims if isinstance(dims, str) else 'x'.join(map(str, dims))} cell, {cell.get('n_atoms')} atoms"


def bader_rows(doc: dict, calc: dict, summaries, relax, docs) -> list[dict]:
    """Charges read on the structure they belong to: the static's own cell (which a GPAW static in
    a smaller cell does not share with the screen's relaxation and NEB), else the relaxation's."""
    cid = doc["configuration_id"]
    if status_of(doc) != "success" or not doc.get("charges"):
        return not_usable(cid, ("bader_dopant_charge", *BADER_MEANS), calc, doc)
    charges = doc["charges"]
    rows = []
    static = next((d for d in docs if d.get("kind") == "static" and d.get("configuration_id") == cid and status_of(d) == "success"), None)
    other_cell = bool(static and static.get("cell_configuration"))
    cell_details = {"cell": static_cell_text(static)} if other_cell else {}
    relaxed = relax.get(cid)
    if static is not None and static.get("structure") is not None:
        structure = structure_of(static["structure"])
    else:
        structure = structure_of(relaxed.get("structure")) if relaxed and status_of(relaxed) == "success" else None
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
    for neb in (d for d in docs if d.get("kind") == "neb" and d.get("configuration_id") == cid and status_of(d) == "success"):
        images = [structure_of(s) for s in neb.get("images") or []]
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
