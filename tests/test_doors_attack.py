"""New hostile inputs of issue 31's classes, never listed there (the attacker's second sweep): each
got through a door before the fix of its class. Each runs the real command in its own process
(bounds: 10 s, 1 GiB) and checks that nothing beside the inputs changed."""

from __future__ import annotations

import gzip
import json
import lzma
import sqlite3
from pathlib import Path

import pytest

from structures.errors import LroxInputError
from tests.test_doors import _copy_database, _structure_dict, file_set, lrox, refused, within_bounds


# -- memory: whole reads and parsed JSON are bounded before anything is built ---------------------------
@pytest.mark.parametrize(("name", "body", "command"), [
    ("results.json", "[" + "{}," * (40 * 2**20 // 3) + "{}]", ["ingest", "results.json"]),  # 40 MB -> 2 GiB of dicts
    ("host.json", '{"lattice": {"matrix": [[3,0,0],[0,3,0],[0,0,3]]}, "sites": [], "x": [' + "[]," * (45 * 2**20 // 3) + "[]]}", ["enumerate", "host.json"]),
])
def test_json_that_would_build_gigabytes_is_refused_before_parsing(tmp_path, name, body, command):
    (tmp_path / name).write_text(body)
    before = file_set(tmp_path)
    refused(lrox(tmp_path, *command, "--db", f"sqlite:///{tmp_path / 'new.db'}") if command[0] == "ingest" else lrox(tmp_path, *command),
            "MiB of memory once read")
    assert file_set(tmp_path) == before


def test_a_gzip_below_the_old_floor_that_unpacks_to_240_mib_of_numbers_is_refused(tmp_path):
    with gzip.open(tmp_path / "results.json.gz", "wb", compresslevel=9) as out:
        out.write(b"[")
        for _ in range(120):
            out.write(b"0," * 2**20)
        out.write(b"0]")
    before = file_set(tmp_path)
    refused(lrox(tmp_path, "ingest", "results.json.gz", "--db", f"sqlite:///{tmp_path / 'new.db'}"), "unpacks to more than")
    assert file_set(tmp_path) == before


@pytest.mark.parametrize("suffix", [".lzma", ".Z", ".z"])
def test_every_compression_pymatgen_unpacks_is_bounded_by_the_file_door(tmp_path, suffix):
    """monty's zopen (pymatgen's Outcar, Vasprun, Chgcar) unpacks .lzma and .z too: the door counts them."""
    from structures.doors.vasp import read_outcar

    bomb = tmp_path / f"OUTCAR{suffix}"
    if suffix == ".lzma":
        packer = lzma.LZMACompressor(format=lzma.FORMAT_ALONE, preset=1)
        bomb.write_bytes(b"".join(packer.compress(b"\n" * 2**24) for _ in range(64)) + packer.flush())  # 1 GiB
    else:
        with gzip.open(bomb, "wb", compresslevel=1) as out:
            for _ in range(64):
                out.write(b"\n" * 2**24)
    with pytest.raises(LroxInputError, match="unpacks to more than"):
        read_outcar(bomb)


def test_an_neb_whose_outcars_are_lzma_bombs_is_stored_as_failed_within_bounds(tmp_path):
    packer = lzma.LZMACompressor(preset=1)
    bomb = b"".join(packer.compress(b"\n" * 2**24) for _ in range(64)) + packer.flush()
    from structures.hosts import load_host
    from pymatgen.io.vasp import Poscar

    for image in ("00", "01", "02"):
        (tmp_path / "neb" / image).mkdir(parents=True)
        (tmp_path / "neb" / image / "OUTCAR.lzma").write_bytes(bomb)
        (tmp_path / "neb" / image / ("POSCAR" if image != "01" else "CONTCAR")).write_text(Poscar(load_host("licoo2").structure).get_str())
    outcome = lrox(tmp_path, "ingest", "neb", "--db", f"sqlite:///{tmp_path / 'new.db'}")
    within_bounds(outcome)
    assert "unpacks to more than" in outcome.err, outcome.err[-2000:]
    with sqlite3.connect(tmp_path / "new.db") as db:
        assert db.execute("select status from calculations where kind = 'neb'").fetchall() == [("failed",)]


# -- files choose code: nested structures and lrox's machinery --------------------------------------------
def _host_with_property(tmp_path: Path, value) -> Path:
    data = _structure_dict()
    data["sites"][0]["properties"] = {"x": value}
    (tmp_path / "host.json").write_text(json.dumps(data))
    return tmp_path / "host.json"


def test_a_structure_nested_in_a_site_property_counts_toward_the_site_cap(tmp_path):
    inner = _structure_dict()
    _host_with_property(tmp_path, {"@module": "pymatgen.core.structure", "@class": "Structure", "lattice": inner["lattice"],
                                   "sites": inner["sites"] * 3000})
    refused(lrox(tmp_path, "enumerate", "host.json"), "nested structures included")


def test_a_file_cannot_name_the_doors_own_classes(tmp_path):
    _host_with_property(tmp_path, {"@module": "structures.doors.databases", "@class": "WritableDatabase", "engine": None, "new_file": "/tmp/x"})
    refused(lrox(tmp_path, "enumerate", "host.json"), "structures.doors.databases.WritableDatabase")


# -- numbers: every number a structure carries -----------------------------------------------------------
def _json_with(change) -> str:
    data = _structure_dict()
    change(data)
    return json.dumps(data)


def _cif_with_occupancy(value: str) -> str:
    from structures.hosts import load_host

    return load_host("licoo2").structure.to(fmt="cif").replace("0.50000000  1\n", f"0.50000000  {value}\n", 1)


@pytest.mark.parametrize(("name", "text", "message"), [
    ("h.cif", lambda: _cif_with_occupancy("nan"), "non-finite"),  # pymatgen silently dropped the site
    ("h.cif", lambda: _cif_with_occupancy("-0.5"), "not above 0"),
    ("h.json", lambda: _json_with(lambda d: d["sites"][0].update(properties={"magmom": 1e308})), "magmom"),
    ("h.json", lambda: _json_with(lambda d: d.update(charge=float("nan"))), "charge is nan"),
    ("h.json", lambda: _json_with(lambda d: d["sites"][0]["species"][0].update(oxidation_state=1e300)), "oxidation_state"),
])
def test_every_number_a_structure_carries_is_finite_and_bounded(tmp_path, name, text, message):
    (tmp_path / name).write_text(text())
    refused(lrox(tmp_path, "enumerate", name), message)


def test_a_poscar_whose_site_properties_are_not_finite_is_refused_after_building():
    """The built-structure check (every format) sees site properties, charge and occupancies too."""
    from structures.doors.structures_in import structure_problem
    from structures.hosts import load_host

    structure = load_host("licoo2").structure.copy()
    structure.add_site_property("magmom", [float("inf")] + [0.0] * (len(structure) - 1))
    assert "not finite" in structure_problem(structure)


# -- outputs: no name with a control character ----------------------------------------------------------
def test_a_plot_name_with_a_newline_is_refused_and_nothing_written(tmp_path, db_copy):
    before = file_set(tmp_path)
    refused(lrox(tmp_path, "plot", "scatter", "barrier", "e_vac_o", "a\nb.png", "--db", f"sqlite:///{db_copy}"), "control character")
    assert file_set(tmp_path) == before


# -- databases: a write-ahead log left behind ------------------------------------------------------------
def _database_with_unmerged_log(source: Path, folder: Path) -> Path:
    """A copy of an lrox database in WAL mode whose last transaction is still in the log, and no -shm (a crashed writer)."""
    import shutil

    work = folder / "work"
    work.mkdir()
    _copy_database(source, work / "lrox.db")
    writer = sqlite3.connect(work / "lrox.db")
    writer.execute("pragma journal_mode=wal")
    writer.execute("pragma wal_autocheckpoint=0")
    writer.execute("update configurations set name = 'only-in-the-log' where rowid = (select min(rowid) from configurations)")
    writer.commit()
    target = folder / "db"
    target.mkdir()
    shutil.copyfile(work / "lrox.db", target / "lrox.db")
    shutil.copyfile(work / "lrox.db-wal", target / "lrox.db-wal")
    writer.close()
    shutil.rmtree(work)
    return target / "lrox.db"


@pytest.mark.parametrize("damage", ["none", "truncated"])
def test_a_database_with_a_log_and_no_index_is_read_whole_and_nothing_made_beside_it(tmp_path, screen, damage):
    path = _database_with_unmerged_log(screen["db"], tmp_path)
    if damage == "truncated":
        log = (path.parent / "lrox.db-wal").read_bytes()
        (path.parent / "lrox.db-wal").write_bytes(log[: len(log) // 2 + 7])
    before = file_set(path.parent)
    outcome = lrox(tmp_path, "query", "--json", "--db", f"sqlite:///{path}")
    within_bounds(outcome)
    assert outcome.code == 0, outcome.err
    assert file_set(path.parent) == before  # no -shm, nothing changed
    if damage == "none":  # the log's committed transaction is read, never silently left out
        assert "only-in-the-log" in outcome.out


@pytest.fixture()
def db_copy(screen, tmp_path):
    folder = tmp_path / "db"
    folder.mkdir()
    return _copy_database(screen["db"], folder / "lrox.db")


from tests.test_doors import screen  # noqa: E402,F401 - the module's fixture
