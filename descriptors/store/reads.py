"""Reads of the store a reader makes at scale, each selecting what it needs: the configuration view
with its configurations' fields (only the quantities asked for; of μ_O only its Δμ_O where that is
all a reader uses), and the configurations' summaries of the configurations a reader names."""

from __future__ import annotations

from sqlalchemy import select

from descriptors.store.tables import ConfigurationLevelRow, ConfigurationRow, DescriptorRow

__all__ = ["configuration_view", "configuration_summaries", "fill_profile_energies"]


def configuration_view(engine, with_mu: bool = True, fields=None, delta_only: bool = False) -> list[dict]:
    """Every row of the view, with its configuration's host, name, defect, dopant, site, cell
    (``with_mu=False``: without ``e_vac_o_mu``, a JSON column only ``--oxygen`` reads;
    ``fields``: of the quantities only these, where a reader needs no other; ``delta_only``:
    of each ``e_vac_o_mu`` only its Δμ_O, ``{"delta": value}``, all ``--oxygen`` reads of it).

    ``delta_only`` reads the JSON text of that one value (SQLite's and PostgreSQL's own JSON
    path, not a decode of each document: a third of ``--oxygen``'s reading at 10,000 rows) and
    makes it a number through the database door (``JSONNumberText``: as a JSON decoder reads the
    literal, and refused as the document would be where no float holds it or it is beyond any
    number lrox writes); a row whose value is anything else (missing, text, null) where it has an
    E_f(V_O) gets its whole document, read through its column's type. A document SQLite's JSON
    path cannot parse (a damaged file) is read the same way: every row's whole document."""
    from sqlalchemy import cast
    from sqlalchemy.exc import DBAPIError

    from descriptors.records.schema import LEVEL_FIELDS
    from descriptors.store.tables import JSONNumberText

    view, config = ConfigurationLevelRow.__table__, ConfigurationRow.__table__
    extra = [config.c[n] for n in ("host", "name", "defect", "dopant", "site", "n_atoms", "supercell")]
    skipped = {"e_vac_o_mu"} if not with_mu or delta_only else set()
    if fields is not None:
        skipped |= set(LEVEL_FIELDS) - set(fields)
    columns = [c for c in view.columns if c.name not in skipped]
    delta = None
    if with_mu and delta_only:
        mu = view.c.e_vac_o_mu
        path = mu.op("->")("delta") if engine.dialect.name == "postgresql" else mu.op("->")("$.delta")
        delta = cast(path, JSONNumberText).label("e_vac_o_mu_delta")
        columns.append(delta)
    statement = select(*columns, *extra).join(config, config.c.id == view.c.configuration_id).order_by(view.c.first_descriptor, *view.primary_key.columns)
    with engine.connect() as connection:
        try:
            result = connection.execute(statement)
            keys = list(result.keys())
            rows = [dict(zip(keys, row)) for row in result.all()]  # plain tuples: a mapping per row costs 5x more
        except DBAPIError:
            if delta is None:
                raise
            rows = None  # SQLite's JSON path met a document it cannot parse (a damaged file): the door judges each whole one
        if rows is not None and delta is not None:
            _delta_of_mu(connection, rows)
    return rows if rows is not None else configuration_view(engine, with_mu, fields)


def _delta_of_mu(connection, rows: list[dict]) -> None:
    """``e_vac_o_mu`` of each row as ``{"delta": Δμ_O}`` from the JSON text of its value; the whole
    document where that text is not a number and the row has an E_f(V_O) (what a reader of the
    document then does with it is what it always did)."""
    view = ConfigurationLevelRow.__table__
    whole = []
    for row in rows:
        delta = row.pop("e_vac_o_mu_delta")  # a number, checked by the database door; None for null, text, true, an object...
        row["e_vac_o_mu"] = None if delta is None else {"delta": delta}
        if row["e_vac_o_mu"] is None and row.get("e_vac_o") is not None:
            whole.append(row)
    for row in whole:  # rare: a μ_O without a numeric Δμ_O
        key = [view.c[k] == row[k] for k in ("configuration_id", "level_of_theory", "settings_hash")]
        row["e_vac_o_mu"] = connection.execute(select(view.c.e_vac_o_mu).where(*key)).scalar()


def configuration_summaries(engine, ids) -> dict[str, dict]:
    """The summaries (lrox's description of each configuration: its defects, their lineage) of
    these configurations, by id: a JSON document each, read where a reader needs it (decoding
    every one of 10,000 took a quarter of a second)."""
    ids, found = sorted(set(ids)), {}
    table = ConfigurationRow.__table__
    with engine.connect() as connection:
        for start in range(0, len(ids), 500):
            found.update(connection.execute(select(table.c.id, table.c.summary).where(table.c.id.in_(ids[start : start + 500]))).all())
    return found


def fill_profile_energies(session, rows: list[dict]) -> None:
    """Hop rows written before the hop table held the twins' energies (``saddle_energy`` None) take
    them from their barrier row's stored band, in place: what the twin groups are found from, for a
    reader of such a database and for the writer that upgrades it."""
    from descriptors.records.twins import energies_of_profile

    lacking = sorted({r["configuration_id"] for r in rows if r["saddle_energy"] is None})
    energies = {}
    for start in range(0, len(lacking), 500):
        for cid, subject, level, settings, details in session.execute(
            select(DescriptorRow.configuration_id, DescriptorRow.subject, DescriptorRow.level_of_theory, DescriptorRow.settings_hash, DescriptorRow.details).where(
                DescriptorRow.name == "barrier", DescriptorRow.configuration_id.in_(lacking[start : start + 500])
            )
        ):
            e = (details or {}).get("energies")
            if e:
                energies[(cid, subject, level, settings)] = e
    for r in rows:
        e = energies.get((r["configuration_id"], r["hop_id"], r["level_of_theory"], r["settings_hash"]))
        if r["saddle_energy"] is None and e:
            r.update(energies_of_profile(e))
