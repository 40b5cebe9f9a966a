"""The configuration view's rows: one per configuration × level of theory × settings, every
quantity ``lrox query`` shows, from that configuration's descriptor rows at that level.

Written beside the rows they come from, in the same transaction (the store's
``configuration_levels`` table), so that a query reads one row per configuration and level instead
of every descriptor; and, for a database written before that table existed, computed here from its
rows when it is read. One function for both: the view means the same either way.

What a row holds (descriptors.query.configurations documents the fields): ``barrier`` and
``barrier_max`` the lowest and highest barrier over the configuration's hops with a trustworthy
profile (``ok``, or flagged only because the hop took another path than expected), ``e_kra_*`` the
same for E_KRA (``e_kra_nearest``: the hop nearest the defect), ``n_hops`` how many, ``n_flagged``
barriers flagged for their profile, ``n_failed`` failed calculations; one value per other
descriptor whose status is ``ok``; and ``e_vac_o_mu``, the μ_O an ``ok`` E_f(V_O) was evaluated at,
so that ``--oxygen`` can re-evaluate it at query time; ``first_descriptor``, the id of its first
descriptor row, orders the rows as the descriptors were written.
"""

from __future__ import annotations

from collections.abc import Iterable

from descriptors.records.schema import DESCRIPTOR_FIELDS, LEVEL_FIELDS

__all__ = ["VIEW_KEY", "view_rows"]

VIEW_KEY = ("configuration_id", "level_of_theory", "settings_hash")


def view_rows(descriptors: Iterable[dict], failed: dict[tuple, int] | None = None) -> list[dict]:
    """The view's rows of these descriptor rows (each a dict of the descriptors table's columns, in
    the order they were first written); ``failed``: failed calculations per (configuration, level
    of theory, settings hash). A key with no descriptor row has no view row."""
    from descriptors.physics.barriers import only_mechanism_flags  # here: numpy is a writer's import, not every reader's

    failed = failed or {}
    table: dict[tuple, dict] = {}
    for d in descriptors:
        key = (d["configuration_id"], d["level_of_theory"], d["settings_hash"])
        row = table.get(key)
        if row is None:
            row = table[key] = {
                "configuration_id": key[0], "level_of_theory": key[1], "settings_hash": key[2], "backend": d["backend"],
                "first_descriptor": d.get("id"),
                "_barriers": [], "_kra": [], "n_flagged": 0, "e_vac_o_mu": None, **{f: None for f in DESCRIPTOR_FIELDS},
            }
        name, status = d["name"], d["status"]
        if name in ("barrier", "e_kra"):
            if d["value"] is not None and (status == "ok" or (status == "flagged" and only_mechanism_flags(d.get("flags")))):
                distance = ((d.get("details") or {}).get("hop") or {}).get("distance_to_defect")
                row["_barriers" if name == "barrier" else "_kra"].append((d["value"], distance))
            elif status == "flagged" and name == "barrier":
                row["n_flagged"] += 1
        elif name in DESCRIPTOR_FIELDS and status == "ok":
            row[name] = d["value"]
            if name == "e_vac_o":
                row["e_vac_o_mu"] = (d.get("details") or {}).get("chemical_potential") or None
    out = []
    for key, row in table.items():
        barriers, kra = [v for v, _ in row.pop("_barriers")], row.pop("_kra")
        row["barrier"] = min(barriers) if barriers else None
        row["barrier_max"] = max(barriers) if barriers else None
        row["e_kra_min"] = min(v for v, _ in kra) if kra else None
        row["e_kra_max"] = max(v for v, _ in kra) if kra else None
        with_distance = [(dist, v) for v, dist in kra if dist is not None]
        row["e_kra_nearest"] = min(with_distance)[1] if with_distance else None
        row["n_hops"] = len(barriers)
        row["n_failed"] = failed.get(key, 0)
        out.append({k: row[k] for k in (*VIEW_KEY, "backend", "first_descriptor", *LEVEL_FIELDS, "e_vac_o_mu")})
    return out
