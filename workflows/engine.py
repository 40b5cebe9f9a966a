"""Pure functions that run calculations with an ASE calculator: relaxations and CI-NEB.

Jobs are thin wrappers over these, and tests call them directly. A calculation
that blows up (non-finite or absurd energies and forces) raises
:class:`UnphysicalResult`; one that runs out of steps reports ``converged=False``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from structures.failpoints import failpoint
from workflows.progress import step as progress_step

__all__ = ["UnphysicalResult", "RelaxOutcome", "NebOutcome", "BandMirror", "relax", "run_neb", "MAX_FORCE", "MAX_ENERGY_PER_ATOM"]

MAX_FORCE = 100.0  # eV/Å: beyond this a structure has blown up
MAX_ENERGY_PER_ATOM = 1.0e3  # eV/atom (absolute)


class UnphysicalResult(RuntimeError):
    """Energies or forces outside any physical range: the calculation is not trusted."""


@dataclass
class RelaxOutcome:
    structure: Structure
    energy: float
    converged: bool
    n_steps: int
    max_force: float
    wall_time: float


@dataclass
class NebOutcome:
    energies: list[float]
    images: list[Structure]
    converged: bool
    n_steps: int
    force_calls: int
    wall_time: float
    mirrored_calls: int = 0  # image evaluations carried over from the mirror image (run_neb's mirror)
    # the model against the mirror: the two end points' energies (eV), the first mirror image's
    # energy and forces (eV, eV/Å), the largest asymmetry of the central image's forces (eV/Å), and
    # whether the mirror held (with a mirror offered; None without)
    mirror_check: dict | None = None


def _check_physical(energy: float, forces: np.ndarray, n_atoms: int, what: str) -> None:
    if not np.isfinite(energy) or not np.all(np.isfinite(forces)):
        raise UnphysicalResult(f"{what}: non-finite energy or forces")
    if abs(energy) / max(n_atoms, 1) > MAX_ENERGY_PER_ATOM:
        raise UnphysicalResult(f"{what}: energy {energy / n_atoms:.3g} eV/atom is outside any physical range")
    fmax = float(np.linalg.norm(forces, axis=1).max()) if len(forces) else 0.0
    if fmax > MAX_FORCE:
        raise UnphysicalResult(f"{what}: force {fmax:.3g} eV/Å is outside any physical range")


FIXED_CELL_BFGS_ALPHA = 30.0  # eV/Å², initial Hessian of fixed-cell relaxations (see relax)
# eV/Å², initial Hessian of (L)BFGS on a band (see run_neb). Softer than a relaxation's: the Li on
# the path and its neighbours move farther per eV/Å. With SevenNet-0 to 0.05 eV/Å, 20 converged the
# LiCoO2 (107 atoms) and Li2MnO3 (95 atoms) hops in 57 and 52 calls, 30 in 72 and 57, 50 in - and
# 77, ODE in 72 and 67 (benchmarks/RESULTS.md). LBFGS from the same 20 took the same steps as BFGS.
BAND_BFGS_ALPHA = 20.0
BAND_LBFGS_MEMORY = 100  # steps of curvature LBFGS keeps: more than a band ever takes to converge
BAND_MAX_STEP = 0.1  # Å per image and step: a band moves in small steps (FIRE's and VTST's scale)


def relax(
    structure: Structure,
    calculator,
    fmax: float = 0.05,
    steps: int = 300,
    relax_cell: bool = False,
) -> RelaxOutcome:
    """Relax atoms (and the cell when asked) with BFGS; checks every step for blow-ups."""
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    start = time.perf_counter()
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = calculator
    target = FrechetCellFilter(atoms) if relax_cell else atoms
    # BFGS starts from a diagonal Hessian of ``alpha`` eV/Å²; ASE's 70 is stiffer than a
    # Li-vacancy cell of an oxide: 30 relaxed the three end points of the 96-atom Li2MnO3 cell
    # in 10, 10 and 9 calls instead of 14, 14 and 13 (SevenNet-0, to 0.05 eV/Å, energies equal
    # or lower by < 1 meV; benchmarks/RESULTS.md). Cell relaxations keep ASE's default.
    optimizer = BFGS(target, logfile=None, maxstep=0.2, alpha=70.0 if relax_cell else FIXED_CELL_BFGS_ALPHA)

    def guard():
        _check_physical(atoms.get_potential_energy(), atoms.get_forces(), len(atoms), "relaxation")
        failpoint("relax-step")
        progress_step("relax", optimizer.nsteps)

    optimizer.attach(guard, interval=1)
    converged = bool(optimizer.run(fmax=fmax, steps=steps))
    energy = float(atoms.get_potential_energy())
    forces = atoms.get_forces()
    _check_physical(energy, forces, len(atoms), "relaxation")
    relaxed = AseAtomsAdaptor.get_structure(atoms)
    for key, values in structure.site_properties.items():
        relaxed.add_site_property(key, values)
    return RelaxOutcome(
        structure=relaxed,
        energy=energy,
        converged=converged,
        n_steps=int(optimizer.nsteps),
        max_force=float(np.linalg.norm(forces, axis=1).max()),
        wall_time=time.perf_counter() - start,
    )


def _strict_neb_optimizer():
    from ase.mep.neb import NEBOptimizer

    class StrictNEBOptimizer(NEBOptimizer):
        """ASE's ODE band optimizer, converged on the criterion FIRE and VASP use.

        ASE 3.29's NEB residual leaves the climbing image out and takes the largest force
        *component*; a band "converged" that way can stop with the climbing image still far
        from the saddle. Here the residual is the largest per-atom force norm over every
        moving image, climbing image included (what FIRE's ``fmax`` means).
        """

        def get_residual(self, F=None, X=None):
            forces = self.neb.get_forces() if F is None else F
            return float(np.linalg.norm(np.reshape(forces, (-1, 3)), axis=1).max())

    return StrictNEBOptimizer


MIRROR_TOLERANCE = 1.0e-4  # Å: an image this close to its partner's mirror takes the partner's forces
# How far a model may miss its own mirror before a band stops using it. The hops' reversing
# operations are improper (an inversion or a mirror plane through the hop's midpoint), and not
# every model is invariant under them: on a shaken 47-atom LiCoO2 cell and its inversion, CHGNet
# gave the same energy and forces to 6e-6 eV/Å, SevenNet-0 (equivariant under rotations only,
# ``is_parity: false``) missed by 2e-4 eV and 6e-3 eV/Å, 7net-l3i5 and 7net-MF-0 by 1-3 meV and
# 0.02-0.03 eV/Å. A mirrored band is the model made parity-symmetric; that is accepted up to a
# fifth of the NEB's 0.05 eV/Å criterion, and refused beyond (the band then runs whole).
MIRROR_CHECK_ENERGY = 1.0e-3  # eV
MIRROR_CHECK_FORCE = 1.0e-2  # eV/Å


class BandMirror:
    """A hop's involution (structures.hops.HopMirror) acting on a band's ASE images.

    Any model that is invariant under rotations, translations and permutations of like atoms
    gives the mirror image of a structure the mirror energy and forces. So an image that sits
    at the mirror of its partner (within MIRROR_TOLERANCE) needs no model call.
    """

    def __init__(self, mirror, cell):
        self.mirror = mirror
        self.cell = np.array(cell, dtype=float)  # rows: lattice vectors
        self.inverse_cell = np.linalg.inv(self.cell)
        # Cartesian rotation of the fractional one (frac columns): M^T R M^-T
        self.rotation = self.cell.T @ np.asarray(mirror.rotation, dtype=float) @ self.inverse_cell.T
        self.permutation = np.asarray(mirror.permutation)

    def is_isometry(self) -> bool:
        """Whether the operation is a symmetry of this cell: a relaxed or user cell may have lost it."""
        return bool(np.allclose(self.rotation.T @ self.rotation, np.eye(3), atol=1e-6))

    def positions(self, source, like) -> np.ndarray:
        """Cartesian positions of the mirror of ``source``, each at the periodic image nearest ``like``'s atom."""
        frac = self.mirror.image_frac(source.positions @ self.inverse_cell)
        reference = like.positions @ self.inverse_cell
        return (frac + np.round(reference - frac)) @ self.cell

    def deviation(self, source, like) -> float:
        """How far (Å, largest over atoms) ``like`` is from the mirror of ``source``."""
        return float(np.linalg.norm(self.positions(source, like) - like.positions, axis=1).max())

    def forces(self, forces: np.ndarray) -> np.ndarray:
        out = np.empty_like(forces)
        out[self.permutation] = forces @ self.rotation.T
        return out


def _mirror_calculators(mirror: BandMirror, model_factory):
    """ASE calculators for the images of a mirror-symmetric band: the mirror of an evaluated image,
    and the central image, which is its own mirror. Both fall back to the model (lazily created,
    from ``model_factory``) wherever the band is not symmetric at that image (a climbing image off
    the centre, or the band drifting apart).

    A mirror image made with ``check=True`` (the band's first, evaluated before any other) also
    runs the model on its first call and compares: a model that does not give the mirror image
    the mirror energy and forces (not invariant under the operation) turns the mirror off for the
    whole band before any mirrored number is used. The central image checks at every call.
    ``state`` records the checks.
    """
    from ase.calculators.calculator import Calculator, all_changes

    state = {"on": True, "checked": None, "central": 0.0}

    class _Fallback(Calculator):
        implemented_properties = ["energy", "free_energy", "forces"]

        def __init__(self):
            super().__init__()
            self.model = None
            self.mirrored = 0

        def _model(self) -> tuple[float, np.ndarray]:
            if self.model is None:
                self.model = model_factory()
            atoms = self.atoms.copy()
            return float(self.model.get_potential_energy(atoms)), np.array(self.model.get_forces(atoms))

        def _store(self, energy: float, forces: np.ndarray) -> None:
            self.results = {"energy": energy, "free_energy": energy, "forces": forces}

    class MirrorImage(_Fallback):
        """Energy and forces of the partner image, carried over by the mirror."""

        def __init__(self, partner, check: bool = False):
            super().__init__()
            self.partner = partner
            self.check = check

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            if not (state["on"] and mirror.deviation(self.partner, self.atoms) <= MIRROR_TOLERANCE):
                self._store(*self._model())
                return
            energy, forces = float(self.partner.get_potential_energy()), mirror.forces(self.partner.get_forces())
            if self.check:
                self.check = False
                model_energy, model_forces = self._model()
                state["checked"] = (abs(model_energy - energy), float(np.abs(model_forces - forces).max()))
                if state["checked"][0] > MIRROR_CHECK_ENERGY or state["checked"][1] > MIRROR_CHECK_FORCE:
                    state["on"] = False
                    self._store(model_energy, model_forces)
                    return
                # held: the mirrored numbers, as at every later step (the model's own would break
                # the band's symmetry by the model's parity error at the first step)
            self.mirrored += 1
            self._store(energy, forces)

    class CentralImage(_Fallback):
        """The model's energy, and its forces made exactly mirror-symmetric (their float noise is
        not, and would break the band's symmetry step by step). Being its own mirror, it checks
        the model for free at every call: forces that are not their own mirror beyond float noise
        turn the mirror off (the central image comes before every mirror image)."""

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            energy, forces = self._model()
            if state["on"] and mirror.deviation(self.atoms, self.atoms) <= MIRROR_TOLERANCE:
                mirrored = mirror.forces(forces)
                asymmetry = float(np.abs(forces - mirrored).max())
                state["central"] = max(state["central"], asymmetry)
                if asymmetry > MIRROR_CHECK_FORCE:
                    state["on"] = False
                else:
                    forces = 0.5 * (forces + mirrored)
            self._store(energy, forces)

    return MirrorImage, CentralImage, state


def _mirror_band(atoms: list, mirror) -> BandMirror | None:
    """Make a band exactly mirror-symmetric and return its BandMirror, or None (band left as it
    is) where the cell has lost the operation or the band is not symmetric within MIRROR_TOLERANCE."""
    if mirror is None or len(atoms) < 4:
        return None
    band_mirror = BandMirror(mirror, atoms[0].cell)
    n = len(atoms) - 1
    if not band_mirror.is_isometry():
        return None
    if max(band_mirror.deviation(atoms[k], atoms[n - k]) for k in range(n // 2 + 1)) > MIRROR_TOLERANCE:
        return None
    for k in range(1, (n + 1) // 2):
        atoms[n - k].positions = band_mirror.positions(atoms[k], atoms[n - k])
    if n % 2 == 0:
        atoms[n // 2].positions = 0.5 * (atoms[n // 2].positions + band_mirror.positions(atoms[n // 2], atoms[n // 2]))
    return band_mirror


def run_neb(
    images: list[Structure],
    calculator_factory: Callable[[], object],
    fmax: float = 0.1,
    steps: int = 200,
    climb: bool = True,
    optimizer: str = "lbfgs",
    end_energies: tuple[float, float] | None = None,
    mirror=None,
) -> NebOutcome:
    """Climbing-image NEB (improved tangent) with one calculator per image.

    ``optimizer``: "lbfgs" (ASE's LBFGS on the whole band, from a soft diagonal Hessian: the
    fewest force calls on our Li hops, see benchmarks/RESULTS.md, without the O(n³)
    diagonalisation BFGS does every step), "bfgs" (ASE's BFGS: the same steps on our hops, and it
    takes the absolute value of a negative curvature, so it is the safer climber), "ode" (ASE's
    ``NEBOptimizer``, adaptive ODE integration of the band) or "fire" (FIRE, as atomate2). Each is
    converged on the same criterion: the largest per-atom force of every moving image, the
    climbing image included. Every intermediate image gets its own calculator, so no calculator
    state is shared between images. The fixed end points are evaluated once, or not at all where
    ``end_energies`` gives them: a relaxation just evaluated them at these very positions with
    this model, and a band needs only their energies.

    ``mirror`` (structures.hops.HopMirror): the involution of a hop between equivalent sites.
    Where the band is its own mirror, the model runs on its first half and its central image
    only, and the second half takes their mirrored energies and forces: the same band in about
    (n + 1) / 2n of the calls, for a model invariant under the operation (within
    MIRROR_CHECK_FORCE, checked on every band). Each image checks the symmetry again at every
    step, and one that has left it (a climbing image off the centre) is evaluated by the model.
    """
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.mep import NEB
    from ase.optimize import BFGS, FIRE, LBFGS

    _StrictNEBOptimizer = _strict_neb_optimizer()

    start = time.perf_counter()
    atoms = [AseAtomsAdaptor.get_atoms(s) for s in images]
    calls, model_calls = [0], [0]

    def model():  # a model evaluation is a call of a model calculator's calculate, nothing else
        calculator = calculator_factory()
        calculate = calculator.calculate

        def counted(*args, **kwargs):
            model_calls[0] += 1
            return calculate(*args, **kwargs)

        calculator.calculate = counted
        return calculator

    if end_energies is None:
        end_energies = []
        for a in (atoms[0], atoms[-1]):
            a.calc = calculator_factory()
            end_energies.append(float(a.get_potential_energy()))
        end_calls = 2
    else:
        end_energies = [float(e) for e in end_energies]
        end_calls = 0
    # one end is the other's mirror: equal energies, or the model does not hold to the mirror
    end_difference = abs(end_energies[0] - end_energies[1])
    band_mirror = _mirror_band(atoms, mirror) if end_difference <= MIRROR_CHECK_ENERGY else None
    n = len(atoms) - 1
    if band_mirror is None:
        for a in atoms[1:-1]:
            a.calc = model()
    else:
        MirrorImage, CentralImage, mirror_state = _mirror_calculators(band_mirror, model)
        for k in range(1, n):
            # images are evaluated in order: the first mirror image checks the model's invariance
            a = atoms[k]
            a.calc = model() if 2 * k < n else CentralImage() if 2 * k == n else MirrorImage(atoms[n - k], check=k == n // 2 + 1)
    if band_mirror is not None:  # one energy for both ends (they differ by float noise)
        end_energies = [0.5 * (end_energies[0] + end_energies[1])] * 2
    for a, energy in zip((atoms[0], atoms[-1]), end_energies):
        a.calc = SinglePointCalculator(a, energy=energy)
    band = NEB(atoms, climb=climb, k=0.1, method="improvedtangent")

    def guard():
        for a in atoms[1:-1]:
            _check_physical(a.get_potential_energy(), a.get_forces(), len(a), "NEB image")

    original = band.get_forces

    def counted_forces():  # band evaluations, for progress (a repeated one at the same positions is cached)
        calls[0] += 1
        forces = original()
        guard()
        failpoint("neb-step")
        progress_step("neb", calls[0])
        return forces

    band.get_forces = counted_forces
    optimizer = str(getattr(optimizer, "value", optimizer)).lower()
    if optimizer == "ode" and len(atoms) - 2 < 2:
        # ASE's NEBOptimizer cannot run a band of one climbing image (its residual array is
        # empty); FIRE can, so a one-image band uses FIRE whatever was asked
        optimizer = "fire"
    # ASE's optimizers converge a band on the largest per-atom force of every moving image,
    # climbing image included: the criterion the ODE optimizer is given
    if optimizer == "lbfgs":
        runner = LBFGS(
            band, logfile=None, maxstep=BAND_MAX_STEP, alpha=BAND_BFGS_ALPHA, memory=BAND_LBFGS_MEMORY
        )
    elif optimizer == "bfgs":
        runner = BFGS(band, logfile=None, maxstep=BAND_MAX_STEP, alpha=BAND_BFGS_ALPHA)
    elif optimizer == "ode":
        runner = _StrictNEBOptimizer(band, method="ode", logfile=None)
    elif optimizer == "fire":
        runner = FIRE(band, logfile=None)
    else:
        raise ValueError(f"unknown NEB optimizer '{optimizer}' (known: lbfgs, bfgs, ode, fire)")
    from threadpoolctl import threadpool_limits

    # one BLAS thread for the optimizer's linear algebra (BFGS diagonalises the band Hessian every
    # step): the same steps, to the last digit, in a worker process and in the main one, and no
    # BLAS pool contending with the model's threads (on a loaded 2-core machine a two-thread eigh
    # of a 95-atom band took 2.5 s instead of 0.5)
    with threadpool_limits(1, user_api="blas"):
        converged = bool(runner.run(fmax=fmax, steps=steps))
    # ASE's ode12r (3.29) falls out of its loop without raising when it runs out of steps, so
    # NEBOptimizer.run then reports an unconverged band as converged: judge by the band's
    # own residual (the largest image force, climbing image included) instead
    band_forces = original().reshape(len(atoms) - 2, -1, 3)  # cached: no new force evaluation
    residual = float(np.linalg.norm(band_forces, axis=2).max()) if band_forces.size else 0.0
    converged = converged and residual <= fmax * (1 + 1e-9)
    energies = [end_energies[0]] + [float(a.get_potential_energy()) for a in atoms[1:-1]] + [end_energies[1]]
    n_steps = int(runner.nsteps)
    return NebOutcome(
        energies=energies,
        images=[AseAtomsAdaptor.get_structure(a) for a in atoms],
        converged=converged,
        n_steps=n_steps,
        force_calls=end_calls + model_calls[0],
        wall_time=time.perf_counter() - start,
        mirrored_calls=sum(getattr(a.calc, "mirrored", 0) for a in atoms[1:-1]),
        mirror_check=None if mirror is None else {"held": False, "end_energy_difference": end_difference} if band_mirror is None else {
            "end_energy_difference": end_difference,
            "energy_difference": None if mirror_state["checked"] is None else mirror_state["checked"][0],
            "force_difference": None if mirror_state["checked"] is None else mirror_state["checked"][1],
            "central_force_asymmetry": mirror_state["central"] if n % 2 == 0 else None,
            "held": mirror_state["on"],
        },
    )
