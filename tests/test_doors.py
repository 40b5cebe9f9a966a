"""One guarded door for every file, number and database lrox reads (``structures/doors/``), and a
test that reads the code so that no other way in appears.

* **The code**: an AST check of every module of structures/, descriptors/, workflows/ and launch/:
  outside the doors nothing opens a file for reading, parses JSON/YAML, decodes a file's classes,
  reads a structure or a VASP file, or opens a database. Each offending call is named (file:line).
* **The doors**: property tests (hypothesis) feed arbitrary bytes, special files, non-finite and
  extreme numbers, deep and aliased YAML, long and control-character strings into each door.
* **The commands**: every reproduction of issue 31 is run as the real command in its own process
  under a wall-clock and memory bound; each gives one ``lrox: error:`` line and exit 2 (or a
  correct result for a valid but odd input), writes nothing, and leaves the database's files
  (names and hashes) as they were.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("structures", "descriptors", "workflows", "launch")
DOORS = "structures/doors/"

# ----- the code: no way in but the doors ------------------------------------------------------------
# calls that read a file, parse file text, decode classes a file names, or open a database
FORBIDDEN_ATTRIBUTE_CALLS = {
    # parsing text into data (a file's text, whatever its path): JSON, YAML, pickles, arrays, tables
    "json.load", "json.loads", "orjson.loads", "pickle.load", "pickle.loads", "np.load", "np.loadtxt", "np.genfromtxt",
    "numpy.load", "pd.read_csv", "pd.read_json", "pd.read_parquet", "pd.read_table", "pq.read_table",
    "yaml.load", "yaml.safe_load", "yaml.full_load", "yaml.unsafe_load", "yaml.load_all", "yaml.safe_load_all",
    # structures and VASP files (pymatgen, ASE)
    "Structure.from_file", "Structure.from_str", "Structure.from_dict", "IStructure.from_file", "IStructure.from_str",
    "IStructure.from_dict", "Molecule.from_file", "Molecule.from_str", "Molecule.from_dict", "PeriodicSite.from_dict",
    "Poscar.from_file", "Poscar.from_str", "Poscar.from_dict", "Vasprun.from_file", "Outcar.from_file", "Chgcar.from_file",
    "Locpot.from_file", "Incar.from_file", "Incar.from_str", "Kpoints.from_file", "Kpoints.from_str", "Potcar.from_file",
    "CifParser.from_str", "NEBAnalysis.from_dir", "CompleteDos.from_dict", "Dos.from_dict", "ase.io.read", "io.read",
    # decoding the classes a file names
    "MontyDecoder", "json.MontyDecoder",
    # databases and other tools' configuration files
    "sqlite3.connect", "create_engine", "LaunchPad.from_file", "LaunchPad.auto_load", "JobStore.from_dict_spec",
    "JobStore.from_file",
}
FORBIDDEN_NAME_CALLS = {"Vasprun", "Outcar", "Oszicar", "Xdatcar", "CifParser", "MontyDecoder", "loadfn", "zopen", "create_engine", "YAML"}
FORBIDDEN_IMPORTS = ("ruamel",)  # ruamel's loaders expand aliases: YAML goes through the door's loader
WRITE_MODES = {"w", "wb", "wt", "a", "ab", "at", "x", "xb", "xt"}
# Not listed, on purpose: ``Poscar(structure)`` builds a writer from a Structure (it reads nothing; reading
# is Poscar.from_file/from_str, listed); writes are not reads (``open(p, "w")``, ``Path.write_text``: the
# output doors, ``output_path``/``write_atomically``, check where a command writes).

# Calls that stay outside the doors, each with its reason (file, call) -> why. Empty: every read goes
# through a door; an entry here must say why a door cannot serve it.
ALLOWED_OUTSIDE: dict[tuple[str, str], str] = {}


def _dotted(node: ast.AST) -> str:
    """``a.b.c`` of a call's function (the innermost names only; '' for anything else)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Call):
        parts.append("()")
    return ".".join(reversed(parts))


def _mode(call: ast.Call, position: int) -> str | None:
    """The literal mode of an open() call ('r' when absent), None when it is not a literal."""
    node = call.args[position] if len(call.args) > position else next((k.value for k in call.keywords if k.arg == "mode"), None)
    if node is None:
        return "r"
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def way_in(node: ast.AST) -> str | None:
    """What a node does that only a door may do, or None."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        hit = next((n for n in names if n.split(".")[0] in FORBIDDEN_IMPORTS), None)
        return f"import {hit}" if hit else None
    if isinstance(node, ast.keyword) and isinstance(node.value, (ast.Name, ast.Attribute)):
        name = _dotted(node.value)
        return f"{node.arg}={name}" if name.split(".")[-1] == "MontyDecoder" else None
    if not isinstance(node, ast.Call):
        return None
    name = _dotted(node.func)
    last = name.split(".")[-1]
    if name in ("open", "io.open", "builtins.open", "os.open", "os.fdopen"):
        mode = _mode(node, 1)
        return None if name != "os.open" and mode in WRITE_MODES else f"{name}(mode={mode!r})"
    if last == "open" and isinstance(node.func, ast.Attribute):  # Path.open, gzip.open, bz2.open, tarfile.open ...
        mode = _mode(node, 0 if name.split(".")[0] not in ("gzip", "bz2", "lzma", "tarfile", "zipfile") else 1)
        return None if mode in WRITE_MODES else f"{name}(mode={mode!r})"
    if isinstance(node.func, ast.Attribute) and last in ("read_text", "read_bytes"):
        return name
    for forbidden in FORBIDDEN_ATTRIBUTE_CALLS:
        if name == forbidden or name.endswith("." + forbidden):
            return name
    if isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_NAME_CALLS:
        return name
    return None


def ways_in(root: Path = ROOT) -> list[str]:
    """Every way in outside the doors, as 'file:line: call'."""
    found = []
    for relative, node in package_nodes(root):
        what = way_in(node)
        if what and (relative, what) not in ALLOWED_OUTSIDE:
            found.append(f"{relative}:{node.lineno}: {what}")
    return found


def package_trees(root: Path = ROOT):
    """The parsed module of every file of lrox's packages outside the doors, with its file (relative to ``root``)."""
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if not relative.startswith(DOORS):
                yield relative, ast.parse(path.read_text(), filename=relative)


def package_nodes(root: Path = ROOT):
    """Every AST node of lrox's packages outside the doors, with its file (relative to ``root``)."""
    for relative, tree in package_trees(root):
        for node in ast.walk(tree):
            yield relative, node


def test_nothing_reads_a_file_a_number_or_a_database_except_through_a_door():
    found = ways_in()
    assert not found, "ways in outside structures/doors/:\n" + "\n".join(found)


def test_the_allow_list_names_only_calls_that_exist_and_says_why():
    for (file, call), why in ALLOWED_OUTSIDE.items():
        assert len(why) > 20, f"{file}: {call} is allowed without a reason"
        assert (ROOT / file).exists(), f"{file} in the allow-list does not exist"


def test_the_check_sees_every_kind_of_way_in(tmp_path):
    """The check itself, on a made-up module: each way in is named with its line."""
    package = tmp_path / "descriptors"
    package.mkdir()
    for other in ("structures", "workflows", "launch"):
        (tmp_path / other).mkdir()
    (package / "bad.py").write_text(
        "import json, gzip, sqlite3\nfrom pathlib import Path\nfrom monty.json import MontyDecoder\n"
        "def f(p):\n"
        "    a = open(p)\n"
        "    b = Path(p).read_text()\n"
        "    c = gzip.open(p, 'rb')\n"
        "    d = json.loads(b)\n"
        "    e = Structure.from_dict(d)\n"
        "    f = Vasprun(p)\n"
        "    g = json.loads(b, cls=MontyDecoder)\n"
        "    h = sqlite3.connect(p)\n"
        "    i = LaunchPad.from_file(p)\n"
        "    j = Path(p).open()\n"
        "    open(p, 'w').write('fine: a write')\n"
        "    import ruamel.yaml\n"
    )
    found = "\n".join(ways_in(tmp_path))
    for line, call in [(5, "open(mode='r')"), (6, "read_text"), (7, "gzip.open(mode='rb')"), (8, "json.loads"), (9, "Structure.from_dict"),
                       (10, "Vasprun"), (11, "cls=MontyDecoder"), (12, "sqlite3.connect"), (13, "LaunchPad.from_file"),
                       (14, "open(mode='r')"), (16, "import ruamel.yaml")]:
        assert f"descriptors/bad.py:{line}: " in found and call in found, (line, call, found)
    assert "descriptors/bad.py:15:" not in found


# ----- the database: every value read through its column's checked type ----------------------------------------
# SQL whose results SQLAlchemy does not type by lrox's columns: a stored value read this way would pass no
# door (the database door checks each value in its column's type). Each use says why it reads no stored value.
RAW_SQL_CALLS = {"exec_driver_sql", "literal_column", "raw_connection", "driver_connection", "text"}
RAW_SQL_ALLOWED: dict[tuple[str, str], str] = {
    ("descriptors/store/database.py", "exec_driver_sql"): "a writer's ALTER TABLE adding a hop column: it reads nothing back",
    ("descriptors/store/derived.py", "text"): "PostgreSQL locks (LOCK TABLE before the view is rebuilt, the twins' advisory lock): they read nothing back",
}


def _sqlalchemy_names(tree: ast.AST) -> set[str]:
    """The names a module imports from SQLAlchemy (its own, unchecked types among them)."""
    return {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy")
            for alias in node.names}


def raw_sql(root: Path = ROOT) -> list[str]:
    """Every call of raw SQL outside the doors, as 'file:line: call' (``text(...)`` by its plain name
    or as ``sqlalchemy.text``; a method named text is no SQL), and every ``cast``/``type_coerce`` of
    a value to one of SQLAlchemy's own types (its result would be read unchecked: cast to a door's
    type instead, as descriptors/store/reads.py does)."""
    found = []
    for relative, tree in package_trees(root):
        imported = _sqlalchemy_names(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _dotted(node.func)
            last = name.split(".")[-1]
            if last in ("cast", "type_coerce") and len(node.args) > 1:
                target = _dotted(node.args[1].func if isinstance(node.args[1], ast.Call) else node.args[1])
                if target.split(".")[0] in imported or target.startswith(("sqlalchemy.", "sa.")):
                    found.append(f"{relative}:{node.lineno}: {last} to {target}")
                continue
            if last not in RAW_SQL_CALLS or (last == "text" and name not in ("text", "sqlalchemy.text", "sa.text")):
                continue
            if (relative, last) not in RAW_SQL_ALLOWED:
                found.append(f"{relative}:{node.lineno}: {name}")
    return found


def test_no_stored_value_is_read_by_sql_that_bypasses_the_column_types():
    found = raw_sql()
    assert not found, "raw SQL outside structures/doors/ (read through the tables' columns instead):\n" + "\n".join(found)
    for (file, call), why in RAW_SQL_ALLOWED.items():
        assert len(why) > 20 and (ROOT / file).exists() and f"{call}(" in (ROOT / file).read_text(), (file, call)


def test_every_column_of_every_table_is_read_through_the_database_door():
    """ORM rows, the fast reads of plain tuples and aggregates alike are typed by the column: a column
    declared with SQLAlchemy's own type would give back whatever a damaged file holds."""
    from sqlalchemy.types import TypeDecorator

    from descriptors.store.tables import Base

    columns = [(table.name, column) for table in Base.metadata.sorted_tables for column in table.columns]
    unchecked = [f"{table}.{c.name}: {type(c.type).__name__}" for table, c in columns
                 if not (isinstance(c.type, TypeDecorator) and type(c.type).__module__ == "structures.doors.databases")]
    assert not unchecked, unchecked
    json_without_shape = [f"{table}.{c.name}" for table, c in columns if type(c.type).__name__ == "CheckedJSON" and c.type.shape == "any"]
    assert not json_without_shape, json_without_shape
    assert len(columns) > 100


# ----- the commands: every reproduction of issue 31, as the real command in its own process ----------------
import contextlib  # noqa: E402
import gzip  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import sqlite3  # noqa: E402
import stat  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import pytest  # noqa: E402

# The bounds every refusal must hold (a hang or a memory bomb is a defect, not a slow path): the command
# itself (from main() to its return, interpreter start-up left out) within SECONDS, the process's peak
# resident memory within RSS_BYTES. The process is killed at KILL_AFTER_S whatever happens.
SECONDS = 10.0  # CPU seconds after start-up (the same on a loaded 2-core machine); wall time in benchmarks/doors.py
RSS_BYTES = 2**30
KILL_AFTER_S = 120  # wall clock: a command that waits (a hang, not work) is stopped here and fails
RUNNER = """
import os, resource, sys, time
def cpu():  # CPU seconds of this process and its children: the work an input costs, not the machine's load
    return time.process_time() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime
from launch.cli import main
imported = cpu()
code = main(sys.argv[1:])
ended = cpu()
with open(os.environ["LROX_TEST_REPORT"], "w") as report:
    report.write(f"{ended - imported} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}")
sys.exit(code)
"""


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    seconds: float
    rss: int

    @property
    def lines(self) -> list[str]:
        return self.err.strip().splitlines()


def lrox(cwd: Path, *args, file_size: int | None = None, env: dict | None = None, report_dir: Path | None = None) -> Outcome:
    """``lrox ARGS`` in its own process, in ``cwd``; ``file_size``: no file may grow beyond this many
    bytes (RLIMIT_FSIZE, SIGXFSZ ignored: a write past it fails with EFBIG, as on a full disk)."""
    import resource
    import signal
    import tempfile
    import time

    report = Path(tempfile.mkstemp(prefix="lrox-report-", dir=report_dir)[1])

    def limits():
        resource.setrlimit(resource.RLIMIT_AS, (8 * 2**30, 8 * 2**30))  # the machine is shared: a bomb stops here
        if file_size is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))

    environment = {**os.environ, "PYTHONPATH": str(ROOT), "LROX_TEST_REPORT": str(report), **(env or {})}
    environment.pop("LROX_FAILPOINT", None)
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", RUNNER, *map(str, args)], cwd=cwd, env=environment, capture_output=True,
                              text=True, timeout=KILL_AFTER_S, preexec_fn=limits)
        seconds, rss = (float(x) for x in (report.read_text().split() or [time.perf_counter() - started, 0]))
    finally:
        report.unlink(missing_ok=True)
    return Outcome(done.returncode, done.stdout, done.stderr, seconds, int(rss))


def file_set(folder: Path) -> dict[str, str]:
    """Every name under ``folder`` with what it is: a regular file's sha256, else its kind (never opened)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        mode = os.lstat(path).st_mode
        if stat.S_ISREG(mode):
            found[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            found[str(path.relative_to(folder))] = "dir" if stat.S_ISDIR(mode) else "link" if stat.S_ISLNK(mode) else "special"
    return found


def refused(outcome: Outcome, message: str, seconds: float = SECONDS) -> None:
    """One ``lrox: error:`` line naming ``message``, exit 2, no traceback, within the bounds."""
    assert outcome.code == 2, (outcome.code, outcome.err[-2000:])
    assert len(outcome.lines) == 1 and outcome.lines[0].startswith("lrox: error: "), outcome.err[-2000:]
    assert message in outcome.lines[0], outcome.lines[0]
    within_bounds(outcome, seconds)


def within_bounds(outcome: Outcome, seconds: float = SECONDS) -> None:
    assert "Traceback" not in outcome.out + outcome.err, outcome.err[-2000:]
    assert outcome.seconds < seconds, f"{outcome.seconds:.1f} s"
    assert outcome.rss < RSS_BYTES, f"{outcome.rss / 2**20:.0f} MiB"


@pytest.fixture(scope="module")
def screen(tmp_path_factory):
    """The mock example screen run once: its database and results.json (each test copies what it changes)."""
    from tests.conftest import run_mock_screen

    folder = tmp_path_factory.mktemp("screen")
    url = run_mock_screen(folder)
    return {"db": Path(url.split("///", 1)[1]), "results": folder / "lrox-out" / "mock_quick" / "results.json"}


@pytest.fixture()
def db_copy(screen, tmp_path):
    """A copy of the screen's database in its own folder, and that folder's file set before the command."""
    folder = tmp_path / "db"
    folder.mkdir()
    return _copy_database(screen["db"], folder / "lrox.db")


def _copy_database(source: Path, target: Path) -> Path:
    """A consistent copy (SQLite's backup: what a write-ahead log still holds included)."""
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as origin, sqlite3.connect(target) as copy:
        origin.backup(copy)
    return target


def _structure_dict() -> dict:
    from structures.hosts import load_host

    return load_host("licoo2").structure.as_dict()


EVIL = {"@module": "this", "@class": "s"}  # importing 'this' prints the Zen of Python


def _zen(outcome: Outcome) -> bool:
    return "Beautiful is better than ugly" in outcome.out + outcome.err


# -- files choose code --
def test_a_host_json_naming_a_module_in_a_site_property_is_refused_before_import(tmp_path):
    structure = _structure_dict()
    structure["sites"][0]["properties"] = {"magmom": EVIL}
    (tmp_path / "host.json").write_text(json.dumps(structure))
    before = file_set(tmp_path)
    outcome = lrox(tmp_path, "enumerate", "host.json", report_dir=tmp_path.parent)
    refused(outcome, "names the class this.s")
    assert not _zen(outcome) and file_set(tmp_path) == before


def test_a_spec_whose_host_file_names_a_module_is_refused_in_a_dry_run(tmp_path):
    structure = _structure_dict()
    structure["sites"][0]["properties"] = {"oxi": EVIL}
    (tmp_path / "host.json").write_text(json.dumps(structure))
    (tmp_path / "spec.yaml").write_text("name: s\nhost: host.json\nsupercell: 1x1x1\nbackend: vasp\n")
    before = file_set(tmp_path)
    outcome = lrox(tmp_path, "run", "spec.yaml", "--dry-run", "dry", report_dir=tmp_path.parent)
    refused(outcome, "names the class this.s")
    assert not _zen(outcome) and file_set(tmp_path) == before


def test_results_whose_relaxed_structure_names_a_module_are_refused(tmp_path, screen):
    results = json.loads(screen["results"].read_text())
    relax = next(d for d in results["documents"] if d["kind"] == "relax" and d["status"] == "success")
    relax["structure"]["sites"][0]["properties"]["label"] = EVIL
    (tmp_path / "results.json").write_text(json.dumps(results))
    before = file_set(tmp_path)
    outcome = lrox(tmp_path, "ingest", "results.json", "--db", f"sqlite:///{tmp_path / 'new.db'}", report_dir=tmp_path.parent)
    refused(outcome, "names the class this.s")
    assert not _zen(outcome) and file_set(tmp_path) == before


def test_a_job_store_file_cannot_create_a_file(tmp_path):
    (tmp_path / "X").mkdir()
    (tmp_path / "js.yaml").write_text("docs_store: {type: JSONStore, paths: X/created.json, read_only: false}\n")
    before = file_set(tmp_path)
    outcome = lrox(tmp_path, "ingest", "--job-store", "js.yaml", "--db", f"sqlite:///{tmp_path / 'new.db'}", report_dir=tmp_path.parent)
    refused(outcome, "read-only")
    assert file_set(tmp_path) == before


@pytest.mark.parametrize("store", ["{type: MemoryStore, collection_name: x}", "{type: MontyStore, collection_name: x, database_path: X}",
                                   "{type: MongoStore, database: d, collection_name: c, ssh_tunnel: {'@module': this, '@class': s}}"])
def test_a_job_store_file_cannot_choose_a_store_class_or_pass_objects(tmp_path, store):
    (tmp_path / "X").mkdir()
    (tmp_path / "js.yaml").write_text(f"JOB_STORE:\n  docs_store: {store}\n")
    before = file_set(tmp_path)
    outcome = lrox(tmp_path, "ingest", "--job-store", "js.yaml", "--db", f"sqlite:///{tmp_path / 'new.db'}", report_dir=tmp_path.parent)
    refused(outcome, "job store file")
    assert file_set(tmp_path) == before and not _zen(outcome)


def test_a_launchpad_file_cannot_choose_a_log_folder(tmp_path):
    (tmp_path / "DIR").mkdir()
    (tmp_path / "lp.yaml").write_text("host: 127.0.0.1\nport: 1\nname: fw\nlogdir: DIR\nstrm_lvl: DEBUG\n")
    before = file_set(tmp_path)
    outcome = lrox(tmp_path, "status", "--engine", "fireworks", "--launchpad", "lp.yaml", report_dir=tmp_path.parent)
    refused(outcome, "logdir must be null")
    assert file_set(tmp_path) == before


# -- hangs and memory --
@pytest.mark.parametrize("option", ["--sort", "--oxygen", "--where"])
def test_a_long_argument_is_refused_in_linear_time(tmp_path, db_copy, option):
    before = file_set(db_copy.parent)
    outcome = lrox(tmp_path, "query", "--db", f"sqlite:///{db_copy}", option, "z" * 130000, report_dir=tmp_path.parent)
    refused(outcome, "query" if option != "--oxygen" else "--oxygen")
    assert len(outcome.lines[0]) < 5000 and file_set(db_copy.parent) == before


def _alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for k in range(1, levels):
        lines.append(f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * width)}]")
    return "\n".join(lines)


def test_a_yaml_alias_bomb_in_a_host_file_is_refused(tmp_path):
    import yaml

    structure = yaml.safe_dump(_structure_dict())
    (tmp_path / "host.yaml").write_text(_alias_bomb() + "\n" + structure)
    outcome = lrox(tmp_path, "enumerate", "host.yaml", report_dir=tmp_path.parent)
    refused(outcome, "YAML alias")


def test_a_yaml_alias_bomb_in_a_launchpad_file_is_refused(tmp_path):
    (tmp_path / "lp.yaml").write_text("host: 127.0.0.1\nport: 1\n" + _alias_bomb(12) + "\n")
    outcome = lrox(tmp_path, "status", "--engine", "fireworks", "--launchpad", "lp.yaml", report_dir=tmp_path.parent)
    refused(outcome, "YAML alias")


def _cif(sites: int, group: str = "F m -3 m", a: str = "20.0") -> str:
    import random

    rng = random.Random(1)
    rows = "\n".join(f"Li{k} Li {rng.random():.5f} {rng.random():.5f} {rng.random():.5f}" for k in range(sites))
    return (f"data_x\n_cell_length_a {a}\n_cell_length_b 20.0\n_cell_length_c 20.0\n_cell_angle_alpha 90\n_cell_angle_beta 90\n"
            f"_cell_angle_gamma 90\n_symmetry_space_group_name_H-M '{group}'\nloop_\n_atom_site_label\n_atom_site_type_symbol\n"
            f"_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n{rows}\n")


def test_a_cif_whose_symmetry_would_expand_past_the_cap_is_refused_before_expansion(tmp_path):
    (tmp_path / "big.cif").write_text(_cif(3000))
    assert (tmp_path / "big.cif").stat().st_size > 100_000
    outcome = lrox(tmp_path, "enumerate", "big.cif", report_dir=tmp_path.parent)
    refused(outcome, "times the order of its space group")


def test_a_gzip_bomb_is_refused_while_unpacking(tmp_path):
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(tmp_path / "results.json.gz", "wb") as out:
        out.write(packer.compress(b'{"documents": ['))
        zeros = b" " * 2**24
        for _ in range(128):  # 2 GiB of blanks in 2 MB
            out.write(packer.compress(zeros))
        out.write(packer.flush())
    assert (tmp_path / "results.json.gz").stat().st_size < 3 * 2**20
    before = file_set(tmp_path)
    outcome = lrox(tmp_path, "ingest", "results.json.gz", "--db", f"sqlite:///{tmp_path / 'new.db'}", report_dir=tmp_path.parent)
    refused(outcome, "unpacks to more than")
    assert file_set(tmp_path) == before


@pytest.fixture(scope="module")
def vasp_run(tmp_path_factory):
    """A VASP static run folder (LiCoO2) written by the VASP emulator: INCAR, POSCAR, vasprun.xml, OUTCAR, CONTCAR."""
    from pymatgen.io.vasp.sets import MPStaticSet

    from structures.hosts import load_host
    from workflows.mock_vasp import emulate_vasp
    from workflows.vasp import _write

    folder = tmp_path_factory.mktemp("vasp") / "static"
    settings = {"LORBIT": 11, "NEDOS": 3001, "LAECHG": True, "LCHARG": True}
    _write(load_host("licoo2").structure, MPStaticSet(force_gamma=True, user_incar_settings=settings, user_potcar_functional="PBE_54"), folder, tidy=False)
    emulate_vasp(folder, "static LiCoO2")
    for density in [*folder.glob("CHGCAR*"), *folder.glob("AECCAR*")]:  # no Bader analysis here: the run's numbers are the point
        density.unlink()
    return folder


def _vasp_tree(tmp_path: Path, vasp_run: Path) -> Path:
    run = tmp_path / "vasp" / "run1"
    shutil.copytree(vasp_run, run)
    return run


def _calculations(db: Path) -> list[dict]:
    from descriptors.store.database import DescriptorDatabase
    from descriptors.store.tables import CalculationRow

    return DescriptorDatabase(f"sqlite:///{db}", read_only=True).rows(CalculationRow)


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_an_outcar_that_is_a_fifo_or_dev_zero_fails_the_run_never_hangs(tmp_path, vasp_run, kind):
    run = _vasp_tree(tmp_path, vasp_run)
    (run / "OUTCAR").unlink()
    if kind == "fifo":
        os.mkfifo(run / "OUTCAR")
    else:
        (run / "OUTCAR").symlink_to("/dev/zero")
    outcome = lrox(tmp_path, "ingest", "vasp", "--db", f"sqlite:///{tmp_path / 'new.db'}", report_dir=tmp_path.parent)
    within_bounds(outcome)
    assert outcome.code == 0, outcome.err
    assert any(line.startswith("lrox: warning: ") and ("FIFO" in line or "device" in line) for line in outcome.lines), outcome.err
    calcs = _calculations(tmp_path / "new.db")
    assert [c["status"] for c in calcs if c["kind"] == "static"] == ["failed"]
    assert "OUTCAR" in next(c["error"] for c in calcs if c["kind"] == "static")


@pytest.mark.parametrize("energy", ["NaN", "1e999", "-1e308", "-Infinity"])
def test_vasprun_energies_that_are_not_numbers_are_stored_as_failed(tmp_path, vasp_run, energy):
    import re

    run = _vasp_tree(tmp_path, vasp_run)
    text = (run / "vasprun.xml").read_text()
    text = re.sub(r'(<i name="(?:e_fr_energy|e_wo_entrp|e_0_energy)">)\s*[-+0-9.Ee]+', rf"\g<1> {energy}", text)
    (run / "vasprun.xml").write_text(text)
    outcome = lrox(tmp_path, "ingest", "vasp", "--db", f"sqlite:///{tmp_path / 'new.db'}", report_dir=tmp_path.parent)
    within_bounds(outcome)
    assert outcome.code == 0, outcome.err
    static = next(c for c in _calculations(tmp_path / "new.db") if c["kind"] == "static")
    assert static["status"] == "failed" and "final energy" in static["error"], static["error"]
    assert static["data"]["energy"] is None
    with sqlite3.connect(f"file:{tmp_path / 'new.db'}?mode=ro", uri=True) as connection:  # valid JSON for SQLite itself
        assert connection.execute("select count(*) from calculations where json_valid(data) and json_valid(settings)").fetchone()[0] == 1


def test_results_with_absurd_relaxation_energies_store_failures_never_a_vacancy_energy(tmp_path, screen):
    results = json.loads(screen["results"].read_text())
    for doc in results["documents"]:
        if doc["kind"] == "relax":
            doc["energy"] = -1e308
    (tmp_path / "results.json").write_text(json.dumps(results))
    outcome = lrox(tmp_path, "ingest", "results.json", "--db", f"sqlite:///{tmp_path / 'new.db'}", report_dir=tmp_path.parent)
    within_bounds(outcome)
    assert outcome.code == 0, outcome.err
    from descriptors.store.database import DescriptorDatabase
    from descriptors.store.tables import DescriptorRow

    relaxes = [c for c in _calculations(tmp_path / "new.db") if c["kind"] == "relax"]
    assert relaxes and all(c["status"] == "failed" and "outside any physical range" in c["error"] for c in relaxes)
    vacancies = [d for d in DescriptorDatabase(f"sqlite:///{tmp_path / 'new.db'}", read_only=True).rows(DescriptorRow) if d["name"] == "e_vac_o"]
    assert vacancies and all(d["value"] is None and d["status"] == "failed" for d in vacancies)


# -- numbers typed and read --
POSCAR = "x\n1.0\n4.9 0 0\n0 8.5 0\n0 0 5.0\n{species}\n1 1 2\nDirect\n0 0 0\n0.5 0.5 0.5\n0.1 0.1 0.1\n{last}\n"


@pytest.mark.parametrize(("name", "text", "message"), [
    ("frac.vasp", POSCAR.format(species="Li Mn O", last="1e308 0.2 0.2"), "beyond"),
    ("species.vasp", POSCAR.format(species="Li X O", last="0.2 0.2 0.2"), "'X' on line 6 is not an element"),
    ("cell.cif", _cif(1, "P 1", a="1e308"), "_cell_length_a"),
    ("nan.cif", _cif(1, "P 1", a="nan"), "non-finite"),
])
def test_structure_files_with_numbers_that_are_not_numbers_are_refused(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    before = file_set(tmp_path)
    refused(lrox(tmp_path, "enumerate", name, report_dir=tmp_path.parent), message)
    assert file_set(tmp_path) == before


def test_a_json_host_with_an_overflowing_lattice_is_refused(tmp_path):
    structure = _structure_dict()
    structure["lattice"]["matrix"] = [[1e308, 0, 0], [0, 1e308, 0], [0, 0, 1e308]]
    (tmp_path / "host.json").write_text(json.dumps(structure))
    refused(lrox(tmp_path, "enumerate", "host.json", report_dir=tmp_path.parent), "lattice")


@pytest.mark.parametrize("view", ["configurations", "hops"])
@pytest.mark.parametrize("where", ["barrier < nan", "e_kra < 1e999", "barrier > -inf", "barrier < Infinity"])
def test_filters_on_numbers_that_are_not_numbers_are_refused(tmp_path, db_copy, view, where):
    before = file_set(db_copy.parent)
    refused(lrox(tmp_path, "query", view, "--db", f"sqlite:///{db_copy}", "--where", where, report_dir=tmp_path.parent), "finite")
    assert file_set(db_copy.parent) == before


# -- tracebacks --
def test_an_unreadable_poscar_is_named(tmp_path, monkeypatch, capsys):
    from launch.cli import main

    path = tmp_path / "POSCAR"
    path.write_text(POSCAR.format(species="Li Mn O", last="0.2 0.2 0.2"))
    path.chmod(0)
    if os.geteuid() == 0:  # root reads anything: the permission is what the door asks the system
        import structures.doors.files as files

        real = os.access
        monkeypatch.setattr(files.os, "access", lambda p, mode, **kw: False if Path(p) == path and mode & os.R_OK else real(p, mode, **kw))
    monkeypatch.chdir(tmp_path)
    code = main(["enumerate", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "cannot be read (permission denied)" in err, err


LONG = "x" * 300


@pytest.mark.parametrize("args", [
    ["enumerate", f"{LONG}.cif"],
    ["hops", f"{LONG}/configuration.json"],
    ["ingest", f"{LONG}/results.json"],
    ["run", f"{LONG}.yaml"],
    ["query", "--db", f"sqlite:///{LONG}.db"],
    ["query", "--db", f"sqlite:///{LONG}/lrox.db"],
    ["export", "--format", "csv", f"{LONG}.csv"],
    ["ingest", "--job-store", f"{LONG}.yaml"],
    ["status", "--engine", "fireworks", "--launchpad", f"{LONG}.yaml"],
])
def test_names_longer_than_a_filesystem_allows_are_one_line(tmp_path, db_copy, args):
    before = file_set(tmp_path)
    outcome = lrox(tmp_path, *args, env={"LROX_DB": f"sqlite:///{db_copy}"}, report_dir=tmp_path.parent)
    refused(outcome, "longer than a filesystem allows")
    assert file_set(tmp_path) == before


@pytest.mark.parametrize("args", [["query"], ["query", "hops"], ["plot", "scatter", "li_slab_spacing", "barrier", "out.png"],
                                  ["export", "--format", "csv", "out.csv"], ["report", "out.html"]])
def test_a_database_with_lrox_meta_but_no_lrox_tables_is_refused_by_its_tables(tmp_path, args):
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("create table lrox_meta(key text primary key, value text)")
        connection.execute("insert into lrox_meta values ('schema_version', '2')")
    before = file_set(tmp_path)
    refused(lrox(tmp_path, *args, "--db", f"sqlite:///{foreign}", report_dir=tmp_path.parent), "not an lrox database")
    assert file_set(tmp_path) == before


def test_an_neb_folder_whose_incar_is_not_text_fails_that_neb_with_the_reason(tmp_path):
    from tests.conftest import SHARED

    reference = SHARED / "vasp-reference" / "neb" / "pymatgen_neb1_Fe31_vacancy"
    if not reference.is_dir():
        pytest.skip("shared VASP reference pack not present")
    neb = tmp_path / "vasp" / "neb"
    shutil.copytree(reference, neb)
    (neb / "INCAR").write_bytes(b"\xff\xfeI\x00B\x00R\x00I\x00O\x00N\x00")
    outcome = lrox(tmp_path, "ingest", "vasp", "--db", f"sqlite:///{tmp_path / 'new.db'}", report_dir=tmp_path.parent)
    within_bounds(outcome)
    assert outcome.code == 0 and any("not UTF-8" in line for line in outcome.lines), outcome.err
    (neb_row,) = [c for c in _calculations(tmp_path / "new.db") if c["kind"] == "neb"]
    assert neb_row["status"] == "failed" and "not UTF-8" in neb_row["error"]


# -- a full disk (RLIMIT_FSIZE: a write past the limit fails with EFBIG, as a full disk fails with ENOSPC) --
# A run on a full disk does its real work up to the first write, which fails; it then stops at once (the
# remaining jobs never start) instead of running every job to fail each write: its bound is the first
# job's time, not the refusal's.
RUN_SECONDS = 60.0


def _jobs_started(outcome: Outcome) -> int:
    import re

    return len(re.findall(r"^\[\d+/\d+\] ", outcome.out, flags=re.M))


def test_a_run_on_a_full_disk_is_one_line_leaves_no_temporary_file_and_no_database(tmp_path):
    from tests.conftest import MOCK_SPEC

    before = file_set(tmp_path)
    outcome = lrox(tmp_path, "run", MOCK_SPEC, "--db", f"sqlite:///{tmp_path / 'new.db'}", file_size=4096, report_dir=tmp_path.parent)
    refused(outcome, "cannot be written", RUN_SECONDS)
    assert _jobs_started(outcome) == 1, outcome.out  # stopped at the first job's output
    after = file_set(tmp_path)
    assert not [name for name in after if ".tmp" in name or "lrox-tmp" in name], after
    assert not [name for name in after if name.startswith("new.db")], after  # never created, never switched to WAL
    assert set(before) <= set(after)


def test_a_run_on_a_full_disk_leaves_an_existing_database_as_it_was(tmp_path, db_copy):
    from tests.conftest import MOCK_SPEC

    with sqlite3.connect(db_copy) as connection:
        connection.execute("pragma journal_mode=delete")
    before = file_set(db_copy.parent)
    outcome = lrox(tmp_path, "run", MOCK_SPEC, "--db", f"sqlite:///{db_copy}", file_size=4096, report_dir=tmp_path.parent)
    refused(outcome, "cannot be written", RUN_SECONDS)
    assert _jobs_started(outcome) == 1, outcome.out
    assert file_set(db_copy.parent) == before
    with sqlite3.connect(f"file:{db_copy}?mode=ro", uri=True) as connection:
        assert connection.execute("pragma journal_mode").fetchone()[0] == "delete"


def test_an_ingest_into_a_new_database_on_a_full_disk_leaves_no_file(tmp_path, screen):
    shutil.copy(screen["results"], tmp_path / "results.json")
    before = file_set(tmp_path)
    outcome = lrox(tmp_path, "ingest", "results.json", "--db", f"sqlite:///{tmp_path / 'new.db'}", file_size=200_000, report_dir=tmp_path.parent)
    refused(outcome, "new.db")
    assert file_set(tmp_path) == before


# -- read commands change nothing --
EXAMPLE = ROOT / "examples" / "li2mno3_design_rules.db"


def test_query_of_a_write_ahead_log_database_makes_no_side_files(tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "example.db")
    with contextlib.closing(sqlite3.connect(tmp_path / "example.db")) as writer:  # a database left in WAL mode
        writer.execute("PRAGMA journal_mode=WAL")
    assert (tmp_path / "example.db").read_bytes()[18:20] == b"\x02\x02"  # the header says WAL
    before = file_set(tmp_path)
    outcome = lrox(tmp_path, "query", "--db", f"sqlite:///{tmp_path / 'example.db'}", report_dir=tmp_path.parent)
    within_bounds(outcome)
    assert outcome.code == 0 and "20 rows" in outcome.out, outcome.err
    assert file_set(tmp_path) == before  # no -wal, no -shm, no byte changed


@pytest.mark.parametrize("name", ["a#b.db", "a?b.db", "a%23b.db", "a b#c?d.db"])
def test_a_database_whose_name_holds_url_characters_is_the_file_it_names(tmp_path, name):
    shutil.copy(EXAMPLE, tmp_path / name)
    before = file_set(tmp_path)
    outcome = lrox(tmp_path, "query", "--db", f"sqlite:///{tmp_path / name}", report_dir=tmp_path.parent)
    within_bounds(outcome)
    assert outcome.code == 0 and "20 rows" in outcome.out, outcome.err
    assert file_set(tmp_path) == before  # no empty 'a' beside it, nothing changed


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"), reason="mounting a read-only filesystem needs root")
def test_the_example_reads_from_read_only_media(tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(media)], capture_output=True).returncode:
        pytest.skip("this machine does not let root mount a tmpfs")
    try:
        shutil.copy(EXAMPLE, media / "example.db")
        (media / "example.db-wal").write_bytes(b"")  # a log left by a writer: SQLite would want an -shm beside it
        subprocess.run(["mount", "-o", "remount,ro", str(media)], check=True)
        outcome = lrox(tmp_path, "query", "--db", f"sqlite:///{media / 'example.db'}", report_dir=tmp_path.parent)
        within_bounds(outcome)
        assert outcome.code == 0 and "20 rows" in outcome.out, outcome.err
    finally:
        subprocess.run(["umount", str(media)], capture_output=True)


# -- terminal escapes --
def test_escape_sequences_a_user_typed_are_never_echoed_raw(tmp_path, db_copy):
    hostile = "a\x1b]0;owned\x07b\x1b[2J\x9b31m\u202ec"
    outcome = lrox(tmp_path, "query", "--db", f"sqlite:///{db_copy}", "--sort", hostile, report_dir=tmp_path.parent)
    refused(outcome, "unknown sort field")
    assert not any(c in outcome.err for c in "\x1b\x07\x9b\u202e") and "\\x1b]0;owned\\x07" in outcome.err


# ----- the doors: property tests (hypothesis; bounded examples, a few minutes in all) -------------------------
import io  # noqa: E402
import math  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from structures.errors import LroxInputError  # noqa: E402

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@contextlib.contextmanager
def bounded(seconds: float = SECONDS):
    """The block must finish within ``seconds`` (an alarm turns a hang into a failure) and grow the
    process's peak memory by less than RSS_BYTES."""

    def expired(signum, frame):
        raise AssertionError(f"still running after {seconds} s")

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss < RSS_BYTES


def input_error_or(call):
    """``call()``'s value, or the LroxInputError it raised: any other exception fails the test."""
    try:
        return call()
    except LroxInputError as exc:
        assert str(exc) and "\n" not in str(exc).strip(), repr(exc)
        return exc


def _file_doors(path: Path):
    """Every door that reads a file, as (name, call)."""
    from structures.doors import data, files, structures_in, tools, vasp

    return [
        ("bytes", lambda: files.read_file_bytes(path, "file", files.MAX_RESULTS_BYTES)),
        ("text", lambda: files.read_file_text(path, "file", files.MAX_SPEC_BYTES)),
        ("stream", lambda: files.open_text(path, "file", files.MAX_SPEC_BYTES).read()),
        ("contains", lambda: files.contains(path, "file", "needle")),
        ("json", lambda: data.load_json(files.read_file_text(path, "file", files.MAX_SPEC_BYTES), "file")),
        ("yaml", lambda: data.load_yaml(files.read_file_text(path, "file", files.MAX_SPEC_BYTES), "file")),
        ("structure", lambda: structures_in.load_structure(path)),
        ("poscar", lambda: vasp.read_poscar(path)),
        ("incar", lambda: vasp.read_incar(path)),
        ("vasprun", lambda: vasp.read_vasprun(path)),
        ("outcar", lambda: vasp.read_outcar(path)),
        ("dos", lambda: vasp.complete_dos(path)),
        ("launchpad", lambda: tools.launchpad_settings(tools.read_config_file(path, "launchpad file"), "launchpad")),
        ("job store", lambda: tools.job_store_from_file(path)),
    ]


NAMES = ["results.json", "results.json.gz", "host.yaml", "x.cif", "POSCAR", "x.vasp", "x.extxyz", "data.xz", "data.bz2", "vasprun.xml", "INCAR"]


@PROPERTY
@given(content=st.binary(max_size=3000), name=st.sampled_from(NAMES), door=st.integers(min_value=0, max_value=13))
def test_arbitrary_bytes_into_every_file_door_are_data_or_one_input_error(content, name, door):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        before = file_set(Path(folder))
        with bounded():
            input_error_or(_file_doors(path)[door][1])
        assert file_set(Path(folder)) == before


def _special(folder: Path, kind: str) -> Path:
    path = folder / "special.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind in ("zero", "null", "urandom"):
        path.symlink_to(f"/dev/{kind}")
    elif kind == "folder":
        path.mkdir()
    elif kind == "dangling":
        path.symlink_to(folder / "nowhere")
    elif kind == "loop":
        path.symlink_to(path)
    elif kind == "long":
        path = folder / ("x" * 300 + ".json")
    elif kind == "nul":
        path = folder / "a\x00b.json"
    elif kind == "deep":
        path = folder / ("/".join(["d" * 200] * 30) + ".json")
    elif kind == "socket":
        import socket

        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()
    return path


SPECIAL = ["fifo", "zero", "null", "urandom", "folder", "dangling", "loop", "long", "nul", "deep", "socket"]


@PROPERTY
@given(kind=st.sampled_from(SPECIAL), door=st.integers(min_value=0, max_value=13))
def test_special_files_are_refused_by_every_file_door_without_blocking(kind, door):
    with tempfile.TemporaryDirectory() as folder:
        path = _special(Path(folder), kind)
        with bounded(5.0):
            outcome = input_error_or(_file_doors(path)[door][1])
        assert isinstance(outcome, LroxInputError), (kind, door, outcome)


numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-(10**400), max_value=10**400),
                    st.sampled_from(["nan", "-inf", "1e999", "-1e308", "1e308", "0x10", "1_0", "", " ", "1e-400", "٣", "1" * 5000]),
                    st.text(max_size=30))


@PROPERTY
@given(value=numbers, low=st.floats(-1e3, 0), high=st.floats(1, 1e3))
def test_the_number_door_gives_a_finite_number_in_bounds_or_one_error(value, low, high):
    from structures.doors.numbers import finite

    got = input_error_or(lambda: finite(value, "--x", low, high))
    if not isinstance(got, LroxInputError):
        assert math.isfinite(got) and low <= got <= high


@PROPERTY
@given(value=numbers, n_atoms=st.one_of(st.none(), st.integers(min_value=0, max_value=10**6)))
def test_a_calculation_s_number_is_judged_never_raised(value, n_atoms):
    from structures.doors.numbers import MAX_ENERGY_PER_ATOM, energy_problem, values_problem

    problem = energy_problem(value, n_atoms)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        plausible = math.isfinite(float(value)) if not isinstance(value, int) or abs(value) < 1e300 else False
        plausible = plausible and abs(float(value)) / max(n_atoms or 1, 1) <= MAX_ENERGY_PER_ATOM
        assert (problem is None) == plausible, (value, n_atoms, problem)
    else:
        assert problem is not None
    values_problem([[value, 1.0], [2.0, 3.0]], "forces", 100.0)  # never raises


@PROPERTY
@given(text=numbers)
def test_numbers_read_from_files_are_finite_and_bounded_or_one_error(text):
    from structures.doors.numbers import number_in_text

    got = input_error_or(lambda: number_in_text(str(text), "POSCAR", 1e4))
    if not isinstance(got, LroxInputError):
        assert math.isfinite(got) and abs(got) <= 1e4


def _nested_yaml(depth: int, alias: bool, flow: bool) -> str:
    if flow:
        body = "[" * depth + "1" + "]" * depth
    else:
        body = "".join(f"{'  ' * k}- \n" for k in range(depth)) + "  " * depth + "- 1\n"
    return (("x: &a [1, 2]\ny: *a\n" if alias else "") + f"z: {body}\n") if flow else ("x: &a [1]\ny: *a\n" if alias else "") + "z:\n" + body


@PROPERTY
@given(depth=st.integers(min_value=1, max_value=600), alias=st.booleans(), flow=st.booleans())
def test_deep_and_aliased_yaml_is_plain_data_or_one_error(depth, alias, flow):
    import yaml

    from structures.doors.data import MAX_NESTING, load_yaml

    text = _nested_yaml(depth, alias, flow)
    with bounded():
        got = input_error_or(lambda: load_yaml(text, "spec"))
    if alias:
        assert isinstance(got, LroxInputError) and "alias" in str(got)
    elif depth + 1 > MAX_NESTING:
        assert isinstance(got, LroxInputError) and "nested" in str(got)
    else:
        assert got == yaml.safe_load(text)


@PROPERTY
@given(text=st.text(max_size=300))
def test_any_yaml_text_is_plain_data_or_one_error(text):
    from structures.doors.data import load_yaml

    with bounded():
        got = input_error_or(lambda: load_yaml(text, "spec"))
    assert isinstance(got, (LroxInputError, dict, list, str, int, float, bool, type(None)))


@PROPERTY
@given(depth=st.integers(min_value=1, max_value=5000))
def test_deep_json_is_plain_data_or_one_error(depth):
    from structures.doors.data import MAX_NESTING, load_json

    got = input_error_or(lambda: load_json("[" * depth + "]" * depth, "results"))
    assert isinstance(got, LroxInputError) == (depth > MAX_NESTING)


modules = st.one_of(st.sampled_from(["os", "subprocess", "this", "builtins", "importlib", "pymatgen.core.structure", "pymatgen.core",
                                     "structures.hosts", "numpy", "datetime", "pymatgen.io.vasp", "monty.json", "structures.doors.files",
                                     "pymatgen.core.structure.os", "..", "pymatgen.core.structure "]),
                    st.text(max_size=20))
classes = st.one_of(st.sampled_from(["Structure", "Host", "array", "system", "s", "Popen", "import_module", "os", "Path", "MontyDecoder",
                                     "datetime", "__class__", "LroxInputError"]), st.text(max_size=12))


@PROPERTY
@given(module=modules, name=classes, callable_=st.booleans())
def test_no_file_chooses_a_module_to_import(module, name, callable_):
    from structures.doors.data import check_decodable

    loaded = set(sys.modules)
    node = {"@module": module, ("@callable" if callable_ else "@class"): name}
    got = input_error_or(lambda: check_decodable({"a": [{"b": node}]}, "file"))
    imported = set(sys.modules) - loaded
    allowed = not isinstance(got, LroxInputError)
    if allowed:
        assert not callable_ and (module.startswith(("structures", "pymatgen.core", "pymatgen.electronic_structure", "pymatgen.analysis.structure_matcher"))
                                  or (module, name) in {("numpy", "array"), ("datetime", "datetime"), ("uuid", "UUID")})
    assert all(m.startswith(("structures", "pymatgen", "spglib", "scipy", "numpy", "monty", "ruamel", "uncertainties", "sympy", "mpmath",
                             "tabulate", "pandas", "plotly", "requests", "networkx", "palettable", "matplotlib", "bibtexparser", "latexcodec",
                             "pybtex", "joblib", "orjson", "moyopy", "tqdm", "pydantic")) or "." not in m and m in ("six",)
               for m in imported if m not in ("this", "os", "subprocess")), imported
    assert "this" not in imported


site_values = st.one_of(numbers, st.none(), st.booleans(), st.lists(numbers, max_size=4), st.just(EVIL), st.just({"@module": "os", "@class": "system"}),
                        st.dictionaries(st.sampled_from(["@module", "@class", "@callable", "x"]), st.text(max_size=10), max_size=3))


@PROPERTY
@given(where=st.sampled_from(["lattice", "abc", "species", "properties", "sites", "label", "charge"]), value=site_values)
def test_a_structure_dict_with_any_value_anywhere_is_a_checked_structure_or_one_error(where, value):
    import numpy as np

    from structures.doors.structures_in import structure_from_dict

    data = _structure_dict()
    if where == "lattice":
        data["lattice"]["matrix"][0][0] = value
    elif where == "abc":
        data["sites"][1]["abc"][2] = value
    elif where == "species":
        data["sites"][0]["species"][0]["element"] = value
    elif where == "properties":
        data["sites"][0]["properties"]["magmom"] = value
    elif where == "sites":
        data["sites"] = value
    else:
        data[where] = value
    loaded = set(sys.modules)
    with bounded():
        got = input_error_or(lambda: structure_from_dict(data, "host"))
    assert "this" not in set(sys.modules) - loaded
    if not isinstance(got, LroxInputError):
        assert np.all(np.isfinite(got.lattice.matrix)) and np.all(np.abs(got.frac_coords) <= 1e3)


@PROPERTY
@given(text=st.text(max_size=2000), secret=st.text(alphabet="abcdefghijklmnop0123456789", min_size=6, max_size=20))
def test_text_out_is_redacted_and_shows_no_control_character(text, secret):
    from structures.doors.text import printable, redact, shown

    line = f"{text} postgresql://user:{secret}@host/db password={secret} {text}"
    out = printable(redact(line), keep="")
    assert secret not in out.replace(text, "") or secret in text
    assert not any(unicodedata_category(c) in ("Cc", "Zl", "Zp") and c not in "\n\t" for c in printable(text))
    assert all(ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F for c in out)
    assert len(shown(text, 80)) <= 80


def unicodedata_category(char: str) -> str:
    import unicodedata

    return unicodedata.category(char)


@pytest.mark.parametrize("text", ["z" * 200_000, "a" * 100_000 + "://", "password" * 30_000, "x://" + ":" * 200_000, "\x1b" * 100_000,
                                  " " * 200_000 + "password", "token " * 40_000])
def test_redaction_and_escaping_are_linear_in_the_text(text):
    from structures.doors.text import printable, redact

    with bounded(5.0):  # quadratic redaction took 1.4 s at 16 000 letters: 200 000 would take minutes
        printable(redact(text))


@PROPERTY
@given(content=st.binary(max_size=3000), header=st.booleans(), name=st.text(alphabet="ab#?% &=", min_size=1, max_size=8))
def test_any_file_as_a_database_is_read_or_refused_and_never_changed(content, header, name):
    from descriptors.store.database import DescriptorDatabase

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{name}.db"
        path.write_bytes((b"SQLite format 3\x00" if header else b"") + content)
        before = file_set(Path(folder))
        with bounded():
            got = input_error_or(lambda: DescriptorDatabase(f"sqlite:///{path}", read_only=True))
        assert isinstance(got, LroxInputError)
        assert file_set(Path(folder)) == before


def call(args: list[str], folder: Path) -> tuple[int, str, str]:
    from launch.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), contextlib.chdir(folder):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


HOSTILE_TEXT = st.one_of(
    st.sampled_from(["nan", "inf", "-1e308", "1e999", "\x1b]0;x\x07", "\u202e", "z" * 20_000, "x" * 300, "a\x00b", "../../etc/passwd",
                     "{'@module': 'this'}", "*a", "&a [1]", "' or 1=1 --", "%s%n", "sqlite:///a#b?c"]),
    st.text(alphabet=st.characters(max_codepoint=0x3000), min_size=1, max_size=40),
)
COMMANDS = [
    ["query", "--where", "barrier < {x}"], ["query", "--sort", "{x}"], ["query", "--oxygen", "{x}"], ["query", "hops", "--where", "e_kra < {x}"],
    ["query", "hops", "--sort", "{x}"], ["plot", "scatter", "{x}", "barrier", "out.png"], ["plot", "neb", "{x}", "out.png"],
    ["export", "--format", "csv", "out.csv", "--where", "host = {x}"], ["enumerate", "{x}"], ["hops", "{x}"],
    ["enumerate", "li2mno3", "--dopant", "{x}"], ["enumerate", "li2mno3", "--supercell", "{x}"], ["run", "{x}"],
    ["ingest", "{x}"], ["ingest", "--job-store", "{x}"], ["status", "--engine", "fireworks", "--launchpad", "{x}"],
    ["query", "--db", "sqlite:///{x}"], ["query", "--db", "{x}"],
]


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory, screen):
    return _copy_database(screen["db"], tmp_path_factory.mktemp("hostile-db") / "lrox.db")


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(which=st.integers(min_value=0, max_value=len(COMMANDS) - 1), value=HOSTILE_TEXT, special=st.sampled_from([None, *SPECIAL]))
def test_hostile_values_through_every_command_are_one_error_and_change_no_database_file(hostile_db, which, value, special):
    args = COMMANDS[which]
    before = file_set(hostile_db.parent)
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        if special is not None and "{x}" in args[-1] or special is not None and args[-2:] == ["--launchpad", "{x}"]:
            value = str(_special(folder, special))
        if "\x00" in value:  # no argument can hold a NUL (execve refuses it); the name check is the door's
            value = value.replace("\x00", "0")
        argv = [a.replace("{x}", value) for a in args]
        if "--db" not in argv:
            argv += ["--db", f"sqlite:///{hostile_db}"] if argv[0] in ("query", "plot", "export", "ingest") else []
        files_before = file_set(folder)
        with bounded():
            code, out, err = call(argv, folder)
        assert "Traceback" not in out + err
        assert code in (0, 2), (code, err)
        if code == 2:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("lrox: error: "), err
            assert file_set(folder) == files_before
        assert not any(c in out + err for c in "\x1b\x07\u202e")
    assert file_set(hostile_db.parent) == before


@pytest.mark.parametrize(("project", "message"), [
    ("name: p\nworkers: {w: {type: local, scheduler_type: shell, work_dir: /tmp}}\n" + _alias_bomb(10) + "\n", "YAML alias"),
    ("name: p\nworkers: {w: {type: local, scheduler_type: shell, work_dir: /tmp}}\nqueue: {store: {type: MontyStore, collection_name: jobs, "
     "database_path: X}}\njobstore: {docs_store: {type: MongoStore, database: d, collection_name: o}}\n", "MontyStore"),
    ("name: p\nworkers: {w: {type: local, scheduler_type: shell, work_dir: /tmp}}\nqueue: {store: {type: MongoStore, database: d, collection_name: "
     "jobs}}\njobstore: {docs_store: {type: JSONStore, paths: X/created.json, read_only: false}}\n", "read-only"),
])
def test_a_jobflow_remote_project_file_cannot_expand_aliases_or_choose_a_store(tmp_path, project, message):
    from tests.conftest import MOCK_SPEC

    projects = tmp_path / "projects"
    projects.mkdir()
    (tmp_path / "X").mkdir()
    (projects / "p.yaml").write_text(project)
    before = file_set(tmp_path)
    env = {"JFREMOTE_PROJECTS_FOLDER": str(projects), "JFREMOTE_CONFIG_FILE": str(tmp_path / "none.yaml")}
    outcome = lrox(tmp_path, "submit", MOCK_SPEC, "--engine", "jobflow-remote", "--project", "p", "--db", f"sqlite:///{tmp_path / 'new.db'}",
                   env=env, report_dir=tmp_path.parent)
    refused(outcome, message)
    assert file_set(tmp_path) == before
