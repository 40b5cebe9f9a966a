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


# ===== the third sweep ======================================================================================
# -- text: a value quoted in an error is cut before it is redacted (each pattern start reads ~2600 characters) --
_SLOW_TO_REDACT = "a://:" * 600_000  # 3 MB in which a URL pattern starts every 5 characters


@pytest.mark.parametrize("where", ["species", "scale"])
def test_a_long_value_from_a_file_is_quoted_in_bounded_time(tmp_path, where):
    poscar = "x\n1.0\n4.9 0 0\n0 8.5 0\n0 0 5.0\nLi Mn O\n1 1 2\nDirect\n0 0 0\n0.5 0.5 0.5\n0.1 0.1 0.1\n0.2 0.2 0.2\n"
    poscar = poscar.replace("Li Mn O", f"Li {_SLOW_TO_REDACT} O") if where == "species" else poscar.replace("\n1.0\n", f"\n{_SLOW_TO_REDACT}\n")
    (tmp_path / "POSCAR").write_text(poscar)
    refused(lrox(tmp_path, "enumerate", "POSCAR"), "a://:a://:")


def test_megabytes_of_arguments_echoed_in_an_error_are_quoted_in_bounded_time(tmp_path):
    outcome = lrox(tmp_path, "hosts", *(["a://:" * 26_000] * 15))  # click names every extra argument
    refused(outcome, "unexpected extra arguments", seconds=3.0)
    assert len(outcome.lines[0]) <= 4100


def test_quoting_keeps_every_credential_it_shows_masked():
    from structures.doors.text import redacted_head, shown

    assert shown(" " * 5_000_000 + "postgresql://u:hunter2@h/d " + "a://:" * 1_000_000, 60).startswith("postgresql://u:***@h/d")
    head = redacted_head("x" * 50 + " mongodb://user:" + "p" * 2000 + "@host/db", 80)
    assert "ppp" not in head and "***" in head


# -- structures: a CIF's expansion bounded by every key pymatgen takes symmetry from -----------------------------
def _fm3m_cif(symmetry: str, sites: int = 80) -> str:
    import random

    rng = random.Random(1)
    rows = "\n".join(f"Li{k} Li {rng.random():.5f} {rng.random():.5f} {rng.random():.5f}" for k in range(sites))
    return ("data_x\n_cell_length_a 20.0\n_cell_length_b 20.0\n_cell_length_c 20.0\n_cell_angle_alpha 90\n_cell_angle_beta 90\n"
            f"_cell_angle_gamma 90\n{symmetry}loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n"
            f"_atom_site_fract_z\n{rows}\n")


def _operations(key: str, magnetic: bool = False, count: int = 192) -> str:
    from pymatgen.symmetry.groups import SpaceGroup

    operations = [o.as_xyz_str() + (",+1" if magnetic else "") for o in SpaceGroup("Fm-3m").symmetry_ops][:count]
    return f"loop_\n{key}\n" + "\n".join(f"'{o}'" for o in operations) + "\n"


_CENTERINGS = "loop_\n_space_group_symop_magn_centering.xyz\n" + "\n".join(f"'{c}'" for c in ("x,y,z,+1", "x,y+1/2,z+1/2,+1", "x+1/2,y,z+1/2,+1", "x+1/2,y+1/2,z,+1")) + "\n"


@pytest.mark.parametrize(("name", "symmetry"), [
    ("h.cif", "_symmetry_space_group_name_H_M 'F m -3 m'\n"),  # the door read '_H-M' only
    ("h.cif", "_symmetry_space_group_name_h-m 'F m -3 m'\n"),
    ("h.cif", "_space_group_IT_number_ 225\n"),
    ("h.cif", _operations("_symmetry_equiv_pos_as_xyz_")),  # a trailing underscore pymatgen accepts
    ("h.mcif", "_space_group_magn.name_BNS 'x'\n" + _operations("_space_group_symop_magn_operation.xyz", True, 48) + _CENTERINGS),  # 48 x 4
])
def test_a_cif_cannot_expand_past_the_cap_through_a_key_the_door_did_not_read(tmp_path, name, symmetry):
    (tmp_path / name).write_text(_fm3m_cif(symmetry))
    refused(lrox(tmp_path, "enumerate", name), "times the order of its space group")


def test_a_cif_whose_operation_is_not_one_is_refused_never_collapsed_onto_the_origin(tmp_path):
    """pymatgen reads 'q' as a zero matrix: 80 sites became one atom, a wrong host that looked right."""
    (tmp_path / "h.cif").write_text(_fm3m_cif("loop_\n_symmetry_equiv_pos_as_xyz\n'q'\n"))
    refused(lrox(tmp_path, "enumerate", "h.cif"), "'q' is not a symmetry operation")


# -- data: YAML keys are text, as in JSON ---------------------------------------------------------------------
@pytest.mark.parametrize("extra", ["1: a\nzz: b\n", "null: a\nyy: 2\n", "hops: {2024-01-01: 1}\n"])
def test_a_spec_whose_keys_are_not_text_is_one_error(tmp_path, extra):
    from tests.conftest import MOCK_SPEC

    (tmp_path / "s.yaml").write_text(Path(MOCK_SPEC).read_text() + extra)
    before = file_set(tmp_path)
    refused(lrox(tmp_path, "run", "s.yaml", "--dry-run", "dry"), "is not text")
    assert file_set(tmp_path) == before


def test_yaml_reads_no_key_as_a_boolean():
    from structures.doors.data import load_yaml

    with pytest.raises(LroxInputError, match="not text"):
        load_yaml("user_incar_settings: {No: 3}\n", "spec")  # YAML 1.1 reads the element No as False
    assert load_yaml("a: {'No': 3}\n", "spec") == {"a": {"No": 3}}


# -- databases: an id prefix is no pattern; a damaged value is one error -----------------------------------------
@pytest.mark.parametrize("prefix", ["%", "_", "li2mno3_"])
def test_an_id_prefix_matches_ids_that_start_with_it_never_a_like_pattern(tmp_path, db_copy, prefix):
    before = file_set(db_copy.parent)
    refused(lrox(tmp_path, "plot", "neb", prefix, "p.png", "--db", f"sqlite:///{db_copy}"), "no calculation with id")
    assert file_set(db_copy.parent) == before and not (tmp_path / "p.png").exists()


DAMAGE = {
    "text in a number column": ("update descriptors set value = 'abc' where name = 'barrier'; update configuration_levels set barrier = 'abc';"
                                "update hops set barrier = 'abc'", "a number column holds 'abc'"),
    "an infinity": ("update configuration_levels set barrier = 9e999; update descriptors set value = 9e999 where name = 'barrier';"
                    "update hops set barrier = 9e999", "holds inf"),
    # the fourth sweep: numbers no writer stores (a report drew 1.7e308 and died in matplotlib), text as a float's name
    "a number beyond any lrox writes": ("update configuration_levels set barrier = 1.7e308, delta_e_vac_o = 1.7e308; update hops set barrier = 1.7e308, e_kra = 1.7e308;"
                                        "update descriptors set value = 1.7e308 where name = 'barrier'", "holds 1.7e+308"),
    "NaN as text": ("update configuration_levels set barrier = 'NaN'; update hops set barrier = 'NaN'", "a number column holds 'NaN'"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("command", [["query"], ["query", "--sort", "barrier"], ["report", "r.html"], ["export", "--features", "f.parquet"]])
def test_a_damaged_value_in_a_database_is_one_error_never_a_traceback_or_a_number(tmp_path, db_copy, damage, command):
    sql, message = DAMAGE[damage]
    refused_after_damage(tmp_path, db_copy, sql, command, message)


def _neb_id(db: Path) -> str:
    with sqlite3.connect(db) as connection:
        (found,) = connection.execute("select id from calculations where kind = 'neb' and status = 'success' order by id limit 1").fetchone()
    connection.close()
    return found[:12]


def refused_after_damage(tmp_path, db_copy, sql: str, command: list[str], message: str) -> None:
    """Damage a copy of the example database with ``sql``, run ``command`` on it ('NEB': a band's
    calculation id): one error line naming ``message``, and no file made or changed."""
    command = [_neb_id(db_copy) if part == "NEB" else part for part in command]
    with sqlite3.connect(db_copy) as connection:
        connection.executescript(sql)
    connection.close()
    before, here = file_set(db_copy.parent), file_set(tmp_path)
    refused(lrox(tmp_path, *command, "--db", f"sqlite:///{db_copy}"), message)
    assert file_set(db_copy.parent) == before and file_set(tmp_path) == here



_UNPARSEABLE_JSON = "update calculations set data = '{not json'; update configuration_levels set e_vac_o_mu = '{{'"


@pytest.mark.parametrize(("command", "message"), [
    (["query", "--oxygen", "1173,0.21"], "not valid JSON"),  # reads e_vac_o_mu
    (["plot", "neb", "NEB", "p.png"], "not valid JSON"),  # reads the band's data
])
def test_json_that_does_not_parse_is_refused_by_every_command_that_reads_it(tmp_path, db_copy, command, message):
    refused_after_damage(tmp_path, db_copy, _UNPARSEABLE_JSON, command, message)


def _answer(outcome, folder: Path, written: str | None) -> tuple:
    """What a command answered: its output, and the file it wrote (a report without the line that
    names its database and the minute it was written; a parquet file as its table)."""
    import re

    if written is None:
        return outcome.out, None
    path = folder / written
    if written.endswith(".parquet"):
        import pyarrow.parquet as pq

        return outcome.out, pq.read_table(path).to_pylist()
    return outcome.out, re.sub(r"<p class='muted'>database [^<]*</p>", "", path.read_text())


@pytest.mark.parametrize(("command", "written"), [
    (["query"], None), (["query", "--sort", "-barrier", "--json"], None), (["report", "r.html"], "r.html"),
    (["export", "--features", "f.parquet"], "f.parquet"),
])
def test_json_a_command_does_not_read_cannot_change_its_answer(tmp_path, db_copy, command, written):
    """Since the configuration view is read without its JSON column (issue 32), ``lrox query``,
    ``report`` and ``export`` read neither damaged column above: they answer as on the undamaged
    database, the same figures, never a number made from the damaged value."""
    (tmp_path / "clean").mkdir()
    (tmp_path / "damaged").mkdir()
    clean = lrox(tmp_path / "clean", *command, "--db", f"sqlite:///{db_copy}")
    assert clean.code == 0, clean.err[-2000:]
    with sqlite3.connect(db_copy) as connection:
        connection.executescript(_UNPARSEABLE_JSON)
    connection.close()
    before = file_set(db_copy.parent)
    damaged = lrox(tmp_path / "damaged", *command, "--db", f"sqlite:///{db_copy}")
    assert damaged.code == 0, damaged.err[-2000:]
    within_bounds(damaged)
    assert _answer(damaged, tmp_path / "damaged", written) == _answer(clean, tmp_path / "clean", written)
    assert file_set(db_copy.parent) == before


# the fourth sweep: values of the right SQL type that are not what lrox stores, each through the command that reads it
# an older database (schema 3: no twin groups kept, nor the twins' energies): query hops groups twins by each barrier's stored band
_NO_SADDLE_COLUMNS = "update hops set saddle_energy = null; update lrox_meta set value = '3' where key = 'schema_version'"
WRONG_KIND = {
    "a list where a chemical potential is stored": (
        "update configuration_levels set e_vac_o_mu = '[1, 2]' where e_vac_o_mu is not null", ["query", "--oxygen", "1173,0.21"], "(the value is not an object)"),
    "text where a chemical potential's number is": (
        "update configuration_levels set e_vac_o_mu = json_set(e_vac_o_mu, '$.delta', 'abc') where e_vac_o_mu is not null",
        ["query", "--oxygen", "1173,0.21"], "chemical potential is not what lrox writes (delta is not a number)"),
    "an exponent no float holds inside a stored object": (  # was read as inf (the document, then its JSON path): e_vac_o_tp printed -inf
        "update configuration_levels set e_vac_o_mu = json_set(e_vac_o_mu, '$.delta', json('1e999')) where e_vac_o_mu is not null",
        ["query", "--oxygen", "1173,0.21"], "1e999"),
    "a number beyond any lrox writes inside a stored object": (  # read by the JSON path: e_vac_o_tp printed -1e+300
        "update configuration_levels set e_vac_o_mu = json_set(e_vac_o_mu, '$.delta', 1e300) where e_vac_o_mu is not null",
        ["query", "--oxygen", "1173,0.21"], "e+300"),
    "NaN inside a stored object": (
        "update configuration_levels set e_vac_o_mu = replace(json_set(e_vac_o_mu, '$.delta', 'x-nan'), '\"x-nan\"', 'NaN') where e_vac_o_mu is not null",
        ["query", "--oxygen", "1173,0.21"], "holds the number NaN"),
    "a list where a band's details are stored (query hops)": (
        f"update descriptors set details = '[1]' where name = 'barrier'; {_NO_SADDLE_COLUMNS}", ["query", "hops"], "(the value is not an object)"),
    "a list where a band's details are stored (report)": (
        f"update descriptors set details = '[1]' where name = 'barrier'; {_NO_SADDLE_COLUMNS}", ["report", "r.html"], "(the value is not an object)"),
    "text in a band's stored energies": (
        f"update descriptors set details = json_set(details, '$.energies[1]', 'x') where name = 'barrier'; {_NO_SADDLE_COLUMNS}",
        ["export", "--features", "f.parquet"], "descriptor's details is not what lrox writes (energies is not a band's energies"),
    "a band's reaction coordinate that does not increase": (
        "update calculations set data = json_set(data, '$.r', json('[0, 0, 0, 0, 0, 0, 0]')) where kind = 'neb'", ["plot", "neb", "NEB", "p.png"],
        "stored band is not a band ("),
    "a list where a calculation's data is stored": ("update calculations set data = '[1, 2]'", ["plot", "neb", "NEB", "p.png"], "(the value is not an object)"),
    "text in true/false column": (  # SQLAlchemy read any value as bool(value): 'no' was True
        "update hops set converged = 'no'", ["query", "hops", "--json"], "a true/false column holds 'no'"),
    "a 64-bit count": ("update hops set n_tm = 9223372036854775807", ["query", "hops"], "a whole-number column holds 9223372036854775807"),
    "a count beyond 64 bits (stored as a float)": ("update hops set n_tm = '99999999999999999999999'", ["report", "r.html"], "a whole-number column holds 1e+23"),
    "text that is not UTF-8": ("update configurations set name = cast(x'c3' as text)", ["query"], "Could not decode to UTF-8"),
    "a blob where JSON is stored": ("update calculations set data = x'fffe'", ["plot", "neb", "NEB", "p.png"], "is not UTF-8 text"),
}


@pytest.mark.parametrize("damage", list(WRONG_KIND))
def test_a_stored_value_of_the_wrong_kind_is_one_error_where_it_is_read(tmp_path, db_copy, damage):
    sql, command, message = WRONG_KIND[damage]
    refused_after_damage(tmp_path, db_copy, sql, command, message)


def _example_in(url: str):
    """The committed example's rows written into the database at ``url`` through the store's own write."""
    from descriptors.store.database import DescriptorDatabase
    from descriptors.store.tables import CalculationRow, ConfigurationRow, DescriptorRow, HopRow

    example = DescriptorDatabase(f"sqlite:///{Path(__file__).resolve().parents[1] / 'examples' / 'li2mno3_design_rules.db'}", read_only=True)
    configurations, calculations, descriptors, hops = (example.rows(t) for t in (ConfigurationRow, CalculationRow, DescriptorRow, HopRow))
    for row in descriptors:
        row.pop("id")
    for row in calculations:
        row.pop("ingested_at")
    DescriptorDatabase(url).write(configurations, calculations, descriptors, hops)
    example.engine.dispose()


def _read_hops(db):
    from descriptors.query.hops import query_hops

    return query_hops(db)


def _read_view(db):
    return db.configuration_view(with_mu=False)


def _read_at_oxygen(db):
    from descriptors.query.configurations import long_table

    return long_table(db, oxygen=(1173.0, 0.21))


def _read_largest_barrier(db):  # an aggregate of a column is typed as the column
    from sqlalchemy import func, select

    from descriptors.store.tables import HopRow

    with db.engine.connect() as connection:
        return connection.execute(select(func.max(HopRow.barrier))).scalar()


def _read_a_band(db):
    from sqlalchemy import select

    from descriptors.store.tables import CalculationRow

    with db.engine.connect() as connection:
        neb = connection.execute(select(CalculationRow.id).where(CalculationRow.kind == "neb").order_by(CalculationRow.id)).scalars().first()
    return db.calculation(neb)


# (what, SQL on SQLite, SQL on PostgreSQL, the read that meets it, message)
ON_EVERY_ENGINE = [
    ("an infinity in a hop's number", "update hops set barrier = 9e999", "update hops set barrier = 'Infinity'", _read_hops, "holds inf"),
    ("NaN in a hop's number (an aggregate of it)", "update hops set barrier = 'NaN'", "update hops set barrier = 'NaN'", _read_largest_barrier, "holds"),
    ("a number beyond any lrox writes (the fast tuple read)", "update configuration_levels set barrier = 1e300",
     "update configuration_levels set barrier = 1e300", _read_view, "holds 1e+300"),
    ("a list where a chemical potential is stored", "update configuration_levels set e_vac_o_mu = '[1, 2]' where e_vac_o_mu is not null",
     "update configuration_levels set e_vac_o_mu = '[1, 2]' where e_vac_o_mu is not null", _read_at_oxygen, "the value is not an object"),
    ("a number beyond any lrox writes read by a JSON path (--oxygen's Δμ_O)",
     "update configuration_levels set e_vac_o_mu = json_set(e_vac_o_mu, '$.delta', 1e300) where e_vac_o_mu is not null",
     "update configuration_levels set e_vac_o_mu = '{\"delta\": 1e300}' where e_vac_o_mu is not null", _read_at_oxygen, "a JSON number column holds"),
    ("an exponent no float holds in a band", "update calculations set data = '{\"energies\": [1e999, 0, 0]}' where kind = 'neb'",
     "update calculations set data = '{\"energies\": [1e999, 0, 0]}' where kind = 'neb'", _read_a_band, "not finite"),
]


@pytest.mark.parametrize(("what", "sqlite_sql", "postgres_sql", "read", "message"), ON_EVERY_ENGINE, ids=[case[0] for case in ON_EVERY_ENGINE])
def test_a_damaged_value_is_refused_on_every_engine_by_every_way_of_reading_it(db_url, what, sqlite_sql, postgres_sql, read, message):
    from sqlalchemy import text

    from descriptors.store.database import DescriptorDatabase

    _example_in(db_url)
    writer = DescriptorDatabase(db_url)
    assert read(DescriptorDatabase(db_url, read_only=True)) is not None  # undamaged: read as written
    with writer.engine.begin() as connection:
        connection.execute(text(sqlite_sql if db_url.startswith("sqlite") else postgres_sql))
    writer.engine.dispose()
    reader = DescriptorDatabase(db_url, read_only=True)
    with pytest.raises(LroxInputError, match="the database is damaged") as raised:
        read(reader)
    assert message in str(raised.value)
    reader.engine.dispose()


# what lrox writes is what its door reads back: a result whose documents would be stored as damage is refused
# before anything is written, or stored with only what can be read back
def _first_neb(result: dict) -> dict:
    return next(d for d in result["documents"] if d["kind"] == "neb" and d.get("energies"))


@pytest.mark.parametrize(("change", "message"), [
    (lambda result: result["configurations"][0].update(charge_change="two"), "charge_change is not a number"),
    (lambda result: result["configurations"][0]["defects"].append({"kind": 4}), "defects[0].kind is not a text"),
    (lambda result: _first_neb(result).update(hop=["a", "b"]), "a document's hop is not an object"),
    (lambda result: _first_neb(result)["provenance"].update(settings=[1, 2]), "its settings or code versions) is not a mapping"),
])
def test_a_result_whose_documents_would_be_stored_as_damage_is_refused_before_it_is_stored(tmp_path, screen, change, message):
    result = json.loads(screen["results"].read_text())
    change(result)
    (tmp_path / "results.json").write_text(json.dumps(result))
    before = file_set(tmp_path)
    refused(lrox(tmp_path, "ingest", "results.json", "--db", f"sqlite:///{tmp_path / 'new.db'}"), message)
    assert file_set(tmp_path) == before


def test_a_failed_band_and_a_wall_time_that_are_not_numbers_are_stored_so_that_they_read_back(tmp_path, screen):
    """A document's text energies fail it (the number door) and are not kept; a wall time that is no
    number of seconds is stored as unknown; the reason, whatever it was, as text: every later read of
    the database (lrox plot neb of that band, a merge, an upgrade) meets what the door reads."""
    from descriptors.store.database import DescriptorDatabase
    from descriptors.store.tables import CalculationRow

    result = json.loads(screen["results"].read_text())
    neb = _first_neb(result)
    neb.update(energies=["x", *neb["energies"][1:]], wall_time="ten minutes")
    relax = next(d for d in result["documents"] if d["kind"] == "relax")
    relax.update(status="failed", reason=12)
    (tmp_path / "results.json").write_text(json.dumps(result))
    outcome = lrox(tmp_path, "ingest", "results.json", "--db", f"sqlite:///{tmp_path / 'new.db'}")
    within_bounds(outcome)
    assert outcome.code == 0, outcome.err
    stored = [c for c in DescriptorDatabase(f"sqlite:///{tmp_path / 'new.db'}", read_only=True).rows(CalculationRow)
              if c["kind"] == "neb" and c["hop_id"] == neb["hop_id"] and c["status"] == "failed"]
    assert len(stored) == 1 and "is not a number" in stored[0]["error"]
    assert stored[0]["wall_time"] is None and stored[0]["data"].get("energies") is None
    refused(lrox(tmp_path, "plot", "neb", stored[0]["id"][:12], "p.png", "--db", f"sqlite:///{tmp_path / 'new.db'}"), "has no NEB energy profile")
    from descriptors.store.tables import DescriptorRow

    failed_relax = [c for c in DescriptorDatabase(f"sqlite:///{tmp_path / 'new.db'}", read_only=True).rows(CalculationRow) if c["error"] == "12"]
    flags = [d["flags"] for d in DescriptorDatabase(f"sqlite:///{tmp_path / 'new.db'}", read_only=True).rows(DescriptorRow)
             if d["calculation_id"] == failed_relax[0]["id"]]
    assert len(failed_relax) == 1 and flags and all(f == ["12"] for f in flags)


# -- tools: a file a configuration names goes through the file door ----------------------------------------------
@pytest.mark.parametrize(("name", "text", "command", "message"), [
    ("lp.yaml", "host: 127.0.0.1\nport: 1\nname: fw\nmongoclient_kwargs: {tls: true, tlsCAFile: ca.pem}\n",
     ["status", "--engine", "fireworks", "--launchpad", "lp.yaml"], "tlsCAFile 'ca.pem' is a FIFO"),
    ("lp.yaml", "host: 'mongodb://127.0.0.1:1/fw?tlscafile=ca.pem'\nuri_mode: true\nname: fw\n",
     ["status", "--engine", "fireworks", "--launchpad", "lp.yaml"], "is a FIFO"),
    ("js.yaml", "docs_store: {type: MongoURIStore, uri: 'mongodb://127.0.0.1:1/x?tls=true&tlsCAFile=ca.pem', collection_name: c, database: d}\n",
     ["ingest", "--job-store", "js.yaml"], "tlsCAFile 'ca.pem' is a FIFO"),
    ("js.yaml", "docs_store: {type: MongoURIStore, uri: 'mongodb://127.0.0.1:1/x?authMechanismProperties=ENVIRONMENT:azure', collection_name: c, database: d}\n",
     ["ingest", "--job-store", "js.yaml"], "URI option authMechanismProperties"),
])
def test_a_file_a_tool_configuration_names_is_judged_by_the_file_door(tmp_path, name, text, command, message):
    import os

    os.mkfifo(tmp_path / "ca.pem")  # pymongo opened it and waited forever
    (tmp_path / name).write_text(text)
    before = file_set(tmp_path)
    extra = ["--db", f"sqlite:///{tmp_path / 'new.db'}"] if command[0] == "ingest" else []
    refused(lrox(tmp_path, *command, *extra), message)
    assert file_set(tmp_path) == before



# -- structures: a host no cell can hold is refused before its symmetry is analysed ------------------------------
_PSEUDO_PERIODIC = "x\n1.0\n60 0 0\n0 60 0\n0 0 60\nLi\n5000\nDirect\n" + "".join(
    f"{(i % 17) / 17:.4f} {((i // 17) % 17) / 17:.4f} {(i // 289) / 18:.4f}\n" for i in range(5000))  # spglib ran for minutes


@pytest.mark.parametrize("command", [["enumerate", "big.vasp"], ["hops", "big.vasp"], ["run", "s.yaml", "--dry-run", "dry"]])
def test_a_host_larger_than_any_allowed_cell_is_refused_before_symmetry_analysis(tmp_path, command):
    from tests.conftest import MOCK_SPEC

    (tmp_path / "big.vasp").write_text(_PSEUDO_PERIODIC)
    (tmp_path / "s.yaml").write_text(Path(MOCK_SPEC).read_text().replace("host: li2mno3", "host: big.vasp"))
    before = file_set(tmp_path)
    refused(lrox(tmp_path, *command), "5000 atoms, more than the largest cell allowed (250")
    assert file_set(tmp_path) == before



# -- lrox check: every --gpaw setting of its kind; a database that is not there is not made -----------------------
@pytest.mark.parametrize(("gpaw", "message"), [
    ("{max_atoms: 1e300}", "max_atoms '1e300' is not a whole number"),  # YAML 1.1 reads 1e300 as text: a TypeError before
    ("{ecut: '400'}", "ecut '400' is not a finite number"),
    ("{hubbard_u: {Mn: .nan}}", "hubbard_u {'Mn': nan} is not a mapping of elements to U values"),
    ("{n_images: 1000000000}", "n_images 1000000000 is not a whole number from 0 to"),
    ("{spin_polarized: 'no'}", "spin_polarized 'no' is not true or false"),
])
def test_gpaw_settings_of_the_wrong_kind_are_one_error(tmp_path, db_copy, gpaw, message):
    from workflows.gpaw_calculators import GpawDftSettings

    from structures.doors.data import load_yaml

    with pytest.raises(LroxInputError, match=message.replace("(", r"\(").replace("{", r"\{")):
        GpawDftSettings.from_any(load_yaml(gpaw, "--gpaw"))
    before = file_set(db_copy.parent)
    outcome = lrox(tmp_path, "check", f"sqlite:///{db_copy}", "--hops", "1", "--gpaw", gpaw)
    within_bounds(outcome)
    assert outcome.code == 2 and len(outcome.lines) == 1 and outcome.lines[0].startswith("lrox: error: "), outcome.err[-2000:]
    assert file_set(db_copy.parent) == before and not (tmp_path / "lrox-out").exists()


def test_check_on_a_database_that_does_not_exist_creates_none(tmp_path):
    before = file_set(tmp_path)
    refused(lrox(tmp_path, "check", f"sqlite:///{tmp_path / 'none.db'}", "--hops", "1"), "no database at")
    assert file_set(tmp_path) == before



# -- outputs: a folder lrox creates has a name without control characters, as a file has ------------------------
@pytest.mark.parametrize(("args", "option"), [
    (["enumerate", "li2mno3", "--write-dir", "a\nb"], "--write-dir"),
    (["run", "{spec}", "--dry-run", "d\x1b[2Jx"], "--dry-run"),
    (["check", "sqlite:///x.db", "--hops", "1", "--output", "o\u202eut"], "--output"),
    (["run", "s.yaml", "--db", "sqlite:///{folder}/n.db"], "spec 'output'"),
])
def test_a_folder_lrox_creates_has_no_control_character_in_its_name(tmp_path, args, option):
    from tests.conftest import MOCK_SPEC

    (tmp_path / "s.yaml").write_text(Path(MOCK_SPEC).read_text() + 'output: "o\\e[2Jx"\n')
    before = file_set(tmp_path)
    outcome = lrox(tmp_path, *[a.format(spec=MOCK_SPEC, folder=tmp_path) for a in args])
    refused(outcome, f"{option}: the name")
    assert "holds a control character" in outcome.lines[0] and file_set(tmp_path) == before



# -- tools: every MongoDB store a file describes is reached within lrox's timeout, whatever the file asks ----------
@pytest.mark.parametrize("store", [
    "{type: MongoURIStore, uri: 'mongodb://u:hunter2@127.0.0.1:1/x', collection_name: c, database: d}",  # pymongo's 30 s before
    "{type: MongoURIStore, uri: 'mongodb://127.0.0.1:1/x?serverSelectionTimeoutMS=900000', collection_name: c, database: d}",
    "{type: GridFSStore, database: d, collection_name: c, host: 127.0.0.1, port: 1, mongoclient_kwargs: {serverSelectionTimeoutMS: 900000}}",
])
def test_a_job_store_is_reached_within_lrox_s_timeout_whatever_the_file_asks(tmp_path, store):
    (tmp_path / "js.yaml").write_text(f"docs_store: {store}\n")
    before = file_set(tmp_path)
    outcome = lrox(tmp_path, "ingest", "--job-store", "js.yaml", "--db", f"sqlite:///{tmp_path / 'new.db'}")
    refused(outcome, "Timeout: 5.0s")
    assert "hunter2" not in outcome.err and file_set(tmp_path) == before


from tests.test_doors import screen  # noqa: E402,F401 - the module's fixture

