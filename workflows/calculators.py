"""Calculators behind the backends, imported lazily with an error that says what to install.

Default model: SevenNet-0 (``DEFAULT_MODEL``), chosen on the validation set of DFT Li barriers
(``shared/validation``: LiCoO2 and LiNiO2, mono-vacancy ODH and di-vacancy TSH) by
``benchmarks/model_accuracy.py``, with lrox's own NEB path, 107-atom cells (table, date and machine
in ``benchmarks/RESULTS.md``). Accuracy decides first: SevenNet-0 has the lowest MAE (0.125 eV;
CHGNet 0.3.0, the old default, 0.162 eV), TSH < ODH in both hosts, and no other model lies within
0.03 eV of it, so speed (CHGNet is about 1.7x faster per hop) does not enter. SevenNet-l3i5 and
SevenNet-MF-0 (PBE modal) were stopped once their MAE could no longer reach SevenNet-0's: both
misplace the LiCoO2 lattice (l3i5 6 % too small a volume, MF-0 11 % too large), and the ODH
barrier follows the Li-slab spacing. Both models soften the barriers (signed error about
−0.10 eV), as universal potentials trained on near-equilibrium data do; each barrier carries its
level's validation MAE as ``expected_error``.

What each model's energies mean (its level of theory, its O2 correction, its validation error)
is physics and lives in :mod:`descriptors.physics.levels`; this module makes the calculators.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache

from descriptors.physics.levels import ML_MODELS, MlModel, committee_members
from structures.errors import LroxInputError

__all__ = ["check_model", "compiles", "ml_calculator", "mock_calculator", "code_versions"]


INSTALL_HINT = "pip install 'lrox[mlip]' (torch==2.13.0 first, then chgnet and sevenn)"


def check_model(name) -> MlModel:
    """The model, or a one-line error if it is unknown or its package is not installed (a committee:
    every member is checked, the first returned)."""
    if isinstance(name, list | tuple):
        return [check_model(member) for member in name][0]
    model = ML_MODELS.get(str(name).lower())
    if model is None:
        raise LroxInputError(f"unknown ML model '{name}' (known: {', '.join(ML_MODELS)})")
    if importlib.util.find_spec(model.package) is None:
        raise LroxInputError(f"ML model '{name}' needs the '{model.package}' package, which is not installed: {INSTALL_HINT}")
    return model


# glibc's malloc hands every block above its mmap threshold (128 kB, raised only as blocks are
# freed) back to the kernel, so each force call of a graph network page-faults its tens of
# megabytes of edge tensors in again: a third of a SevenNet-0 call on the 96-atom Li2MnO3 cell went
# to zero-filling fresh pages (torch profiler). Keeping blocks up to 32 MB on the heap, and the
# freed heap in the process, makes that call 1.2x faster (2.9 -> 2.4 s, one thread) with
# bit-identical numbers: the same operations on reused memory (benchmarks/RESULTS.md, per call).
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3  # mallopt parameters (malloc.h)
ALLOCATOR_SETTINGS = {_M_MMAP_THRESHOLD: 32 * 2**20, _M_TRIM_THRESHOLD: 2**30, _M_TOP_PAD: 256 * 2**20}


@lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Tell glibc's allocator to keep freed tensor memory in the process (once per process).

    True where it took effect; False on another C library (musl, macOS), which is left alone.
    """
    import ctypes
    import ctypes.util
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return all(libc.mallopt(param, value) == 1 for param, value in ALLOCATOR_SETTINGS.items())
    except (OSError, AttributeError):
        return False


def _set_threads(threads: int | None) -> None:
    keep_freed_memory()
    if threads:
        import torch

        torch.set_num_threads(int(threads))


@lru_cache(maxsize=8)
def _load_model(name: str):
    """The model weights, loaded once per process (each calculator then wraps the same weights)."""
    model = ML_MODELS[name]
    if model.package == "chgnet":
        from chgnet.model import CHGNet

        return CHGNet.load(model_name=model.checkpoint, verbose=False)
    from sevenn.calculator import SevenNetCalculator

    return SevenNetCalculator(model.checkpoint, device="cpu", modal=model.modal).model


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


# torch.compile (inductor) fuses the many small element-wise products of SevenNet's equivariant
# convolutions and their backward pass, which the eager call spends most of its time on (aten::mul,
# fill_, sum: 55 % of a 96-atom call, torch profiler). Measured on the 96-atom Li2MnO3 cell, one
# thread: 1.25-1.5 s a call against 1.8-2.5 s eager (1.6x); forces equal to 8e-7 eV/Å, energies
# identical. Compiling costs about 40 s once per process (120 s with a cold inductor cache), so it
# pays after a few dozen calls: a screen's worker processes, not a single small calculation.
# The first compiled call of each process is checked against the eager model; any difference
# above COMPILE_TOLERANCE, or a compiler that fails, leaves that process on the eager model.
# Only one-thread processes (a screen's workers) compile: with two torch threads the first
# compiled call on the 107-atom LiCoO2 cell killed the process ("double free or corruption",
# torch 2.13.0+cpu, with or without the allocator setting), so a multi-threaded call runs eager.
COMPILE_TOLERANCE = {"energy": 1e-3, "forces": 1e-4}  # eV, eV/Å
COMPILE_STATUS: dict[str, str] = {}  # model name -> "compiled" | why this process runs it eagerly


@lru_cache(maxsize=8)
def _compiled_model(name: str):
    """A copy of the model whose interaction blocks run through torch.compile (compiled lazily, on first use)."""
    import copy

    import torch
    import torch._dynamo

    # the five interaction blocks share module classes of different widths: each is its own graph
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
    model = copy.deepcopy(_load_model(name))
    for key, module in list(model._modules.items()):
        if key[:1].isdigit():  # '0_convolution', '3_equivariant_gate', ...: the interaction blocks
            model._modules[key] = torch.compile(module, dynamic=True)
    return model


def compiles(name: str) -> bool:
    """Whether ``ml_calculator(name, compiled=True)`` would run the compiled model in this process
    now: a SevenNet model on one torch thread (see the note above)."""
    return check_model(name).package == "sevenn" and _one_thread()


def _one_thread() -> bool:
    import torch

    return torch.get_num_threads() == 1


def _compiled_agrees(eager: dict, compiled: dict) -> str:
    """"compiled" where the compiled model's numbers match the eager ones, else why not."""
    import numpy as np

    d_energy = abs(compiled["energy"] - eager["energy"])
    d_forces = float(np.abs(compiled["forces"] - eager["forces"]).max())
    if d_energy <= COMPILE_TOLERANCE["energy"] and d_forces <= COMPILE_TOLERANCE["forces"]:
        return "compiled"
    return f"eager: compiled model differed ({d_energy:.1e} eV, {d_forces:.1e} eV/Å)"


@lru_cache(maxsize=1)
def _compiled_sevennet():
    from ase.calculators.calculator import all_changes
    from sevenn.calculator import SevenNetCalculator

    class CompiledSevenNet(SevenNetCalculator):
        """SevenNet on the compiled model where :func:`compiles`, checked against the eager model
        on its process's first call; on the eager model otherwise."""

        def __init__(self, model: MlModel):
            super().__init__(_load_model(model.name), device="cpu", modal=model.modal)
            self.model_name = model.name

        def calculate(self, atoms=None, properties=None, system_changes=all_changes):
            name = self.model_name
            one_thread = _one_thread()  # compiles(name), without re-checking the model on every call
            if one_thread and name not in COMPILE_STATUS:
                return self._first_call(atoms, properties, system_changes)
            compiled = one_thread and COMPILE_STATUS[name] == "compiled"
            self.model = _compiled_model(name) if compiled else _load_model(name)
            super().calculate(atoms, properties, system_changes)

        def _first_call(self, atoms, properties, system_changes):
            """Both models on the same atoms: the process keeps the compiled one only if it agrees
            (or stays eager, with a warning); this call returns the eager numbers either way."""
            import warnings

            name = self.model_name
            self.model = _load_model(name)
            super().calculate(atoms, properties, system_changes)
            eager = dict(self.results)
            try:
                self.model = _compiled_model(name)
                super().calculate(atoms, properties, system_changes)
                COMPILE_STATUS[name] = _compiled_agrees(eager, self.results)
            except Exception as exc:  # noqa: BLE001 - no C compiler, an unsupported op: eager it is
                COMPILE_STATUS[name] = f"eager: torch.compile failed ({type(exc).__name__})"
            if COMPILE_STATUS[name] != "compiled":
                warnings.warn(f"{name}: {COMPILE_STATUS[name]}", stacklevel=3)
                self.model = _load_model(name)
            self.results = eager

    return CompiledSevenNet


def ml_calculator(name: str, threads: int | None = None, compiled: bool = False):
    """A fresh ASE calculator for the model (one per NEB image: they must not share state).

    ``compiled``: SevenNet models run through torch.compile (1.6x per call after ~40 s of
    compiling per process; see COMPILE_TOLERANCE) where torch runs one thread, eager otherwise;
    CHGNet is unaffected.
    """
    model = check_model(name)
    _set_threads(threads)
    if model.package == "chgnet":
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):  # it announces its device on every construction
            return _energy_forces_chgnet()(model=_load_model(model.name), use_device="cpu")
    if compiled:
        return _compiled_sevennet()(model)
    from sevenn.calculator import SevenNetCalculator

    return SevenNetCalculator(_load_model(model.name), device="cpu", modal=model.modal)


def mock_calculator(fail: bool = False, blow_up: bool = False, mobile: tuple[int, ...] = ()):
    """Deterministic toy ionic potential (numpy, fast): plumbing only, never physics.

    Cation–anion pairs attract (Morse, minimum at 2.05 Å, depth 0.5 eV), like pairs repel
    (Born–Mayer, 200 eV · exp(−r/0.35 Å)), all smoothly cut off between 3.0 and 3.5 Å. So that
    the mock has an equilibrium near any structure it is given (a toy pair potential alone does
    not hold rock salt: its bands fell 3.8 eV into a rearranged cell), every atom is tied by a
    spring (2 eV/Å², in fractional coordinates) to where the calculator first sees it, and the
    cell to the first cell (E = ½ B V₀ Σ ε², ε the Green–Lagrange strain, B = 40 eV/Å³). Atoms in
    ``mobile`` are free: a band's calculators leave the moving Li (the last site) free, so a Li
    squeezing through an O–O edge meets a real interior maximum. A relaxed cell stays within
    about 1 % of its input. (Pure repulsion, the first mock, had no equilibrium: its cells
    swelled until every pair left the cutoff, every energy was zero, and whether a band had a
    maximum was a knife-edge.)

    ``fail=True`` gives a calculator that raises on first use; ``blow_up=True`` one whose forces
    are 10^4 times too large (a diverged SCF, a broken potential): both for failure-handling tests.
    """
    import numpy as np
    from ase.calculators.calculator import Calculator, all_changes
    from ase.neighborlist import neighbor_list

    from structures.labels import ANIONS

    class _ToyIonic(Calculator):
        implemented_properties = ["energy", "free_energy", "forces", "stress"]
        amplitude, rho = 200.0, 0.35  # eV, Å: like-pair Born–Mayer repulsion
        depth, stiffness, bond = 0.5, 2.0, 2.05  # eV, 1/Å, Å: cation–anion Morse attraction
        taper_on, cutoff = 3.0, 3.5  # Å: cosine taper to zero
        bulk_modulus = 40.0  # eV/Å³: elastic tether of the cell to the first one seen
        spring = 2.0  # eV/Å²: anchors of the atoms to their first positions

        def __init__(self):
            super().__init__()
            self.reference_cell = self.reference_frac = None

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            if fail:
                raise RuntimeError("mock calculator forced to fail")
            cell = np.array(self.atoms.cell)
            if self.reference_cell is None:
                self.reference_cell = cell.copy()
                self.reference_frac = self.atoms.get_scaled_positions(wrap=False).copy()
            anion = np.array([s in ANIONS for s in self.atoms.get_chemical_symbols()])
            i, j, d, vec = neighbor_list("ijdD", self.atoms, self.cutoff)
            unlike = anion[i] != anion[j]
            decay = np.exp(-self.stiffness * (d - self.bond))
            morse = self.depth * ((1 - decay) ** 2 - 1)
            d_morse = 2 * self.depth * self.stiffness * (1 - decay) * decay
            born = self.amplitude * np.exp(-d / self.rho)
            phi = np.where(unlike, morse, born)
            dphi = np.where(unlike, d_morse, -born / self.rho)
            x = np.clip((d - self.taper_on) / (self.cutoff - self.taper_on), 0.0, 1.0)
            taper = 0.5 * (1 + np.cos(np.pi * x))
            d_taper = np.where((x > 0) & (x < 1), -0.5 * np.pi * np.sin(np.pi * x) / (self.cutoff - self.taper_on), 0.0)
            pair, d_pair = phi * taper, dphi * taper + phi * d_taper
            energy = 0.5 * pair.sum()  # every pair is listed twice
            forces = np.zeros((len(self.atoms), 3))
            np.add.at(forces, j, -(d_pair / d)[:, None] * vec)  # (j, i) is listed too: i gets its share
            virial = 0.5 * np.einsum("k,ka,kb->ab", d_pair / d, vec, vec)
            # anchors: u = displacement from the first (fractional) position, at the current cell
            anchored = np.ones(len(self.atoms), dtype=bool)
            anchored[list(mobile)] = False
            shift = self.atoms.get_scaled_positions(wrap=False) - self.reference_frac
            u = (shift - np.round(shift)) @ cell
            u[~anchored] = 0.0
            energy += 0.5 * self.spring * float(np.sum(u**2))
            forces -= self.spring * u
            virial += self.spring * u.T @ u
            # the tether: deformation F = ref⁻¹·cell (row vectors), strain ε = ½(FᵀF − I)
            deformation = np.linalg.solve(self.reference_cell, cell)
            strain = 0.5 * (deformation.T @ deformation - np.eye(3))
            v0 = abs(np.linalg.det(self.reference_cell))
            energy += 0.5 * self.bulk_modulus * v0 * float(np.sum(strain**2))
            virial += self.bulk_modulus * v0 * deformation @ strain @ deformation.T
            stress = (virial / self.atoms.get_volume())[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
            if blow_up:
                energy, forces = energy * 1.0e4, forces * 1.0e4 + 1.0e3
            self.results = {"energy": energy, "free_energy": energy, "forces": forces, "stress": stress}

    return _ToyIonic()


@lru_cache(maxsize=64)
def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def code_versions(backend: str, settings: dict) -> dict[str, str]:
    """Versions of the codes (and model weights) that produced a result: part of every cache key."""
    names = ["lrox", "pymatgen", "ase", "jobflow", "atomate2"]
    if backend == "gpaw":
        names += ["gpaw", "gpaw-data", "baderkit"]
    if backend == "mlip":
        names += ["torch", *sorted({ML_MODELS[m].package for m in committee_members(settings) if m in ML_MODELS})]
    out = {name: _version(name) for name in names}
    if backend == "mlip":
        out["weights"] = ", ".join(f"{m}: {ML_MODELS[m].checkpoint}" for m in committee_members(settings) if m in ML_MODELS)
    return out
