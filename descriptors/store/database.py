"""The descriptor database: opening it, writing a batch of rows, reading rows back (SQLAlchemy 2).

It stores and reads rows; it computes none (its tables are :mod:`descriptors.store.tables`, the
rows come from :mod:`descriptors.records`; the tables kept in step with them on every write, the
configuration view and the twin groups, are made by :mod:`descriptors.store.derived`). SQLite by default (a file), PostgreSQL by URL. Every write is one transaction of
``INSERT … ON CONFLICT DO UPDATE`` statements keyed on those ids, so an ingest is idempotent
and two concurrent ingests of overlapping results neither lose nor duplicate rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from descriptors.records.schema import HOP_FIELDS_ADDED
from descriptors.store.tables import (
    READABLE_VERSIONS,
    SCHEMA_VERSION,
    TWINS_SINCE,
    VIEW_SINCE,
    Base,
    CalculationRow,
    ConfigurationLevelRow,
    ConfigurationRow,
    DescriptorRow,
    HopRow,
    HopTwinRow,
    MetaRow,
)
from structures.doors import databases as doors
from structures.doors.data import plain
from structures.errors import LroxInputError
from structures.failpoints import failpoint

__all__ = ["DEFAULT_DATABASE", "DescriptorDatabase", "safe_url"]

DEFAULT_DATABASE = "sqlite:///lrox-out/lrox.db"  # or the LROX_DB environment variable
safe_url = doors.safe_url  # the only form of a URL lrox ever prints or logs


def _json_safe(value):
    """JSON columns take plain data only (numpy scalars and the like become floats/lists, a non-finite number None)."""
    return plain(value)


def lrox_tables() -> dict[str, set[str]]:
    """lrox's tables and the columns a database must hold to be lrox's: all of them, but for the
    hop-table columns an older lrox wrote without (HOP_FIELDS_ADDED: read as null, added on write)."""
    tables = {name: {c.name for c in table.columns} for name, table in Base.metadata.tables.items()}
    tables[HopRow.__table__.name] -= set(HOP_FIELDS_ADDED)
    return tables


class DescriptorDatabase:
    """A connection to the descriptor database; ``DescriptorDatabase(url)`` creates the schema if needed.

    It opens the database only through the database door (:mod:`structures.doors.databases`): read
    commands through its read-only opener, writers through its writing one."""

    def __init__(self, url: str | None = None, create: bool = True, read_only: bool = False):
        """``read_only``: the database must exist and be lrox's; nothing is created or changed (query,
        export, plot, report). Otherwise the schema is created where the database is new, and a
        database that holds other tables without lrox's schema is refused; a new file whose first
        write fails is removed."""
        self.url = url or self.default_url()
        self.read_only = read_only
        self._writable = None
        self.has_view = False  # the configuration view is kept in this database (schema 3): see _check_schema_version
        self.has_twins = False  # and the hop rows' twin groups (schema 4)
        self._schema_ready = False  # made or upgraded to this lrox's schema by this object (writers)
        if read_only:
            self.engine = doors.open_for_reading(self.url)
            self._check_lrox_database()
            return
        if self.url == DEFAULT_DATABASE:
            Path("lrox-out").mkdir(exist_ok=True)
        self._writable = doors.open_for_writing(self.url)
        self.engine = self._writable.engine
        if create:
            try:
                self._create_schema()
            except BaseException:
                self._writable.discard_if_new()
                raise

    @staticmethod
    def default_url() -> str:
        """``$LROX_DB``, else ``sqlite:///lrox-out/lrox.db``."""
        import os

        return os.environ.get("LROX_DB") or DEFAULT_DATABASE

    @classmethod
    def check_writable(cls, url: str) -> None:
        """What a writer would refuse, found without writing: an existing SQLite file must be lrox's
        at this schema version (read through the read-only door), a new one must have a folder."""
        from structures.doors.files import kind_of

        backend, _, path = doors.parse_url(url)
        if backend == "sqlite" and path is None:
            return  # in memory
        if path is not None and kind_of(path, "database") == "missing":
            folder = path.absolute().parent
            if kind_of(folder, "database") != "directory" and url != DEFAULT_DATABASE:
                raise LroxInputError(f"database URL '{safe_url(url)}': folder {folder} does not exist")
            return
        # an existing file, or PostgreSQL (reached and read in a read-only session)
        probe = cls.__new__(cls)
        probe.url, probe.read_only, probe._writable = url, True, None
        probe.engine = doors.open_for_reading(url)
        try:
            tables = probe._tables()
            if tables and "lrox_meta" not in tables:
                raise LroxInputError(
                    f"the database at {safe_url(url)} holds other tables ({', '.join(sorted(tables)[:5])}) and no lrox schema; "
                    "lrox writes only to its own databases"
                )
            if tables:
                probe._check_lrox_database()
        finally:
            probe.engine.dispose()

    # ----- connection ---------------------------------------------------------------------------
    def _tables(self) -> set[str]:
        from sqlalchemy import inspect

        try:
            return set(inspect(self.engine).get_table_names())
        except (OperationalError, SQLAlchemyError) as exc:
            raise LroxInputError(f"cannot open the database at {safe_url(self.url)}: {self._reason(exc)}") from None

    def _check_lrox_database(self) -> None:
        """A database lrox wrote: every lrox table with its columns (not only the meta table), at a
        schema version this lrox reads (a version 2 database has no configuration view table, a
        version 3 one no twin table)."""
        later = {ConfigurationLevelRow.__table__.name: VIEW_SINCE, HopTwinRow.__table__.name: TWINS_SINCE}
        tables = lrox_tables()
        doors.require_tables(self.engine, {t: c for t, c in tables.items() if t not in later}, self.url, marker=MetaRow.__tablename__)
        version = int(self._check_schema_version())
        kept = {t: tables[t] for t, since in later.items() if version >= since}
        if kept:
            doors.require_tables(self.engine, kept, self.url, marker=MetaRow.__tablename__)

    def _check_schema_version(self, creating: bool = False, tables: set[str] | None = None) -> str | None:
        """Refuse a database written by another lrox schema: its rows would not mean the same.
        Returns its version (None for a database being created).

        A version 2 database (no configuration view) or 3 (no twin groups) is read as it is, what it
        lacks computed from its rows, and upgraded on its first write (:meth:`_create_schema_once`).
        ``creating``: a meta table without its version row is a schema another first writer is
        creating right now (every lrox writes the row with the tables), so this writer joins in."""
        if "lrox_meta" not in (self._tables() if tables is None else tables):
            return None
        try:
            with Session(self.engine) as session:
                row = session.get(MetaRow, "schema_version")
        except SQLAlchemyError as exc:  # an lrox_meta table of another shape: not lrox's
            raise LroxInputError(f"the database at {safe_url(self.url)} is not an lrox database ({self._reason(exc)}); lrox will not touch it") from None
        if row is None and creating:
            return None
        if row is None or row.value not in READABLE_VERSIONS:
            raise LroxInputError(
                f"the database at {safe_url(self.url)} has lrox schema version {row.value if row else '?'}, this lrox writes version "
                f"{SCHEMA_VERSION} (settings are part of a descriptor's key): ingest the results into a new database"
            )
        self.has_view = int(row.value) >= VIEW_SINCE
        self.has_twins = int(row.value) >= TWINS_SINCE
        return row.value

    def _create_schema(self) -> None:
        import time

        # two first writers: the loser of the CREATE race finds the tables made; SQLite answers a
        # journal-mode switch, or a lock upgrade that would deadlock, with "locked" at once instead
        # of waiting out its busy timeout: each of these is tried again, from the top
        for attempt in range(5):
            try:
                self._create_schema_once()
                return
            except SQLAlchemyError as exc:
                text = str(exc).lower()
                if any(word in text for word in ("already exists", "duplicate", "locked", "busy")) and attempt < 4:
                    time.sleep(0.2 * (attempt + 1))
                    continue
                raise LroxInputError(f"cannot open the database at {safe_url(self.url)}: {self._reason(exc)}") from None

    def _create_schema_once(self) -> None:
        from sqlalchemy import inspect

        tables = set(inspect(self.engine).get_table_names())
        if tables and "lrox_meta" not in tables:
            raise LroxInputError(
                f"the database at {safe_url(self.url)} holds other tables ({', '.join(sorted(tables)[:5])}) and no lrox schema; "
                "lrox writes only to its own databases"
            )
        version = self._check_schema_version(creating=True, tables=tables)
        if "lrox_meta" in tables and (tables - {"lrox_meta"}):
            # lrox's marker and some tables: the rest must be lrox's, of lrox's shape (a first writer
            # still creating its schema has the marker alone)
            doors.require_tables(self.engine, {t: c for t, c in lrox_tables().items() if t in tables}, self.url, marker=MetaRow.__tablename__)
        self._writable.use_write_ahead_log()  # readers never block the writer: set once the file is known to be lrox's or new
        # the meta table first: a concurrent first writer then never sees lrox's tables without it
        # (which reads as someone else's database), only a schema being made
        MetaRow.__table__.create(self.engine, checkfirst=True)
        Base.metadata.create_all(self.engine)
        self._add_missing_hop_columns()
        for table in (CalculationRow, DescriptorRow):  # an index added since the database was made
            for index in table.__table__.indexes:
                index.create(self.engine, checkfirst=True)
        from descriptors.store import derived  # a writer's: readers never import it

        with Session(self.engine) as session, session.begin():
            # the version row first: in SQLite the transaction then holds the write lock while the
            # view of a version 2 database, and the twin groups of a version 2 or 3 one, are made
            # from its rows (no writer slips in between)
            self._upsert(session, MetaRow, [{"key": "schema_version", "value": str(SCHEMA_VERSION)}], ["key"])
            if version is not None and int(version) < VIEW_SINCE:
                derived.rebuild_view(self, session)
            if version is not None and int(version) < TWINS_SINCE:
                derived.lock_twins(self, session)
                derived.refresh_twins(self, session, None)
        self.has_view = self.has_twins = self._schema_ready = True

    def _add_missing_hop_columns(self) -> None:
        """A hop table written before a column existed gets it, empty (every hop column is nullable and
        the hop table is derived, so nothing is lost: re-ingesting fills it). Its rows read as null."""
        from sqlalchemy import inspect

        present = self.hop_columns()
        missing = [c for c in HopRow.__table__.columns if c.name not in present]
        if not missing:
            return
        with self.engine.begin() as connection:
            for column in missing:
                kind = column.type.compile(dialect=self.engine.dialect)
                connection.exec_driver_sql(f'ALTER TABLE hops ADD COLUMN "{column.name}" {kind}')
        inspect(self.engine).clear_cache()

    def hop_columns(self) -> set[str]:
        """The columns the database's hop table has (an older database lacks the newest)."""
        from sqlalchemy import inspect

        try:
            return {c["name"] for c in inspect(self.engine).get_columns("hops")}
        except (OperationalError, SQLAlchemyError):
            return set()

    @staticmethod
    def _reason(exc: Exception) -> str:
        return doors.reason(exc)

    # ----- writes -------------------------------------------------------------------------------
    def _upsert(self, session: Session, table, rows: list[dict], keys: list[str]) -> None:
        if not rows:
            return
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        columns = {c.name for c in table.__table__.columns} - set(keys) - {"id" if "id" not in keys else ""}
        by_shape: dict[tuple, list[dict]] = {}
        for row in rows:  # one multi-row statement per column set, in chunks (SQLite's variable limit)
            by_shape.setdefault(tuple(sorted(row)), []).append(row)
        for shape, group in by_shape.items():
            chunk = max(1, 30000 // max(len(shape), 1) // 4)
            for start in range(0, len(group), chunk):
                statement = insert(table).values(group[start : start + chunk])
                update = {c: statement.excluded[c] for c in columns if c in shape and c != "ingested_at"}
                if update:
                    statement = statement.on_conflict_do_update(index_elements=keys, set_=update)
                else:
                    statement = statement.on_conflict_do_nothing(index_elements=keys)
                session.execute(statement)

    def write(self, configurations: Iterable[dict], calculations: Iterable[dict], descriptors: Iterable[dict], hops: Iterable[dict] = ()) -> dict:
        """Write one batch in one transaction (all of it or none of it); returns row counts.

        ``hops``: the hop table's rows of the batch (:func:`descriptors.records.hops.hop_rows`), written
        in the same transaction.
        """
        configurations, calculations, descriptors, hops = list(configurations), list(calculations), list(descriptors), list(hops)
        now = datetime.now(UTC)
        calc_rows = [{**_json_safe({k: v for k, v in c.items() if k != "ingested_at"}), "ingested_at": now} for c in calculations]
        if not self._schema_ready and not self.read_only:  # opened with create=False: an older schema is upgraded before it is written to
            self._create_schema()
        from descriptors.store import derived  # a writer's: readers never import it

        try:
            with Session(self.engine) as session, session.begin():
                if hops:
                    derived.lock_twins(self, session)
                self._upsert(session, ConfigurationRow, [_json_safe(c) for c in configurations], ["id"])
                failpoint("db-write")
                self._upsert(session, CalculationRow, calc_rows, ["id"])
                self._upsert(
                    session,
                    DescriptorRow,
                    [_json_safe(d) for d in descriptors],
                    ["configuration_id", "name", "subject", "level_of_theory", "settings_hash"],
                )
                # a hop row rewritten in another partition (a host now known) leaves its old one: both are grouped again
                regrouped = derived.partitions_of(session, [h["id"] for h in hops]) if hops else set()
                self._upsert(session, HopRow, [_json_safe(h) for h in hops], ["id"])
                touched = {(d["configuration_id"], d["level_of_theory"], d["settings_hash"]) for d in descriptors}
                touched |= {(c["configuration_id"], c["level_of_theory"], c["settings_hash"]) for c in calculations if c.get("configuration_id")}
                derived.refresh_view(self, session, touched)
                if hops:
                    from descriptors.records.twins import partition_of

                    derived.refresh_twins(self, session, regrouped | {partition_of(h) for h in hops})
        except (SQLAlchemyError, OSError) as exc:
            if self._writable is not None:
                self._writable.discard_if_new()  # a new file whose first write failed (a full disk): gone
            raise LroxInputError(f"database write to {safe_url(self.url)} failed and was rolled back: {self._reason(exc)}") from None
        if self._writable is not None:
            self._writable.written()
        return {"configurations": len(configurations), "calculations": len(calculations), "descriptors": len(descriptors)}

    def configuration_view(self, with_mu: bool = True, fields=None, delta_only: bool = False) -> list[dict]:
        """Every row of the view with its configuration's fields (:func:`descriptors.store.reads.configuration_view`)."""
        from descriptors.store.reads import configuration_view

        return configuration_view(self.engine, with_mu, fields, delta_only)

    # ----- reads --------------------------------------------------------------------------------
    def rows(self, table, columns=None) -> list[dict]:
        """Every row of a table as a dict of its columns (read without ORM objects: 20x faster on
        the hundreds of thousands of descriptor rows of a group's database); a hop-table column this
        database was written without reads as None. ``columns``: only these (names)."""
        columns = [c for c in table.__table__.columns if columns is None or c.name in columns]
        present = self.hop_columns() if table is HopRow else {c.name for c in columns}
        kept = [c for c in columns if c.name in present]
        with self.engine.connect() as connection:
            result = connection.execute(select(*kept)).mappings().all()
        return [{c.name: row.get(c.name) for c in columns} for row in result]

    def configuration_summaries(self, ids) -> dict[str, dict]:
        """The summaries of these configurations, by id (:func:`descriptors.store.reads.configuration_summaries`)."""
        from descriptors.store.reads import configuration_summaries

        return configuration_summaries(self.engine, ids)

    def counts(self) -> dict[str, int]:
        from sqlalchemy import func

        with Session(self.engine) as session:
            return {
                t.__tablename__: session.scalar(select(func.count()).select_from(t)) for t in (ConfigurationRow, CalculationRow, DescriptorRow)
            }

    def hop_count(self) -> int:
        """Hop rows stored (a count in SQL: what sizes the report's work before any row is read)."""
        from sqlalchemy import func

        if HopRow.__tablename__ not in self._tables():
            return 0
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(HopRow)) or 0)

    def snapshot(self) -> dict:
        """Every row of lrox's tables (the twin groups too), ordered and without ingestion times: equal
        snapshots mean equal databases."""
        out = {}
        for table, key in ((ConfigurationRow, "id"), (CalculationRow, "id"), (DescriptorRow, None), (HopRow, "id"), (HopTwinRow, "id")):
            if table is HopTwinRow and not self.has_twins:
                continue
            rows = [{k: v for k, v in r.items() if k not in ("ingested_at", "id") or (k == "id" and key)} for r in self.rows(table)]
            out[table.__tablename__] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))
        return out

    def calculation(self, prefix: str) -> dict:
        """One calculation by id or unique id prefix (or by hop id for an NEB)."""
        with Session(self.engine) as session:
            found = session.scalars(
                select(CalculationRow).where((CalculationRow.id.startswith(prefix, autoescape=True)) | (CalculationRow.hop_id == prefix))
            ).all()
        if not found:
            raise LroxInputError(f"no calculation with id or hop id '{prefix}'")
        if len({f.id for f in found}) > 1:
            raise LroxInputError(f"'{prefix}' matches {len(found)} calculations; give more of the id")
        row = found[0]
        return {c.name: getattr(row, c.name) for c in CalculationRow.__table__.columns}
