"""The ``lrox`` command line: the contract forms, JSON output, written files, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pymatgen.core import Structure

from launch.cli import main


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_enumerate_table(capsys):
    code, out, err = run(capsys, "enumerate", "li2mno3", "--supercell", "2x1x2", "--dopant", "Al:tm", "--vacancy", "O")
    assert code == 0 and err == ""
    assert "supercell 2x1x2, 96 atoms" in out
    assert "Al on Mn(4g, TM layer)" in out and "V_O(4i)" in out and "V_O(8j)" in out


def test_enumerate_json_has_every_field(capsys):
    code, out, _ = run(
        capsys, "enumerate", "li2mno3", "--supercell", "2x1x2", "--dopant", "Al:tm", "--vacancy", "O", "--pair-cutoff", "4", "--json"
    )
    assert code == 0
    data = json.loads(out)
    configs = data["configurations"]
    assert data["supercell"] == "2x1x2" and data["n_atoms"] == 96
    expected = {"id", "name", "defects", "multiplicity", "formula", "n_atoms", "pair_distance", "charge_change", "compensation", "needs_compensation", "parent_ids", "defect_ids"}
    assert all(expected <= set(c) for c in configs)
    pairs = [c for c in configs if c["pair_distance"] is not None]
    assert pairs and all(0 < c["pair_distance"] <= 4.0 for c in pairs)
    assert all(d["site"] for c in configs for d in c["defects"])


def test_pairs_longer_than_half_the_image_distance_are_flagged(capsys):
    code, out, _ = run(capsys, "enumerate", "li2mno3", "--supercell", "1x1x1", "--dopant", "Al:tm", "--vacancy", "O", "--pair-cutoff", "4", "--json")
    assert code == 0
    assert "periodic images" in json.loads(out)["notes"][0]
    code, out, _ = run(capsys, "enumerate", "li2mno3", "--supercell", "2x1x2", "--dopant", "Al:tm", "--vacancy", "O", "--pair-cutoff", "4", "--json")
    assert json.loads(out)["notes"] == []


def test_min_image_distance_chooses_the_supercell(capsys):
    code, out, _ = run(capsys, "enumerate", "licoo2", "--min-image-distance", "8", "--vacancy", "Li", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["min_image_distance"] >= 8.0 and data["n_atoms"] == 108


def test_write_dir_then_hops_of_a_configuration(capsys, tmp_path):
    code, out, _ = run(capsys, "enumerate", "li2mno3", "--supercell", "2x1x2", "--vacancy", "Li:li-layer", "--write-dir", str(tmp_path))
    assert code == 0
    folders = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    assert len(folders) == 3  # pristine, V_Li(2c), V_Li(4h)
    for folder in folders:
        s = Structure.from_file(folder / "POSCAR")
        assert len(s) in (95, 96)
    vacancy = next(f for f in folders if len(Structure.from_file(f / "POSCAR")) == 95)
    code, out, _ = run(capsys, "hops", str(vacancy / "configuration.json"), "--near-defect", "3", "--json")
    assert code == 0
    hops = json.loads(out)["hops"]
    assert hops and {h["mechanism"] for h in hops} == {"ODH", "TSH"}
    assert all(h["distance_to_defect"] <= 3 for h in hops)


def test_hops_of_a_host_and_of_a_structure_file(capsys, tmp_path):
    code, out, _ = run(capsys, "hops", "licoo2")
    assert code == 0 and "1 symmetry-distinct Li hops" in out and "1-TM" in out
    path = tmp_path / "LiCoO2.cif"
    from structures.hosts import load_host

    load_host("licoo2").structure.to(filename=str(path))
    code, out, _ = run(capsys, "hops", str(path), "--json")
    assert code == 0
    hops = json.loads(out)["hops"]
    assert len(hops) == 1 and hops[0]["n_tm"] == 1 and hops[0]["layers"] == "Li layer"


BAD_INPUTS = [
    (["enumerate", "nosuchhost"], "unknown host 'nosuchhost'"),
    (["enumerate", "/no/such/file.cif"], "unknown host '/no/such/file.cif'"),
    (["enumerate", "li2mno3", "--dopant", "Qq:tm"], "unknown element 'Qq'"),
    (["enumerate", "li2mno3", "--dopant", "Al"], "expected ELEMENT:SUBLATTICE"),
    (["enumerate", "licoo2", "--dopant", "Al:tm-layer-li"], "no 'tm-layer-li' sublattice"),
    (["enumerate", "li2mno3", "--vacancy", "Zz"], "unknown element 'Zz'"),
    (["enumerate", "li2mno3", "--vacancy", "Co"], "no Co to remove"),
    (["enumerate", "li2mno3", "--supercell", "1x1x1", "--min-image-distance", "8"], "below the requested 8.00"),
    (["enumerate", "li2mno3", "--supercell", "2by2"], "bad supercell '2by2'"),
    (["enumerate", "li2mno3", "--dopant", "Al:tm", "--pair-cutoff", "-1"], "--pair-cutoff must be positive"),
    (["enumerate", "li2mno3", "--pairs", "dopant-triplet", "--pair-cutoff", "3"], "unknown pair kind"),
    (["enumerate", "li2mno3", "--min-image-distance", "40"], "no supercell of at most 250 atoms"),
    (["enumerate", "li2mno3", "--min-image-distance", "abc"], "'abc' is not a valid float"),
    (["hops", "li2mno3", "--cutoff", "-2"], "--cutoff must be positive"),
    (["hops", "li2mno3", "--near-defect", "-1"], "--near-defect must not be negative"),
    (["hops", "nothing.json"], "no such configuration file"),
    (["frobnicate"], "No such command 'frobnicate'"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUTS)
def test_bad_input_is_one_line_and_exit_2(capsys, args, message):
    code, out, err = run(capsys, *args)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lrox: error: ")
    assert message in lines[0]


def test_unreadable_file_and_garbled_configuration(capsys, tmp_path):
    bad = tmp_path / "bad.cif"
    bad.write_text("data_nothing\n_cell_length_a oops\n")
    code, _, err = run(capsys, "enumerate", str(bad))
    assert code == 2 and "cannot read structure file" in err and len(err.strip().splitlines()) == 1
    garbled = tmp_path / "configuration.json"
    garbled.write_text("{not json")
    code, _, err = run(capsys, "hops", str(garbled))
    assert code == 2 and "is not an lrox configuration file" in err


LROX = Path(sys.executable).parent / "lrox"


@pytest.mark.skipif(not LROX.exists(), reason="console script not installed")
@pytest.mark.parametrize(
    ("content", "args", "expected"),
    [
        (None, ["enumerate", "li2mno3", "--dopant", "Xx:tm"], "lrox: error: unknown element 'Xx' in --dopant Xx:tm"),
        ("data_x\n_cell_length_a oops\n", ["enumerate", "{file}"], "lrox: error: cannot read structure file"),
    ],
)
def test_installed_console_script_prints_one_line_and_no_warnings(tmp_path, content, args, expected):
    path = tmp_path / "broken.cif"
    if content is not None:
        path.write_text(content)
    done = subprocess.run([str(LROX), *(a.format(file=path) for a in args)], capture_output=True, text=True)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith(expected)
    assert done.stdout == ""


def test_run_mock_screen_and_dry_run(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "screen.yaml"
    spec.write_text("name: s\nhost: li2mno3\nsupercell: 1x1x1\nvacancies: [O]\nhops: {per_configuration: 1}\nbackend: mock\n")
    code, out, err = run(capsys, "run", str(spec), "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["level_of_theory"].startswith("mock")
    assert "[1/" in err and "done" in err  # progress goes to stderr with --json
    vacancies = [r for r in summary["configurations"] if r["name"].startswith("V_O(")]
    assert len(vacancies) == 2 and all("vacancy_formation_energy" in r for r in vacancies)
    assert (tmp_path / "lrox-out" / "s" / "results.json").exists()
    code, out, _ = run(capsys, "run", str(spec), "--backend", "vasp", "--dry-run", str(tmp_path / "dry"))
    assert code == 0 and "core-hours" in out
    assert len(list((tmp_path / "dry").glob("*/static/INCAR"))) == 3
    # the same folder again: refused, nothing overwritten
    code, _, err = run(capsys, "run", str(spec), "--backend", "vasp", "--dry-run", str(tmp_path / "dry"))
    assert code == 2 and "not empty" in err


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        ("name: s\nhost: li2mno3\nbogus: 1\n", [], "unknown key 'bogus'"),
        ("name: s\nhost: li2mno3\nbackend: abinit\n", [], "unknown value 'abinit'"),
        ("name: s\nhost: li2mno3\nmlip: {model: mace}\n", [], "unknown ML model 'mace'"),
        ("name: s\nhost: missing.cif\n", [], "neither a built-in host nor an existing file"),
        ("name: s\nhost: [unclosed\n", [], "not valid YAML"),
        ("name: s\nhost: li2mno3\n", ["--backend", "cp2k"], "Invalid value for '--backend'"),
        ("name: s\nhost: li2mno3\nbackend: vasp\n", [], "runs on a cluster"),
    ],
)
def test_bad_specs_are_one_line_errors(capsys, tmp_path, content, extra, message):
    spec = tmp_path / "bad.yaml"
    spec.write_text(content)
    code, out, err = run(capsys, "run", str(spec), *extra)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err
    assert not (tmp_path / "lrox-out").exists()


# ----- run → database → ingest / query / export / plot ------------------------------------------
@pytest.fixture(scope="module")
def mock_run(tmp_path_factory):
    """The mock example run once through 'lrox run --db', in its own folder."""
    from tests.conftest import run_mock_screen

    folder = tmp_path_factory.mktemp("mockrun")
    return folder, run_mock_screen(folder)


def test_run_writes_descriptors_and_ingest_again_changes_nothing(capsys, mock_run):
    folder, db = mock_run
    code, out, _ = run(capsys, "query", "--db", db, "--json")
    first = json.loads(out)
    assert code == 0 and len(first) == 4 and all(r["e_vac_o"] is not None or "V_O" not in r["name"] for r in first)
    code, out, err = run(capsys, "ingest", str(folder / "lrox-out" / "mock_quick"), "--db", db)
    assert code == 0 and "ingested 4 configurations" in out and err == ""
    assert json.loads(run(capsys, "query", "--db", db, "--json")[1]) == first


def test_query_where_sort_csv(capsys, mock_run):
    _, db = mock_run
    code, out, _ = run(capsys, "query", "--db", db, "--where", "defect = vacancy", "--sort", "-e_vac_o", "--csv")
    lines = out.strip().splitlines()
    assert code == 0 and lines[0].startswith("id,host,name") and len(lines) == 3
    code, out, _ = run(capsys, "query", "--db", db)
    assert code == 0 and "4 rows" in out and "V_O(4i)" in out


def test_export_refuses_to_overwrite(capsys, mock_run, tmp_path):
    _, db = mock_run
    out_file = tmp_path / "d.parquet"
    assert run(capsys, "export", "--format", "parquet", str(out_file), "--db", db)[0] == 0
    code, _, err = run(capsys, "export", "--format", "parquet", str(out_file), "--db", db)
    assert code == 2 and "exists" in err and err.count("\n") == 1


def test_plots_are_png_files(capsys, mock_run, tmp_path):
    _, db = mock_run
    rows = json.loads(run(capsys, "query", "--db", db, "--json")[1])
    from descriptors.store.database import DescriptorDatabase
    from descriptors.store.tables import CalculationRow

    neb = next(c for c in DescriptorDatabase(db).rows(CalculationRow) if c["kind"] == "neb")
    for args in (["plot", "neb", neb["id"][:10]], ["plot", "neb", neb["hop_id"]], ["plot", "scatter", "li_slab_spacing", "barrier"]):
        out_file = tmp_path / f"{len(args)}-{args[1]}-{args[2][:4]}.png"
        code, _, err = run(capsys, *args, str(out_file), "--db", db)
        assert code == 0, err
        assert out_file.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out_file.stat().st_size > 10_000
    assert rows


@pytest.mark.parametrize(
    "args, message",
    [
        (["query", "--where", "barrier <"], "query: expression ends too early"),
        (["query", "--where", "colour = 1"], "unknown field 'colour'"),
        (["query", "--sort", "colour"], "unknown sort field"),
        (["query", "--db", "mysql://u:pw@h/d"], "only sqlite and postgresql"),
        (["plot", "neb", "nosuchid", "x.png"], "no calculation with id"),
        (["plot", "scatter", "barrier", "nosuchfield", "x.png"], "unknown field 'nosuchfield'"),
        (["ingest", "/no/such/path"], "does not exist"),
        (["export", "--format", "xlsx", "x.xlsx"], "Invalid value for '--format'"),
    ],
)
def test_database_commands_bad_input_one_line(capsys, mock_run, tmp_path, args, message):
    _, db = mock_run
    from descriptors.store.database import DescriptorDatabase

    before = DescriptorDatabase(db).snapshot()
    if "--db" not in args:
        args = [*args, "--db", db]
    import os

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        code, out, err = run(capsys, *args)
    finally:
        os.chdir(cwd)
    assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert DescriptorDatabase(db).snapshot() == before


@pytest.mark.parametrize(
    ("content", "db", "message"),
    [
        ("name: s\nhost: li2mno3\nbogus: 1\n", None, "unknown key 'bogus'"),
        ("name: s\nhost: li2mno3\nsupercell: 1x1x1\nbackend: mock\n", "postgresql://lrox:hunter2@127.0.0.1:1/none", "cannot open the database"),
        ("name: s\nhost: li2mno3\nsupercell: 1x1x1\nbackend: mock\n", "oracle://u@h/d", "only sqlite and postgresql"),
        ("name: s\nhost: li2mno3\nsupercell: 1x1x1\nbackend: mock\nmlip: {neb_optimizer: gpmin}\n", None, "unknown neb_optimizer 'gpmin'"),
    ],
)
def test_bad_run_changes_no_database_and_shows_no_password(capsys, mock_run, tmp_path, monkeypatch, content, db, message):
    from descriptors.store.database import DescriptorDatabase

    _, good_db = mock_run
    before = DescriptorDatabase(good_db).snapshot()
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "bad.yaml"
    spec.write_text(content)
    code, out, err = run(capsys, "run", str(spec), "--db", db or good_db)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert "hunter2" not in out + err
    assert not (tmp_path / "lrox-out").exists()  # no job ran, no results written
    assert DescriptorDatabase(good_db).snapshot() == before


def test_the_console_script_ends_a_read_command_with_its_whole_output_and_status(tmp_path):
    """``lrox`` (the console script) leaves a read command without the interpreter's teardown: the
    output is whole and the status is the command's."""
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "li2mno3_design_rules.db"
    console = [sys.executable, "-c", "from launch.cli import console; console()"]
    read = subprocess.run([*console, "query", "hops", "--db", f"sqlite:///{example}"], capture_output=True, text=True, timeout=120)
    assert read.returncode == 0 and read.stdout.rstrip().splitlines()[-1].startswith("33 rows")
    refused = subprocess.run([*console, "query", "--db", f"sqlite:///{example}", "--where", "barrier <"], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and refused.stderr.count("lrox: error:") == 1 and refused.stdout == ""
    missing = subprocess.run([*console, "query", "levels", "--db", f"sqlite:///{tmp_path / 'none.db'}"], capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and not (tmp_path / "none.db").exists()  # a database that is not there is never created
