"""Geometric descriptors of a layered oxide: Li-slab spacing, interlayer distance, TM–O and O–O distances.

Definitions (heights along the normal of the stacking planes that
:func:`structures.labels.stacking_planes` finds, the same planes that name the sites):

* **Li-slab spacing**: the distance between the two O planes that sandwich a Li layer
  (the height of the LiO6 slab Li ions hop through; larger means a wider tetrahedral
  hop window). Averaged over Li layers; near the defect, over the O atoms within
  ``radius`` of the defect in the Li layer nearest to it.
* **Interlayer distance**: the distance between successive TM planes (c/3 in O3 LiMO2).
* **TM–O bond lengths**: every TM–O pair shorter than ``TM_O_CUTOFF``; mean, min, max, and the
  mean over TMs within ``radius`` of the defect.
* **Shortest O–O distance**: overall and among O atoms within ``radius`` of the defect
  (short O–O contacts are the precursor of O–O dimerisation in oxygen redox).
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

from descriptors.physics.electronic import TRANSITION_METALS

__all__ = ["geometry_descriptors", "TM_O_CUTOFF", "NEAR_RADIUS"]

TM_O_CUTOFF = 2.6  # Å
NEAR_RADIUS = 5.0  # Å


def _stacking(structure: Structure):
    """(hkl, cation-plane id per site). Structures that carry ``layer`` labels (lrox hosts and
    their defect cells) are trusted: the plane family is the one whose cation planes are each
    purely Li-layer or purely TM-layer; others fall back to the labelling's own detection."""
    from itertools import product

    from structures.labels import _cluster_phases, stacking_planes

    layers = structure.site_properties.get("layer")
    if layers and any(layer is not None for layer in layers):
        cation = np.array([layer is not None for layer in layers])
        kinds = np.array([str(layer) for layer in layers])[cation]
        best = None
        for hkl in product(range(-4, 5), repeat=3):
            if hkl <= (0, 0, 0) or np.gcd.reduce(np.abs(hkl)) != 1:
                continue
            d = structure.lattice.d_hkl(hkl)
            ids = _cluster_phases(np.mod(structure.frac_coords[cation] @ np.array(hkl, dtype=float), 1.0), 0.35 / d)
            planes = set(ids.tolist())
            if len(planes) < 2 or any(len(set(kinds[ids == p])) != 1 for p in planes):
                continue
            if best is None or d / len(planes) > best[0] + 1e-6:
                best = (d / len(planes), hkl, ids)
        if best is not None:
            plane_of = np.full(len(structure), -1)
            plane_of[cation] = best[2]
            return best[1], plane_of
    found = stacking_planes(structure)
    if found is None:
        raise ValueError("no cation planes: not a layered oxide")
    return found


def _plane_heights(structure: Structure):
    hkl, plane_of = _stacking(structure)
    period = structure.lattice.d_hkl(hkl)
    phase = np.mod(structure.frac_coords @ np.array(hkl, dtype=float), 1.0)
    planes = {}
    for p in sorted(set(plane_of.tolist()) - {-1}):
        members = np.flatnonzero(plane_of == p)
        angle = 2 * np.pi * phase[members]
        centre = np.mod(np.arctan2(np.sin(angle).mean(), np.cos(angle).mean()) / (2 * np.pi), 1.0)
        symbols = [structure[i].specie.symbol for i in members]
        planes[p] = {"phase": centre, "li": symbols.count("Li") > len(symbols) / 2, "members": members}
    return hkl, period, phase, planes


def _offset(phase_a: float, phase_b: np.ndarray | float, period: float):
    """Signed height of b above a (Å), taken to the nearest periodic image."""
    return (np.mod(np.asarray(phase_b) - phase_a + 0.5, 1.0) - 0.5) * period


def _near(structure: Structure, indices, centre, radius):
    if centre is None:
        return []
    frac = np.asarray(centre, dtype=float)
    return [i for i in indices if structure.lattice.get_distance_and_image(frac, structure[i].frac_coords)[0] <= radius]


def geometry_descriptors(structure: Structure, defect_frac_coords=None, radius: float = NEAR_RADIUS) -> dict:
    """Li-slab spacing, interlayer distance, TM–O and O–O distances, averaged and near the defect (Å)."""
    hkl, period, phase, planes = _plane_heights(structure)
    oxygens = [i for i, s in enumerate(structure) if s.specie.symbol == "O"]
    tms = [i for i, s in enumerate(structure) if s.specie.symbol in TRANSITION_METALS]
    li_planes = [p for p, v in planes.items() if v["li"]]
    tm_planes = [p for p, v in planes.items() if not v["li"]]
    if not oxygens or not li_planes or not tm_planes:
        raise ValueError("needs O, a Li layer and a TM layer to define layer spacings")
    all_phases = np.array([planes[p]["phase"] for p in planes])
    keys = list(planes)

    def slab_spacing(plane, selection):
        above, below = [], []
        for i in selection:
            offsets = _offset(phase[i], all_phases, period)  # plane heights relative to this O
            up = [(o, k) for o, k in zip(offsets, keys) if o > 0]
            down = [(o, k) for o, k in zip(offsets, keys) if o <= 0]
            nearest_up = min(up)[1] if up else None
            nearest_down = max(down)[1] if down else None
            if nearest_down == plane:
                above.append(-max(down)[0])
            elif nearest_up == plane:
                below.append(min(up)[0])
        if not above or not below:
            return None
        return float(np.mean(above) + np.mean(below))

    spacings = [s for s in (slab_spacing(p, oxygens) for p in li_planes) if s is not None]
    tm_phases = np.sort([planes[p]["phase"] for p in tm_planes])
    gaps = np.diff(np.concatenate([tm_phases, [tm_phases[0] + 1.0]])) * period

    bonds, per_tm = [], {}
    for i in tms:
        near_o = [n for n in structure.get_neighbors(structure[i], TM_O_CUTOFF) if n.specie.symbol == "O"]
        per_tm[i] = [float(n.nn_distance) for n in near_o]
        bonds.extend(per_tm[i])
    o_o = _shortest_oo(structure, oxygens)

    out = {
        "li_slab_spacing": float(np.mean(spacings)) if spacings else None,
        "interlayer_distance": float(np.mean(gaps)),
        "tm_o_mean": float(np.mean(bonds)) if bonds else None,
        "tm_o_min": float(np.min(bonds)) if bonds else None,
        "tm_o_max": float(np.max(bonds)) if bonds else None,
        "o_o_min": o_o,
        "li_slab_spacing_near": None,
        "tm_o_mean_near": None,
        "o_o_min_near": None,
        "near_radius": radius,
    }
    if defect_frac_coords is not None:
        centre = np.asarray(defect_frac_coords, dtype=float)
        centre_phase = float(np.mod(centre @ np.array(hkl, dtype=float), 1.0))
        nearest_li = min(li_planes, key=lambda p: abs(_offset(planes[p]["phase"], centre_phase, period)))
        out["li_slab_spacing_near"] = slab_spacing(nearest_li, _near(structure, oxygens, centre, radius))
        near_tm = [b for i in _near(structure, tms, centre, radius) for b in per_tm[i]]
        out["tm_o_mean_near"] = float(np.mean(near_tm)) if near_tm else None
        out["o_o_min_near"] = _shortest_oo(structure, _near(structure, oxygens, centre, radius))
    return out


def _shortest_oo(structure: Structure, oxygens) -> float | None:
    if len(oxygens) < 2:
        return None
    frac = structure.frac_coords[oxygens]
    d = structure.lattice.get_all_distances(frac, frac)
    np.fill_diagonal(d, np.inf)
    return float(d.min())
