"""The hop table's rows: one per hop calculation (configuration × hop × level × settings), every field a
question about Li hops filters on, derived from a batch's descriptor and calculation rows.

Pure: the rows are stored by :mod:`descriptors.store.database` in their own table, with a column per
field, so that a filter runs in SQL (:mod:`descriptors.query.hops`) and a database of 10^5 hops stays
fast.
"""

from __future__ import annotations

import hashlib
import json

from descriptors.physics.levels import expected_error

__all__ = ["hop_rows"]


def _row_id(configuration_id: str, hop_id: str, level: str, settings_hash: str) -> str:
    return hashlib.sha256(json.dumps([configuration_id, hop_id, level, settings_hash]).encode()).hexdigest()[:24]


def hop_rows(configurations: list[dict], calculations: list[dict], descriptors: list[dict]) -> list[dict]:
    """One row per (configuration, hop, level, settings) that has a ``barrier`` descriptor row."""
    configs = {c["id"]: c for c in configurations}
    calcs = {c["id"]: c for c in calculations}
    by_key: dict[tuple, dict[str, dict]] = {}
    ts_charge: dict[tuple, dict] = {}
    for d in descriptors:
        if not d.get("subject"):
            continue
        if d["name"] == "ts_cation_charge":  # a static's charges facing this hop's saddle (any level)
            ts_charge[(d["configuration_id"], d["subject"])] = d
            continue
        by_key.setdefault((d["configuration_id"], d["subject"], d["level_of_theory"], d["settings_hash"]), {})[d["name"]] = d
    rows = []
    for (cid, hop_id, level, settings_hash), named in by_key.items():
        barrier = named.get("barrier")
        if barrier is None:
            continue
        details = barrier.get("details") or {}
        hop = details.get("hop") or {}
        calc = calcs.get(barrier.get("calculation_id")) or {}
        data = calc.get("data") or {}
        config = configs.get(cid) or {}
        observed = details.get("mechanism_observed")
        if isinstance(observed, dict):  # a committee: the members' observations, agreeing or not
            values = set(observed.values())
            observed = values.pop() if len(values) == 1 else "mixed"
        tets = hop.get("tetrahedral_site_face_sharing") or []
        charge = ts_charge.get((cid, hop_id))
        flags = barrier.get("flags") or []
        spread = named.get("barrier_spread")
        is_committee = level.startswith("MLIP committee")
        evidence = details.get("observed") or {}
        minimum = evidence.get("intermediate_minimum") or {}
        delta = named.get("delta_e_a") or {}
        delta_details = delta.get("details") or {}
        ends = [details.get("initial_energy"), details.get("final_energy")]
        second = details.get("saddles") or []
        rows.append(
            {
                "id": _row_id(cid, hop_id, level, settings_hash),
                "calculation_id": None if is_committee else barrier.get("calculation_id"),
                "configuration_id": cid,
                "configuration": config.get("name"),
                "host": config.get("host"),
                "defect": config.get("defect"),
                "dopant": config.get("dopant"),
                "hop_id": hop_id,
                "start": details.get("start") or hop.get("start"),
                "end": details.get("end") or hop.get("end"),
                "length": hop.get("length"),
                "layers": hop.get("layers"),
                "mechanism": observed or hop.get("mechanism"),
                "mechanism_expected": details.get("mechanism_expected") or hop.get("mechanism"),
                "mechanism_observed": observed,
                "n_tm": hop.get("n_tm"),
                "ts_cations": "; ".join(tets) or None,
                "ts_cation_charge": charge["value"] if charge and charge["status"] == "ok" else None,
                "distance_to_defect": hop.get("distance_to_defect"),
                "nearest_defect": hop.get("nearest_defect"),
                "closest_to_vacant_o": evidence.get("closest_to_vacant_o"),
                "closest_to_tetrahedron": evidence.get("closest_to_tetrahedron"),
                "tetrahedron_inradius": evidence.get("tetrahedron_inradius"),
                "closest_to_edge_midpoint": evidence.get("closest_to_edge_midpoint"),
                "saddle_image": evidence.get("saddle_image"),
                "intermediate_minimum": _relative(minimum.get("energy"), ends),
                "minimum_at_tetrahedral_site": minimum.get("at_tetrahedral_site") if minimum else None,
                "forward": details.get("forward"),
                "reverse": details.get("reverse"),
                "barrier": barrier.get("value"),
                "stable_end": details.get("stable_end_side"),
                "e_kra": (named.get("e_kra") or {}).get("value"),
                "e_kra_second_saddle": second[1][1] if len(second) > 1 else None,
                "delta_e_a": delta.get("value"),
                "reference_configuration_id": delta_details.get("reference_configuration"),
                "reference_mechanism": delta_details.get("reference_mechanism"),
                "delta_e_a_comparison": delta_details.get("comparison") or delta_details.get("reason"),
                "delta_e_a_flags": ", ".join(delta.get("flags") or []) or None,
                "barrier_spread": spread.get("value") if spread else None,
                "expected_error": expected_error(level),
                "route": details.get("route"),
                "converged": data.get("converged") if not is_committee else barrier.get("status") != "failed",
                "status": barrier.get("status"),
                "flags": ", ".join(flags) or None,
                "level_of_theory": level,
                "settings_hash": settings_hash,
                "backend": barrier.get("backend"),
                "n_atoms": (data.get("cell") or {}).get("n_atoms") or config.get("n_atoms"),  # a check's smaller cell, else the configuration's
                "twin_key": details.get("twin_key") or hop.get("twin_key"),
                "shares_band_with": ", ".join(details.get("shares_band_with") or []) or None,
                "saddle_energy": details.get("saddle_energy"),
                "second_saddle_energy": details.get("second_saddle_energy"),
                "initial_energy": ends[0],
                "final_energy": ends[1],
            }
        )
    return rows


def _relative(energy, ends) -> float | None:
    """An absolute image energy relative to the mean of the two end states (as E_KRA is)."""
    if energy is None or None in ends:
        return None
    return float(energy) - 0.5 * (ends[0] + ends[1])
