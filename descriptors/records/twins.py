"""Which hop calculations are one physical hop (twins), and which share one leg's saddle (dependent).

A statistic counts distinct physical hops. Two bands are the same hop when their two end states and
the path between them are images of each other under the pristine supercell's operations: a
Li-vacancy configuration's hop that ends in its own vacancy *is* the pristine hop, whatever
configuration it was computed in. The workflow states that identity on every hop (``twin_key`` in
the hop summary, and ``computed_as``/``shared_with`` where a twin's band ran once and was shared);
the energies confirm it: the same saddle within the model's resolution
(:func:`descriptors.physics.barriers.energy_resolution`) and the same two end-state energies within
:data:`END_STATE_TOLERANCE`. A database written before twin keys existed falls back on the energies,
the same host and the same pair of site labels, and says so (``twin_basis``).

Two bands that are not twins but share one saddle energy within the resolution (a divacancy TSH band
and another configuration's band through the same tetrahedral intermediate: one leg is common, the
other leg and the end states differ) are *dependent*: separate hops that are not independent data.

Pure: rows in (the hop table's), a :class:`TwinInfo` per row out. Only rows of one level of theory,
settings and host are ever compared (absolute energies of two models mean nothing together): a
partition's groups depend on its rows alone, so the store makes them again for the partitions a
write touches (:func:`twin_table_rows`, the ``hop_twins`` table) and a reader reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from descriptors.physics.barriers import energy_resolution
from descriptors.records.schema import TWIN_FIELDS

__all__ = ["END_STATE_TOLERANCE", "TwinInfo", "site_pair", "same_hop", "twin_groups", "TWIN_FIELDS", "TWIN_INPUT_FIELDS", "partition_of",
           "twin_table_rows", "energies_of_profile"]

# End states of the same hop relaxed from two starting structures (the pristine host with a Li
# vacancy at one end, and the Li-vacancy configuration with its Li moved) to 0.05 eV/Å land on
# slightly different local minima: up to 1.6 meV apart in the design-rules example (SevenNet-0,
# 96 atoms) while their saddles agree to 2 ulps. End states count as equal within 5 meV; the saddle
# has to agree within the resolution.
END_STATE_TOLERANCE = 0.005
# the hop-table columns twin_groups reads
TWIN_INPUT_FIELDS = ("id", "hop_id", "configuration_id", "defect", "level_of_theory", "settings_hash", "host", "start", "end", "twin_key",
                     "shares_band_with", "saddle_energy", "second_saddle_energy", "initial_energy", "final_energy")
BASIS_KEY = "twin key, energies agree"
BASIS_SHARED = "one band shared by the workflow"
BASIS_FALLBACK = "energies and site labels (this database stores no twin key)"
SINGLE = "no twin"


@dataclass
class TwinInfo:
    """A hop row's twin group (the id of its representative hop: equal for rows of one physical hop),
    how many rows share it, on what evidence, and the groups it shares one leg's saddle with."""

    twin_group: str
    n_twins: int = 1
    twin_basis: str = SINGLE
    dependent_on: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_row(self) -> dict:
        return {"twin_group": self.twin_group, "n_twins": self.n_twins, "twin_basis": self.twin_basis,
                "dependent_on": ", ".join(self.dependent_on) or None}


def site_pair(start, end) -> tuple[str, str]:
    """The hop's two site labels as an unordered pair, without the 'vacant ' of a hop into a vacancy."""
    clean = [str(x or "").removeprefix("vacant ").strip() for x in (start, end)]
    return tuple(sorted(clean))  # type: ignore[return-value]


def _saddles(row: dict) -> list[float]:
    return [e for e in (row.get("saddle_energy"), row.get("second_saddle_energy")) if e is not None]


def _energies_agree(a: dict, b: dict) -> tuple[bool, str]:
    """Same saddle within the resolution and the same two end-state energies within END_STATE_TOLERANCE."""
    if a.get("saddle_energy") is None or b.get("saddle_energy") is None:
        return False, "no energies to compare"
    resolution = max(energy_resolution([a["saddle_energy"]]), energy_resolution([b["saddle_energy"]]))
    saddle = abs(a["saddle_energy"] - b["saddle_energy"])
    if saddle > resolution:
        return False, f"saddles {saddle * 1000:.2f} meV apart (resolution {resolution * 1000:.2f} meV)"
    ends_a = sorted(x for x in (a.get("initial_energy"), a.get("final_energy")) if x is not None)
    ends_b = sorted(x for x in (b.get("initial_energy"), b.get("final_energy")) if x is not None)
    if len(ends_a) != 2 or len(ends_b) != 2:
        return False, "no end-state energies to compare"
    ends = max(abs(x - y) for x, y in zip(ends_a, ends_b))
    if ends > END_STATE_TOLERANCE:
        return False, f"end states {ends * 1000:.1f} meV apart"
    return True, ""


def same_hop(a: dict, b: dict) -> tuple[bool, str]:
    """Whether two hop rows (of one level, settings and host) are one physical hop, and on what basis
    (or why not)."""
    shared_a, shared_b = set(_shared(a)), set(_shared(b))
    if a.get("hop_id") in shared_b or b.get("hop_id") in shared_a:
        return True, BASIS_SHARED
    key_a, key_b = a.get("twin_key"), b.get("twin_key")
    if key_a and key_b:
        if key_a != key_b:
            return False, "different twin keys"
        agree, why = _energies_agree(a, b)
        return (True, BASIS_KEY) if agree else (False, f"twin key agrees but {why}")
    if site_pair(a.get("start"), a.get("end")) != site_pair(b.get("start"), b.get("end")):
        return False, "different sites"
    agree, why = _energies_agree(a, b)
    return (True, BASIS_FALLBACK) if agree else (False, why)


def _shared(row: dict) -> list[str]:
    text = row.get("shares_band_with")
    if not text:
        return []
    return [s.strip() for s in str(text).split(",") if s.strip()]


def partition_of(row: dict) -> tuple:
    """(level of theory, settings, host): the rows twins are looked for among."""
    return (row.get("level_of_theory"), row.get("settings_hash"), row.get("host"))


def twin_groups(rows: list[dict]) -> dict[str, TwinInfo]:
    """Row id → TwinInfo for every hop row (rows need ``id``, ``hop_id``, ``configuration_id``,
    ``level_of_theory``, ``settings_hash``, ``host``, ``start``, ``end``, ``twin_key``,
    ``shares_band_with``, ``saddle_energy``, ``second_saddle_energy``, ``initial_energy``,
    ``final_energy``; missing ones read as None)."""
    parent = {r["id"]: r["id"] for r in rows}
    resolutions: dict[float, float] = {}

    def resolution(energy: float) -> float:  # energy_resolution of one energy, each asked once
        found = resolutions.get(energy)
        if found is None:
            found = resolutions[energy] = energy_resolution([energy])
        return found

    edges: list[tuple[str, str]] = []  # (row id, why) of every union
    notes: dict[str, list[str]] = {r["id"]: [] for r in rows}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a, b, why):
        ra, rb = find(a["id"]), find(b["id"])
        if ra != rb:
            parent[rb] = ra
        edges.append((a["id"], why))

    by_partition: dict[tuple, list[dict]] = {}
    for r in rows:
        by_partition.setdefault(partition_of(r), []).append(r)
    for members in by_partition.values():
        # a band the workflow ran once and shared: by hop id
        by_hop = {}
        for r in members:
            by_hop.setdefault(r.get("hop_id"), []).append(r)
        for r in members:
            for other in _shared(r):
                for o in by_hop.get(other, []):
                    union(r, o, BASIS_SHARED)
        # candidates: one bucket per twin key, or per site pair where a row has none; compared
        # along the saddle energy (a sweep, not every pair)
        buckets: dict[tuple, list[dict]] = {}
        unkeyed = any(not r.get("twin_key") for r in members)  # else every site bucket holds keyed rows only: nothing to compare there
        for r in members:
            key = ("key", r["twin_key"]) if r.get("twin_key") else ("sites", site_pair(r.get("start"), r.get("end")))
            buckets.setdefault(key, []).append(r)
            if r.get("twin_key") and unkeyed:  # a keyed row may still meet an unkeyed twin from an older ingest
                buckets.setdefault(("sites", site_pair(r.get("start"), r.get("end"))), []).append(r)
        for (kind, _), bucket in buckets.items():
            keyed = [bool(r.get("twin_key")) for r in bucket]
            if kind == "sites" and all(keyed):
                continue  # every pair keyed: their keys decide, in their own buckets
            order = sorted(range(len(bucket)), key=lambda k: (bucket[k].get("saddle_energy") is None, bucket[k].get("saddle_energy") or 0.0))
            bucket, keyed = [bucket[k] for k in order], [keyed[k] for k in order]
            saddle = [r.get("saddle_energy") for r in bucket]
            for i, a in enumerate(bucket):
                limit = 2 * resolution(saddle[i]) if saddle[i] is not None else None
                for j in range(i + 1, len(bucket)):  # indices, not a slice: a slice copies the rest of the bucket for every row
                    if limit is not None and saddle[j] is not None and saddle[j] - saddle[i] > limit:
                        break
                    if kind == "sites" and keyed[i] and keyed[j]:
                        continue  # both keyed: their keys decide
                    b = bucket[j]
                    if find(a["id"]) == find(b["id"]):
                        continue  # already one group: a comparison adds no union (a thousand copies of one band stay linear)
                    same, why = same_hop(a, b)
                    if same:
                        union(a, b, why)
                    elif kind == "key" and why.startswith("twin key agrees"):
                        notes[a["id"]].append(f"{b.get('hop_id')}: {why}")
                        notes[b["id"]].append(f"{a.get('hop_id')}: {why}")
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(find(r["id"]), []).append(r)
    representative = {root: _representative(members) if len(members) > 1 else str(members[0].get("hop_id")) for root, members in groups.items()}
    kinds_of: dict[str, set[str]] = {}
    for rid, why in edges:
        kinds_of.setdefault(find(rid), set()).add(why)
    info = {}
    for root, members in groups.items():
        group_basis = SINGLE
        if len(members) > 1:
            kinds = kinds_of.get(root, set())
            group_basis = BASIS_SHARED if BASIS_SHARED in kinds else BASIS_FALLBACK if BASIS_FALLBACK in kinds else BASIS_KEY
        for m in members:
            info[m["id"]] = TwinInfo(representative[root], len(members), group_basis, [], notes[m["id"]])
    # dependent: another group's band shares one of this band's saddles within the resolution
    for members in by_partition.values():
        saddles = sorted((e, r["id"]) for r in members for e in _saddles(r))
        for i, (e, rid) in enumerate(saddles):
            limit = resolution(e)
            for j in range(i + 1, len(saddles)):  # indices: a slice copied every later saddle for each (quadratic at 10,000 configurations)
                e2, rid2 = saddles[j]
                if e2 - e > limit:
                    break
                g1, g2 = info[rid].twin_group, info[rid2].twin_group
                if g1 != g2:
                    for a, g in ((rid, g2), (rid2, g1)):
                        if g not in info[a].dependent_on:
                            info[a].dependent_on.append(g)
    for root, members in groups.items():  # every member of a group carries the group's dependencies
        union_of = sorted({g for m in members for g in info[m["id"]].dependent_on})
        for m in members:
            info[m["id"]].dependent_on = union_of
    return info


def _representative(members: list[dict]) -> str:
    """The hop id a twin group is named by: the member computed in the configuration with the fewest
    defects (the pristine host's hop where it ran), then the smallest id."""
    def rank(r):
        return (str(r.get("defect") or "") != "pristine", len(str(r.get("defect") or "")), str(r.get("hop_id")))

    return str(min(members, key=rank).get("hop_id"))


def twin_table_rows(rows: list[dict]) -> list[dict]:
    """The ``hop_twins`` rows (``id`` and :data:`TWIN_FIELDS`) of these hop rows, which must be every
    row of their partitions (:func:`partition_of`): what a reader of the hop table shows per row."""
    return [{"id": rid, **info.as_row()} for rid, info in twin_groups(rows).items()]


def energies_of_profile(energies) -> dict:
    """The absolute energies twins are compared by, from a stored image profile (a database written
    before the hop table held them reads them from each barrier's band)."""
    from descriptors.physics.barriers import profile_extrema

    maxima, _ = profile_extrema(energies)
    saddles = sorted((energies[k] for k in maxima), reverse=True) or [max(energies[1:-1])]
    return {"saddle_energy": max(energies), "second_saddle_energy": saddles[1] if len(saddles) > 1 else None,
            "initial_energy": energies[0], "final_energy": energies[-1]}
