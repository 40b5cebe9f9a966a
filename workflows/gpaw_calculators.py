"""GPAW as an ASE calculator for fixed-cell relaxations and CI-NEB: the calculator layer only.

Pure functions in atomate2's style: :func:`gpaw_calculator` returns a GPAW calculator configured
like the statics (``workflows.gpaw_static``: PBE+U with the Materials Project U values through
GPAW setups ``{el: ':d,U'}``, ferromagnetic start moments, Γ-centred k-points from
``kpoint_mesh(lengths, kspacing)``), in plane waves (PW) or LCAO. It plugs into
``workflows.engine.relax`` (one calculator) and ``workflows.engine.run_neb`` (a factory: one
calculator per image, :class:`GpawImageFactory`), so an image keeps its own wave functions from
one band step to the next and its SCF after the first restarts from them.

What it guarantees:

- a cell above ``max_atoms`` is refused (:class:`~workflows.gpaw_static.CellTooLarge`) before
  GPAW is imported, naming the cell to use instead (for a Li2MnO3 supercell: its 2x1x1 cell, 48 atoms);
- an SCF that does not converge in ``max_scf_steps`` raises :class:`GpawScfNotConverged`, and the
  calculator refuses every later call: a failed SCF never becomes a number;
- every converged SCF's iteration count is kept on the calculator (``calc.lrox_scf_iterations``),
  read from GPAW's own SCF loop, so the reuse of wave functions between band steps can be checked;
- :func:`magnetic_moment_jumps` flags a band whose neighbouring images' total moments jump (an
  image that fell into another magnetic state: its energy is not on the same surface).

The mode and the basis are part of the level of theory (:func:`gpaw_level_of_theory`) and of the
settings (:meth:`GpawDftSettings.as_dict`, what a settings hash is taken of). The default mode was
chosen from measurements: benchmarks/RESULTS.md, "GPAW modes".
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from pathlib import Path

import numpy as np

from structures.errors import LroxInputError
from workflows.gpaw_static import INSTALL_HINT, MP_U, START_MOMENTS, CellTooLarge, GpawUnavailable, _setups, check_gpaw, kpoint_mesh

__all__ = [
    "GpawMode",
    "GpawDftSettings",
    "GpawScfNotConverged",
    "GpawImageFactory",
    "CellTooLarge",
    "GpawUnavailable",
    "INSTALL_HINT",
    "gpaw_level_of_theory",
    "dft_settings",
    "backend_settings",
    "gpaw_calculator",
    "smaller_cell_hint",
    "scf_iterations",
    "band_magnetic_moments",
    "magnetic_moment_jumps",
]


class GpawMode(str, Enum):
    PW = "pw"  # plane waves, cutoff ``ecut``
    LCAO = "lcao"  # linear combination of atomic orbitals, basis ``basis``


class GpawScfNotConverged(RuntimeError):
    """GPAW's SCF did not converge in ``max_scf_steps``: there is no energy and no force."""


_KIND_WORDS = {bool: "true or false", int: "a whole number from 0 to 10⁶", float: "a finite number within ±1e6", str: "text"}


@dataclass
class GpawDftSettings:
    """GPAW settings of a fixed-cell relaxation or a CI-NEB; recorded with every result.

    The physics defaults are the statics' (``GpawSettings``): the same U values, k-point rule,
    magnetic start, smearing and SCF energy criterion, so a PW relaxation and a PW static at the
    same cutoff are one level of theory.
    """

    # plane waves: on the 47-atom Li2MnO3 band an LCAO dzp SCF iteration cost more than a PW 400 eV
    # one, and its forces more again (benchmarks/RESULTS.md, "GPAW modes")
    mode: GpawMode = GpawMode.PW
    basis: str = "dzp"  # LCAO basis (GPAW's double-zeta polarised); PW mode starts its SCF from it too
    ecut: float = 400.0  # eV, plane-wave cutoff (PW mode)
    kspacing: float = 0.6  # Å⁻¹, Γ-centred mesh: n_i = ceil(2π / (a_i · kspacing))
    xc: str = "PBE"
    hubbard_u: dict[str, float] = field(default_factory=lambda: dict(MP_U))
    spin_polarized: bool = True
    magnetic_order: str = "ferromagnetic"
    smearing: float = 0.05  # eV, Fermi-Dirac width
    convergence_energy: float = 5.0e-4  # eV per valence electron (the statics' criterion)
    convergence_density: float = 1.0e-4  # electrons per valence electron (GPAW's default)
    # eV/Å, largest change of an atom's force between the last two SCF steps; None: not checked
    # (the error of the forces at the criteria above was measured: benchmarks/RESULTS.md)
    convergence_forces: float | None = None
    max_scf_steps: int = 300
    # Point-group symmetry off (time reversal kept): a band image or a relaxation that leaves a
    # symmetry of its start would otherwise stop GPAW (SymmetryBrokenError) in the middle of a band
    point_group_symmetry: bool = False
    max_atoms: int = 48  # larger cells are refused before any SCF
    relax_fmax: float = 0.05  # eV/Å
    relax_steps: int = 100
    neb_fmax: float = 0.05  # eV/Å, every moving image, the climbing image included
    neb_steps: int = 150
    n_images: int = 5
    magmom_jump: float = 0.5  # μB: neighbouring images' total moments further apart flag the band

    def __post_init__(self) -> None:
        try:
            self.mode = GpawMode(str(getattr(self.mode, "value", self.mode)).lower())
        except ValueError:
            raise LroxInputError(f"GPAW mode must be one of {[m.value for m in GpawMode]}, got '{self.mode}'") from None

    @classmethod
    def from_any(cls, settings: GpawDftSettings | dict | None) -> GpawDftSettings:
        """Settings from a dict (unknown keys refused: a typo would silently keep a default)."""
        if settings is None:
            return cls().validate()
        if isinstance(settings, cls):
            return settings.validate()
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(settings) - names)
        if unknown:
            raise LroxInputError(f"unknown GPAW setting(s) {unknown}; known: {sorted(names)}")
        return cls(**settings).validate()

    def _check_kinds(self) -> None:
        """Each setting of its kind before any is compared (YAML reads ``1e300`` as text, ``.nan`` as a
        number): a number finite and within ±1e6, a count a whole number from 0 to 10⁶, a switch true
        or false, a name text, U values finite numbers by element."""
        import math
        import types
        import typing

        from structures.doors.text import shown

        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            value, kind = getattr(self, f.name), hints[f.name]
            if f.name == "mode":
                continue
            if value is None and type(None) in typing.get_args(kind):
                continue
            if typing.get_origin(kind) in (typing.Union, types.UnionType):  # float | None
                kind = next(k for k in typing.get_args(kind) if k is not type(None))
            if kind is bool:
                ok = isinstance(value, bool)
            elif kind is int:
                ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10**6
            elif kind is float:
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and abs(value) <= 1e6
            elif kind is str:
                ok = isinstance(value, str) and len(value) <= 200
            else:  # hubbard_u: {element: U}
                ok = isinstance(value, dict) and all(
                    isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and abs(v) <= 100
                    for k, v in value.items())
            if not ok:
                raise LroxInputError(f"GPAW: {f.name} {shown(repr(value), 40)} is not {_KIND_WORDS.get(kind, 'a mapping of elements to U values (eV)')}")

    def validate(self) -> GpawDftSettings:
        self._check_kinds()
        if self.ecut <= 0 or self.kspacing <= 0 or self.smearing < 0 or self.max_atoms < 1:
            raise LroxInputError("GPAW: ecut and kspacing must be positive, smearing not negative, max_atoms at least 1")
        if self.convergence_energy <= 0 or self.convergence_density <= 0 or (self.convergence_forces is not None and self.convergence_forces <= 0):
            raise LroxInputError("GPAW: SCF convergence criteria must be positive")
        if self.max_scf_steps < 1 or self.relax_steps < 1 or self.neb_steps < 1 or self.n_images < 1:
            raise LroxInputError("GPAW: step limits and the number of images must be at least 1")
        if self.relax_fmax <= 0 or self.neb_fmax <= 0 or self.magmom_jump <= 0:
            raise LroxInputError("GPAW: fmax and the moment-jump threshold must be positive")
        if self.magnetic_order not in ("ferromagnetic", "nonmagnetic"):
            raise LroxInputError(f"GPAW: unknown magnetic_order '{self.magnetic_order}' (ferromagnetic, nonmagnetic)")
        if self.mode is GpawMode.LCAO and not self.basis:
            raise LroxInputError("GPAW: LCAO mode needs a basis (e.g. dzp)")
        return self

    @property
    def spin(self) -> bool:
        return self.spin_polarized and self.magnetic_order == "ferromagnetic"

    def as_dict(self) -> dict:
        """Plain JSON-able settings (mode as its value): what provenance stores and a hash is taken of."""
        out = asdict(self)
        out["mode"] = self.mode.value
        return out


def dft_settings(settings: dict | GpawDftSettings | None) -> GpawDftSettings:
    """The GPAW settings in a backend settings dict (which also holds workflow keys: the seed's
    level, the route, the cell, relax_host_cell): the keys GPAW's settings know, nothing else."""
    if settings is None or isinstance(settings, GpawDftSettings):
        return GpawDftSettings.from_any(settings)
    names = {f.name for f in fields(GpawDftSettings)}
    return GpawDftSettings.from_any({k: v for k, v in settings.items() if k in names})


def backend_settings(settings: GpawDftSettings | dict | None = None) -> dict:
    """The gpaw backend's settings dict (what provenance records and the jobs read): GPAW's settings
    plus how the workflow uses them. Relaxations keep the cell (LCAO has no stress; a host keeps its
    input lattice); a band runs whole (no mirror: it saves ML calls, and a DFT band is checked on
    its own SCFs), with ASE's LBFGS (the fewest force calls on lrox's Li hops, benchmarks/RESULTS.md)."""
    return {**GpawDftSettings.from_any(settings).as_dict(), "relax_host_cell": False, "neb_mirror": False, "neb_optimizer": "lbfgs"}


def gpaw_level_of_theory(settings: GpawDftSettings | dict | None = None) -> str:
    """The level's name, with the mode and its basis: 'GPAW PBE+U (MP U values; PW 400 eV)' or
    'GPAW PBE+U (MP U values; LCAO dzp)' (the statics' wording, so a PW relaxation and a PW static
    at one cutoff read as one level). The registry of levels names it
    (:func:`descriptors.physics.levels.gpaw_level`)."""
    from descriptors.physics.levels import gpaw_level

    return gpaw_level(GpawDftSettings.from_any(settings).as_dict())


def _symbols_cell(atoms_or_structure) -> tuple[list[str], np.ndarray]:
    if hasattr(atoms_or_structure, "get_chemical_symbols"):  # ASE Atoms
        return list(atoms_or_structure.get_chemical_symbols()), np.array(atoms_or_structure.cell[:], dtype=float)
    return [site.specie.symbol for site in atoms_or_structure], np.array(atoms_or_structure.lattice.matrix, dtype=float)


def smaller_cell_hint(atoms_or_structure, max_atoms: int) -> str:
    """Which cell to use instead of one above ``max_atoms``.

    A diagonal supercell of a built-in host (within 10 % strain, so a relaxed lattice counts) gets
    the host's supercell of at most ``max_atoms`` atoms that keeps a defect farthest from its
    images (Li2MnO3 at 48: 2x1x1); any other cell gets the plain limit.
    """
    from pymatgen.core import Lattice

    from structures.hosts import BUILTIN_HOSTS, load_host
    from structures.supercell import min_image_distance

    symbols, cell = _symbols_cell(atoms_or_structure)
    for name in sorted(BUILTIN_HOSTS):
        host = load_host(name).structure
        if not set(symbols) & set(host.symbol_set) or len(host) > max_atoms:
            continue
        ratio = cell @ np.linalg.inv(host.lattice.matrix)
        dims = np.round(ratio)
        if np.any(np.abs(dims - np.diag(np.diag(dims))) > 0) or np.any(np.diag(dims) < 1) or np.abs(ratio - dims).max() > 0.1 * np.diag(dims).max():
            continue
        best = None
        for multiples in itertools.product(range(1, max_atoms // len(host) + 1), repeat=3):
            n = len(host) * int(np.prod(multiples))
            if n > max_atoms:
                continue
            distance = min_image_distance(Lattice(np.diag(multiples) @ host.lattice.matrix))
            key = (-round(distance, 2), n, multiples)
            if best is None or key < best[0]:
                best = (key, multiples, n, distance)
        _, multiples, n, distance = best
        return (
            f"this is the {'x'.join(str(int(d)) for d in np.diag(dims))} cell of {name}: use its "
            f"{'x'.join(map(str, multiples))} cell ({n} atoms before defects, a defect {distance:.1f} Å from its image)"
        )
    return f"use a cell of at most {max_atoms} atoms"


def _refuse_large(atoms_or_structure, settings: GpawDftSettings) -> None:
    n = len(atoms_or_structure)
    if n > settings.max_atoms:
        raise CellTooLarge(
            f"{n} atoms exceed the GPAW limit of {settings.max_atoms} (gpaw max_atoms): an SCF this size would take "
            f"hours per step here; {smaller_cell_hint(atoms_or_structure, settings.max_atoms)}, or raise the limit"
        )


_STRICT_CLASS = None


def _strict_gpaw_class():
    """GPAW's ASE calculator that raises GpawScfNotConverged (and keeps raising) on a failed SCF,
    records each converged SCF's iterations, and calls ``calculate`` (the method engine.run_neb
    counts) whenever an energy or forces need an SCF."""
    global _STRICT_CLASS
    if _STRICT_CLASS is not None:
        return _STRICT_CLASS
    from gpaw import KohnShamConvergenceError
    from gpaw.new.ase_interface import ASECalculator

    class LroxGpaw(ASECalculator):
        lrox_failed: str | None = None

        def calculate_property(self, atoms, prop):
            if self.lrox_failed:
                raise GpawScfNotConverged(f"this calculator's SCF failed before ({self.lrox_failed}); no result is given")
            try:
                return super().calculate_property(atoms, prop)
            except KohnShamConvergenceError as exc:
                niter = getattr(getattr(self._dft, "scf_loop", None), "niter", "?")
                self.lrox_failed = f"not converged after {niter} SCF iterations (max_scf_steps {self.params.maxiter})"
                raise GpawScfNotConverged(f"GPAW SCF {self.lrox_failed}: no energy or forces") from exc

        def _needs(self, atoms, prop) -> bool:
            if self._dft is None:
                return True
            return prop not in self.dft.results or bool(self.check_state(atoms if atoms is not None else self.atoms))

        def get_potential_energy(self, atoms=None, force_consistent=False):
            prop = "free_energy" if force_consistent else "energy"
            if self._needs(atoms, prop):
                self.calculate(atoms, [prop])
            return self.calculate_property(atoms, prop)

        def get_forces(self, atoms=None):
            if self._needs(atoms, "forces"):
                self.calculate(atoms, ["energy", "forces"])
            return self.calculate_property(atoms, "forces")

    _STRICT_CLASS = LroxGpaw
    return LroxGpaw


def gpaw_calculator(atoms_or_structure, settings: GpawDftSettings | dict | None = None, txt: str | Path | None = None):
    """A GPAW calculator for this cell (pymatgen Structure or ASE Atoms), configured like the statics.

    The cell fixes the k-point mesh, the U setups (elements present) and the starting moments
    (passed to GPAW, so they do not depend on the atoms' own initial moments). Raises
    :class:`CellTooLarge` (before importing GPAW) above ``max_atoms``, and
    :class:`GpawUnavailable` without GPAW. ``txt``: GPAW's text log (None: no log).
    """
    s = GpawDftSettings.from_any(settings)
    _refuse_large(atoms_or_structure, s)
    check_gpaw()
    from gpaw import GPAW, PW, FermiDirac

    symbols, cell = _symbols_cell(atoms_or_structure)
    mesh = kpoint_mesh(np.linalg.norm(cell, axis=1), s.kspacing)
    convergence = {"energy": s.convergence_energy, "density": s.convergence_density}
    if s.convergence_forces is not None:
        convergence["forces"] = s.convergence_forces
    kwargs = {"mode": PW(s.ecut)} if s.mode is GpawMode.PW else {"mode": "lcao", "basis": s.basis}
    if txt is not None:
        Path(txt).parent.mkdir(parents=True, exist_ok=True)
    calc = GPAW(
        **kwargs,
        xc=s.xc,
        kpts={"size": mesh, "gamma": True},
        occupations=FermiDirac(s.smearing),
        spinpol=s.spin,
        magmoms=[START_MOMENTS.get(el, 0.0) for el in symbols] if s.spin else None,
        setups=_setups(set(symbols), s.hubbard_u),
        convergence=convergence,
        maxiter=s.max_scf_steps,
        symmetry={"point_group": s.point_group_symmetry},
        txt=None if txt is None else str(txt),
    )
    calc.__class__ = _strict_gpaw_class()
    calc.lrox_scf_iterations = []  # one entry per converged SCF, from GPAW's own SCF loop
    calc.hooks["converged"] = lambda: calc.lrox_scf_iterations.append(int(calc.dft.scf_loop.niter))
    return calc


def scf_iterations(calc) -> list[int]:
    """Iterations of every converged SCF this calculator ran, in order (GPAW's own count)."""
    return list(getattr(calc, "lrox_scf_iterations", []))


class GpawImageFactory:
    """``run_neb``'s calculator factory: a new GPAW calculator per call (per image), each with its
    own log ``folder/gpaw-NN.txt``, kept in ``calculators`` for the band's bookkeeping."""

    def __init__(self, structure, settings: GpawDftSettings | dict | None = None, folder: str | Path | None = None):
        self.settings = GpawDftSettings.from_any(settings)
        _refuse_large(structure, self.settings)  # before the band starts, not at its first image
        self.structure = structure
        self.folder = None if folder is None else Path(folder)
        self.calculators: list = []

    def __call__(self):
        txt = None if self.folder is None else self.folder / f"gpaw-{len(self.calculators):02d}.txt"
        calc = gpaw_calculator(self.structure, self.settings, txt)
        self.calculators.append(calc)
        return calc

    def scf_iterations(self) -> list[list[int]]:
        """Per calculator (image), the iterations of each of its converged SCFs."""
        return [scf_iterations(c) for c in self.calculators]

    def magnetic_moments(self) -> list[float | None]:
        """Per calculator (image), the total moment (μB) of its last converged SCF; no new SCF."""
        out = []
        for calc in self.calculators:
            results = calc.dft.results if getattr(calc, "_dft", None) is not None else {}
            out.append(float(calc.get_magnetic_moment()) if "magmom" in results and not calc.lrox_failed else None)
        return out


def band_magnetic_moments(images) -> list[float | None]:
    """Each image's total magnetic moment (μB) from its calculator's last result, no new SCF
    (None: an image without a GPAW result, e.g. a fixed end point given as an energy)."""
    out = []
    for atoms in images:
        calc = getattr(atoms, "calc", None)
        value = None
        if calc is not None and getattr(calc, "_dft", None) is not None and "magmom" in calc.dft.results and not calc.check_state(atoms):
            value = float(calc.get_magnetic_moment(atoms))
        out.append(value)
    return out


def magnetic_moment_jumps(moments: list[float | None], threshold: float = 0.5) -> list[dict]:
    """Neighbouring images whose total moments differ by more than ``threshold`` μB: an image
    in another magnetic state, so the band's energies are not on one surface. Empty: no jump."""
    jumps = []
    for i, (a, b) in enumerate(zip(moments, moments[1:])):
        if a is not None and b is not None and abs(b - a) > threshold:
            jumps.append({"images": [i, i + 1], "moments": [round(a, 3), round(b, 3)], "jump": round(b - a, 3)})
    return jumps
