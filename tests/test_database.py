"""The descriptor database on SQLite and PostgreSQL: ingest, idempotency, failures, provenance, query, export, plots."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jobflow import JobStore, run_locally

from descriptors.store.database import DescriptorDatabase, safe_url
from descriptors.ingest import IngestBatch, result_rows, write_batch
from descriptors.ingest import ingest
from descriptors.query.configurations import FIELDS, query
from descriptors.query.export import export
from descriptors.query.language import QueryError, parse_filter
from structures.errors import LroxInputError
from tests.conftest import SHARED
from workflows.flows import ScreenMaker
from workflows.jobs import as_dict
from workflows.jobs import local_job_store
from workflows.spec import spec_from_dict

BASE = {"name": "dbtest", "host": "li2mno3", "supercell": "1x1x1", "dopants": ["Ti:tm"], "vacancies": ["O"], "hops": {"per_configuration": 1}, "backend": "mock"}


def _run(spec_dict) -> dict:
    """Run a mock screen; its result as the JSON a results.json holds."""
    from monty.json import MontyEncoder

    flow = ScreenMaker().make(spec_from_dict(spec_dict))
    responses = run_locally(flow, store=local_job_store(), log=False)
    return json.loads(json.dumps(as_dict(next(iter(responses[flow.output.uuid].values())).output), cls=MontyEncoder))


@pytest.fixture(scope="module")
def mock_result():
    return _run(BASE)


@pytest.fixture(scope="module")
def failing_result():
    return _run({**BASE, "name": "dbfail", "mock": {"fail": ["V_O(8j)"]}})


@pytest.fixture
def results_file(tmp_path, mock_result):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(mock_result))
    return path


def test_ingest_twice_changes_nothing(db_url, results_file):
    db = DescriptorDatabase(db_url)
    _, first = ingest(results_file, db)
    before = db.snapshot()
    _, second = ingest(results_file, db)
    assert first == second
    assert db.snapshot() == before
    assert db.counts() == {"configurations": 4, "calculations": first["calculations"], "descriptors": first["descriptors"]}


def test_every_descriptor_keeps_its_provenance(db_url, mock_result):
    from descriptors.store.tables import CalculationRow, DescriptorRow

    db = DescriptorDatabase(db_url)
    write_batch(IngestBatch(*result_rows(mock_result)), db)
    calcs = {c["id"]: c for c in db.rows(CalculationRow)}
    for row in db.rows(DescriptorRow):
        calc = calcs[row["calculation_id"]]
        assert row["level_of_theory"] == calc["level_of_theory"] == mock_result["level_of_theory"]
        assert row["backend"] == "mock" and row["settings_hash"] == calc["settings_hash"]
        assert calc["code_versions"]["lrox"] and calc["settings"]
    # the mock backend has no electrons: band centres are stored as unavailable, never as numbers
    o2p = [r for r in db.rows(DescriptorRow) if r["name"] == "o2p_center"]
    assert o2p and all(r["status"] == "unavailable" and r["value"] is None for r in o2p)


def test_failed_calculation_is_stored_as_failed_never_as_a_number(db_url, failing_result):
    from descriptors.store.tables import CalculationRow, DescriptorRow

    db = DescriptorDatabase(db_url)
    write_batch(IngestBatch(*result_rows(failing_result)), db)
    failed = [c for c in db.rows(CalculationRow) if c["status"] == "failed"]
    assert failed and all("forced to fail" in c["error"] or "relaxation failed" in c["error"] for c in failed)
    config = next(r for r in query(db) if r["name"] == "V_O(8j)")
    assert config["e_vac_o"] is None and config["barrier"] is None and config["n_failed"] == len(failed)
    evac = next(r for r in db.rows(DescriptorRow) if r["configuration_id"] == config["id"] and r["name"] == "e_vac_o")
    assert evac["status"] == "failed" and evac["value"] is None and evac["flags"]
    # the rest of the screen is there
    assert next(r for r in query(db) if r["name"] == "V_O(4i)")["e_vac_o"] is not None


def test_a_failing_write_rolls_back_and_keeps_what_was_stored(db_url, mock_result):
    db = DescriptorDatabase(db_url)
    configs, calcs, rows = result_rows(mock_result)
    write_batch(IngestBatch(configs, calcs, rows), db)
    before = db.snapshot()
    orphan = dict(rows[0], configuration_id="no-such-configuration", name="barrier", subject="x")
    with pytest.raises(LroxInputError, match="rolled back"):
        db.write([], calcs[:1], [orphan])
    assert db.snapshot() == before


def test_query_filters_sorts_and_names_fields(db_url, mock_result):
    db = DescriptorDatabase(db_url)
    write_batch(IngestBatch(*result_rows(mock_result)), db)
    rows = query(db)
    assert len(rows) == 4 and set(rows.columns) <= set(FIELDS) and {"barrier", "e_kra_min", "e_vac_o", "li_slab_spacing"} <= set(rows.columns)
    assert rows.aliases == ["mock"]  # one level: plain field names
    vacancies = query(db, "defect = vacancy and e_vac_o is not null")
    assert {r["site"] for r in vacancies} == {"O(4i)", "O(8j)"}
    assert [r["dopant"] for r in query(db, "dopant in (Ti, Al)")] == ["Ti"]
    assert len(query(db, "dopant = Ti or defect = pristine")) == 2
    assert len(query(db, "not (defect = vacancy)")) == 2
    by_barrier = query(db, sort="-barrier")
    values = [r["barrier"] for r in by_barrier if r["barrier"] is not None]
    assert values == sorted(values, reverse=True)
    assert all(r["barrier"] > 0.01 for r in query(db, "barrier > 0.01"))


@pytest.mark.parametrize(
    "text, message",
    [
        ("barrier <", "ends too early"),
        ("colour = red", "unknown field"),
        ("barrier << 1", "expected a value"),
        ("host = li2mno3 and", "ends too early"),
        ("(barrier < 1", "ends too early"),
        ("(barrier < 1 host", "expected ')'"),
        ("__import__('os').system('true')", "unexpected character"),
        ("__import__ = 1", "unknown field"),
        ("barrier < 1; drop table descriptors", "unexpected character"),
        ("", "empty expression"),
        ("host li2mno3", "expected a comparison"),
    ],
)
def test_bad_query_is_a_one_line_error(text, message):
    import re

    with pytest.raises(QueryError, match=re.escape(message)) as info:
        parse_filter(text, FIELDS)
    assert "\n" not in str(info.value)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_query_text_parses_or_fails_cleanly(text):
    try:
        tree = parse_filter(text, FIELDS)
    except QueryError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(tree, tuple)


def test_dataframe_export_and_overwrite_protection(tmp_path, results_file):
    import pandas as pd

    from descriptors.query.configurations import to_dataframe

    url = f"sqlite:///{tmp_path / 'x.db'}"
    ingest(results_file, DescriptorDatabase(url))
    frame = to_dataframe(url, "defect = vacancy")
    assert list(frame.columns) == query(DescriptorDatabase(url)).columns and len(frame) == 2
    db = DescriptorDatabase(url)
    for fmt in ("csv", "json", "parquet"):
        out = tmp_path / f"out.{fmt}"
        assert export(db, out, fmt) == 4
        with pytest.raises(LroxInputError, match="exists"):
            export(db, out, fmt)
        assert export(db, out, fmt, overwrite=True) == 4
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == 4
    assert len(pd.read_csv(tmp_path / "out.csv")) == 4


def test_passwords_never_appear_in_messages():
    url = "postgresql+psycopg://lrox:s3cret-pw@127.0.0.1:1/none"
    assert "s3cret-pw" not in safe_url(url)
    with pytest.raises(LroxInputError) as info:
        DescriptorDatabase(url)
    assert "s3cret-pw" not in str(info.value) and "***" in str(info.value)


@pytest.mark.parametrize(
    "url, message",
    [("mysql://x@y/z", "only sqlite and postgresql"), ("not a url", "not a valid"), ("sqlite:////no/such/folder/x.db", "does not exist")],
)
def test_bad_database_urls(url, message):
    with pytest.raises(LroxInputError, match=message):
        DescriptorDatabase(url)


def test_concurrent_ingests_lose_and_duplicate_nothing(db_url, tmp_path, mock_result, failing_result):
    import subprocess
    import sys

    a, b = tmp_path / "a" / "results.json", tmp_path / "b" / "results.json"
    a.parent.mkdir()
    b.parent.mkdir()
    a.write_text(json.dumps(mock_result))
    b.write_text(json.dumps(failing_result))
    DescriptorDatabase(db_url)  # schema first, as 'lrox ingest' would
    code = "import sys; from descriptors.store.database import DescriptorDatabase; from descriptors.ingest import ingest; ingest(sys.argv[1], DescriptorDatabase(sys.argv[2]))"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(p), db_url], stderr=subprocess.PIPE, text=True) for p in (a, b, a, b)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    reference = DescriptorDatabase(f"sqlite:///{tmp_path / 'serial.db'}")
    ingest(a, reference)
    ingest(b, reference)
    assert DescriptorDatabase(db_url).counts() == reference.counts()


@pytest.mark.skipif(not (SHARED / "vasp-reference").exists(), reason="shared VASP reference pack not present")
def test_vasp_run_folders_ingest_with_damaged_files_named(tmp_path, db_url):
    import gzip
    import shutil

    ref = SHARED / "vasp-reference"
    good = tmp_path / "runs" / "lifeo2"
    good.mkdir(parents=True)
    shutil.copy(ref / "dos/pymatgen_LiFeO2_pbesol_relax_pdos/vasprun.pbesol.xml.gz", good / "vasprun.xml.gz")
    bader = tmp_path / "runs" / "h2o"
    shutil.copytree(ref / "bader/pyiron_H2O_bader", bader)
    truncated = tmp_path / "runs" / "truncated"
    truncated.mkdir()
    text = gzip.open(ref / "dos/pymatgen_LiFeO2_pbesol_relax_pdos/vasprun.pbesol.xml.gz", "rt").read()
    (truncated / "vasprun.xml").write_text(text[: len(text) // 3])
    cut = tmp_path / "runs" / "cut_outcar"
    cut.mkdir()
    outcar = gzip.open(ref / "relax/pymatgen_LiNi2O4_relax/OUTCAR.gz", "rt").read()
    (cut / "OUTCAR").write_text(outcar[: len(outcar) // 2])
    (cut / "CONTCAR").write_text("")
    garbled = tmp_path / "runs" / "garbled_acf"
    shutil.copytree(ref / "bader/pyiron_H2O_bader", garbled)
    (garbled / "ACF.dat").write_text((garbled / "ACF.dat").read_text().replace("7.143794", "7.14#794"))

    db = DescriptorDatabase(db_url)
    batch, counts = ingest(tmp_path / "runs", db)
    text = "\n".join(batch.problems)
    for name in ("truncated/vasprun.xml", "cut_outcar/OUTCAR", "cut_outcar/CONTCAR", "garbled_acf/ACF.dat"):
        assert name in text, name
    from descriptors.store.tables import CalculationRow, DescriptorRow

    calcs = db.rows(CalculationRow)
    assert {c["status"] for c in calcs if "truncated" in c["source"] or "cut_outcar" in c["source"]} == {"failed"}
    o2p = [d for d in db.rows(DescriptorRow) if d["name"] == "o2p_center_full" and d["status"] == "ok"]
    assert [round(d["value"], 10) for d in o2p] == [round(-0.1628712917309544, 10)]
    charges = next(c for c in calcs if c["kind"] == "bader" and c["source"].endswith("h2o"))
    assert charges["data"]["electrons"] == pytest.approx([0.438202, 0.438197, 7.143794])


def test_ingest_reads_a_jobflow_json_store(tmp_path, results_file):
    """The job store a cluster's workers write (here maggma's JSONStores: documents, and the "data"
    store that holds the images and DOS arrays) ingests like a local run."""
    from maggma.stores import JSONStore

    from descriptors.ingest import collect_from_job_store, collect_records, ingest_job_store

    store_file = tmp_path / "store.json"
    store = JobStore(JSONStore(str(store_file), read_only=False), additional_stores={"data": JSONStore(str(tmp_path / "blobs.json"), read_only=False)})
    flow = ScreenMaker().make(spec_from_dict({**BASE, "name": "fromstore"}))
    run_locally(flow, store=store, log=False)
    from_store = collect_from_job_store(store)
    from_results = collect_records(results_file)
    assert not from_store.problems
    assert {c["id"] for c in from_store.configurations} == {c["id"] for c in from_results.configurations}
    assert len(from_store.descriptors) == len(from_results.descriptors)
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert ingest_job_store(store, DescriptorDatabase(url))[1]["descriptors"] == len(from_store.descriptors)
    # the documents file alone holds references to the data store: refused with the way to read it, not half-ingested
    with pytest.raises(LroxInputError, match="additional store 'data'"):
        collect_records(store_file)


def test_dopant_effect_on_the_oxygen_vacancy_energy():
    """Ti–V_O pairs: E_f against the Ti-doped cell, and its change from the isolated vacancy on the same O site."""
    result = _run({**BASE, "name": "pairs", "pair_cutoff": 2.5, "pair_kinds": ["dopant-vacancy"], "hops": {"per_configuration": 0}})
    _, calcs, rows = result_rows(result)
    energy = {c["configuration_id"]: c["data"]["energy"] for c in calcs if c["kind"] == "relax"}
    names = {c["id"]: c for c in result["configurations"]}
    mu = next(c["data"]["energy_per_atom"] for c in calcs if c["kind"] == "reference")
    by = {(r["configuration_id"], r["name"]): r for r in rows}
    deltas = [r for r in rows if r["name"] == "delta_e_vac_o"]
    assert deltas
    for delta in deltas:
        pair = by[(delta["configuration_id"], "e_vac_o")]
        parent = pair["details"]["relative_to"]
        assert [d["kind"] for d in names[parent]["defects"]] == ["substitution"]
        assert pair["value"] == pytest.approx(energy[delta["configuration_id"]] - energy[parent] + mu)
        isolated = by[(delta["details"]["isolated_vacancy"], "e_vac_o")]  # the single V_O of the same O orbit, by id
        assert [d["kind"] for d in names[isolated["configuration_id"]]["defects"]] == ["vacancy"]
        assert delta["value"] == pytest.approx(pair["value"] - isolated["value"])


@pytest.mark.skipif(not (SHARED / "vasp-reference").exists(), reason="shared VASP reference pack not present")
def test_vasp_static_documents_read_their_run_folder(tmp_path, mock_result):
    """A VASP screen's static document carries its run folder; the band centres come from its vasprun.xml."""
    import copy
    import shutil

    result = copy.deepcopy(mock_result)
    folder = tmp_path / "launcher_static"
    folder.mkdir()
    shutil.copy(SHARED / "vasp-reference/dos/pymatgen_LiFeO2_pbesol_relax_pdos/vasprun.pbesol.xml.gz", folder / "vasprun.xml.gz")
    statics = [d for d in result["documents"] if d["kind"] == "static"]
    statics[0].update(status="success", reason=None, dir_name=f"node01:{folder}")
    statics[1].update(status="success", reason=None, dir_name=str(tmp_path / "gone"))
    rows = result_rows(result)[2]
    got = {(r["configuration_id"], r["name"]): r for r in rows}
    assert got[(statics[0]["configuration_id"], "o2p_center_full")]["value"] == pytest.approx(-0.1628712917309544, abs=1e-10)
    missing = got[(statics[1]["configuration_id"], "o2p_center")]
    assert missing["status"] == "failed" and missing["value"] is None and "no readable vasprun.xml" in missing["flags"][0]


def _unconverged_copy(tmp_path, name: str):
    """The LiFe4(PO4)4 vasprun with NELM lowered below the SCF steps its last ionic step took."""
    import gzip
    import re

    folder = tmp_path / name
    folder.mkdir()
    text = gzip.open(SHARED / "vasp-reference/dos/pymatgen_LiFe4P4O16_relax_pdos/vasprun.xml.gz", "rt").read()
    text, n = re.subn(r'(<i type="int" name="NELM">)\s*\d+(</i>)', r"\g<1>      2\g<2>", text)
    assert n >= 1
    (folder / "vasprun.xml").write_text(text)
    return folder


def test_an_unconverged_vasp_run_is_failed_never_a_clean_number(tmp_path, mock_result):
    import copy

    from pymatgen.io.vasp import Vasprun

    folder = _unconverged_copy(tmp_path, "static")
    assert not Vasprun(str(folder / "vasprun.xml"), parse_potcar_file=False).converged_electronic
    result = copy.deepcopy(mock_result)
    static = next(d for d in result["documents"] if d["kind"] == "static")
    static.update(status="success", reason=None, dir_name=str(folder))
    _, calcs, rows = result_rows(result)
    calc = next(c for c in calcs if c["kind"] == "static" and c["configuration_id"] == static["configuration_id"])
    assert calc["status"] == "failed" and "SCF not converged" in calc["error"]
    centres = [r for r in rows if r["configuration_id"] == static["configuration_id"] and r["name"].startswith("o2p")]
    assert centres and all(r["value"] is None and r["status"] == "failed" for r in centres)
    # the same folder given to 'lrox ingest' as a plain VASP run
    from descriptors.records.extractor import records_from_result
    from descriptors.records.readers.vasp import result_from_vasp_tree

    _, calcs, rows = records_from_result(result_from_vasp_tree(folder)[0])
    assert calcs[0]["status"] == "failed" and "SCF not converged" in calcs[0]["error"] and not rows
