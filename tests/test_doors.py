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
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if relative.startswith(DOORS):
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=relative)):
                what = way_in(node)
                if what and (relative, what) not in ALLOWED_OUTSIDE:
                    found.append(f"{relative}:{node.lineno}: {what}")
    return found


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
