"""Querying the descriptor database: the configuration view, the hop table, the levels; a small filter language.

**The configuration view** (``lrox query``): one row per configuration with every level of theory
side by side. A level is a (level of theory, settings) pair with an alias (``chgnet``, ``gpaw``,
``7net-0``, ``committee``, ``chgnet-2`` for a second settings set), listed by ``lrox query
levels``. Where the database holds more than one level, each level's field is named
``field@alias`` (``barrier@chgnet``, ``o2p_center_vbm@gpaw``); a plain ``field`` means the one
level that has it, and is refused with the choices where several do. Numbers of two levels are
never mixed inside one quantity.

===================  ==========================================================================
``id``               configuration id (what ``lrox plot`` and the other commands take)
``host``             host name (``li2mno3``, ...); ``n_atoms``, ``supercell``: its cell
``name``             configuration name (``Ti on Mn(4g, TM layer)``, ``V_O(8j)``)
``defect``           ``pristine``, ``dopant``, ``vacancy``, ``dopant+vacancy``, ...
``dopant``           dopant species (comma-separated), null for none
``site``             host site label(s) of the defect(s)
per level:
``barrier``          lowest Li migration barrier (from the more stable end point) over the
                     configuration's hops with a trustworthy profile (eV; a hop that took
                     another path than expected counts, its path is in the hop table);
                     ``barrier_max`` the highest; ``n_hops`` how many; ``n_flagged`` hops whose
                     barrier is flagged for its profile (not counted in these)
``e_kra_min``        lowest / highest kinetically resolved barrier E_KRA of those hops (eV),
``e_kra_max``        and ``e_kra_nearest``: that of the hop nearest the defect
``o2p_center``       O 2p band centre, occupied window E_F − 10 eV..E_F, relative to E_F (eV)
``o2p_center_vbm``   the same relative to the valence-band maximum (eV)
``o2p_center_full``  O 2p band centre over the whole DOS range, relative to E_F (eV)
``e_vac_o``          O-vacancy formation energy, O-rich (eV); ``e_vac_o_tp`` at the spec's
                     (T, pO2) or at ``--oxygen``; ``delta_e_vac_o`` its change by a nearby
                     defect (against the isolated vacancy of the same site orbit); ``e_vac_li``
``band_gap``         Kohn–Sham gap from the eigenvalues (eV)
``li_slab_spacing``  and the other geometry descriptors (Å): ``interlayer_distance``,
                     ``tm_o_mean``, ``o_o_min``, ``li_slab_spacing_near``, ...
``n_failed``         calculations of this configuration at this level that failed
===================  ==========================================================================

**The hop table** (``lrox query hops``): one row per hop calculation, filtered and sorted by the
database itself; its fields are :data:`descriptors.records.schema.HOP_FIELDS` (``mechanism``,
``n_tm``, ``e_kra``, ``delta_e_a``, ...), plus ``level`` for an alias.

The filter language is :mod:`descriptors.query.language`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from descriptors.query.language import QueryError, matches, parse_filter
from descriptors.query.levels import level_aliases
from descriptors.records.schema import DESCRIPTOR_FIELDS, LEVEL_FIELDS, SUMMARY_FIELDS
from structures.errors import LroxInputError

__all__ = ["FIELDS", "CONFIG_FIELDS", "LEVEL_FIELDS", "SUMMARY_FIELDS", "DESCRIPTOR_FIELDS", "long_table", "configuration_table", "query", "parse_oxygen", "to_dataframe"]

CONFIG_FIELDS = ("id", "host", "name", "defect", "dopant", "site", "n_atoms", "supercell")
FIELDS = CONFIG_FIELDS + LEVEL_FIELDS


def long_table(db, oxygen: tuple[float, float] | None = None, levels: list[dict] | None = None) -> list[dict]:
    """One row per configuration × level of theory × settings (``level``: its alias), every LEVEL_FIELD.

    ``oxygen`` = (T in K, pO2 in atm): ``e_vac_o_tp`` is E_f(V_O) re-evaluated there from each
    stored O-rich value and its μ_O (E_f is linear in μ_O: nothing reruns). ``levels``: the
    database's :func:`~descriptors.query.levels.level_aliases`, where the caller has them.

    The rows are the store's configuration view (kept in step with the descriptors on every
    write); a database written before it existed (schema 2) has them made from its descriptor rows
    here, by the same function (:func:`descriptors.records.view.view_rows`).
    """
    fields = (*CONFIG_FIELDS, "level", "level_of_theory", "settings_hash", "backend", *LEVEL_FIELDS)
    return _picked(_view_of(db, oxygen, levels), fields)


def _view_of(db, oxygen: tuple[float, float] | None, levels: list[dict] | None, fields: tuple[str, ...] | None = None) -> list[dict]:
    """The view's rows as read (every view column, or of the level fields only ``fields``; the
    configuration's fields), each with its ``id`` and its level's alias (``level``), and
    ``e_vac_o_tp`` at ``oxygen``."""
    levels = level_aliases(db, counts=False) if levels is None else levels
    alias_of = {(a["level_of_theory"], a["settings_hash"]): a["alias"] for a in levels}
    if oxygen is not None and fields is not None:
        fields = (*fields, "e_vac_o")  # what e_vac_o_tp is re-evaluated from
    rows = db.configuration_view(with_mu=oxygen is not None, fields=fields, delta_only=True) if getattr(db, "has_view", False) else _view_from_rows(db)
    if oxygen is not None:  # replaced by the conditions asked for
        from descriptors.physics.vacancy import delta_mu_oxygen, reevaluate

        delta = delta_mu_oxygen(oxygen[0], oxygen[1])  # the same for every row
        for row in rows:
            mu = row.get("e_vac_o_mu")
            row["e_vac_o_tp"] = reevaluate(row["e_vac_o"], mu, delta=delta) if mu and row["e_vac_o"] is not None else None
    for row in rows:
        row["id"] = row["configuration_id"]
        row["level"] = alias_of.get((row["level_of_theory"], row["settings_hash"]), "?")
    return rows


def _view_from_rows(db) -> list[dict]:
    """The configuration view of a database that does not keep it (schema 2), from its rows."""
    from descriptors.records.view import view_rows
    from descriptors.store.tables import CalculationRow, ConfigurationRow, DescriptorRow

    configs = {c["id"]: c for c in db.rows(ConfigurationRow)}
    failed = defaultdict(int)
    for calc in db.rows(CalculationRow):
        if calc["status"] == "failed" and calc["configuration_id"]:
            failed[(calc["configuration_id"], calc["level_of_theory"], calc["settings_hash"])] += 1
    descriptors = sorted((d for d in db.rows(DescriptorRow) if d["configuration_id"] in configs), key=lambda d: d["id"])
    return [{**{f: configs[r["configuration_id"]].get(f) for f in CONFIG_FIELDS if f != "id"}, **r} for r in view_rows(descriptors, failed)]


def _getter(names: tuple[str, ...]):
    """Row → the tuple of its values of these names, in C (a row without one of them raises KeyError)."""
    from operator import itemgetter

    if len(names) == 1:
        name = names[0]
        return lambda row: (row[name],)
    return itemgetter(*names) if names else (lambda row: ())


def _picked(rows: list[dict], names) -> list[dict]:
    """Each row as a new dict of these names in this order (None where a row lacks one): what
    ``{n: row.get(n) for n in names}`` makes, without a Python loop over the names of 10,000 rows."""
    names = tuple(names)
    try:
        get = _getter(names)
        return [dict(zip(names, get(row))) for row in rows]
    except KeyError:
        return [{n: row.get(n) for n in names} for row in rows]


def _present(rows: list[dict], names) -> list[str]:
    """The names some row has a value (not None) for, in their order (each column scanned in C,
    up to its first value)."""
    from itertools import repeat
    from operator import is_not, itemgetter

    if not rows:
        return []
    try:
        return [f for f in names if any(map(is_not, map(itemgetter(f), rows), repeat(None)))]
    except KeyError:
        return [f for f in names if any(row.get(f) is not None for row in rows)]


@dataclass
class ConfigurationTable:
    """One row per configuration, every level side by side: ``field@alias`` columns (plain ``field``
    when the database holds one level only). ``aliases``: the levels present, in alias order."""

    rows: list[dict]
    columns: list[str]
    aliases: list[str]

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index):
        return self.rows[index]

    def resolve(self, name: str) -> str:
        """The column a field name means: ``barrier@chgnet``; plain ``barrier`` where one level has it."""
        if name in self.columns or name in CONFIG_FIELDS:
            return name
        field, _, alias = name.partition("@")
        if field not in LEVEL_FIELDS:
            raise QueryError(f"query: unknown field '{name}' (fields: {', '.join(FIELDS)}, each as field@level; levels: {', '.join(self.aliases)})")
        if alias:
            if alias not in self.aliases:
                raise QueryError(f"query: unknown level '{alias}' in '{name}' (levels: {', '.join(self.aliases) or 'none'}; see 'lrox query levels')")
            return name if len(self.aliases) > 1 else field
        having = [a for a in self.aliases if f"{field}@{a}" in self.columns]
        if len(having) > 1:
            raise QueryError(f"query: '{field}' is given by {len(having)} levels: use one of {', '.join(f'{field}@{a}' for a in having)}")
        if having:
            return f"{field}@{having[0]}"
        return field if len(self.aliases) <= 1 else f"{field}@{self.aliases[0]}"


def configuration_table(db, oxygen: tuple[float, float] | None = None, long_rows: list[dict] | None = None, fields=None) -> ConfigurationTable:
    """The configuration view: ML barriers and GPAW/VASP band centres of one configuration on one row.
    ``long_rows``: this database's :func:`long_table` (at ``oxygen``), where the caller has it.
    ``fields``: the level fields the caller reads (default every one): only those are read and
    kept (a filter's and a sort's fields must be among them: :func:`query` adds them)."""
    levels = level_aliases(db, counts=False)
    level_fields = LEVEL_FIELDS if fields is None else tuple(f for f in LEVEL_FIELDS if f in set(fields))
    long = _view_of(db, oxygen, levels, None if fields is None else level_fields) if long_rows is None else long_rows
    seen = {r["level"] for r in long}
    aliases = [a["alias"] for a in levels if a["alias"] in seen]
    several = len(aliases) > 1
    if not several and len({r["id"] for r in long}) == len(long):
        # one level, one row per configuration: each row taken as it is (the common case, and 10,000 rows)
        present = _present(long, level_fields) if aliases else []
        kept = (*CONFIG_FIELDS, *present)
        return ConfigurationTable(_picked(long, kept), list(kept), aliases)
    rows: dict[str, dict] = {}
    for r in long:
        row = rows.get(r["id"])
        if row is None:
            row = rows[r["id"]] = {f: r.get(f) for f in CONFIG_FIELDS}
        if several:
            level = r["level"]
            for f in level_fields:
                row[f"{f}@{level}"] = r.get(f)
        else:
            for f in level_fields:
                row[f] = r.get(f)
    names = [f"{f}@{a}" if several else f for a in aliases for f in level_fields]
    present = [c for c in names if any(row.get(c) is not None for row in rows.values())]
    kept = (*CONFIG_FIELDS, *present)
    out = [{c: row.get(c) for c in kept} for row in rows.values()]
    return ConfigurationTable(out, [*CONFIG_FIELDS, *present], aliases)


def parse_oxygen(text: str) -> tuple[float, float]:
    """``"1173,0.21"`` → (1173.0, 0.21): temperature in K and O2 partial pressure in atm."""
    import math

    from descriptors.physics.vacancy import delta_mu_oxygen

    parts = [p.strip() for p in str(text).split(",")]
    try:
        t, p = (float(parts[0]), float(parts[1]) if len(parts) > 1 else 1.0)
    except (ValueError, IndexError):
        raise LroxInputError(f"--oxygen '{text}': expected T,pO2 (K, atm), e.g. 1173,0.21") from None
    if len(parts) > 2 or not (math.isfinite(t) and math.isfinite(p)):
        raise LroxInputError(f"--oxygen '{text}': expected two finite numbers T,pO2 (K, atm)")
    try:
        delta_mu_oxygen(t, p)
    except ValueError as exc:
        raise LroxInputError(f"--oxygen '{text}': {exc}") from None
    return t, p


def query(db, where: str | None = None, sort: str | None = None, oxygen: tuple[float, float] | None = None, fields=None) -> ConfigurationTable:
    """The configuration view's rows that satisfy ``where``, sorted by ``sort`` (``-field`` descending).
    ``fields``: the level fields the caller reads (default every one; the table ``lrox query``
    prints reads 8): the rows and columns hold those and the fields ``where`` and ``sort`` name."""
    if fields is not None:
        named = set(fields)
        if where:
            named |= _named_fields(parse_filter(where, fields=_AnyName()))
        if sort:
            named.add(sort.lstrip("-").partition("@")[0])
        fields = named
    table = configuration_table(db, oxygen, fields=fields)
    rows = table.rows
    if where:
        tree = _resolve_tree(parse_filter(where, fields=_FieldNames(table)), table)
        rows = [r for r in rows if matches(tree, r)]
    if sort:
        descending = sort.startswith("-")
        try:
            field = table.resolve(sort.lstrip("-"))
        except QueryError as exc:
            raise QueryError(f"query: unknown sort field '{sort.lstrip('-')}': {str(exc).removeprefix('query: ')}") from None
        present = [r for r in rows if r.get(field) is not None]
        missing = [r for r in rows if r.get(field) is None]
        present.sort(key=lambda r: (r[field] if isinstance(r[field], int | float) else str(r[field])), reverse=descending)
        rows = present + missing  # rows without the field go last either way
    else:
        rows = sorted(rows, key=lambda r: (str(r["host"]), str(r["name"]), str(r["id"])))
    return ConfigurationTable(rows, table.columns, table.aliases)


class _AnyName:
    """Every name, as a field (a filter's fields are read before the table that resolves them)."""

    def __contains__(self, name) -> bool:
        return True


def _named_fields(node) -> set[str]:
    """The fields (without their @level) a parsed filter names."""
    kind = node[0]
    if kind in ("and", "or"):
        return _named_fields(node[1]) | _named_fields(node[2])
    if kind == "not":
        return _named_fields(node[1])
    return {str(node[1]).partition("@")[0]}


class _FieldNames:
    """What the parser accepts as a field of a configuration table: any name the table resolves."""

    def __init__(self, table: ConfigurationTable):
        self.table = table

    def __contains__(self, name: str) -> bool:
        self.table.resolve(name)  # raises a QueryError that says what to write instead
        return True

    def __iter__(self):
        return iter(self.table.columns)


def _resolve_tree(node, table: ConfigurationTable):
    """The filter tree with every field name replaced by its column."""
    kind = node[0]
    if kind in ("and", "or"):
        return (kind, _resolve_tree(node[1], table), _resolve_tree(node[2], table))
    if kind == "not":
        return ("not", _resolve_tree(node[1], table))
    return (kind, table.resolve(node[1]), *node[2:])


def to_dataframe(url: str | None = None, where: str | None = None):
    """The configuration view as a pandas DataFrame: ``to_dataframe("sqlite:///lrox.db", "barrier < 0.5")``."""
    import pandas as pd

    from descriptors.store.database import DescriptorDatabase

    table = query(DescriptorDatabase(url), where)
    return pd.DataFrame(table.rows, columns=table.columns)
