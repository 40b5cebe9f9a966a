"""The tables the store keeps in step with its rows, made in the writer's transaction: the
configuration view (``configuration_levels``, :mod:`descriptors.records.view` makes its rows) and
the hop rows' twin groups (``hop_twins``, :mod:`descriptors.records.twins`). A reader reads them;
a database written before one of them existed is read without it and gets it at its first write
(:class:`descriptors.store.database.DescriptorDatabase`).
"""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from descriptors.store.reads import fill_profile_energies
from descriptors.store.tables import CalculationRow, ConfigurationLevelRow, DescriptorRow, HopRow, HopTwinRow
from structures.doors.data import plain  # JSON columns take plain data only

__all__ = ["refresh_view", "rebuild_view", "lock_twins", "refresh_twins", "partitions_of", "TWIN_LOCK"]

TWIN_LOCK = 7_318_021  # PostgreSQL advisory lock: writers of hops take turns (see lock_twins)


def refresh_view(db, session: Session, keys: set[tuple]) -> None:
    """The view rows of these (configuration, level of theory, settings) keys, made again from
    every descriptor row of theirs now in the database (this batch's and earlier ones'), in the
    writer's transaction. A concurrent writer of the same configuration waits on its row, which
    this transaction has written, so each sees the other's descriptors."""
    from sqlalchemy import delete, func, tuple_

    if not keys:
        return
    ids = sorted({k[0] for k in keys})
    descriptors, failed = [], {}
    columns = [DescriptorRow.__table__.c[n] for n in ("id", "configuration_id", "name", "level_of_theory", "settings_hash", "backend", "value", "status", "flags", "details")]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.execute(select(*columns).where(DescriptorRow.configuration_id.in_(chunk)).order_by(DescriptorRow.id)).mappings()
        descriptors += [dict(r) for r in rows if (r["configuration_id"], r["level_of_theory"], r["settings_hash"]) in keys]
        counted = session.execute(
            select(CalculationRow.configuration_id, CalculationRow.level_of_theory, CalculationRow.settings_hash, func.count())
            .where(CalculationRow.configuration_id.in_(chunk), CalculationRow.status == "failed")
            .group_by(CalculationRow.configuration_id, CalculationRow.level_of_theory, CalculationRow.settings_hash)
        )
        failed.update({(c, lv, st): n for c, lv, st, n in counted})
    from descriptors.records.view import view_rows  # here: its physics (numpy) is a writer's cost, not every reader's

    rows = view_rows(descriptors, failed)
    table = ConfigurationLevelRow.__table__
    stale = keys - {(r["configuration_id"], r["level_of_theory"], r["settings_hash"]) for r in rows}
    for start in range(0, len(stale), 300):  # a key without descriptors has no view row
        chunk = sorted(stale)[start : start + 300]
        session.execute(delete(table).where(tuple_(table.c.configuration_id, table.c.level_of_theory, table.c.settings_hash).in_(chunk)))
    db._upsert(session, ConfigurationLevelRow, [plain(r) for r in rows], ["configuration_id", "level_of_theory", "settings_hash"])


def rebuild_view(db, session: Session) -> None:
    """The whole view from the database's rows (upgrading a version 2 database)."""
    if db.engine.dialect.name == "postgresql":  # no ingest adds descriptors meanwhile
        session.execute(text("LOCK TABLE descriptors, calculations IN SHARE ROW EXCLUSIVE MODE"))
    keys = session.execute(select(DescriptorRow.configuration_id, DescriptorRow.level_of_theory, DescriptorRow.settings_hash).distinct()).all()
    refresh_view(db, session, {tuple(k) for k in keys})


def lock_twins(db, session: Session) -> None:
    """Writers of hops take turns (PostgreSQL; a SQLite writer holds the whole file already): a
    twin group spans configurations, so a writer must see every hop another writer committed
    before it groups them. Taken before any row is written (no lock-order cycle with row locks)."""
    if db.engine.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": TWIN_LOCK})


def refresh_twins(db, session: Session, partitions: set[tuple] | None) -> None:
    """The twin groups (``hop_twins``) of every hop row of these (level of theory, settings, host)
    partitions (None: every partition), made again from the hop rows now in the database, in
    the writer's transaction: a new hop can join, or depend on, hops written long before.
    Only the rows whose group changed are written."""
    from sqlalchemy import and_, or_

    from descriptors.records.twins import TWIN_FIELDS, TWIN_INPUT_FIELDS, twin_table_rows

    if partitions is not None and not partitions:
        return
    hop, twins = HopRow.__table__, HopTwinRow.__table__
    statement = select(*[hop.c[f] for f in TWIN_INPUT_FIELDS], *[twins.c[f] for f in TWIN_FIELDS]).select_from(
        hop.outerjoin(twins, twins.c.id == hop.c.id)
    )
    if partitions is not None:
        statement = statement.where(or_(*[
            and_(hop.c.level_of_theory == level, hop.c.settings_hash == settings, hop.c.host.is_(None) if host is None else hop.c.host == host)
            for level, settings, host in sorted(partitions, key=lambda k: tuple(str(x) for x in k))
        ]))
    n = len(TWIN_INPUT_FIELDS)
    rows, stored = [], {}
    for found in session.execute(statement.order_by(hop.c.id)).all():
        rows.append(dict(zip(TWIN_INPUT_FIELDS, found[:n])))
        stored[found[0]] = tuple(found[n:])
    fill_profile_energies(session, rows)  # rows of a database written before the twins' energies were columns
    changed = [r for r in twin_table_rows(rows) if stored.get(r["id"]) != tuple(r[f] for f in TWIN_FIELDS)]
    db._upsert(session, HopTwinRow, changed, ["id"])


def partitions_of(session: Session, ids: list[str]) -> set[tuple]:
    """The (level of theory, settings, host) partitions of the hop rows with these ids now stored."""
    hop = HopRow.__table__
    found = set()
    for start in range(0, len(ids), 500):
        found |= {tuple(r) for r in session.execute(
            select(hop.c.level_of_theory, hop.c.settings_hash, hop.c.host).where(hop.c.id.in_(ids[start : start + 500])).distinct()
        )}
    return found
