"""Chemist-readable site labels: element, Wyckoff position, and layer.

A layered oxide is a stack of cation planes between close-packed O planes.
The stacking direction is found, for any input structure, as the lattice-plane
family whose cation planes are the farthest apart (≈2.4 Å in layered rock-salt
oxides, against ≈2.0 Å for every other family). A cation plane with more than
half Li is a ``"Li layer"``, otherwise a ``"TM layer"``; hosts without both
kinds of plane get ``layer = None`` (not layered).
"""

from __future__ import annotations

import itertools
from math import gcd

import numpy as np
from pymatgen.core import Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

__all__ = ["ANIONS", "LI_LAYER", "TM_LAYER", "label_sites", "stacking_planes", "site_label"]

ANIONS = frozenset({"O", "F", "S", "Se", "Te", "N", "Cl", "Br", "I"})
LI_LAYER = "Li layer"
TM_LAYER = "TM layer"


def site_label(element: str, wyckoff: str | None, layer: str | None) -> str:
    """``Li(2b, TM layer)``, ``O(8j)``: element, Wyckoff position, cation layer."""
    inside = ", ".join(x for x in (wyckoff, layer) if x)
    return f"{element}({inside})" if inside else element


def _plane_families(max_index: int = 2) -> list[tuple[int, int, int]]:
    families = []
    for hkl in itertools.product(range(-max_index, max_index + 1), repeat=3):
        if hkl == (0, 0, 0) or gcd(gcd(abs(hkl[0]), abs(hkl[1])), abs(hkl[2])) != 1:
            continue
        first_nonzero = next(x for x in hkl if x)
        if first_nonzero > 0:
            families.append(hkl)
    return families


def _cluster_phases(phases: np.ndarray, tol: float) -> np.ndarray:
    """Group circular phases in [0, 1) into planes; return a plane id per phase."""
    order = np.argsort(phases)
    sorted_p = phases[order]
    gaps = np.diff(np.concatenate([sorted_p, [sorted_p[0] + 1.0]]))
    ids_sorted = np.zeros(len(phases), dtype=int)
    current = 0
    for k in range(1, len(sorted_p)):
        if gaps[k - 1] > tol:
            current += 1
        ids_sorted[k] = current
    if current > 0 and gaps[-1] <= tol:  # wrap-around: last plane joins the first
        ids_sorted[ids_sorted == current] = 0
    ids = np.empty(len(phases), dtype=int)
    ids[order] = ids_sorted
    return ids


def stacking_planes(structure: Structure, tol_angstrom: float = 0.35) -> tuple[tuple[int, int, int], np.ndarray] | None:
    """Stacking plane family (hkl) and a cation-plane id per site (anions get -1).

    Returns None for structures without cations.
    """
    frac = structure.frac_coords
    cation = np.array([site.specie.symbol not in ANIONS for site in structure])
    if not cation.any():
        return None
    is_li = np.array([site.specie.symbol == "Li" for site in structure])[cation]
    candidates = []
    for hkl in _plane_families():
        d = structure.lattice.d_hkl(hkl)
        phases = np.mod(frac[cation] @ np.array(hkl, dtype=float), 1.0)
        ids = _cluster_phases(phases, tol_angstrom / d)
        planes = sorted(set(ids.tolist()))
        li_fraction = np.array([is_li[ids == p].mean() for p in planes])
        contrast = float(np.abs(li_fraction - is_li.mean()).mean())
        candidates.append((d / len(planes), contrast, hkl, ids))
    # Widely spaced cation planes first; among those (in cubic-like rock salt all
    # four {111} families qualify) the one that separates Li from TM decides.
    widest = max(c[0] for c in candidates)
    _, _, hkl, ids = max(
        (c for c in candidates if c[0] >= 0.9 * widest), key=lambda c: (round(c[1], 3), round(c[0], 2))
    )
    plane_of = np.full(len(structure), -1)
    plane_of[cation] = ids
    return hkl, plane_of


def _layers(structure: Structure) -> list[str | None]:
    found = stacking_planes(structure)
    if found is None:
        return [None] * len(structure)
    _, plane_of = found
    kind = {}
    for plane in set(plane_of.tolist()) - {-1}:
        members = [structure[i].specie.symbol for i in np.flatnonzero(plane_of == plane)]
        kind[plane] = LI_LAYER if members.count("Li") > len(members) / 2 else TM_LAYER
    if set(kind.values()) != {LI_LAYER, TM_LAYER}:
        return [None] * len(structure)
    return [kind.get(p) if p >= 0 else None for p in plane_of]


def _guess_oxidation_states(structure: Structure) -> list[float | None]:
    guesses = structure.composition.reduced_composition.oxi_state_guesses(max_sites=-50)
    if not guesses:
        return [None] * len(structure)
    return [guesses[0].get(site.specie.symbol) for site in structure]


def label_sites(structure: Structure, symprec: float = 1e-2) -> Structure:
    """Return a copy with ``wyckoff``, ``layer``, ``oxi`` and ``label`` site properties.

    Existing ``wyckoff``/``oxi`` values (the literature ones of built-in hosts)
    are kept; missing ones come from spglib and pymatgen's oxidation-state guess.
    """
    s = structure.copy()
    props = s.site_properties
    if "wyckoff" not in props or any(w is None for w in props["wyckoff"]):
        wyckoff = [None] * len(s)
        try:
            sym = SpacegroupAnalyzer(s, symprec=symprec).get_symmetrized_structure()
            for indices, symbol in zip(sym.equivalent_indices, sym.wyckoff_symbols):
                for i in indices:
                    wyckoff[i] = symbol
        except Exception as exc:  # noqa: BLE001 - spglib gives up on some cells: labels without Wyckoff letters
            import warnings

            from structures.errors import LroxWarning

            warnings.warn(f"the structure could not be symmetrised ({type(exc).__name__}): its sites are labelled without Wyckoff positions", LroxWarning, stacklevel=2)
        s.add_site_property("wyckoff", wyckoff)
    if "oxi" not in props or any(o is None for o in props["oxi"]):
        s.add_site_property("oxi", _guess_oxidation_states(s))
    if "layer" not in props or all(layer is None for layer in props["layer"]):
        s.add_site_property("layer", _layers(s))
    s.add_site_property(
        "label",
        [site_label(site.specie.symbol, site.properties["wyckoff"], site.properties["layer"]) for site in s],
    )
    return s
