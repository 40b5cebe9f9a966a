"""The door for databases: one function opens a database for reading, one for writing.

:func:`open_for_reading` (``lrox query``, ``export``, ``plot``, ``report``, seeding):

* SQLite is opened through its own read-only URI (``mode=ro``), the path percent-encoded so that
  ``#`` and ``?`` in a file name are part of the name (never a fragment or a query that drops the
  read-only flag and opens another file); ``PRAGMA query_only`` on top;
* a database in write-ahead-log mode with no log beside it (nothing being written: the committed
  example), or one in a folder lrox cannot write (read-only media), is opened ``immutable=1``:
  SQLite then makes no ``-wal``/``-shm`` side files, and reads what the file holds. A reader that
  overlaps a writer's checkpoint of such a file may see an error, never a changed file;
* a log that still holds committed work but has no ``-shm`` index beside it (a writer that crashed,
  a copied folder, a truncated log) or sits on read-only media is read from a private copy of the
  two files in a temporary folder: SQLite would otherwise create an ``-shm`` file beside the
  database, or (immutable) silently leave the log's transactions out;
* no journal-mode switch, no schema, nothing created: a missing file is an error;
* PostgreSQL sessions are read-only (``default_transaction_read_only``).

:func:`open_for_writing` (``lrox run``, ``ingest``, ``submit``) returns a :class:`WritableDatabase`:
the SQLite file opened by its plain path (no URI parsing at all), the switch to write-ahead logging
(:meth:`WritableDatabase.use_write_ahead_log`) made only there, and a file that did not exist before
removed with its side files (:meth:`WritableDatabase.discard_if_new`) when its first write fails (a
full disk), so a failed first ingest leaves nothing behind.

:func:`require_tables` refuses a foreign database by its tables and their columns, not by a single
marker table: a file with an ``lrox_meta`` table and nothing else is not lrox's.

Every value read back is of its column's kind (:func:`column_types`, the types lrox's tables are
declared with): SQLite keeps whatever a damaged or hand-edited file holds (text in a number column,
JSON that does not parse, a date that is no date, an infinity, 1e300, ``'no'`` in a true/false
column), and such a value is one error line naming the database as damaged, never a TypeError deep
in a report or a number that is not one. The check is in the column's type, so every way of reading
a column (ORM rows, the fast reads of plain tuples, an aggregate of it) passes it, on SQLite and
PostgreSQL alike. JSON columns are decoded by the data door (nesting and memory bounded, every
number finite), never by ``json.loads``, and checked against the shape their readers rely on
(:func:`json_type`: an object where an object is stored, a number where a number is). A value a
command does not read cannot change its answer and is not looked at (``lrox query`` reads no JSON).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from structures.doors.data import load_json
from structures.doors.files import check_name, head, kind_of
from structures.doors.text import redact, redacted_head
from structures.errors import LroxInputError

__all__ = ["safe_url", "parse_url", "open_for_reading", "open_for_writing", "WritableDatabase", "require_tables", "reason", "column_types",
           "json_type", "shape_problem", "Required", "MAX_STORED_NUMBER"]

_SQLITE_HEADER = b"SQLite format 3\x00"


def safe_url(url: str) -> str:
    """The URL with any password masked: the only form of a URL lrox prints or logs."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from structures.doors.text import shown

    text = str(url)
    if text.startswith("sqlite:"):
        return shown(text, 300)
    try:
        return shown(make_url(text).render_as_string(hide_password=True), 300)
    except (ArgumentError, ValueError, TypeError):
        return "<unparseable database URL>"
    except Exception:  # noqa: BLE001 - a URL SQLAlchemy cannot even split
        return redact("<unparseable database URL>")


def reason(exc: Exception) -> str:
    """The first line of a database error, its driver's own message where there is one."""
    text = str(getattr(exc, "orig", exc)).strip().splitlines()
    return redacted_head(text[0] if text else type(exc).__name__, 300)


def parse_url(url: str):
    """(backend, SQLAlchemy URL or None, SQLite path or None). A SQLite URL's path is everything
    after ``sqlite:///``, taken literally (``#`` and ``?`` are part of the name); no options."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    text = str(url)
    if text.startswith("sqlite:"):
        if text in ("sqlite://", "sqlite:///:memory:", "sqlite:///"):
            return "sqlite", None, None
        if not text.startswith("sqlite:///"):
            raise LroxInputError(f"database URL '{safe_url(url)}' is not a valid SQLAlchemy URL (e.g. sqlite:///lrox.db)")
        database = text[len("sqlite:///") :]
        if database.startswith("file:"):
            raise LroxInputError(f"database URL '{safe_url(url)}': give the file's path (sqlite:///path/lrox.db), not a SQLite URI")
        path = check_name(Path(database).expanduser(), "database")
        return "sqlite", None, path
    try:
        parsed = make_url(text)
    except (ArgumentError, ValueError):
        raise LroxInputError(f"database URL '{safe_url(url)}' is not a valid SQLAlchemy URL (e.g. sqlite:///lrox.db)") from None
    backend = parsed.get_backend_name()
    if backend != "postgresql":
        raise LroxInputError(f"database URL '{safe_url(url)}': only sqlite and postgresql are supported")
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return "postgresql", parsed, None


def _pragmas(engine, read_only: bool) -> None:
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):  # concurrent writers wait instead of failing
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()


def _json_value(text):
    """A JSON column's value, through the data door (a value that does not parse is a damaged database)."""
    if isinstance(text, (bytes, bytearray, memoryview)):  # psycopg hands the deserializer bytes
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise LroxInputError("the database is damaged: a JSON value in it is not UTF-8 text") from None
    if not isinstance(text, str):
        return text
    return load_json(text, "the database is damaged: a JSON value in it", finite=True)


def _sqlite_engine(path: Path | None, connect):
    from sqlalchemy import create_engine
    from sqlalchemy.engine import URL
    from sqlalchemy.pool import StaticPool

    if path is None:  # in memory: one connection, shared
        return create_engine("sqlite://", creator=connect, poolclass=StaticPool, json_deserializer=_json_value)
    return create_engine(URL.create("sqlite", database=str(path)), creator=connect, json_deserializer=_json_value)


def _postgres_engine(parsed, read_only: bool):
    from sqlalchemy import create_engine

    options = {"connect_timeout": 10}
    if read_only:
        options["options"] = "-c default_transaction_read_only=on"
    try:
        return create_engine(parsed, pool_pre_ping=True, connect_args=options, json_deserializer=_json_value)
    except ImportError:  # pragma: no cover - depends on the install
        raise LroxInputError("PostgreSQL needs psycopg: pip install 'psycopg[binary]'") from None


def _journal_is_wal(path: Path) -> bool:
    """Whether an SQLite file's header says write-ahead logging (read/write format version 2)."""
    try:
        header = head(path, "database", 100)
    except LroxInputError:
        return False
    return len(header) >= 20 and header[:16] == _SQLITE_HEADER and header[18] == 2 and header[19] == 2


def open_for_reading(url: str, what: str = "database"):
    """An engine that reads the database and cannot change it (see the module docstring)."""
    backend, parsed, path = parse_url(url)
    if backend == "postgresql":
        return _postgres_engine(parsed, read_only=True)
    missing = f"no database at {safe_url(url)} (a read command never creates one; 'lrox run' or 'lrox ingest' writes one)"
    if path is None:
        return _sqlite_engine(None, lambda: sqlite3.connect(":memory:", check_same_thread=False))
    kind = kind_of(path, what)
    if kind == "missing":
        raise LroxInputError(missing)
    if kind != "file":
        raise LroxInputError(f"database URL '{safe_url(url)}': {path} is not a regular file")
    if not os.access(path, os.R_OK):
        raise LroxInputError(f"database at {safe_url(url)} cannot be read (permission denied)")
    absolute = path.resolve()
    folder_writable = os.access(absolute.parent, os.W_OK | os.X_OK)
    log = kind_of(Path(f"{absolute}-wal"), what, follow=False) != "missing"
    index = kind_of(Path(f"{absolute}-shm"), what, follow=False) != "missing"
    if log and os.stat(f"{absolute}-wal").st_size > 0 and (not index or not folder_writable):
        # committed work still in the log, and no live writer's index beside it (or no way to use one):
        # SQLite would make an -shm file beside the database (or, immutable, silently ignore the log's
        # transactions); read a private copy of the two files instead
        absolute, folder_writable, log = _private_copy(absolute, what), True, True
    immutable = not folder_writable or (_journal_is_wal(absolute) and not log)
    uri = f"file:{quote(str(absolute), safe='/')}?mode=ro" + ("&immutable=1" if immutable else "")
    engine = _sqlite_engine(absolute, lambda: sqlite3.connect(uri, uri=True, timeout=60, check_same_thread=False))
    _pragmas(engine, read_only=True)
    return engine


def _private_copy(path: Path, what: str) -> Path:
    """The database and its write-ahead log copied into a private temporary folder (removed at exit),
    so that reading them creates and changes nothing beside the user's files."""
    import atexit
    import shutil
    import tempfile

    from structures.doors.text import shown

    folder = Path(tempfile.mkdtemp(prefix="lrox-read-"))
    atexit.register(shutil.rmtree, folder, True)
    target = folder / "copy.db"
    for suffix in ("", "-wal"):  # as they are (a name ending .gz is still an SQLite file)
        if kind_of(Path(f"{path}{suffix}"), what) != "file":
            raise LroxInputError(f"{what}: {shown(f'{path}{suffix}')} is not a regular file")
        try:
            shutil.copyfile(f"{path}{suffix}", f"{target}{suffix}")
        except OSError as exc:
            raise LroxInputError(f"{what}: cannot read {shown(f'{path}{suffix}')} ({exc.strerror or exc})") from None
    return target


@dataclass
class WritableDatabase:
    """An engine that writes, and the SQLite file it made (None when it existed or is no file)."""

    engine: object
    new_file: Path | None = None
    _written: bool = field(default=False, repr=False)

    def use_write_ahead_log(self) -> None:
        """Readers never block the writer: a setting of the file, made once it is known to be lrox's or new."""
        if self.engine.dialect.name == "sqlite" and self.engine.url.database not in (None, "", ":memory:"):
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")

    def written(self) -> None:
        """The first write succeeded: the file is the user's now, kept whatever happens next."""
        self._written = True
        self.new_file = None

    def discard_if_new(self) -> None:
        """Remove a file this process created, with its side files, before anything was stored in it."""
        if self.new_file is None or self._written:
            return
        self.engine.dispose()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.new_file}{suffix}").unlink(missing_ok=True)
        self.new_file = None


def open_for_writing(url: str, what: str = "database") -> WritableDatabase:
    """An engine that writes (see the module docstring); nothing is created until it first connects."""
    backend, parsed, path = parse_url(url)
    if backend == "postgresql":
        return WritableDatabase(_postgres_engine(parsed, read_only=False))
    if path is None:
        engine = _sqlite_engine(None, lambda: sqlite3.connect(":memory:", check_same_thread=False))
        _pragmas(engine, read_only=False)
        return WritableDatabase(engine)
    absolute = path.absolute()
    if kind_of(absolute.parent, what) != "directory":
        raise LroxInputError(f"database URL '{safe_url(url)}': folder {absolute.parent} does not exist")
    kind = kind_of(absolute, what)
    if kind not in ("missing", "file"):
        raise LroxInputError(f"database URL '{safe_url(url)}': {path} is not a regular file")
    if kind == "file" and absolute.stat().st_size and head(absolute, what, 100)[:16] != _SQLITE_HEADER:
        raise LroxInputError(f"the file at {safe_url(url)} is not an SQLite database; lrox writes only to its own databases")
    engine = _sqlite_engine(absolute, lambda: sqlite3.connect(str(absolute), timeout=60, check_same_thread=False))
    _pragmas(engine, read_only=False)
    return WritableDatabase(engine, new_file=absolute if kind == "missing" else None)


def require_tables(engine, expected: dict[str, set[str]], url: str, marker: str) -> set[str]:
    """The database's tables, if it holds every expected table with its columns; else one error line.

    ``marker``: the table that says the database is lrox's; a database without it is "not lrox's",
    one with it but without the other tables or columns "not a complete lrox database"."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    try:
        inspector = inspect(engine)
        tables = set(inspector.get_table_names())
        if marker not in tables:
            other = ", ".join(sorted(tables)[:5]) or "no tables"
            raise LroxInputError(f"the database at {safe_url(url)} is not an lrox database ({other}); lrox will not touch it")
        missing = sorted(set(expected) - tables)
        if missing:
            raise LroxInputError(
                f"the database at {safe_url(url)} is not an lrox database: it has {marker} but not the tables {', '.join(missing[:5])}; lrox will not touch it"
            )
        for table, columns in expected.items():
            have = {c["name"] for c in inspector.get_columns(table)}
            if not columns <= have:
                lacking = ", ".join(sorted(columns - have)[:5])
                raise LroxInputError(f"the database at {safe_url(url)} is not an lrox database: its table {table} lacks {lacking}; lrox will not touch it")
    except SQLAlchemyError as exc:
        raise LroxInputError(f"cannot open the database at {safe_url(url)}: {reason(exc)}") from None
    return tables


# ----- values read back: each of its column's kind ---------------------------------------------------
MAX_STORED_NUMBER = 1.0e12  # no number lrox writes comes near it (energies: 1e3 eV/atom x 5000 atoms; lengths: 1e6 Å; ids, counts, seconds)


def _damaged(value, kind: str) -> LroxInputError:
    from structures.doors.text import shown

    return LroxInputError(
        f"the database is damaged: a {kind} column holds {shown(repr(value), 40)} ({type(value).__name__}); lrox reads no such value"
    )


def _is_number(value) -> bool:
    """A finite number within ±MAX_STORED_NUMBER (NaN fails both comparisons; a bool is no number)."""
    return (value.__class__ is float or value.__class__ is int) and -MAX_STORED_NUMBER <= value <= MAX_STORED_NUMBER


def _is_whole_number(value) -> bool:
    return value.__class__ is int and -MAX_STORED_NUMBER <= value <= MAX_STORED_NUMBER


def _plain_number(value, _limit=MAX_STORED_NUMBER):
    """A number column's value as the driver gives it (one call per value: the fast reads' cost)."""
    if value is None or ((value.__class__ is float or value.__class__ is int) and -_limit <= value <= _limit):
        return value
    raise _damaged(value, "number")


def _plain_whole_number(value, _limit=MAX_STORED_NUMBER):
    if value is None or (value.__class__ is int and -_limit <= value <= _limit):
        return value
    raise _damaged(value, "whole-number")


def _plain_text(value):
    if value is None or value.__class__ is str:
        return value
    raise _damaged(value, "text")


def _plain_json_number(value, _limit=MAX_STORED_NUMBER):
    """The JSON text of one value inside a stored document (read by the database's own JSON path,
    ``->``), as the number it is: None where it is no number (null, text, an object: the reader then
    reads the whole document through its column's type). A literal no float holds (``1e999``) or
    beyond any number lrox writes is damage, as in the document itself."""
    if value is None:
        return None
    if value.__class__ is not str:
        raise _damaged(value, "JSON number")
    try:
        number = float(value)  # a JSON number's literal, as a JSON decoder reads it (a string comes quoted: no number)
    except ValueError:
        return None
    if -_limit <= number <= _limit:
        return number
    raise _damaged(value, "JSON number")


def _checked_type(base, kind: str, accepts, accepts_raw=None, plain=None):
    """``base`` (a SQLAlchemy type) whose values read back are checked by ``accepts`` (None passes);
    ``accepts_raw``: a check of the value as the driver gave it, before SQLAlchemy converts it (a
    Boolean turns any value into True or False); ``plain``: the whole check in one function, where
    SQLAlchemy converts nothing (``accepts`` inlined). Every read goes through it: ORM rows, Core selects
    of columns read as plain tuples, aggregates of a column (``min``, ``max``: typed as the column),
    SQLite and PostgreSQL alike; the common case costs one call per value."""
    from sqlalchemy.types import TypeDecorator

    class Checked(TypeDecorator):
        impl = base
        cache_ok = True

        def coerce_compared_value(self, op, value):  # a value compared with the column is typed as before (n_tm < 1.5 stays 1.5)
            return self.impl_instance.coerce_compared_value(op, value)

        def result_processor(self, dialect, coltype):
            inner = super().result_processor(dialect, coltype)
            if inner is None and accepts_raw is None:
                if plain is not None:
                    return plain

                def process(value):  # the fast reads' path (floats, integers, text): one call
                    if value is None or accepts(value):
                        return value
                    raise _damaged(value, kind)

                return process

            def process(value):
                if value is None:
                    return None
                raw = value
                if accepts_raw is not None and not accepts_raw(raw):
                    raise _damaged(raw, kind)
                if inner is not None:
                    try:
                        value = inner(value)
                    except LroxInputError:
                        raise
                    except (ValueError, TypeError, OverflowError, AttributeError):  # a date that is no date...
                        raise _damaged(raw, kind) from None
                if value is not None and not accepts(value):
                    raise _damaged(raw, kind)
                return value

            return process

    Checked.__name__ = Checked.__qualname__ = f"Checked{base.__name__}"
    return Checked


def column_types() -> dict:
    """The column types lrox's tables are declared with: SQLAlchemy's, each value read back checked
    (a number finite and within ±MAX_STORED_NUMBER, a whole number an int, text a str, a date a
    date, true/false stored as 0/1 or a boolean). JSON columns: :func:`json_type`, by their shape."""
    import datetime

    from sqlalchemy import Boolean, DateTime, Float, Integer, String, Text

    return {
        "JSON": json_type("any"),
        "Float": _checked_type(Float, "number", _is_number, plain=_plain_number),
        "Integer": _checked_type(Integer, "whole-number", _is_whole_number, plain=_plain_whole_number),
        "String": _checked_type(String, "text", lambda value: value.__class__ is str, plain=_plain_text),
        "Text": _checked_type(Text, "text", lambda value: value.__class__ is str, plain=_plain_text),
        "DateTime": _checked_type(DateTime, "date", lambda value: isinstance(value, datetime.datetime)),
        # the text of a number inside a JSON document (a JSON path cast to text): that number, checked
        "JSONNumberText": _checked_type(Text, "JSON number", lambda value: value.__class__ is float, plain=_plain_json_number),
        # SQLAlchemy reads any SQLite value as bool(value): 'no' or 0.5 would be True
        "Boolean": _checked_type(Boolean, "true/false", lambda value: value.__class__ is bool,
                                 accepts_raw=lambda raw: (raw.__class__ is int or raw.__class__ is bool) and raw in (0, 1)),
    }


# ----- JSON documents: each of its column's shape ------------------------------------------------------
_KINDS = {
    "any": lambda value: True,
    "number": _is_number,
    "number?": lambda value: value is None or _is_number(value),
    "whole-number": _is_whole_number,
    "text": lambda value: value.__class__ is str,
    "bool": lambda value: value.__class__ is bool,
    "object": lambda value: value.__class__ is dict,
    "list": lambda value: value.__class__ is list,
    # a band's energies: its two end points and at least one image, each a number (what every reader of one needs)
    "band energies": lambda value: value.__class__ is list and len(value) >= 3 and all(_is_number(item) for item in value),
}
_NAMED = {"any": "JSON", "band energies": "a band's energies (three or more numbers)", "number?": "a number or null"}


@dataclass(frozen=True)
class Required:
    """A key of a JSON object that must be there, and not null, with a value of ``shape``."""

    shape: object


def shape_problem(value, shape, where: str = "") -> str | None:
    """Why ``value`` is not of ``shape``, or None. A shape: a kind (``"number"``, ``"text"``,
    ``"bool"``, ``"object"``, ``"list"``, ``"band energies"``, ``"any"``...); ``[shape]``, a list of such values; or
    ``{key: shape}``, an object whose keys, where present and not null, hold such values (a
    :class:`Required` key must be present and not null). Keys not named are not looked at."""
    if isinstance(shape, str):
        return None if _KINDS[shape](value) else f"{where or 'the value'} is not {_NAMED.get(shape, 'a ' + shape)}"
    if isinstance(shape, list):
        if value.__class__ is not list:
            return f"{where or 'the value'} is not a list"
        for k, item in enumerate(value):
            problem = shape_problem(item, shape[0], f"{where}[{k}]")
            if problem:
                return problem
        return None
    if value.__class__ is not dict:
        return f"{where or 'the value'} is not an object"
    for key, inner in shape.items():
        item = value.get(key)
        if isinstance(inner, Required):
            if item is None:
                return f"{where or 'the value'} has no {key}"
            inner = inner.shape
        if item is not None:
            problem = shape_problem(item, inner, f"{where}.{key}" if where else key)
            if problem:
                return problem
    return None


def _predicate(shape):
    """``shape`` as one fast test (True: the value is of it); the message comes from :func:`shape_problem`
    only when it fails. Built once per column."""
    if isinstance(shape, str):
        return _KINDS[shape]
    if isinstance(shape, list):
        item = _predicate(shape[0])
        return lambda value: value.__class__ is list and all(map(item, value))
    optional = tuple((key, _predicate(inner)) for key, inner in shape.items() if not isinstance(inner, Required))
    required = tuple((key, _predicate(inner.shape)) for key, inner in shape.items() if isinstance(inner, Required))

    def test(value) -> bool:
        if value.__class__ is not dict:
            return False
        get = value.get
        for key, kind in optional:
            item = get(key)
            if item is not None and not kind(item):
                return False
        for key, kind in required:
            item = get(key)
            if item is None or not kind(item):
                return False
        return True

    return test


def json_type(shape="any", name: str = "JSON"):
    """A JSON column whose documents are read through the data door (every number finite, nesting
    and memory bounded) and checked against ``shape`` (:func:`shape_problem`): the keys lrox's
    readers take as numbers, text, lists or objects hold such values, so a damaged document (a list
    where an object is stored, text where a number is) is one error line, never a TypeError in a
    report or a number that is not one. The check reads only the keys named (a few per document)."""
    from sqlalchemy import JSON

    from structures.doors.text import shown

    fits = _predicate(shape)

    def accepts(value) -> bool:
        if fits(value):
            return True
        problem = shape_problem(value, shape, "")
        if problem:
            raise LroxInputError(f"the database is damaged: a stored {name} is not what lrox writes ({shown(problem, 120)})")
        return True

    checked = _checked_type(JSON, "JSON", accepts)
    checked.shape = shape  # what the door checks, for the test that every JSON column declares one
    return checked
