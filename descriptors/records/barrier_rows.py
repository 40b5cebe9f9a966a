"""Barriers as rows: one hop, every number that describes it (barrier, E_KRA, ΔE_a against the pristine hop)."""

from __future__ import annotations

from descriptors.physics.barriers import MECHANISM_MISMATCH, migration_barrier
from descriptors.physics.mechanism import observed_mechanism
from descriptors.records.rows import descriptor_row, status_of
from structures.supercell import cell_convergence_flag

__all__ = ["barrier_rows", "band_mechanism"]


def band_mechanism(doc: dict, images) -> dict | None:
    """The mechanism the converged band took (descriptors.physics.mechanism), where its hop says
    which atoms to look at."""
    geometry = (doc.get("hop") or {}).get("saddle_geometry")
    if not geometry or not doc.get("energies"):
        return None
    try:
        return observed_mechanism(images, doc["energies"], geometry)
    except (ValueError, IndexError):
        return None


def barrier_rows(summaries, docs, calc_of, image_distance: float | None = None) -> list[dict]:
    """``barrier`` (from the more stable end point), ``e_kra`` and, where the same hop ran in the
    pristine host at the same level and settings, ``delta_e_a`` = ΔE_KRA; each with the expected
    and the observed mechanism (a disagreement flags the row). In a cell below the converged image
    distance, a defect configuration's barriers are flagged ``cell not converged (Δ = …)``."""
    finite_size = cell_convergence_flag(image_distance)
    rows = []
    kra: dict[tuple, tuple[float, str, list]] = {}  # (hop id, level, settings) → (E_KRA, calc id, flags)
    pending = []
    nebs = [d for d in docs if d.get("kind") == "neb" and d.get("configuration_id") in summaries]
    for doc in nebs:
        cid, calc = doc["configuration_id"], calc_of[id(doc)]
        hop = doc.get("hop") or {}
        subject = doc.get("hop_id") or ""
        if status_of(doc) != "success" or not doc.get("energies"):
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
