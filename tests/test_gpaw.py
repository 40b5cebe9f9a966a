"""The GPAW static backend: a tiny real DFT static, its DOS and all-electron density read back by
the descriptor code, and the refusals that keep it from running for hours."""

from __future__ import annotations

import importlib.util
import os

import pytest

from structures import load_host
from workflows.gpaw_static import CellTooLarge, GpawSettings, gpaw_static, kpoint_mesh

needs_gpaw = pytest.mark.skipif(
    importlib.util.find_spec("gpaw") is None and not os.environ.get("LROX_REQUIRE_GPAW"),
    reason="GPAW not installed (make setup builds it)",
)

TINY = {"ecut": 300.0, "kspacing": 0.8, "dos_points": 1501, "magnetic_order": "nonmagnetic", "max_atoms": 8}


def licoo2_primitive():
    """LiCoO2 in its 4-atom rhombohedral cell: low-spin Co3+, non-magnetic, a gap in GGA+U."""
    return load_host("licoo2").structure.get_primitive_structure()


def test_kpoint_mesh_is_gamma_centred_and_dense_enough():
    assert kpoint_mesh([5.0, 8.5, 9.9], 0.6) == (3, 2, 2)
    assert kpoint_mesh([30.0, 30.0, 30.0], 0.6) == (1, 1, 1)


def test_a_cell_above_the_atom_limit_is_refused_before_any_work(tmp_path):
    big = load_host("li2mno3").structure * (2, 1, 1)
    with pytest.raises(CellTooLarge, match="48 atoms exceed the GPAW limit of 24"):
        gpaw_static(big, GpawSettings(max_atoms=24), tmp_path)
    assert not list(tmp_path.iterdir())  # nothing written, nothing run


@pytest.fixture(scope="module")
def tiny_static(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gpaw")
    return licoo2_primitive(), gpaw_static(licoo2_primitive(), TINY, folder)


@needs_gpaw
def test_tiny_static_density_holds_every_electron(tiny_static):
    structure, out = tiny_static
    z_total = sum(site.specie.Z for site in structure)  # all-electron density: 3 + 27 + 2·8 = 46
    assert z_total == 46
    assert out["n_electrons"] == pytest.approx(z_total, rel=2e-3)
    assert out["kpoint_mesh"] == [3, 3, 2]


@needs_gpaw
def test_tiny_static_o2p_band_centre_lies_below_the_valence_band_maximum(tiny_static):
    from descriptors.physics.electronic import electronic_descriptors

    _, out = tiny_static
    e = electronic_descriptors(out["dos"])
    assert 1.0 < e.gap < 4.0  # LiCoO2 is an insulator in GGA+U (about 2.3 eV with these settings)
    assert e.o2p.centre_vs_vbm < -1.0  # O 2p sits below the top of the valence band
    assert e.o2p.centre_vs_ef == pytest.approx(e.o2p.centre_vs_vbm - (out["efermi"] - e.vbm), abs=1e-9)
    assert e.tm_d is not None and e.tm_d.centre_vs_vbm > e.o2p.centre_vs_vbm  # Co d above O 2p


@needs_gpaw
def test_tiny_static_band_edges_come_from_its_eigenvalues(tiny_static):
    """GPAW's Kohn–Sham eigenvalues and occupations (0..1 per state) give the VBM: the highest
    occupied level. The broadened DOS (0.1 eV Gaussians) puts it higher, into the tail."""
    import numpy as np

    from descriptors.physics.electronic import band_edges, electronic_descriptors

    _, out = tiny_static
    eig, occ = np.array(out["eigenvalues"]), np.array(out["occupations"])
    assert eig.shape == occ.shape and occ.min() >= 0 and occ.max() <= 1 + 1e-9
    assert occ.sum(axis=2) == pytest.approx(np.full(occ.shape[:2], occ.sum(axis=2)[0, 0]))  # same electron count per k
    edges = band_edges(eig, occ, occupied_above=0.5)
    assert edges.vbm == pytest.approx(eig[occ > 0.5].max()) and edges.cbm == pytest.approx(eig[occ <= 0.5].min())
    assert edges.vbm < out["efermi"] < edges.cbm and 1.0 < edges.gap < 4.0
    from_dos = electronic_descriptors(out["dos"])
    assert from_dos.vbm > edges.vbm and from_dos.gap < edges.gap  # broadening eats into the gap


@needs_gpaw
def test_tiny_static_bader_charges_are_neutral_and_have_the_right_signs(tiny_static, tmp_path):
    from workflows.jobs import gpaw_bader_document

    _, out = tiny_static
    static = {"status": "success", "charge_density_file": out["charge_density_file"]}
    doc = gpaw_bader_document(static, TINY, "bader LiCoO2", "licoo2-test")
    assert doc.status.value == "success", doc.reason
    structure, _ = tiny_static
    by_element = {}
    for site, charge in zip(structure, doc.charges):
        by_element.setdefault(site.specie.symbol, []).append(charge)
    assert abs(sum(doc.charges)) < 0.05  # the cell is neutral
    # measured: Li +0.91, Co +1.16, O −1.03 e (unchanged to 0.003 e on a twice finer density grid)
    assert 0.6 < by_element["Li"][0] < 1.0 and 0.6 < by_element["Co"][0] < 2.0
    o1, o2 = by_element["O"]
    assert o1 < -0.6 and o1 == pytest.approx(o2, abs=0.02)  # the two O are symmetry-equivalent
    assert doc.provenance.level_of_theory.startswith("GPAW PBE+U")


def test_a_missing_density_is_a_failed_bader_not_a_number():
    from workflows.jobs import gpaw_bader_document

    doc = gpaw_bader_document({"status": "failed", "reason": "SCF"}, TINY, "bader x", "x")
    assert doc.status.value == "failed" and doc.charges is None


def test_refused_cell_in_a_screen_is_recorded_as_failed(tmp_path):
    from workflows.jobs import gpaw_static_document

    relaxed = {"status": "success", "structure": load_host("li2mno3").structure * (2, 1, 1)}
    doc = gpaw_static_document(relaxed, {**TINY, "max_atoms": 24}, "static big", "big", str(tmp_path / "big"))
    assert doc.status.value == "failed" and "exceed the GPAW limit" in doc.reason and doc.dos is None
    assert doc.energy is None and doc.efermi is None  # no number to misuse


@needs_gpaw
def test_screen_with_gpaw_statics_lands_o2p_and_bader_in_the_database(tmp_path, monkeypatch):
    """Default-model relaxations, a real GPAW static on the selected configuration, descriptors at the GPAW level."""
    from descriptors.store.database import DescriptorDatabase
    from descriptors.store.tables import CalculationRow, DescriptorRow
    from descriptors.query.configurations import query
    from launch.cli import main

    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "gpaw.yaml"
    spec.write_text(
        "name: gpaw_screen\nhost: licoo2\nsupercell: 1x1x1\nvacancies: [O]\nhops: {per_configuration: 0}\n"
        "backend: mlip\nmlip: {relax_fmax: 0.1}\nstatic_backend: gpaw\n"
        "gpaw: {ecut: 300, kspacing: 0.8, magnetic_order: nonmagnetic, max_atoms: 12, configurations: [pristine]}\n"
    )
    db = f"sqlite:///{tmp_path / 'lrox.db'}"
    assert main(["run", str(spec), "--db", db]) == 0
    database = DescriptorDatabase(db)
    calcs = {c["label"].split(" [")[0]: c for c in database.rows(CalculationRow)}
    assert calcs["static pristine"]["status"] == calcs["bader pristine"]["status"] == "success"
    assert calcs["static pristine"]["level_of_theory"] == "GPAW PBE+U (MP U values; PW 300 eV, non-spin-polarised) // MLIP 7net-0 geometry"  # the default model; a nonmagnetic run says so
    assert calcs["static pristine"]["settings"]["kspacing"] == 0.8  # provenance: the GPAW settings
    assert calcs["static V_O(6c)"]["status"] == "not_available"  # not selected: recorded, not faked
    gpaw = {d["name"]: d for d in database.rows(DescriptorRow) if d["level_of_theory"].startswith("GPAW")}
    assert gpaw["o2p_center_vbm"]["details"]["reference"] == "VBM" and gpaw["o2p_center"]["details"]["reference"] == "E_F"
    assert gpaw["o2p_center_vbm"]["value"] < -1.0 and gpaw["o2p_center_vbm"]["details"]["gap"] > 1.0
    assert gpaw["band_gap"]["details"]["vbm_from"] == "eigenvalues" and gpaw["band_gap"]["status"] == "ok"
    assert gpaw["bader_charge_li"]["value"] > 0.6 and gpaw["bader_charge_o"]["value"] < -0.6 and gpaw["bader_charge_tm"]["value"] > 0.6
    charges = calcs["bader pristine"]["data"]["charges"]
    assert len(charges) == 12 and abs(sum(charges)) < 0.1
    # the configuration view puts the GPAW numbers beside the ML potential's on one row, each column naming its level
    table = query(database, "name = pristine")
    assert set(table.aliases) == {"gpaw", "7net-0"} and len(table) == 1
    row = table[0]
    assert row["o2p_center_vbm@gpaw"] == pytest.approx(gpaw["o2p_center_vbm"]["value"]) and row["li_slab_spacing@7net-0"] > 2.0


@needs_gpaw
def test_gpaw_statics_in_a_smaller_cell_keep_their_own_sites(tmp_path, monkeypatch):
    """GPAW runs the same defects in a 12-atom cell beside the 24-atom screen: the level names the
    cell, Bader charges are read on the static's own structure, and nothing is mapped onto the
    screen's sites (the charge of a site facing the hop is not available from another cell)."""
    from descriptors.store.database import DescriptorDatabase
    from descriptors.store.tables import CalculationRow, DescriptorRow
    from launch.cli import main

    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "cells.yaml"
    spec.write_text(
        "name: gpaw_cells\nhost: licoo2\nsupercell: 2x1x1\nvacancies: [O]\nhops: {per_configuration: 1}\n"
        "backend: mock\nstatic_backend: gpaw\n"
        "gpaw: {ecut: 300, kspacing: 0.8, magnetic_order: nonmagnetic, max_atoms: 12, supercell: 1x1x1, configurations: [V_O]}\n"
    )
    db = f"sqlite:///{tmp_path / 'lrox.db'}"
    assert main(["run", str(spec), "--db", db]) == 0
    database = DescriptorDatabase(db)
    calcs = {c["label"].split(" [")[0]: c for c in database.rows(CalculationRow)}
    static = next(c for label, c in calcs.items() if label.startswith("static V_O"))
    assert static["status"] == "success", static["error"]
    assert static["level_of_theory"].endswith("// mock (toy ionic potential, not physics) geometry, 1x1x1 cell")
    # the small cell's own relaxations are recorded as calculations, with no configuration of the screen
    small = [c for label, c in calcs.items() if "in the 1x1x1 GPAW cell" in label and label.startswith("relax")]
    assert len(small) == 2 and all(c["configuration_id"] is None and c["status"] == "success" for c in small)
    rows = [d for d in database.rows(DescriptorRow) if d["level_of_theory"] == static["level_of_theory"]]
    by_name = {d["name"]: d for d in rows if d["subject"] == ""}
    vacancy_id = static["configuration_id"]
    assert all(d["configuration_id"] == vacancy_id for d in rows)  # stored on the screen's configuration
    assert by_name["o2p_center_vbm"]["details"]["cell"] == "1x1x1 cell, 11 atoms"
    assert by_name["bader_charge_o"]["details"]["n_sites"] == 5 and by_name["bader_charge_o"]["details"]["cell"] == "1x1x1 cell, 11 atoms"
    facing = [d for d in rows if d["name"] == "ts_cation_charge"]
    assert facing and all(d["status"] == "unavailable" and d["value"] is None for d in facing)


def test_one_hop_at_two_gpaw_levels_keeps_two_text_logs(tmp_path):
    """A PW and an LCAO check of the same hop run side by side: each follows its own GPAW log."""
    from workflows.gpaw_calculators import backend_settings
    from workflows.jobs import gpaw_log_folder

    pw = {**backend_settings({"mode": "pw", "kspacing": 1.0}), "log_folder": str(tmp_path)}
    lcao = {**backend_settings({"mode": "lcao", "kspacing": 1.0}), "log_folder": str(tmp_path)}
    label = "check pristine Li(2c)->Li(4h) [80822cfb4f] in the 2x1x1 cell (GPAW)"
    assert gpaw_log_folder(pw, label, "single-points") != gpaw_log_folder(lcao, label, "single-points")
    assert gpaw_log_folder(pw, label, "single-points") == gpaw_log_folder(dict(pw), label, "single-points")
    assert gpaw_log_folder({**pw, "log_folder": None}, label, "single-points") is None
