"""The GPAW calculator layer for relaxations and CI-NEB (workflows.gpaw_calculators): refusals
before any SCF, a failed SCF that raises and keeps raising, the level of theory naming mode and
basis, and wave functions reused between steps of one calculator. Real GPAW runs on the 4-atom
LiCoO2 cell (LCAO sz, Γ only, non-spin-polarised): seconds each."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

from structures import DefectFramework, load_host
from workflows.gpaw_calculators import (
    CellTooLarge,
    GpawDftSettings,
    GpawImageFactory,
    GpawMode,
    GpawScfNotConverged,
    band_magnetic_moments,
    gpaw_calculator,
    gpaw_level_of_theory,
    magnetic_moment_jumps,
    scf_iterations,
)
from workflows.gpaw_static import GpawSettings

needs_gpaw = pytest.mark.skipif(
    importlib.util.find_spec("gpaw") is None and not os.environ.get("LROX_REQUIRE_GPAW"),
    reason="GPAW not installed (make setup builds it)",
)

# LCAO single-zeta, one k-point, no spin: a 4-atom SCF in about a second
TINY = {"mode": "lcao", "basis": "sz(dzp)", "kspacing": 10.0, "magnetic_order": "nonmagnetic", "max_atoms": 8}


def licoo2_atoms():
    from pymatgen.io.ase import AseAtomsAdaptor

    return AseAtomsAdaptor.get_atoms(load_host("licoo2").structure.get_primitive_structure())


def test_settings_defaults_are_the_statics_physics():
    dft, static = GpawDftSettings(), GpawSettings()
    for name in ("ecut", "kspacing", "xc", "hubbard_u", "spin_polarized", "magnetic_order", "smearing", "convergence_energy", "max_scf_steps", "max_atoms"):
        assert getattr(dft, name) == getattr(static, name), name
    assert dft.basis == "dzp" and dft.max_atoms == 48
    assert GpawDftSettings(mode="PW").mode is GpawMode.PW  # from a spec's text
    d = GpawDftSettings().as_dict()
    assert d["mode"] in ("pw", "lcao") and d["basis"] == "dzp"  # both in what a settings hash is taken of


def test_unknown_or_bad_settings_are_refused():
    from structures.errors import LroxInputError

    with pytest.raises(LroxInputError, match="unknown GPAW setting"):
        GpawDftSettings.from_any({"ecutt": 500})
    with pytest.raises(LroxInputError, match="mode must be one of"):
        GpawDftSettings(mode="fd")
    with pytest.raises(LroxInputError, match="positive"):
        GpawDftSettings.from_any({"ecut": -1})


def test_level_of_theory_names_mode_and_basis():
    assert gpaw_level_of_theory({"mode": "pw"}) == "GPAW PBE+U (MP U values; PW 400 eV)"
    assert gpaw_level_of_theory({"mode": "pw", "ecut": 500}) == "GPAW PBE+U (MP U values; PW 500 eV)"
    assert gpaw_level_of_theory({"mode": "lcao"}) == "GPAW PBE+U (MP U values; LCAO dzp)"
    assert gpaw_level_of_theory({"mode": "lcao", "basis": "szp(dzp)"}) == "GPAW PBE+U (MP U values; LCAO szp(dzp))"
    assert gpaw_level_of_theory({"mode": "lcao", "hubbard_u": {"Mn": 3.0}}) == "GPAW PBE+U (Mn 3; LCAO dzp)"
    assert "non-spin-polarised" in gpaw_level_of_theory(TINY)
    # different modes or bases are different levels, and hash differently
    assert GpawDftSettings(mode="pw").as_dict() != GpawDftSettings(mode="lcao").as_dict()
    assert GpawDftSettings(basis="dzp").as_dict() != GpawDftSettings(basis="szp(dzp)").as_dict()


def test_a_cell_above_max_atoms_is_refused_before_any_scf(tmp_path, monkeypatch):
    import gpaw

    def no_gpaw(*args, **kwargs):
        raise AssertionError("GPAW was constructed for a refused cell")

    monkeypatch.setattr(gpaw, "GPAW", no_gpaw, raising=False)
    big = DefectFramework.from_host(load_host("li2mno3"), (2, 1, 2)).structure  # 96 atoms, the screens' cell
    with pytest.raises(CellTooLarge, match=r"96 atoms exceed the GPAW limit of 48.*use its 2x1x1 cell \(48 atoms"):
        gpaw_calculator(big, {}, tmp_path / "gpaw.txt")
    with pytest.raises(CellTooLarge, match="2x1x1 cell"):
        GpawImageFactory(big, {}, tmp_path)  # a band is refused before its first image
    assert not list(tmp_path.iterdir())  # no log: nothing ran
    with pytest.raises(CellTooLarge, match="use a cell of at most 3 atoms"):  # no built-in host to name
        gpaw_calculator(licoo2_atoms(), {**TINY, "max_atoms": 3})


def test_magnetic_moment_jumps_flag_an_image_in_another_state():
    assert magnetic_moment_jumps([24.0, 24.1, 23.9, 24.0]) == []
    jumps = magnetic_moment_jumps([24.0, 24.1, 22.0, 24.0, None])
    assert [j["images"] for j in jumps] == [[1, 2], [2, 3]] and jumps[0]["jump"] == pytest.approx(-2.1)
    assert magnetic_moment_jumps([24.0, 24.4], threshold=0.5) == [] and magnetic_moment_jumps([24.0, 24.6]) != []


@needs_gpaw
def test_a_non_converging_scf_raises_and_never_gives_a_number():
    atoms = licoo2_atoms()
    atoms.calc = gpaw_calculator(atoms, {**TINY, "max_scf_steps": 2})
    with pytest.raises(GpawScfNotConverged, match="not converged after 2 SCF iterations"):
        atoms.get_potential_energy()
    with pytest.raises(GpawScfNotConverged):  # a second call does not finish the SCF and return a number
        atoms.get_forces()
    assert scf_iterations(atoms.calc) == []


@needs_gpaw
def test_the_same_calculator_reuses_wave_functions_after_a_small_move(tmp_path):
    """The second SCF (Li moved 0.01 Å) starts from the first one's wave functions and density:
    fewer iterations, counted by GPAW's own SCF loop (measured: 9 then 4)."""
    atoms = licoo2_atoms()
    calc = gpaw_calculator(atoms, TINY, tmp_path / "gpaw.txt")
    atoms.calc = calc
    e0 = atoms.get_potential_energy()
    f0 = atoms.get_forces()  # same positions: no new SCF
    li = atoms.get_chemical_symbols().index("Li")
    atoms.positions[li, 2] += 0.01
    f1 = atoms.get_forces()
    e1 = atoms.get_potential_energy()
    first, second = scf_iterations(calc)
    assert len(scf_iterations(calc)) == 2 and second < first, (first, second)
    assert abs(e1 - e0) < 0.01 and np.abs(f1 - f0).max() < 0.5  # the same state, moved a little
    assert calc.dft.scf_loop.niter == second  # the record is GPAW's own count
    assert "Converged in" in (tmp_path / "gpaw.txt").read_text()
    assert band_magnetic_moments([atoms]) == [pytest.approx(0.0)]


@needs_gpaw
def test_image_factory_runs_a_tiny_band_with_one_calculator_per_image(tmp_path):
    """engine.run_neb with the factory: each image its own calculator (and log), every SCF after
    an image's first restarted, and run_neb counts the GPAW SCFs as force calls."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from workflows.engine import run_neb

    start = licoo2_atoms()
    li = start.get_chemical_symbols().index("Li")
    images = []
    for k in range(4):  # the Li moved along c by 0, 0.02, 0.04, 0.06 Å: a trivial band
        a = start.copy()
        a.positions[li, 2] += 0.02 * k
        images.append(AseAtomsAdaptor.get_structure(a))
    factory = GpawImageFactory(images[0], TINY, tmp_path)
    out = run_neb(images, factory, fmax=0.5, steps=3, climb=False)
    assert len(factory.calculators) == 4  # two end points, two images
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"gpaw-{k:02d}.txt" for k in range(4)]
    per_image = factory.scf_iterations()
    assert all(len(n) == 1 for n in per_image[:2])  # end points: one SCF each
    assert out.force_calls == sum(len(n) for n in per_image)  # run_neb counts GPAW's SCFs
    assert all(len(n) > 1 for n in per_image[2:]), per_image  # the band moved its images
    for n in per_image[2:]:
        assert all(later < n[0] for later in n[1:])  # an image's later SCFs restart from its wave functions
