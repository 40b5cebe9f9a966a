"""Host structures: built-in Li-rich layered oxides and user CIF/POSCAR files.

Every host is returned as a :class:`Host` whose structure carries, per site,
the properties ``wyckoff`` (e.g. ``"4h"``), ``layer`` (``"Li layer"``,
``"TM layer"`` or ``None``), ``oxi`` (formal oxidation state) and ``label``
(e.g. ``"Li(2b, TM layer)"``), so every later step can name sites the way a
chemist would.

Literature data of the built-in hosts
-------------------------------------
* ``li2mno3``: C2/m, a = 4.9292, b = 8.5315, c = 5.0251 Å, β = 109.337°,
  Mn 4g (0, 0.16708, 0); Li 2b (0, ½, 0), 2c (0, 0, ½), 4h (0, 0.6606, ½);
  O 4i (0.2189, 0, 0.2273), 8j (0.2540, 0.32119, 0.2233)
  [Strobel & Lambert-Andron, J. Solid State Chem. 75, 90 (1988)].
* ``licoo2``: R-3m, a = 2.8156, c = 14.0542 Å, z(O) = 0.26049 with Co on 3a,
  Li on 3b [Akimoto, Gotoh, Oosawa, J. Solid State Chem. 141, 298 (1998)].
* ``linio2``: R-3m, a = 2.8783, c = 14.2026 Å, z(O) = 0.2584
  [Hirano et al., Solid State Ionics 78, 123 (1995)].
* ``limno2``: layered LiMnO2 is monoclinic (C2/m, Jahn-Teller distorted,
  Armstrong & Bruce, Nature 381, 499 (1996): a = 5.4387, b = 2.80857,
  c = 5.3878 Å, β = 116.006°). The R-3m model here is its undistorted parent:
  the same area per formula unit in the layer (a = 2.970 Å) and the same
  interlayer spacing (c = 3 × 4.843 = 14.53 Å), z(O) = 0.258.
* ``li1.2ni0.2mn0.6o2``: Li[Li0.2Ni0.2Mn0.6]O2 = 0.5 Li2MnO3 · 0.5 LiNi0.5Mn0.5O2,
  built from a five-fold Li2MnO3 supercell (60 atoms) by replacing 2 TM-layer
  Li + 1 Mn with 3 Ni²⁺ per 15 TM-layer sites (charge-balanced: Li⁺ + Mn⁴⁺ ...
  2·1 + 4 = 3·2). Among all symmetry-distinct decorations the one with the
  lowest Ewald energy is kept (ties broken by a content hash), so the model is
  reproducible.
"""

from __future__ import annotations

import hashlib
import itertools
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from monty.json import MSONable
from pymatgen.core import Lattice, Structure

from structures.errors import LroxInputError
from structures.labels import label_sites

__all__ = ["Host", "BUILTIN_HOSTS", "load_host", "builtin_host_names"]


@dataclass
class Host(MSONable):
    """A labelled host crystal (conventional cell) that configurations are built on."""

    name: str
    structure: Structure
    description: str = ""
    source: str = "built-in"
    metadata: dict = field(default_factory=dict)

    @property
    def sublattices(self) -> dict[str, list[int]]:
        """Named sublattices present in this host (site indices of ``structure``)."""
        from structures.sublattices import sublattice_sites

        return sublattice_sites(self.structure)

    def fingerprint(self) -> str:
        """Content hash of the host (lattice and sorted sites), independent of site order."""
        return structure_fingerprint(self.structure)


def structure_fingerprint(structure: Structure, decimals: int = 3) -> str:
    """Order-independent sha256 of a structure's lattice and species + fractional coordinates."""
    lat = structure.lattice
    parts = [f"{x:.{decimals}f}" for x in (*lat.abc, *lat.angles)]
    rows = sorted(f"{site.species_string}@{_frac_key(site.frac_coords, decimals)}" for site in structure)
    return hashlib.sha256(("|".join(parts) + "#" + ";".join(rows)).encode()).hexdigest()


def _frac_key(frac: np.ndarray, decimals: int = 3) -> str:
    wrapped = np.round(np.mod(frac, 1.0), decimals) % 1.0
    return ",".join(f"{x:.{decimals}f}" for x in wrapped)


def _from_wyckoff(sg: str, lattice: Lattice, sites: list[tuple[str, str, tuple, int]]) -> Structure:
    """Build a structure from (element, wyckoff, coords, oxidation state) rows of a literature table."""
    species, wyck, coords, oxi = zip(*[(el, w, c, o) for el, w, c, o in sites])
    return Structure.from_spacegroup(
        sg, lattice, list(species), [list(c) for c in coords], site_properties={"wyckoff": list(wyck), "oxi": list(oxi)}
    )


def _li2mno3() -> Structure:
    lattice = Lattice.monoclinic(4.9292, 8.5315, 5.0251, 109.337)
    return _from_wyckoff(
        "C2/m",
        lattice,
        [
            ("Li", "2b", (0, 0.5, 0), 1),
            ("Li", "2c", (0, 0, 0.5), 1),
            ("Li", "4h", (0, 0.6606, 0.5), 1),
            ("Mn", "4g", (0, 0.16708, 0), 4),
            ("O", "4i", (0.2189, 0, 0.2273), -2),
            ("O", "8j", (0.2540, 0.32119, 0.2233), -2),
        ],
    )


def _layered_r3m(tm: str, a: float, c: float, z_o: float, tm_oxi: int = 3) -> Structure:
    return _from_wyckoff(
        "R-3m",
        Lattice.hexagonal(a, c),
        [("Li", "3b", (0, 0, 0.5), 1), (tm, "3a", (0, 0, 0), tm_oxi), ("O", "6c", (0, 0, z_o), -2)],
    )


def _lirich_ni_mn() -> Structure:
    """Li[Li0.2Ni0.2Mn0.6]O2: lowest-Ewald Ni decoration of a 5-fold Li2MnO3 supercell."""
    from pymatgen.analysis.ewald import EwaldSummation

    from structures.labels import label_sites as _label
    from structures.supercell import most_compact_supercell_matrix, supercell_with_properties

    with warnings.catch_warnings():  # O sites have no layer; pymatgen warns about the None values
        warnings.simplefilter("ignore", UserWarning)
        prim = _label(_li2mno3().get_primitive_structure(use_site_props=True))
    matrix = most_compact_supercell_matrix(prim.lattice, 5)
    cell = supercell_with_properties(prim, matrix)
    tm_li = [i for i, s in enumerate(cell) if s.specie.symbol == "Li" and s.properties["layer"] == "TM layer"]
    mn = [i for i, s in enumerate(cell) if s.specie.symbol == "Mn"]
    # every trial is the cell with three charges changed: its Ewald energy is the cell's pair-energy
    # matrix with those rows and columns rescaled (pymatgen's EwaldSummation.compute_sub_structure,
    # without its site matching), one Ewald sum for the 100 trials (7 s of every command on this
    # host before); tests/test_scale.py checks each trial's energy against its own EwaldSummation
    charged = cell.copy()
    charged.add_oxidation_state_by_site([s.properties["oxi"] for s in cell])
    pair_energies = EwaldSummation(charged, compute_forces=False).total_energy_matrix
    charges = np.array([s.properties["oxi"] for s in cell], dtype=float)
    best: tuple | None = None
    for li_pair in itertools.combinations(tm_li, 2):
        for m in mn:
            chosen = (*li_pair, m)
            trial = cell.copy()
            for i in chosen:
                trial.replace(i, "Ni", properties={**cell[i].properties, "oxi": 2})
            trial.add_oxidation_state_by_site([s.properties["oxi"] for s in trial])
            energy = _rescaled_ewald_energy(pair_energies, charges, {i: 2.0 for i in chosen})
            key = (round(energy, 6), structure_fingerprint(trial))
            if best is None or key < best[0]:
                best = (key, chosen)
    assert best is not None
    result = cell.copy()
    for i in best[1]:
        result.replace(i, "Ni", properties={**cell[i].properties, "oxi": 2})
    return result


def _rescaled_ewald_energy(pair_energies: np.ndarray, charges: np.ndarray, changed: dict[int, float]) -> float:
    """The Ewald energy of a cell whose sites' charges changed (site → new charge), from the
    original cell's ``EwaldSummation.total_energy_matrix``: each pair term scales with the product
    of its two charges (a neutral cell stays neutral here: no charged-cell term)."""
    scale = np.ones(len(charges))
    for site, charge in changed.items():
        scale[site] = charge / charges[site]
    if abs(float((charges * scale).sum())) > 1e-8 or abs(float(charges.sum())) > 1e-8:
        raise ValueError("rescaled Ewald energies are for neutral cells only")
    return float((pair_energies * np.outer(scale, scale)).sum())


BUILTIN_HOSTS: dict[str, tuple[str, callable]] = {
    "li2mno3": ("Li2MnO3, C2/m, honeycomb Li/Mn TM layer (Strobel & Lambert-Andron 1988)", _li2mno3),
    "licoo2": ("LiCoO2, R-3m (Akimoto et al. 1998)", lambda: _layered_r3m("Co", 2.8156, 14.0542, 0.26049)),
    "linio2": ("LiNiO2, R-3m (Hirano et al. 1995)", lambda: _layered_r3m("Ni", 2.8783, 14.2026, 0.2584)),
    "limno2": (
        "LiMnO2, idealised R-3m parent of monoclinic layered LiMnO2 (Armstrong & Bruce 1996)",
        lambda: _layered_r3m("Mn", 2.970, 14.53, 0.258),
    ),
    "li1.2ni0.2mn0.6o2": (
        "Li-rich Li[Li0.2Ni0.2Mn0.6]O2: lowest-Ewald Ni2+ ordering in a 60-atom Li2MnO3 supercell",
        _lirich_ni_mn,
    ),
}
_ALIASES = {"lirich": "li1.2ni0.2mn0.6o2", "li-rich-nmc": "li1.2ni0.2mn0.6o2", "lnmo-lirich": "li1.2ni0.2mn0.6o2"}


def builtin_host_names() -> list[str]:
    """Names accepted by :func:`load_host` besides file paths."""
    return sorted(BUILTIN_HOSTS)


@lru_cache(maxsize=16)
def _builtin(name: str) -> Host:
    description, build = BUILTIN_HOSTS[name]
    structure = label_sites(build())
    return Host(name=name, structure=structure, description=description)


def load_host(name_or_path: str | Path, max_atoms: int | None = None) -> Host:
    """Return a built-in host by name, or read a structure file through the structure door
    (:mod:`structures.doors.structures_in`: CIF, POSCAR, JSON, YAML, extended XYZ, vasprun.xml).

    ``max_atoms``: the largest cell the caller builds (its ``--max-atoms``): a host file with more atoms
    can never fit in one, and is refused before its symmetry is analysed (spglib takes minutes on a
    few thousand atoms in a nearly periodic arrangement).

    Raises:
        LroxInputError: unknown name, missing or unreadable file.
    """
    from structures.doors.files import exists
    from structures.doors.structures_in import load_structure
    from structures.doors.text import shown

    text = str(name_or_path).strip()
    key = _ALIASES.get(text.lower(), text.lower())
    if key in BUILTIN_HOSTS:
        host = _builtin(key)
        return Host(host.name, host.structure.copy(), host.description, host.source, dict(host.metadata))
    path = Path(text)
    if not exists(path, "host"):
        raise LroxInputError(
            f"unknown host '{shown(text)}': not a built-in host ({', '.join(builtin_host_names())}) and no such file"
        )
    what = f"cannot read structure file '{shown(text)}'"
    structure = load_structure(path, what)
    if max_atoms is not None and len(structure) > max_atoms:
        raise LroxInputError(
            f"structure file '{shown(text)}' has {len(structure)} atoms, more than the largest cell allowed ({max_atoms}: --max-atoms, or a spec's max_atoms): "
            "every supercell of it would be larger"
        )
    check_structure(structure, f"structure file '{shown(text)}'")
    if not structure.is_ordered:
        raise LroxInputError(
            f"structure file '{shown(text)}' has partial occupancies; order it first (e.g. pymatgen's "
            "OrderDisorderedStructureTransformation)"
        )
    structure.remove_oxidation_states()
    return Host(name=path.stem, structure=label_sites(structure), description=f"from {path}", source=str(path))


def check_structure(structure: Structure, what: str) -> None:
    """A structure lrox can work with: atoms, finite numbers, a real volume, no overlapping atoms.

    Runs before any symmetry analysis (spglib crashes on NaN coordinates).
    """
    from structures.doors.numbers import MAX_ATOMS, coordinates_problem, lattice_problem

    if len(structure) == 0:
        raise LroxInputError(f"{what} contains no atoms")
    if len(structure) > MAX_ATOMS:
        raise LroxInputError(f"{what} has {len(structure)} atoms, more than the {MAX_ATOMS} lrox takes as a host")
    if not np.all(np.isfinite(structure.lattice.matrix)) or not np.all(np.isfinite(structure.frac_coords)):
        raise LroxInputError(f"{what} has non-finite (NaN or infinite) lattice vectors or coordinates")
    problem = lattice_problem(structure.lattice.matrix, "lattice") or coordinates_problem(structure.frac_coords)
    if problem:
        raise LroxInputError(f"{what}: {problem}")
    volume = abs(float(np.linalg.det(structure.lattice.matrix)))
    if volume < 1.0 * len(structure):
        raise LroxInputError(f"{what} has a cell volume of {volume:.3g} Å³ for {len(structure)} atoms: zero or near-zero volume")
    centres, neighbours, _, distances = structure.get_neighbor_list(0.5)
    if len(distances):
        k = int(np.argmin(distances))
        i, j = int(centres[k]), int(neighbours[k])
        raise LroxInputError(f"{what}: atoms {i + 1} and {j + 1} ({structure[i].species_string}, {structure[j].species_string}) overlap, {distances[k]:.3f} Å apart")
