"""The embedded ML potential for real, on small cells and few steps (CI installs it)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("chgnet")

from structures import DefectFramework, enumerate_hops, hop_endpoints, load_host  # noqa: E402
from workflows.calculators import check_model, ml_calculator  # noqa: E402
from workflows.engine import relax  # noqa: E402
from workflows.jobs import hop_neb, reference_energy, relax_structure  # noqa: E402

SETTINGS = {"model": "chgnet", "relax_fmax": 0.1, "relax_steps": 5, "neb_fmax": 0.2, "neb_steps": 3, "n_images": 1, "climb": True}


def test_model_loads_offline_and_gives_forces():
    assert check_model("chgnet").package == "chgnet"
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(load_host("licoo2").structure)
    atoms.calc = ml_calculator("chgnet")
    energy = atoms.get_potential_energy() / len(atoms)
    assert -8.0 < energy < -4.0  # eV/atom: an oxide, not a blow-up
    assert np.abs(atoms.get_forces()).max() < 1.0  # the literature structure is near equilibrium


def test_relaxation_of_an_o_vacancy_lowers_the_energy():
    fw = DefectFramework.from_host(load_host("licoo2"), (1, 1, 1))
    s = fw.structure.copy()
    s.remove_sites([next(i for i, site in enumerate(s) if site.specie.symbol == "O")])
    calc = ml_calculator("chgnet")
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(s)
    atoms.calc = calc
    unrelaxed = atoms.get_potential_energy()
    outcome = relax(s, ml_calculator("chgnet"), fmax=0.1, steps=15)
    assert outcome.energy < unrelaxed
    assert outcome.n_steps <= 15


def test_relax_document_carries_the_level_of_theory():
    doc = relax_structure(load_host("licoo2").structure, "mlip", SETTINGS, "host", relax_cell=True)
    assert doc.provenance.level_of_theory == "MLIP chgnet"
    assert doc.provenance.code_versions["chgnet"] == "0.4.2"
    assert doc.energy is not None and doc.n_atoms == 12


def test_short_neb_on_a_licoo2_hop_runs_end_to_end():
    from structures.configurations import configuration_from_defects

    fw = DefectFramework.from_host(load_host("licoo2"), (2, 2, 1))
    pristine = configuration_from_defects(fw, [])
    hop = enumerate_hops(fw, pristine, cutoff=3.0)[0]
    relaxed = {"status": "success", "structure": pristine.structure}
    doc = hop_neb(relaxed, fw.host, list(fw.dims), pristine, hop, "mlip", SETTINGS, "short neb")
    assert doc.energies is not None and len(doc.energies) == 3
    assert doc.force_calls > 0 and doc.n_steps <= 3
    # the middle image of a Li hop sits above both ends
    assert doc.energies[1] > max(doc.energies[0], doc.energies[2])
    # few steps at a loose threshold: converged or recorded as not converged, never silently used
    assert (doc.status == "success") == bool(doc.converged)
    ends = hop_endpoints(fw, pristine, hop)
    assert len(doc.images[0]) == len(ends[0])


def test_a_symmetric_hop_takes_half_its_band_from_the_mirror_and_finds_the_same_band():
    """The LiCoO2 in-plane hop: its final end point is the image of the relaxed initial one, and
    so is the second half of its band; ``neb_mirror: false`` runs it whole."""
    from structures.configurations import configuration_from_defects

    fw = DefectFramework.from_host(load_host("licoo2"), (2, 2, 1))
    pristine = configuration_from_defects(fw, [])
    hop = enumerate_hops(fw, pristine, cutoff=3.0)[0]
    relaxed = {"status": "success", "structure": pristine.structure}
    settings = {**SETTINGS, "relax_steps": 50, "n_images": 3, "neb_steps": 4}
    half, whole = (hop_neb(relaxed, fw.host, list(fw.dims), pristine, hop, "mlip", {**settings, "neb_mirror": m}, "neb") for m in (True, False))
    assert half.n_steps == whole.n_steps
    # the same band: the whole one is symmetric only to the model's float32 noise
    assert half.energies == pytest.approx(whole.energies, abs=2e-4)
    assert half.energies == half.energies[::-1]
    mirrored = half.routes[0]["mirrored_calls"]
    # image 3 of 3 at every evaluation of the band (at least one per step), and the model once on
    # it, the first time, to check that CHGNet holds to the mirror (it does: an O(3)-invariant model)
    assert mirrored >= half.n_steps + 1 and whole.routes[0]["mirrored_calls"] == 0
    assert half.force_calls + mirrored == whole.force_calls + 1
    check = half.routes[0]["mirror_check"]
    assert check["held"] and check["force_difference"] < 1e-3 and whole.routes[0]["mirror_check"] is None


def test_a_model_that_is_not_invariant_under_inversion_runs_its_symmetric_bands_whole():
    """7net-MF-0 is equivariant under rotations only: the inversion that reverses the LiCoO2 hop
    changes its forces by ~0.03 eV/Å, beyond what a mirrored band accepts, so its band runs whole."""
    from structures.configurations import configuration_from_defects

    fw = DefectFramework.from_host(load_host("licoo2"), (2, 2, 1))
    pristine = configuration_from_defects(fw, [])
    hop = enumerate_hops(fw, pristine, cutoff=3.0)[0]
    relaxed = {"status": "success", "structure": pristine.structure}
    settings = {**SETTINGS, "model": "7net-mf-0", "relax_steps": 50, "n_images": 3, "neb_steps": 2}
    doc = hop_neb(relaxed, fw.host, list(fw.dims), pristine, hop, "mlip", settings, "neb")
    check = doc.routes[0]["mirror_check"]
    assert check["held"] is False and doc.routes[0]["mirrored_calls"] == 0
    assert max(check["central_force_asymmetry"], check["force_difference"] or 0.0) > 1e-2


def test_o2_reference_is_a_bound_molecule():
    doc = reference_energy("O2", "mlip", SETTINGS)
    assert doc.energy_per_atom is not None and doc.energy_per_atom < -2.0


def test_every_registered_model_loads_offline_from_its_wheel():
    """No weight download at run time: every model lrox offers gives an energy with sockets refused."""
    import socket

    from pymatgen.io.ase import AseAtomsAdaptor

    from descriptors.physics.levels import ML_MODELS

    original = socket.socket.connect

    def refuse(*args, **kwargs):
        raise AssertionError("a model tried to reach the network")

    socket.socket.connect = refuse
    try:
        for name in ML_MODELS:
            atoms = AseAtomsAdaptor.get_atoms(load_host("licoo2").structure)
            atoms.calc = ml_calculator(name, threads=1)
            assert -10.0 < atoms.get_potential_energy() / len(atoms) < -4.0, name
    finally:
        socket.socket.connect = original


def test_a_committee_is_its_own_level_and_never_mixes_two_models(tmp_path, monkeypatch):
    """Each member relaxes its own cells and its own O2; E_vac(O) of each is its own difference
    (with its own O2 correction: none for CHGNet, MP2020's for SevenNet's raw energies); the
    committee's value is their mean, at its own level of theory."""
    from descriptors.store.database import DescriptorDatabase
    from descriptors.store.tables import DescriptorRow
    from launch.cli import main

    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "committee.yaml"
    spec.write_text(
        "name: committee\nhost: licoo2\nsupercell: 1x1x1\nvacancies: [O]\nhops: {per_configuration: 0}\n"
        "backend: mlip\nmlip: {model: [chgnet, 7net-0], relax_fmax: 0.1, threads: 1}\n"
    )
    db = f"sqlite:///{tmp_path / 'c.db'}"
    assert main(["run", str(spec), "--db", db]) == 0
    rows = [r for r in DescriptorDatabase(db).rows(DescriptorRow) if r["name"] == "e_vac_o"]
    by_level = {r["level_of_theory"]: r for r in rows}
    assert set(by_level) == {"MLIP chgnet", "MLIP 7net-0", "MLIP committee(chgnet, 7net-0)"}
    chgnet, sevennet, committee = by_level["MLIP chgnet"], by_level["MLIP 7net-0"], by_level["MLIP committee(chgnet, 7net-0)"]
    assert chgnet["details"]["chemical_potential"]["correction"] == 0.0
    assert sevennet["details"]["chemical_potential"]["correction"] == pytest.approx(0.687)
    assert chgnet["details"]["chemical_potential"]["level_of_theory"] == "MLIP chgnet"  # its own O2
    assert committee["value"] == pytest.approx((chgnet["value"] + sevennet["value"]) / 2)
    assert committee["details"]["spread"] == pytest.approx(abs(chgnet["value"] - sevennet["value"]))
    # the first member's relaxed cells are the committee's geometry
    geometry = {r["level_of_theory"]: r["value"] for r in DescriptorDatabase(db).rows(DescriptorRow) if r["name"] == "tm_o_mean"}
    assert geometry["MLIP committee(chgnet, 7net-0)"] == geometry["MLIP chgnet"]


_ONE_CALL = """
import sys, json
import numpy as np
from pymatgen.io.ase import AseAtomsAdaptor
from structures import load_host
from workflows import calculators
if sys.argv[1] == "plain":
    calculators.keep_freed_memory = lambda: False  # the process keeps glibc's default allocator
atoms = AseAtomsAdaptor.get_atoms(load_host("li2mno3").structure)
atoms.calc = calculators.ml_calculator("7net-0", threads=1)
print(json.dumps({"energy": atoms.get_potential_energy(), "forces": atoms.get_forces().tolist(),
                  "tuned": calculators.keep_freed_memory()}))
"""


def test_keeping_freed_memory_changes_no_number():
    """The allocator setting that makes a force call faster gives the same energies and forces, bit for bit."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    runs = {
        mode: json.loads(subprocess.run([sys.executable, "-c", _ONE_CALL, mode], cwd=root, capture_output=True,
                                        text=True, check=True).stdout.strip().splitlines()[-1])
        for mode in ("plain", "tuned")
    }
    assert runs["tuned"]["tuned"] is True and runs["plain"]["tuned"] is False  # glibc (Linux): it took effect
    assert runs["tuned"]["energy"] == runs["plain"]["energy"]
    assert runs["tuned"]["forces"] == runs["plain"]["forces"]


def _rattled_licoo2(seed: int):
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(load_host("licoo2").structure * (2, 2, 1))
    atoms.rattle(0.03, seed=seed)
    return atoms


def _energy_forces(atoms, calc):
    atoms = atoms.copy()
    atoms.calc = calc
    return atoms.get_potential_energy(), atoms.get_forces().copy()


def test_compiled_sevennet_gives_the_eager_numbers(monkeypatch):
    """torch.compile only fuses kernels: the same energies and forces (to float32 rounding) on
    geometries it was not checked on, and the process records that it runs compiled."""
    from workflows import calculators

    monkeypatch.setattr(calculators, "COMPILE_STATUS", {})
    compiled = calculators.ml_calculator("7net-0", threads=1, compiled=True)
    for seed in (1, 2, 3):  # a fresh calculator per image, as in a band: one compiled model per process
        atoms = _rattled_licoo2(seed)
        energy, forces = _energy_forces(atoms, calculators.ml_calculator("7net-0", threads=1))
        c_energy, c_forces = _energy_forces(atoms, calculators.ml_calculator("7net-0", threads=1, compiled=True))
        assert c_energy == pytest.approx(energy, abs=1e-4)
        assert np.abs(c_forces - forces).max() < 1e-5
    assert calculators.COMPILE_STATUS == {"7net-0": "compiled"}
    _energy_forces(_rattled_licoo2(5), compiled)
    assert compiled.model is calculators._compiled_model("7net-0")


@pytest.mark.parametrize("breakage", ["compiler fails", "numbers differ"])
def test_a_compiled_model_that_fails_its_check_leaves_the_process_on_the_eager_model(monkeypatch, breakage):
    from workflows import calculators

    monkeypatch.setattr(calculators, "COMPILE_STATUS", {})
    if breakage == "compiler fails":
        def no_compiler(name):
            raise RuntimeError("no C compiler")

        monkeypatch.setattr(calculators, "_compiled_model", no_compiler)
    else:
        monkeypatch.setattr(calculators, "COMPILE_TOLERANCE", {"energy": -1.0, "forces": -1.0})  # any difference is too large
    atoms = _rattled_licoo2(4)
    eager = _energy_forces(atoms, calculators.ml_calculator("7net-0", threads=1))
    with pytest.warns(UserWarning, match="7net-0: eager"):
        first = _energy_forces(atoms, calculators.ml_calculator("7net-0", threads=1, compiled=True))
    later = calculators.ml_calculator("7net-0", threads=1, compiled=True)
    second = _energy_forces(atoms, later)
    assert later.model is calculators._load_model("7net-0")
    assert calculators.COMPILE_STATUS["7net-0"].startswith("eager")
    for result in (first, second):
        assert result[0] == eager[0] and np.array_equal(result[1], eager[1])  # bit for bit: the eager model


def test_a_multi_threaded_process_runs_the_eager_model(monkeypatch):
    """Compiled kernels on two torch threads crashed a process (double free): they run eager."""
    import torch

    from workflows import calculators

    monkeypatch.setattr(calculators, "COMPILE_STATUS", {})
    threads = torch.get_num_threads()
    atoms = _rattled_licoo2(6)
    try:
        calc = calculators.ml_calculator("7net-0", threads=2, compiled=True)
        energy, forces = _energy_forces(atoms, calc)
        assert calc.model is calculators._load_model("7net-0")
        assert calculators.COMPILE_STATUS == {}  # never compiled, never checked
    finally:
        torch.set_num_threads(threads)
    eager = _energy_forces(atoms, calculators.ml_calculator("7net-0", threads=2))
    torch.set_num_threads(threads)
    assert energy == pytest.approx(eager[0], abs=1e-4)  # two threads sum in either order: not bit for bit
    assert np.abs(forces - eager[1]).max() < 1e-5
