"""Barriers as rows: one hop, every number that describes it (barrier, E_KRA, ΔE_a against its parent).

**ΔE_a compares like with like.** A change is measured against the configuration that lacks only
the defect in question, found by id: the hop's nearest defect is the one in question, and its parent
is ``parent_ids[k]`` of the configuration's summary (the configuration without defect k; a V_O beside
Al is compared with the Al-only configuration, never with the pristine host where that parent
exists). The same hop in the parent is found by identity: the hop summary's ``parent_hop_ids``
where the workflow states it; in a pristine parent the hop whose id is the ``reference_hop_id``
(pristine hop ids are canonical under the host's whole group); otherwise the parent's hop with the
same ``reference_hop_id``, and where the parent has several, the one whose distance to the defects
the two configurations share is this hop's. Where the parent did not run the hop there is no ΔE_a,
and the row says so (``unavailable``). A ΔE_a whose reference took another route (ODH or TSH; a
``V_O-edge`` hop goes through the edge) is kept but named: a vacancy on the edge removes both
tetrahedral sites beside it, so against a reference that went through one of them the difference
mixes "lost the tetrahedral route" with the vacancy's effect on the edge.
"""

from __future__ import annotations

import numpy as np

from descriptors.physics.barriers import MECHANISM_MISMATCH, migration_barrier
from descriptors.physics.mechanism import observed_mechanism
from descriptors.records.rows import descriptor_row, status_of
from descriptors.records.twins import same_hop
from structures.supercell import cell_convergence_flag

__all__ = ["barrier_rows", "band_mechanism", "route_family", "ROUTE_DIFFERS"]

ROUTE_DIFFERS = "route_differs_from_reference"
ROUTES = {"ODH": "edge", "V_O-edge": "edge", "TSH": "tetrahedral"}


def route_family(mechanism: str | None) -> str | None:
    """'edge' (ODH, or through a vacant O's edge) or 'tetrahedral' (TSH); None for no label."""
    return ROUTES.get(mechanism or "")


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


def _energies(doc: dict, b) -> dict:
    """Absolute energies a twin is recognised by: the saddle (and the other saddle of a two-saddle
    band) and the two end states."""
    e = [float(x) for x in doc["energies"]]
    saddles = [e[k] for k, _ in b.saddles] or [max(e[1:-1])]
    return {
        "saddle_energy": max(e),
        "saddle_energies": saddles,
        "second_saddle_energy": saddles[1] if len(saddles) > 1 else None,
        "initial_energy": e[0],
        "final_energy": e[-1],
    }


def _shared_band(doc: dict) -> list[str]:
    """Hop ids this band was shared with or computed as (the workflow runs a twin's band once)."""
    out = []
    for key in ("computed_as", "shared_with"):
        value = doc.get(key)
        if isinstance(value, str) and value:
            out.append(value)
        elif isinstance(value, list | tuple):
            out += [str(v) for v in value if v]
    return out


def barrier_rows(summaries, docs, calc_of, image_distance: float | None = None) -> list[dict]:
    """``barrier`` (from the more stable end point), ``e_kra`` (the higher saddle of a two-saddle band;
    both saddles in the details) and ``delta_e_a`` = ΔE_KRA against the same hop in the parent
    configuration at the same level and settings (see the module docstring); each with the expected
    and the observed mechanism and the evidence for it (a disagreement flags the row). In a cell
    below the converged image distance, a defect configuration's barriers are flagged ``cell not
    converged (Δ = …)``."""
    finite_size = cell_convergence_flag(image_distance)
    rows = []
    computed: dict[tuple, dict] = {}  # (configuration, hop id, level, settings) → what ΔE_a needs of it
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
        energies = _energies(doc, b)
        details = {
            **b.as_dict(),
            **energies,
            "flags": flags,
            "start": hop.get("start"),
            "end": hop.get("end"),
            "mechanism_expected": expected,
            "mechanism_observed": observed.get("mechanism"),
            "observed": observed,
            "route": doc.get("route"),
            "routes": doc.get("routes"),
            "hop": hop,
            "twin_key": hop.get("twin_key"),
            "shares_band_with": _shared_band(doc),
            "energies": list(doc["energies"]),
        }
        status = "flagged" if flags else "ok"
        rows.append(descriptor_row(cid, "barrier", b.stable_end, calc, subject, status=status, flags=flags, details=details))
        rows.append(descriptor_row(cid, "e_kra", b.e_kra, calc, subject, status=status, flags=flags, details=details))
        key = (cid, subject, calc["level_of_theory"], calc["settings_hash"])
        computed[key] = {
            "e_kra": b.e_kra, "calculation": calc["id"], "flags": flags, "hop": hop, "mechanism": observed.get("mechanism") or expected,
            "band": calc["data"].get("band"), "hop_id": subject, "twin_key": hop.get("twin_key"), "start": hop.get("start"),
            "end": hop.get("end"), "shares_band_with": ",".join(_shared_band(doc)), **energies,
        }
        if summaries[cid].get("defects"):
            pending.append((cid, calc, key))
    for cid, calc, key in pending:
        rows += _delta_e_a(cid, calc, computed[key], summaries, computed)
    return rows


def _parent(summary: dict, hop: dict) -> tuple[str | None, str | None, str]:
    """(parent id, the defect it lacks, how it was chosen): the configuration without the hop's
    nearest defect, by lineage id."""
    defects = summary.get("defects") or []
    parents = summary.get("parent_ids") or []
    if len(parents) != len(defects) or not defects:
        return None, None, "no lineage ids in this result (written by an older lrox)"
    names = [d.get("name") or d.get("site") for d in defects]
    nearest = hop.get("nearest_defect")
    k = names.index(nearest) if nearest in names else (0 if len(defects) == 1 else None)
    if k is None:
        return None, None, f"the hop's nearest defect ({nearest}) is not one of the configuration's defects"
    return parents[k], names[k], "the configuration without the hop's nearest defect"


def _midpoint_distance(band: dict | None, hop: dict, frac) -> float | None:
    """Distance (Å) from a hop's midpoint (its moving Li's two end positions in the stored band) to a
    fractional position, on the band's lattice."""
    if not band or not band.get("frac"):
        return None
    li = (hop.get("saddle_geometry") or {}).get("moving_li")
    lattice = np.asarray(band["lattice"], dtype=float)
    first, last = np.asarray(band["frac"][0], dtype=float), np.asarray(band["frac"][-1], dtype=float)
    if li is None or li >= len(first):
        return None
    start, end = first[li], last[li]
    step = end - start
    midpoint = start + 0.5 * (step - np.round(step))
    delta = np.asarray(frac, dtype=float) - midpoint
    delta -= np.round(delta)
    return float(np.linalg.norm(delta @ lattice))


def _reference_hop(entry: dict, summary: dict, parent: str, parent_summary: dict, computed: dict, level: str, settings: str) -> tuple[dict | None, str]:
    """The same hop computed in the parent configuration, and how it was found (or why not)."""
    hop = entry["hop"]
    stated = (hop.get("parent_hop_ids") or {}).get(parent)
    if stated:
        found = computed.get((parent, stated, level, settings))
        return (found, "the hop's own parent hop id") if found else (None, f"the same hop ({stated}) did not run in the parent at this level")
    reference = hop.get("reference_hop_id")
    if not reference:
        return None, "the hop states no reference hop"
    if not parent_summary.get("defects"):
        found = computed.get((parent, reference, level, settings))
        return (found, "the pristine host's hop of the same two sites") if found else (None, "the same hop did not run in the pristine host at this level")
    candidates = [v for (c, _, lv, st), v in computed.items() if c == parent and lv == level and st == settings and v["hop"].get("reference_hop_id") == reference]
    if len(candidates) > 1:  # several hops of the parent are this one in the host: the distance to the shared defects decides
        shared = [d for d in parent_summary.get("defects", []) if any(d.get("name") == e.get("name") for e in summary.get("defects", []))]
        if shared:
            mine = [_midpoint_distance(entry["band"], hop, d["frac_coords"]) for d in shared]
            theirs = [[_midpoint_distance(c["band"], c["hop"], d["frac_coords"]) for d in shared] for c in candidates]
            candidates = [c for c, t in zip(candidates, theirs) if None not in mine and None not in t and max(abs(a - b) for a, b in zip(mine, t)) < 0.2]
    if len(candidates) == 1:
        return candidates[0], "the parent's hop of the same two sites in the host, at the same distance from the defects they share"
    if not candidates:
        return None, "the same hop did not run in the parent at this level"
    return None, f"{len(candidates)} hops of the parent match this one: ambiguous, no ΔE_a"


def _comparison(mechanism: str | None, reference: str | None) -> tuple[bool, str]:
    """Whether a ΔE_a compares like with like (the same route), and its name where it does not."""
    mine, theirs = route_family(mechanism), route_family(reference)
    if mine is None or theirs is None:
        return False, f"the route of {'this hop' if mine is None else 'the reference'} is not known"
    if mine == theirs:
        return True, "like with like"
    if mechanism == "V_O-edge":
        return False, "the reference took the tetrahedral route, which this vacancy removes"
    return False, f"the reference took the {theirs} route ({reference}), this hop the {mine} route ({mechanism})"


def _delta_e_a(cid: str, calc: dict, entry: dict, summaries: dict, computed: dict) -> list[dict]:
    summary = summaries[cid]
    hop, subject = entry["hop"], entry["hop_id"]
    parent, removed, why_parent = _parent(summary, hop)
    level, settings = calc["level_of_theory"], calc["settings_hash"]
    if parent is None:
        if hop.get("reference_hop_id"):  # an older result: the pristine host, said as such
            parent_summary = next((s for s in summaries.values() if not s.get("defects")), None)
            if parent_summary is not None:
                parent, removed, why_parent = parent_summary["id"], "every defect", why_parent + "; against the pristine host"
        if parent is None:
            return []
    if parent not in summaries:
        reason = f"the parent configuration ({parent}) is not in this screen"
        return [descriptor_row(cid, "delta_e_a", None, calc, subject, status="unavailable", flags=[reason],
                               details={"reference_configuration": parent, "removed_defect": removed, "reason": reason})]
    found, how = _reference_hop(entry, summary, parent, summaries[parent], computed, level, settings)
    base = {"reference_configuration": parent, "removed_defect": removed, "parent_chosen_as": why_parent}
    if found is None:
        how = how.replace("in the parent", f"in the parent ({summaries[parent].get('name') or parent})")
        return [descriptor_row(cid, "delta_e_a", None, calc, subject, status="unavailable", flags=[how], details={**base, "reason": how})]
    like, comparison = _comparison(entry["mechanism"], found["mechanism"])
    twin, _ = same_hop({**entry, "id": "a"}, {**found, "id": "b"})
    if twin:
        comparison = "the same physical hop as its reference (a twin): ΔE_a is zero by identity, not an effect"
        like = False
    profile = [f for f in entry["flags"] if f != MECHANISM_MISMATCH] + [f"reference {f}" for f in found["flags"] if f != MECHANISM_MISMATCH]
    flags = sorted(set(profile) | ({ROUTE_DIFFERS} if not like and not twin else set()) | ({"twin_of_reference"} if twin else set()))
    details = {
        **base,
        "reference_hop_id": found["hop_id"],
        "reference_found_by": how,
        "reference_e_kra": found["e_kra"],
        "reference_calculation": found["calculation"],
        "e_kra": entry["e_kra"],
        "mechanism": entry["mechanism"],
        "reference_mechanism": found["mechanism"],
        "like_with_like": like,
        "comparison": comparison,
    }
    return [descriptor_row(cid, "delta_e_a", entry["e_kra"] - found["e_kra"], calc, subject, status="flagged" if flags else "ok", flags=flags, details=details)]
