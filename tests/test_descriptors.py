"""Descriptors on real VASP files from ../shared/vasp-reference, with the values their sources assert."""

from __future__ import annotations

import gzip
import json
import shutil

import numpy as np
import pytest

from descriptors.physics.bader import BaderFileError, BaderUnavailable, bader_from_directory, parse_acf, transition_state_cations, valence_electrons
from descriptors.physics.barriers import barrier_from_neb_analysis, migration_barrier
from descriptors.physics.electronic import band_centre, electronic_descriptors, load_complete_dos
from descriptors.physics.geometry import geometry_descriptors
from descriptors.physics.vacancy import delta_mu_oxygen, mp2020_oxygen_correction, oxygen_chemical_potential, reevaluate, vacancy_formation_energy
from tests.conftest import SHARED

REF = SHARED / "vasp-reference"
LIFE4P4O16 = REF / "dos/pymatgen_LiFe4P4O16_relax_pdos"
DOS_FILES = {
    # file: O p band centre, whole range, both spins, vs E_F (SOURCES.md, computed with pymatgen 2026.10.24)
    "dos/pymatgen_LiFe4P4O16_relax_pdos/vasprun.xml.gz": -3.6169368081202133,
    "dos/pymatgen_LiFe4P4O16_relax_pdos/complete_dos.json.gz": -3.6169368081202133,
    "dos/pymatgen_LiFeO2_pbesol_relax_pdos/vasprun.pbesol.xml.gz": -0.1628712917309544,
    "dos/pymatgen_LiFePO4_GGAU_relax_pdos/vasprun.lifepo4.xml.gz": -3.566180538986499,
}
pytestmark = pytest.mark.skipif(not REF.exists(), reason="shared VASP reference pack not present")


# ----- migration barriers -------------------------------------------------------------------------
def test_barrier_spline_equals_pymatgen_neb_analysis_on_real_neb():
    from pymatgen.analysis.transition_state import NEBAnalysis

    analysis = NEBAnalysis.from_dict(json.load(gzip.open(REF / "neb/pymatgen_neb2/neb_analysis2.json.gz")))
    b = barrier_from_neb_analysis(analysis)
    # pymatgen tests/analysis/test_transition_state.py l.50-53: extremum (0.37255257367467326, 562.40825334519991 meV)
    assert b.spline_coordinate == pytest.approx(0.37255257367467326, abs=1e-12)
    assert b.spline_forward * 1000 == pytest.approx(562.40825334519991, abs=1e-6)
    # image energies [0, 0.52847, 0.48445, 0.33949, -0.06826] eV (SOURCES.md)
    assert b.forward == pytest.approx(0.52847453, abs=1e-6)
    assert b.reverse == pytest.approx(0.52847453 + 0.06825986, abs=1e-6)
    assert b.saddle_index == 1 and b.flags == []


def test_barrier_flags_untrustworthy_profiles():
    assert migration_barrier([0.0, 0.1, 0.3]).max_at_endpoint
    assert migration_barrier([0.0, -0.2, 0.4, 0.1]).endpoint_not_lowest
    b = migration_barrier([0.0, 0.4, 0.1], converged=False)
    assert b.flags == ["not_converged"] and not b.trustworthy
    with pytest.raises(ValueError):
        migration_barrier([0.0, float("nan"), 0.0])


def test_neb_end_point_energy_and_convergence_read_from_real_outcars():
    from pymatgen.io.vasp import Outcar

    from descriptors.records.readers.vasp import _outcar_reached_accuracy

    # pymatgen test_transition_state.py l.34: neb_analysis1.energies[0] == -255.97992669
    outcar = Outcar(str(REF / "neb/pymatgen_neb1_Fe31_vacancy/00/OUTCAR.gz"))
    outcar.read_neb()
    assert outcar.data["energy"] == pytest.approx(-255.97992669, abs=1e-8)
    # aiida-vasp test_neb_parser.py l.43: image 01 'neb_converged' is True
    assert _outcar_reached_accuracy(REF / "neb/aiida_vasp_NH3_cineb/01/OUTCAR.gz")


# ----- O 2p band centre ---------------------------------------------------------------------------
@pytest.mark.parametrize("path, expected", DOS_FILES.items())
def test_o2p_band_centre_whole_range_equals_pymatgen(path, expected):
    e = electronic_descriptors(REF / path)
    assert e.o2p_full.centre_vs_ef == pytest.approx(expected, abs=1e-10)
    assert e.o2p_full.window == "full" and e.o2p.window == "occupied"
    assert (e.o2p.emin, e.o2p.emax) == (-10.0, 0.0)
    assert 0.0 <= e.covalency <= 1.0
    assert e.dp_separation == pytest.approx(e.tm_d.centre_vs_ef - e.o2p.centre_vs_ef)


@pytest.mark.parametrize("path", list(DOS_FILES))
def test_occupied_window_equals_pymatgen_get_band_center_for_the_same_window(path):
    from pymatgen.core import Element
    from pymatgen.electronic_structure.core import OrbitalType

    dos = load_complete_dos(REF / path)
    ours = band_centre(dos, ["O"], "p", "occupied")
    theirs = dos.get_band_center(band=OrbitalType.p, elements=[Element("O")], erange=(-10.0, 0.0))
    assert ours.centre_vs_ef == pytest.approx(theirs, abs=1e-12)
    # the occupied O 2p states lie below E_F, so the centre does too
    assert ours.centre_vs_ef < 0


def test_band_centre_relative_to_vbm_uses_pymatgen_band_edges():
    e = electronic_descriptors(LIFE4P4O16 / "complete_dos.json.gz")
    # pymatgen test_dos.py: get_cbm_vbm() == (3.8837, 1.8139), get_gap() == 2.0698
    assert e.vbm == pytest.approx(1.8139, abs=1e-4)
    assert e.gap == pytest.approx(2.0698, abs=1e-4)
    assert e.o2p.centre_vs_vbm == pytest.approx(e.o2p.centre_vs_ef + e.efermi - e.vbm)


def test_old_vasprun_with_logical_lorbit_still_gives_projected_dos():
    # this VASP 5.2.2 vasprun writes LORBIT as a logical F although <partial> is present
    from_vasprun = electronic_descriptors(LIFE4P4O16 / "vasprun.xml.gz")
    from_json = electronic_descriptors(LIFE4P4O16 / "complete_dos.json.gz")
    assert from_vasprun.o2p.centre_vs_ef == pytest.approx(from_json.o2p.centre_vs_ef, abs=1e-10)
    assert from_vasprun.tm_d.centre_vs_ef == pytest.approx(from_json.tm_d.centre_vs_ef, abs=1e-10)


def test_tm_d_band_centre_whole_range_matches_reference_value():
    dos = load_complete_dos(LIFE4P4O16 / "complete_dos.json.gz")
    assert band_centre(dos, ["Fe"], "d", "full").centre_vs_ef == pytest.approx(-1.8415760211614662, abs=1e-10)


# ----- vacancy energetics -------------------------------------------------------------------------
REUTER_SCHEFFLER_TABLE_I = {100: -0.08, 200: -0.17, 300: -0.27, 400: -0.38, 500: -0.50, 600: -0.61, 700: -0.73, 800: -0.85, 900: -0.98, 1000: -1.10}


def test_oxygen_chemical_potential_reproduces_reuter_scheffler_from_janaf():
    for t, value in REUTER_SCHEFFLER_TABLE_I.items():  # their Table I prints two decimals
        assert delta_mu_oxygen(t, 1.0) == pytest.approx(value, abs=0.01), t
    kt = 8.617333262e-5 * 1000
    assert delta_mu_oxygen(1000, 1e-5) - delta_mu_oxygen(1000, 1.0) == pytest.approx(0.5 * kt * np.log(1e-5))
    with pytest.raises(ValueError, match="outside the tabulated range"):
        delta_mu_oxygen(2500)
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="positive"):
            delta_mu_oxygen(300, bad)


def test_oxygen_chemical_potential_above_1000_k_agrees_with_ideal_gas_statistical_mechanics():
    """JANAF's O2 beyond Reuter & Scheffler's table, checked against ASE's rigid-rotor harmonic
    ideal gas (O2 triplet, ω = 1580 cm⁻¹, r = 1.2075 Å): the two agree to a few meV."""
    from ase import units
    from ase.build import molecule
    from ase.thermochemistry import IdealGasThermo

    atoms = molecule("O2")
    atoms.set_distance(0, 1, 1.2075)
    omega = 1580.19 * units.invcm
    gas = IdealGasThermo(vib_energies=[omega], geometry="linear", atoms=atoms, symmetrynumber=2, spin=1, potentialenergy=0.0)
    for t, p_atm in ((1173, 0.21), (1500, 1.0), (1800, 1e-4), (2000, 1.0)):  # 1173 K, 0.21 atm: synthesis in air
        statistical = (gas.get_gibbs_energy(t, p_atm * 101325.0, verbose=False) - omega / 2) / 2  # per O, no ZPE
        assert delta_mu_oxygen(t, p_atm) == pytest.approx(statistical, abs=0.005), t


@pytest.mark.parametrize(
    ("model", "correction"),
    [("chgnet", 0.0), ("chgnet-r2scan", 0.0), ("7net-0", 0.687), ("7net-l3i5", 0.687), ("7net-mf-0", 0.687), ("7net-mf-0-r2scan", 0.0)],
)
def test_each_model_gets_the_o2_correction_its_energies_lack(model, correction):
    from descriptors.physics.levels import o2_correction

    scheme = o2_correction("mlip", {"model": model})
    mu = oxygen_chemical_potential(-4.9, f"MLIP {model}", scheme)
    assert mu.correction == pytest.approx(correction, abs=1e-3) and mu.value == pytest.approx(-4.9 + correction, abs=1e-3)


def test_o2_reference_of_vasp_and_gpaw_carries_mp2020():
    from descriptors.physics.levels import o2_correction

    assert mp2020_oxygen_correction() == pytest.approx(0.687)
    for backend in ("vasp", "gpaw"):
        vasp = oxygen_chemical_potential(-4.9, "VASP PBE+U", o2_correction(backend, {}), temperature=300, pressure=0.21)
        assert vasp.value == pytest.approx(-4.9 + 0.687 + delta_mu_oxygen(300, 0.21))
        assert "MP2020" in vasp.as_dict()["correction_source"]
    with pytest.raises(ValueError, match="unknown O2 correction"):
        oxygen_chemical_potential(-4.9, "x", "guess")


def test_vacancy_energy_and_its_reevaluation_at_other_oxygen_conditions():
    mu_o = oxygen_chemical_potential(-5.0, "MLIP chgnet", "included")
    assert vacancy_formation_energy(-100.0, -105.0, mu_o) == pytest.approx(0.0)
    assert vacancy_formation_energy(-100.0, -106.0, mu_o) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="defect energy"):
        vacancy_formation_energy(float("nan"), -106.0, mu_o)
    # linear in μ_O: re-evaluating the O-rich value at (T, p) equals computing it there
    hot = oxygen_chemical_potential(-5.0, "MLIP chgnet", "included", temperature=1173, pressure=0.21)
    direct = vacancy_formation_energy(-100.0, -106.0, hot)
    assert reevaluate(1.0, mu_o.as_dict(), temperature=1173, pressure=0.21) == pytest.approx(direct)
    assert reevaluate(direct, hot.as_dict(), delta=0.0) == pytest.approx(1.0)


# ----- band edges from eigenvalues ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    ["dos/pymatgen_LiFe4P4O16_relax_pdos/vasprun.xml.gz", "dos/pymatgen_LiFePO4_GGAU_relax_pdos/vasprun.lifepo4.xml.gz", "dos/pymatgen_LiFeO2_pbesol_relax_pdos/vasprun.pbesol.xml.gz"],
)
def test_band_edges_from_eigenvalues_equal_pymatgen_eigenvalue_band_properties(name):
    from pymatgen.io.vasp import Vasprun

    from descriptors.physics.electronic import band_edges_from_vasprun

    run = Vasprun(str(REF / name), parse_potcar_file=False)
    gap, cbm, vbm, _ = run.eigenvalue_band_properties
    edges = band_edges_from_vasprun(run)
    assert (edges.gap, edges.cbm, edges.vbm) == pytest.approx((gap, cbm, vbm), abs=1e-9)


def test_vbm_from_eigenvalues_not_from_the_broadened_dos():
    """LiFe4(PO4)4: the DOS puts the VBM 0.26 eV too high and the gap at 2.07 eV; the eigenvalues
    give 2.539 eV (pymatgen's test asserts both), and the O 2p centre vs the VBM moves with it."""
    from pymatgen.io.vasp import Vasprun

    from descriptors.physics.electronic import band_edges_from_vasprun

    run = Vasprun(str(LIFE4P4O16 / "vasprun.xml.gz"), parse_potcar_file=False)
    from_dos = electronic_descriptors(run.complete_dos)
    from_eigen = electronic_descriptors(run.complete_dos, band_edges_from_vasprun(run))
    assert from_dos.gap == pytest.approx(2.0698, abs=1e-4) and from_dos.vbm == pytest.approx(1.8139, abs=1e-4)
    assert from_eigen.gap == pytest.approx(2.539, abs=1e-4) and from_eigen.vbm == pytest.approx(1.5516, abs=1e-4)
    assert from_eigen.edge_source == "eigenvalues" and "DOS" in from_dos.edge_source
    assert from_eigen.o2p.centre_vs_vbm - from_dos.o2p.centre_vs_vbm == pytest.approx(1.8139 - 1.5516, abs=1e-4)


def test_occupied_defect_levels_in_the_gap_are_not_the_vbm():
    """A defect cell: a dispersive valence band topping at 0 eV, two flat occupied levels 1.2 eV
    above it (the Mn3+ of an O vacancy), a conduction band from 2.5 eV."""
    from descriptors.physics.electronic import band_edges

    k = np.linspace(0, 1, 8)
    valence = [-0.5 * (b + 1) + 0.4 * np.cos(np.pi * k) - 0.4 for b in range(30)]
    valence[0] = 0.4 * np.cos(np.pi * k) - 0.4  # top band: VBM = 0 at k = 0
    defect = [np.full_like(k, 1.2), np.full_like(k, 1.25)]
    conduction = [2.5 + 0.3 * (b + 1) - 0.3 * np.cos(np.pi * k) + 0.3 for b in range(10)]
    eig = np.array([np.array(valence + defect + conduction).T])  # (1 spin, 8 k, 42 bands)
    occ = np.array([np.array([np.ones_like(k)] * 32 + [np.zeros_like(k)] * 10).T])
    edges = band_edges(eig, occ, defect_cell=True)
    assert edges.vbm == pytest.approx(0.0) and edges.cbm == pytest.approx(2.5 + 0.3)
    assert edges.highest_occupied == pytest.approx(1.25) and edges.gap == pytest.approx(2.8)
    assert [round(level["energy"], 2) for level in edges.defect_levels] == [1.2, 1.25]
    assert all(level["occupation"] == 1.0 for level in edges.defect_levels)
    # the same eigenvalues read as a host would put the VBM on the defect level: the rule is for defect cells
    assert band_edges(eig, occ).vbm == pytest.approx(1.25)


# ----- Bader --------------------------------------------------------------------------------------
def test_acf_of_the_h2o_bader_set():
    result = parse_acf(REF / "bader/pyiron_H2O_bader/ACF.dat")
    # pyiron tests/dft/test_bader.py l.25-26
    assert result.electrons == pytest.approx([0.438202, 0.438197, 7.143794])
    assert result.volumes == pytest.approx([287.284690, 297.577878, 415.155432])
    assert result.n_electrons == pytest.approx(8.0202)


def test_net_charges_from_the_valence_counts_in_vasprun(tmp_path):
    folder = REF / "bader/pyiron_H2O_bader"
    assert valence_electrons(folder) == {"H": 1.0, "O": 6.0}
    result = bader_from_directory(folder)
    assert result.elements == ["H", "H", "O"]
    assert result.net_charges == pytest.approx([1 - 0.438202, 1 - 0.438197, 6 - 7.143794])
    assert sum(result.net_charges) == pytest.approx(8 - 8.0202, abs=1e-5)  # ACF rounds each charge to 1e-6 e


def test_acf_of_the_344_atom_set():
    result = parse_acf(REF / "bader/vaspy_ACF_344atoms/ACF.chg.dat")
    # vaspy tests/test_bader.py l.25-35
    assert result.vacuum_charge == pytest.approx(1.2829)
    assert result.n_electrons == pytest.approx(2828.0)
    assert len(result.electrons) == 344
    assert result.electrons[0] == pytest.approx(3.526327)
    assert result.volumes[0] == pytest.approx(17.540723)
    assert result.positions[0] == pytest.approx([6.745000, -37.491966, 11.674620])


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda t: t.replace("7.143794", "7.1x3794"), "garbled"),
        (lambda t: t.split("NUMBER OF ELECTRONS")[0], "truncated"),
        (lambda t: t.replace("7.143794", "9.143794"), "sum to"),
        (lambda t: "", "no atom lines"),
    ],
)
def test_garbled_acf_is_named(tmp_path, damage, message):
    text = (REF / "bader/pyiron_H2O_bader/ACF.dat").read_text()
    bad = tmp_path / "ACF.dat"
    bad.write_text(damage(text))
    with pytest.raises(BaderFileError, match=message) as info:
        parse_acf(bad)
    assert str(bad) in str(info.value)


def test_no_charge_density_means_no_charges(tmp_path):
    shutil.copy(REF / "bader/pyiron_H2O_bader/POSCAR", tmp_path / "POSCAR")
    with pytest.raises(BaderUnavailable, match="no CHGCAR"):
        bader_from_directory(tmp_path)


def _gaussian_chgcar(path, charges=(("Li", 0.2, 0.35), ("O", 9.8, 0.55)), n=40, a=6.0):
    """A CHGCAR of two Gaussian atoms whose electron counts are known exactly."""
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.vasp import Chgcar, Poscar

    structure = Structure(Lattice.cubic(a), [c[0] for c in charges], [[0, 0, 0], [0.5, 0.5, 0.5]])
    grid = np.arange(n) / n
    f = np.stack(np.meshgrid(grid, grid, grid, indexing="ij"))
    rho = np.zeros((n, n, n))
    for site, (_, q, width) in zip(structure, charges):
        d = f - site.frac_coords[:, None, None, None]
        d -= np.round(d)
        rho += q * np.exp(-((d * a) ** 2).sum(0) / (2 * width**2)) / ((2 * np.pi) ** 1.5 * width**3)
    Chgcar(Poscar(structure), {"total": rho * structure.volume}).write_file(str(path))
    return structure


def test_baderkit_partitions_a_density_with_known_charges(tmp_path):
    from descriptors.physics.bader import run_bader

    _gaussian_chgcar(tmp_path / "CHGCAR")
    result = run_bader(tmp_path / "CHGCAR", valence={"Li": 1.0, "O": 6.0})
    assert result.method.startswith("baderkit")
    assert result.n_electrons == pytest.approx(10.0, abs=1e-3)
    assert sum(result.electrons) + result.vacuum_charge == pytest.approx(result.n_electrons, abs=1e-3)
    # the narrow Li Gaussian keeps almost all of its 0.2 e; O takes the rest and a little of Li's tail
    assert result.electrons == pytest.approx([0.2, 9.8], abs=0.03)
    assert result.net_charges == pytest.approx([1.0 - result.electrons[0], 6.0 - result.electrons[1]])


def test_cations_facing_a_transition_state(licoo2_108):
    structure = licoo2_108.structure
    li = [i for i, s in enumerate(structure) if s.specie.symbol == "Li"]
    a, b = li[0], min(li[1:], key=lambda j: structure.get_distance(li[0], j))
    midpoint = (structure[a].frac_coords + structure[b].frac_coords) / 2
    charges = [1.0 if s.specie.symbol == "Li" else 1.5 if s.specie.symbol == "Co" else -1.0 for s in structure]
    facing = transition_state_cations(structure, charges, midpoint, moving_index=a)
    assert facing and all(c["element"] in ("Li", "Co") and c["index"] != a for c in facing)
    assert any(c["is_tm"] and c["charge"] == 1.5 for c in facing)


# ----- geometry -----------------------------------------------------------------------------------
def test_layer_geometry_of_licoo2_from_its_coordinates():
    from structures import load_host

    s = load_host("licoo2").structure
    c = s.lattice.c
    z = {el: sorted({round(x % 1, 6) for x in s.frac_coords[[i for i, t in enumerate(s) if t.specie.symbol == el], 2]}) for el in ("Li", "Co", "O")}
    li_plane = z["Li"][0]
    above = min((o - li_plane) % 1 for o in z["O"])
    below = min((li_plane - o) % 1 for o in z["O"])
    g = geometry_descriptors(s, defect_frac_coords=s[0].frac_coords)
    assert g["li_slab_spacing"] == pytest.approx((above + below) * c, abs=1e-4)
    assert g["interlayer_distance"] == pytest.approx(c / 3, abs=1e-6)
    co = next(i for i, t in enumerate(s) if t.specie.symbol == "Co")
    bond = min(n.nn_distance for n in s.get_neighbors(s[co], 2.6))
    assert g["tm_o_mean"] == pytest.approx(bond, abs=1e-6) and g["tm_o_max"] - g["tm_o_min"] < 1e-6
    o = [i for i, t in enumerate(s) if t.specie.symbol == "O"]
    assert g["o_o_min"] == pytest.approx(min(s.get_distance(i, j) for i in o for j in o if i != j), abs=1e-6)


def test_geometry_of_li_rich_supercell_uses_its_layer_labels():
    from structures import load_host

    li2mno3 = geometry_descriptors(load_host("li2mno3").structure)
    lirich = geometry_descriptors(load_host("lirich").structure)
    assert lirich["li_slab_spacing"] == pytest.approx(li2mno3["li_slab_spacing"], abs=1e-6)
    assert lirich["tm_o_max"] > li2mno3["tm_o_max"]  # Ni2+ octahedra are larger than Mn4+


def test_static_document_with_a_real_dos_becomes_band_centre_rows():
    """The path a VASP (or GPAW) static takes into the database: DOS in, O 2p rows with window and reference out."""
    from descriptors.records.electronic_rows import electronic_rows

    dos = load_complete_dos(LIFE4P4O16 / "complete_dos.json.gz")
    calc = {"id": "c1", "level_of_theory": "VASP HF", "backend": "vasp", "settings_hash": "h"}
    rows = {r["name"]: r for r in electronic_rows({"configuration_id": "x", "status": "success", "dos": dos.as_dict()}, calc)}
    assert rows["o2p_center_full"]["value"] == pytest.approx(-3.6169368081202133, abs=1e-10)
    assert rows["o2p_center"]["details"]["window"] == "occupied" and rows["o2p_center"]["details"]["reference"] == "E_F"
    assert rows["o2p_center_vbm"]["details"]["reference"] == "VBM"
    assert rows["o2p_center_vbm"]["value"] == pytest.approx(rows["o2p_center"]["value"] + dos.efermi - rows["o2p_center"]["details"]["vbm"])
    assert {"tm_d_center", "covalency", "dp_separation", "o2p_width"} <= set(rows)
    assert all(r["calculation_id"] == "c1" for r in rows.values())
    # without eigenvalues the VBM comes from the broadened DOS: what depends on it is flagged
    assert {n for n, r in rows.items() if r["status"] == "flagged"} == {"o2p_center_vbm", "band_gap"}
    assert rows["band_gap"]["flags"] == ["vbm_from_dos"] and rows["o2p_center"]["status"] == "ok"
    # a document that carries the eigenvalues gets the VBM from them, unflagged
    from pymatgen.io.vasp import Vasprun

    run = Vasprun(str(LIFE4P4O16 / "vasprun.xml.gz"), parse_potcar_file=False)
    eig = [run.eigenvalues[s][:, :, 0].tolist() for s in sorted(run.eigenvalues, key=lambda s: -s.value)]
    occ = [run.eigenvalues[s][:, :, 1].tolist() for s in sorted(run.eigenvalues, key=lambda s: -s.value)]
    doc = {"configuration_id": "x", "status": "success", "dos": dos.as_dict(), "eigenvalues": eig, "occupations": occ}
    rows = {r["name"]: r for r in electronic_rows(doc, calc)}
    assert all(r["status"] == "ok" for r in rows.values())
    assert rows["band_gap"]["value"] == pytest.approx(2.539, abs=1e-3)


def test_a_barrier_flagged_only_for_the_path_it_took_is_still_a_number():
    """The one rule the configuration view and the design rules share, for single models and committees."""
    from descriptors.physics.barriers import only_mechanism_flags

    assert only_mechanism_flags(["mechanism_mismatch"])
    assert only_mechanism_flags("MLIP 7net-0: mechanism_mismatch, MLIP chgnet: mechanism_mismatch")  # hop-table text
    assert not only_mechanism_flags(["mechanism_mismatch", "max_at_endpoint"])
    assert not only_mechanism_flags("MLIP chgnet: not converged")
    assert not only_mechanism_flags([]) and not only_mechanism_flags(None)
