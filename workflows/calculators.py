"""Calculators behind the backends, imported lazily with an error that says what to install.

Default model: CHGNet. Measured on the LiCoO2 in-plane Li hop (107 atoms, DFT 0.672 eV,
``benchmarks/model_accuracy.py``): CHGNet 0.511 eV in 133 s, SevenNet-0 0.497 eV in 183 s on 2
cores; CHGNet is both closer to DFT and faster (accuracy decides first, speed second).

Each ML model is its own level of theory: CHGNet energies carry Materials
Project-style corrections (about 0.6 eV/atom below SevenNet's raw ones), so an
energy difference only ever mixes numbers from one model.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache

from structures.errors import LroxInputError

__all__ = ["MlModel", "ML_MODELS", "check_model", "ml_calculator", "mock_calculator", "level_of_theory"]


@dataclass(frozen=True)
class MlModel:
    name: str
    package: str
    description: str


ML_MODELS = {
    "chgnet": MlModel("chgnet", "chgnet", "CHGNet 0.3.0 universal potential (MPtrj, GGA/GGA+U with MP2020 corrections)"),
    "7net-0": MlModel("7net-0", "sevenn", "SevenNet-0 universal potential (MPtrj, raw GGA/GGA+U energies)"),
}
INSTALL_HINT = "pip install 'lrox[mlip]' (torch==2.13.0 first, then chgnet and sevenn)"


def check_model(name: str) -> MlModel:
    """The model, or a one-line error if it is unknown or its package is not installed."""
    model = ML_MODELS.get(str(name).lower())
    if model is None:
        raise LroxInputError(f"unknown ML model '{name}' (known: {', '.join(ML_MODELS)})")
    if importlib.util.find_spec(model.package) is None:
        raise LroxInputError(f"ML model '{name}' needs the '{model.package}' package, which is not installed: {INSTALL_HINT}")
    return model


def _set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(int(threads))


@lru_cache(maxsize=4)
def _load_model(name: str):
    """The model weights, loaded once per process (each calculator then wraps the same weights)."""
    if name == "chgnet":
        from chgnet.model import CHGNet

        return CHGNet.load(verbose=False)
    return None


@lru_cache(maxsize=1)
def _energy_forces_chgnet():
    """CHGNet's ASE calculator, computing stress and magnetic moments only when asked.

    The stock calculator always runs task 'efsm'; fixed-cell relaxations and NEB need only
    energies and forces, which take half the time (0.46 s against 0.99 s per call for a
    48-atom Li2MnO3 cell, measured here). Numbers are identical: the same model, fewer outputs.
    """
    from chgnet.model.dynamics import CHGNetCalculator

    class EnergyForcesCHGNet(CHGNetCalculator):
        def calculate(self, atoms=None, properties=None, system_changes=None, task=None):
            wanted = set(properties or ("energy", "forces"))
            task = task or ("efs" if "stress" in wanted else "ef") + ("m" if "magmoms" in wanted else "")
            super().calculate(atoms=atoms, properties=list(wanted), system_changes=system_changes, task=task)

    return EnergyForcesCHGNet


def ml_calculator(name: str, threads: int | None = None):
    """A fresh ASE calculator for the model (one per NEB image: they must not share state)."""
    model = check_model(name)
    _set_threads(threads)
    if model.name == "chgnet":
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):  # it announces its device on every construction
            return _energy_forces_chgnet()(model=_load_model("chgnet"), use_device="cpu")
    from sevenn.calculator import SevenNetCalculator

    return SevenNetCalculator("7net-0", device="cpu")


def mock_calculator(fail: bool = False, blow_up: bool = False):
    """Deterministic Born-Mayer repulsion between all atoms (numpy, fast): plumbing only, never physics.

    ``fail=True`` gives a calculator that raises on first use; ``blow_up=True`` one whose forces
    are 10^4 times too large (a diverged SCF, a broken potential): both for failure-handling tests.
    """
    import numpy as np
    from ase.calculators.calculator import Calculator, all_changes
    from ase.neighborlist import neighbor_list

    class _Repulsion(Calculator):
        implemented_properties = ["energy", "free_energy", "forces", "stress"]
        amplitude, rho, cutoff = 200.0, 0.35, 3.5  # eV, Å, Å

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            if fail:
                raise RuntimeError("mock calculator forced to fail")
            i, j, d, vec = neighbor_list("ijdD", self.atoms, self.cutoff)
            pair = self.amplitude * np.exp(-d / self.rho)
            energy = 0.5 * pair.sum()
            # dE/dr along each pair vector; each pair appears twice in the list
            f_pair = (pair / self.rho)[:, None] * vec / d[:, None]
            forces = np.zeros((len(self.atoms), 3))
            np.add.at(forces, j, f_pair)  # force on j pushes it away from i; (j, i) is listed too
            # stress = (1/V) dE/dstrain; every pair is listed twice, hence the half
            dphi = -(pair / self.rho) / d
            virial = 0.5 * np.einsum("k,ka,kb->ab", dphi, vec, vec) / self.atoms.get_volume()
            stress = virial[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
            if blow_up:
                energy, forces = energy * 1.0e4, forces * 1.0e4 + 1.0e3
            self.results = {"energy": energy, "free_energy": energy, "forces": forces, "stress": stress}

    return _Repulsion()


def level_of_theory(backend: str, settings: dict) -> str:
    """A short, stored name for where a number came from."""
    if backend == "mlip":
        model = ML_MODELS.get(str(settings.get("model", "")).lower())
        return f"MLIP {model.name}" if model else f"MLIP {settings.get('model')}"
    if backend == "vasp":
        return "VASP PBE+U (MP-compatible)"
    if backend == "gpaw":
        from workflows.gpaw_static import MP_U

        hubbard = settings.get("hubbard_u") or {}
        u = "MP U values" if hubbard == MP_U else ", ".join(f"U({el}) {v:g}" for el, v in sorted(hubbard.items())) or "no U"
        return f"GPAW {settings.get('xc', 'PBE')}+U ({u}; PW {settings.get('ecut', 400):g} eV)"
    if settings.get("emulate") == "vasp":
        return "mock VASP emulation (atomate2 jobs; Born-Mayer energies, model DOS: not physics)"
    return "mock (Born-Mayer repulsion, not physics)"


def code_versions(backend: str, settings: dict) -> dict[str, str]:
    """Versions of the codes that produced a result."""
    from importlib.metadata import PackageNotFoundError, version

    names = ["lrox", "pymatgen", "ase", "jobflow", "atomate2"]
    if backend == "gpaw":
        names += ["gpaw", "gpaw-data", "baderkit"]
    if backend == "mlip":
        names += ["torch", ML_MODELS.get(str(settings.get("model", "")).lower(), ML_MODELS["chgnet"]).package]
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out
