"""The descriptor database: opening it, writing a batch of rows, reading rows back (SQLAlchemy 2).

It stores and reads rows; it computes none (its tables are :mod:`descriptors.store.tables`, the
rows come from :mod:`descriptors.records`). SQLite by default (a file), PostgreSQL by URL. Every write is one transaction of
``INSERT … ON CONFLICT DO UPDATE`` statements keyed on those ids, so an ingest is idempotent
and two concurrent ingests of overlapping results neither lose nor duplicate rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from descriptors.store.tables import SCHEMA_VERSION, Base, CalculationRow, ConfigurationRow, DescriptorRow, HopRow, MetaRow
from structures.errors import LroxInputError
from structures.failpoints import failpoint

__all__ = ["DEFAULT_DATABASE", "DescriptorDatabase", "safe_url"]

DEFAULT_DATABASE = "sqlite:///lrox-out/lrox.db"  # or the LROX_DB environment variable


def safe_url(url: str) -> str:
    """The URL with any password masked (in the user part and in query parameters): the only form
    of a URL lrox ever prints or logs."""
    from structures.safety import redact

    try:
        return redact(make_url(url).render_as_string(hide_password=True))
    except (ArgumentError, ValueError, TypeError):
        return "<unparseable database URL>"


def _json_safe(value):
    """JSON columns take plain data only (numpy scalars and the like become floats/lists)."""
    return json.loads(json.dumps(value, default=_default))


def _default(obj):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "as_dict"):
        return obj.as_dict()
    if hasattr(obj, "value"):
        return obj.value
    raise TypeError(f"cannot store {type(obj).__name__} in the database")


class DescriptorDatabase:
    """A connection to the descriptor database; ``DescriptorDatabase(url)`` creates the schema if needed."""

    def __init__(self, url: str | None = None, create: bool = True, read_only: bool = False):
        """``read_only``: the database must exist and be lrox's; nothing is created or changed (query,
        export, plot, report). Otherwise the schema is created where the database is new, and a
        database that holds other tables without lrox's schema is refused."""
        self.url = url or self.default_url()
        self.read_only = read_only
        if self.url == DEFAULT_DATABASE and not read_only:
            Path("lrox-out").mkdir(exist_ok=True)
        self.engine = self._engine(self.url, read_only)
        if read_only:
            self._check_lrox_database()
        elif create:
            self._create_schema()

    @staticmethod
    def default_url() -> str:
        """``$LROX_DB``, else ``sqlite:///lrox-out/lrox.db``."""
        import os

        return os.environ.get("LROX_DB") or DEFAULT_DATABASE

    # ----- connection ---------------------------------------------------------------------------
    @staticmethod
    def _engine(url: str, read_only: bool = False) -> Engine:
        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError):
            raise LroxInputError(f"database URL '{safe_url(url)}' is not a valid SQLAlchemy URL (e.g. sqlite:///lrox.db)") from None
        backend = parsed.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise LroxInputError(f"database URL '{safe_url(url)}': only sqlite and postgresql are supported")
        if backend == "postgresql" and parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        if backend == "sqlite":
            memory = not parsed.database or parsed.database == ":memory:"
            if not memory:
                path = Path(parsed.database).expanduser()
                folder = path.resolve().parent
                if not folder.is_dir():
                    if read_only:
                        raise LroxInputError(f"no database at {safe_url(url)} (a read command never creates one; 'lrox run' or 'lrox ingest' writes one)")
                    raise LroxInputError(f"database URL '{safe_url(url)}': folder {folder} does not exist")
                if read_only:
                    if not path.is_file():
                        raise LroxInputError(f"no database at {safe_url(url)} (a read command never creates one; 'lrox run' or 'lrox ingest' writes one)")
                    # SQLite's own read-only mode: not a byte of the file can change
                    parsed = parsed.set(database=f"file:{path.resolve()}?mode=ro", query={"uri": "true"})
                elif path.exists() and not path.is_file():
                    raise LroxInputError(f"database URL '{safe_url(url)}': {path} is not a regular file")
            engine = create_engine(parsed, connect_args={"timeout": 60})

            @event.listens_for(engine, "connect")
            def _sqlite_pragmas(dbapi_connection, _record):  # concurrent writers wait instead of failing
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA busy_timeout=60000")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()

            return engine
        try:
            return create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 10})
        except ImportError:  # pragma: no cover - depends on the install
            raise LroxInputError("PostgreSQL needs psycopg: pip install 'psycopg[binary]'") from None

    def _tables(self) -> set[str]:
        from sqlalchemy import inspect

        try:
            return set(inspect(self.engine).get_table_names())
        except (OperationalError, SQLAlchemyError) as exc:
            raise LroxInputError(f"cannot open the database at {safe_url(self.url)}: {self._reason(exc)}") from None

    def _check_lrox_database(self) -> None:
        """A database lrox wrote: its meta table says so, at this schema version."""
        tables = self._tables()
        if "lrox_meta" not in tables:
            other = ", ".join(sorted(tables)[:5]) or "no tables"
            raise LroxInputError(f"the database at {safe_url(self.url)} is not an lrox database ({other}); lrox will not touch it")
        self._check_schema_version()

    def _check_schema_version(self, creating: bool = False, tables: set[str] | None = None) -> None:
        """Refuse a database written by another lrox schema: its rows would not mean the same.

        ``creating``: a meta table without its version row is a schema another first writer is
        creating right now (every lrox writes the row with the tables), so this writer joins in."""
        if "lrox_meta" not in (self._tables() if tables is None else tables):
            return
        with Session(self.engine) as session:
            row = session.get(MetaRow, "schema_version")
        if row is None and creating:
            return
        if row is None or row.value != str(SCHEMA_VERSION):
            raise LroxInputError(
                f"the database at {safe_url(self.url)} has lrox schema version {row.value if row else '?'}, this lrox writes version "
                f"{SCHEMA_VERSION} (settings are part of a descriptor's key): ingest the results into a new database"
            )

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
        self._check_schema_version(creating=True, tables=tables)
        if self.engine.dialect.name == "sqlite" and self.engine.url.database not in (None, "", ":memory:"):
            # write-ahead log: readers never block the writer (a setting of the file, made once it is
            # known to be lrox's or new)
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        # the meta table first: a concurrent first writer then never sees lrox's tables without it
        # (which reads as someone else's database), only a schema being made
        MetaRow.__table__.create(self.engine, checkfirst=True)
        Base.metadata.create_all(self.engine)
        with Session(self.engine) as session, session.begin():
            self._upsert(session, MetaRow, [{"key": "schema_version", "value": str(SCHEMA_VERSION)}], ["key"])

    @staticmethod
    def _reason(exc: Exception) -> str:
        text = str(getattr(exc, "orig", exc)).strip().splitlines()
        return text[0] if text else type(exc).__name__

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
        try:
            with Session(self.engine) as session, session.begin():
                self._upsert(session, ConfigurationRow, [_json_safe(c) for c in configurations], ["id"])
                failpoint("db-write")
                self._upsert(session, CalculationRow, calc_rows, ["id"])
                self._upsert(
                    session,
                    DescriptorRow,
                    [_json_safe(d) for d in descriptors],
                    ["configuration_id", "name", "subject", "level_of_theory", "settings_hash"],
                )
                self._upsert(session, HopRow, [_json_safe(h) for h in hops], ["id"])
        except SQLAlchemyError as exc:
            raise LroxInputError(f"database write to {safe_url(self.url)} failed and was rolled back: {self._reason(exc)}") from None
        return {"configurations": len(configurations), "calculations": len(calculations), "descriptors": len(descriptors)}

    # ----- reads --------------------------------------------------------------------------------
    def rows(self, table) -> list[dict]:
        with Session(self.engine) as session:
            objects = session.scalars(select(table)).all()
            return [{c.name: getattr(o, c.name) for c in table.__table__.columns} for o in objects]

    def counts(self) -> dict[str, int]:
        from sqlalchemy import func

        with Session(self.engine) as session:
            return {
                t.__tablename__: session.scalar(select(func.count()).select_from(t)) for t in (ConfigurationRow, CalculationRow, DescriptorRow)
            }

    def snapshot(self) -> dict:
        """Every row of the three tables, ordered and without ingestion times: equal snapshots mean equal databases."""
        out = {}
        for table, key in ((ConfigurationRow, "id"), (CalculationRow, "id"), (DescriptorRow, None), (HopRow, "id")):
            rows = [{k: v for k, v in r.items() if k not in ("ingested_at", "id") or (k == "id" and key)} for r in self.rows(table)]
            out[table.__tablename__] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))
        return out

    def calculation(self, prefix: str) -> dict:
        """One calculation by id or unique id prefix (or by hop id for an NEB)."""
        with Session(self.engine) as session:
            found = session.scalars(
                select(CalculationRow).where((CalculationRow.id.startswith(prefix)) | (CalculationRow.hop_id == prefix))
            ).all()
        if not found:
            raise LroxInputError(f"no calculation with id or hop id '{prefix}'")
        if len({f.id for f in found}) > 1:
            raise LroxInputError(f"'{prefix}' matches {len(found)} calculations; give more of the id")
        row = found[0]
        return {c.name: getattr(row, c.name) for c in CalculationRow.__table__.columns}
