"""The mock screen gives the same numbers on any machine: thread counts and BLAS kernels change
nothing a test reads. (A cluster test once failed on a second machine because the mock's cell
swelled until every pair left the cutoff, and whether a band had a maximum became a knife-edge.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
MOCK_SPEC = ROOT / "examples" / "mock_quick.yaml"

# what the run inherits from the machine: threads, and the BLAS kernels OpenBLAS picks for the CPU
# (Prescott: the generic SSE3 kernels any x86-64 runs; unforced: the fastest this CPU has)
VARIANTS = {
    "machine defaults": {},
    "one thread": {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    "generic BLAS kernels, one thread": {"OPENBLAS_CORETYPE": "Prescott", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
}


def _mock_screen(folder: Path, env: dict) -> dict:
    folder.mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "OPENBLAS_", "MKL_"))}
    code = "from launch.cli import main; raise SystemExit(main(['run', %r, '--db', 'sqlite:///lrox.db']))" % str(MOCK_SPEC)
    done = subprocess.run([sys.executable, "-c", code], cwd=folder, env={**clean, **env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads((folder / "lrox-out" / "mock_quick" / "results.json").read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("variants")
    return {name: _mock_screen(base / f"v{k}", env) for k, (name, env) in enumerate(VARIANTS.items())}


def _nebs(result: dict) -> dict:
    return {d["label"]: d for d in result["documents"] if d["kind"] == "neb"}


# Measured (2026-12-02): the thread count changes no energy (0.0 eV, bit for bit), and forcing
# OpenBLAS's generic kernels moves the mock's band energies by at most 5e-11 eV. Before, it moved
# one hop's by 5.3e-3 eV: ASE's IDPP paired each atom with one minimum image of each other atom,
# and in the 24-atom C2/m cell two images tie, so the pair force's direction (and the initial band,
# by 5e-3 Å) followed the last bit of the arithmetic. lrox's IDPP sums both
# (structures.hops.periodic_idpp_calculators).
ACROSS_THREADS = 1e-9  # eV
ACROSS_BLAS_KERNELS = 1e-6  # eV


def test_mock_hop_energies_agree_to_a_micro_ev_across_threads_and_blas_kernels(runs):
    reference = _nebs(runs["machine defaults"])
    assert len(reference) == 6
    for name, result in runs.items():
        nebs = _nebs(result)
        assert nebs.keys() == reference.keys(), name
        tolerance = ACROSS_BLAS_KERNELS if "BLAS" in name else ACROSS_THREADS
        for label, neb in nebs.items():
            assert neb["status"] == "success", (name, label, neb.get("reason"))
            assert np.allclose(neb["energies"][:: len(neb["energies"]) - 1], reference[label]["energies"][:: len(neb["energies"]) - 1], rtol=0, atol=1e-9), (name, label)
            assert np.allclose(neb["energies"], reference[label]["energies"], rtol=0, atol=tolerance), (name, label)


def test_the_mock_host_keeps_its_cell_and_every_band_has_an_interior_maximum(runs):
    from pymatgen.core import Structure

    from descriptors.physics.barriers import migration_barrier
    from structures.hosts import load_host
    from structures.supercell import parse_supercell

    result = runs["machine defaults"]
    host = next(d for d in result["documents"] if d["kind"] == "relax" and d["label"].startswith("relax pristine"))
    relaxed = Structure.from_dict(host["structure"]).lattice
    given = load_host("li2mno3").structure.copy()
    given.make_supercell(parse_supercell("1x1x1"))
    for a, b in zip(relaxed.abc, given.lattice.abc):
        assert abs(a / b - 1) < 0.03  # a plumbing mock with an equilibrium: no swelling
    for label, neb in _nebs(result).items():
        barrier = migration_barrier(neb["energies"])
        assert not barrier.flat_band and not barrier.max_at_endpoint, label
        assert 0 < int(np.argmax(neb["energies"])) < len(neb["energies"]) - 1, label
