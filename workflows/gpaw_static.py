"""A local, open-source DFT static for the electronic descriptors: GPAW (PAW, plane waves, PBE+U).

The ML potential has no electrons, so without VASP there would be no O 2p band centre and no
Bader charges. This static runs GPAW on a relaxed configuration and returns what the descriptor
module already consumes from VASP: a pymatgen ``CompleteDos`` (s/p/d-projected on every atom, so
``descriptors.electronic`` computes the O 2p band centre against E_F and the VBM) and the
all-electron density as a CHGCAR-format file (so ``descriptors.bader`` partitions it, and the net
charge of an atom is Z minus its basin's electrons).

Defaults are the science: PBE+U with the Materials Project's U values (Dudarev, on TM d),
ferromagnetic start, plane waves 400 eV, Γ-centred k-points at a fixed density. Cells above
``max_atoms`` are refused up front with a clear message instead of running for hours.
GPAW is imported lazily; installing it needs Debian's libxc/openblas/fftw headers (see README).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from descriptors.physics.levels import MP_U  # Materials Project U values (Dudarev, TM d): the VASP backend's
from structures.errors import LroxInputError

__all__ = ["GpawSettings", "GpawUnavailable", "CellTooLarge", "check_gpaw", "refuse_before_scf", "kpoint_mesh", "gpaw_static", "INSTALL_HINT"]

INSTALL_HINT = (
    "GPAW is not installed: apt-get install libxc-dev libopenblas-dev libfftw3-dev, then "
    "GPAW_CONFIG=gpaw-siteconfig.py pip install gpaw==26.7.0 gpaw-data==1.2.1 (make setup does both)"
)

# ferromagnetic starting moments (μB): high-spin-ish guesses that let the SCF find its state
START_MOMENTS = {"Mn": 3.0, "Co": 1.0, "Ni": 1.0, "Fe": 4.0, "Cr": 3.0, "V": 2.0, "Ti": 0.5, "O": 0.0, "Li": 0.0}


class GpawUnavailable(RuntimeError):
    """GPAW (or its PAW setups) is not installed."""


class CellTooLarge(RuntimeError):
    """More atoms than the configured limit: refused before any SCF step."""


@dataclass
class GpawSettings:
    """GPAW static settings; one set per screen, recorded in every result's provenance."""

    ecut: float = 400.0  # eV, plane-wave cutoff
    kspacing: float = 0.6  # Å⁻¹, Γ-centred mesh: n_i = ceil(2π / (a_i · kspacing))
    xc: str = "PBE"
    hubbard_u: dict[str, float] = field(default_factory=lambda: dict(MP_U))
    spin_polarized: bool = True
    magnetic_order: str = "ferromagnetic"
    smearing: float = 0.05  # eV, Fermi-Dirac width of the occupations
    dos_width: float = 0.1  # eV, Gaussian broadening of the (P)DOS
    dos_points: int = 3501
    # the DOS grid, eV relative to E_F: fixed, so a "whole range" band centre does not depend on
    # how many empty bands GPAW happened to compute (it is stored with every centre)
    dos_window: list[float] = field(default_factory=lambda: [-25.0, 10.0])
    density_refinement: int = 2  # all-electron density grid: this many times finer than GPAW's
    max_atoms: int = 48  # larger cells are refused (48 atoms ≈ 10 min per static on 2 cores)
    # the cell of the statics when the screen's is too big for GPAW (e.g. 2x1x1 beside 2x1x2 NEBs):
    # each selected configuration is rebuilt there with the same defects on the same host sites,
    # relaxed with the screen's model on that cell's relaxed host lattice, and its results are
    # stored on the screen's configuration with the cell named in the level of theory. A
    # configuration whose defects do not fit that cell gets no static (recorded as not available).
    supercell: str | None = None
    convergence_energy: float = 5.0e-4  # eV per valence electron
    max_scf_steps: int = 300
    # which configurations get a GPAW static: name or id fragments ("pristine", "Ti on"); empty
    # means all. The others keep the ML level's "not available" static, recorded as such.
    configurations: list[str] = field(default_factory=list)

    def selects(self, name: str, configuration_id: str) -> bool:
        return not self.configurations or any(token and (token in name or token in configuration_id) for token in self.configurations)

    def validate(self) -> GpawSettings:
        if self.ecut <= 0 or self.kspacing <= 0 or self.max_atoms < 1 or self.density_refinement not in (1, 2, 4):
            raise LroxInputError("spec 'gpaw': ecut and kspacing must be positive, max_atoms at least 1, density_refinement 1, 2 or 4")
        if len(self.dos_window) != 2 or not self.dos_window[0] < 0 < self.dos_window[1] or self.dos_points < 101:
            raise LroxInputError("spec 'gpaw': dos_window must be [below 0, above 0] eV around E_F and dos_points at least 101")
        if self.supercell is not None:
            from structures.supercell import parse_supercell

            parse_supercell(self.supercell)
        if self.magnetic_order not in ("ferromagnetic", "nonmagnetic"):
            raise LroxInputError(f"spec 'gpaw': unknown magnetic_order '{self.magnetic_order}' (ferromagnetic, nonmagnetic)")
        return self


def check_gpaw() -> None:
    """Raise :class:`GpawUnavailable` with the install line if GPAW or its setups are missing."""
    import importlib.util

    if importlib.util.find_spec("gpaw") is None:
        raise GpawUnavailable(INSTALL_HINT)


def kpoint_mesh(lattice_lengths, kspacing: float) -> tuple[int, int, int]:
    """Γ-centred mesh with at most ``kspacing`` Å⁻¹ between points (2π convention)."""
    return tuple(max(1, math.ceil(2 * math.pi / (length * kspacing))) for length in lattice_lengths)


def _setups(symbols: set[str], hubbard_u: dict[str, float]) -> dict[str, str]:
    return {el: f":d,{u}" for el, u in hubbard_u.items() if el in symbols and u}


def refuse_before_scf(structure, settings: GpawSettings | dict) -> GpawSettings:
    """The settings, checked; a cell above the atom limit and a missing GPAW refused before any work."""
    if not isinstance(settings, GpawSettings):  # keys the flow adds (geometry_from) are provenance only
        names = {f.name for f in fields(GpawSettings)}
        settings = GpawSettings(**{k: v for k, v in settings.items() if k in names})
    settings.validate()
    if len(structure) > settings.max_atoms:
        raise CellTooLarge(
            f"{len(structure)} atoms exceed the GPAW limit of {settings.max_atoms} (gpaw.max_atoms): "
            "a static this size would take hours here; use a smaller cell or raise the limit"
        )
    check_gpaw()
    return settings


def gpaw_static(structure, settings: GpawSettings | dict, folder: str | Path) -> dict:
    """One SCF on ``structure``; writes ``gpaw.txt`` and ``CHGCAR`` (all-electron density) in ``folder``.

    Returns energy, E_F, the CompleteDos (as a dict), the density file, magnetic moments and
    timings. Raises :class:`CellTooLarge` or :class:`GpawUnavailable` before any work.
    """
    settings = refuse_before_scf(structure, settings)
    from gpaw import GPAW, PW, FermiDirac
    from gpaw.dos import DOSCalculator
    from pymatgen.electronic_structure.core import Orbital, Spin
    from pymatgen.electronic_structure.dos import CompleteDos, Dos
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.io.vasp import Chgcar, Poscar

    start = time.perf_counter()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    structure = structure.copy()
    if "magmom" in structure.site_properties:  # GPAW gets its own starting moments below
        structure.remove_site_property("magmom")
    atoms = AseAtomsAdaptor.get_atoms(structure)
    symbols = set(atoms.get_chemical_symbols())
    spin = settings.spin_polarized and settings.magnetic_order == "ferromagnetic"
    if spin:
        atoms.set_initial_magnetic_moments([START_MOMENTS.get(s, 0.0) for s in atoms.get_chemical_symbols()])
    mesh = kpoint_mesh(atoms.cell.lengths(), settings.kspacing)
    calc = GPAW(
        mode=PW(settings.ecut),
        xc=settings.xc,
        kpts={"size": mesh, "gamma": True},
        occupations=FermiDirac(settings.smearing),
        spinpol=spin,
        setups=_setups(symbols, settings.hubbard_u),
        convergence={"energy": settings.convergence_energy},
        maxiter=settings.max_scf_steps,
        txt=str(folder / "gpaw.txt"),
    )
    atoms.calc = calc
    energy = float(atoms.get_potential_energy())
    scf_time = time.perf_counter() - start
    efermi = float(calc.get_fermi_level())
    n_spins = 2 if spin else 1

    # (P)DOS on one grid: total and s/p/d projections on every atom (PAW projectors)
    dos_calc = DOSCalculator.from_calculator(calc, shift_fermi_level=False)  # absolute energies, as E_F
    energies = efermi + np.linspace(settings.dos_window[0], settings.dos_window[1], settings.dos_points)
    spins = [Spin.up, Spin.down][:n_spins]
    total = {sp: dos_calc.raw_dos(energies, spin=s if spin else None, width=settings.dos_width) for s, sp in enumerate(spins)}
    shells = {"s": (0, Orbital.s), "p": (1, Orbital.px), "d": (2, Orbital.dxy)}  # whole l-shell on one key
    pdoss = {}
    for index, site in enumerate(structure):
        setup = calc.wfs.setups[index]
        present = {l for l in setup.l_j}
        pdoss[site] = {
            orbital: {sp: dos_calc.raw_pdos(energies, a=index, l=l, spin=s if spin else None, width=settings.dos_width) for s, sp in enumerate(spins)}
            for name, (l, orbital) in shells.items()
            if l in present
        }
    complete = CompleteDos(structure, Dos(efermi, energies, total), pdoss)

    # all-electron density (e/Å³) as a CHGCAR (ρ·V, VASP's convention) for the Bader partition
    density = calc.get_all_electron_density(gridrefinement=settings.density_refinement)
    chgcar_path = folder / "CHGCAR"
    from gpaw.mpi import world  # under an MPI launcher (workflows.gpaw_parallel) one rank writes

    if world.rank == 0:
        Chgcar(Poscar(structure), {"total": density * structure.volume}).write_file(str(chgcar_path))
    world.barrier()
    moments = calc.get_magnetic_moments().tolist() if spin else None
    # Kohn–Sham eigenvalues and occupations (normalised to 0..1 per state): the band edges come
    # from these, not from the broadened DOS (descriptors.electronic.band_edges)
    weights = calc.get_k_point_weights()
    eigenvalues = [[calc.get_eigenvalues(kpt=k, spin=s).tolist() for k in range(len(weights))] for s in range(n_spins)]
    occupations = [
        [(calc.get_occupation_numbers(kpt=k, spin=s) / (weights[k] * (2 / n_spins))).tolist() for k in range(len(weights))]
        for s in range(n_spins)
    ]
    return {
        "energy": energy,
        "efermi": efermi,
        "dos": complete.as_dict(),
        "charge_density_file": str(chgcar_path),
        "n_electrons": float(density.sum() * structure.volume / density.size),
        "kpoint_mesh": list(mesh),
        "magnetic_moments": moments,
        "eigenvalues": eigenvalues,
        "occupations": occupations,
        "scf_time": scf_time,
        "wall_time": time.perf_counter() - start,
        "settings": asdict(settings),
    }
