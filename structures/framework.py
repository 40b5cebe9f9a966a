"""The pristine supercell as a symmetry-aware set of points: atom sites plus empty tetrahedral voids.

Every configuration and every Li hop is an occupation of these points, so
symmetry questions reduce to integer permutations: each space-group operation
of the supercell (pure translations included, and only operations that keep
the supercell lattice, since spglib works in the input lattice's basis) is
stored as the permutation it induces on the points. Orbits, stabilisers and
canonical forms are then a few numpy calls, which is what makes enumeration
exact and fast.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import spglib
from pymatgen.core import Lattice, Structure
from scipy.spatial import cKDTree

from structures.hosts import Host
from structures.labels import ANIONS, site_label
from structures.supercell import make_supercell, min_image_distance

__all__ = ["DefectFramework", "VOID", "find_tetrahedral_voids"]

VOID = "X"  # pristine occupant of an empty interstitial point


def _periodic_points(frac: np.ndarray, lattice: Lattice, reach: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Cartesian coordinates of all images within ``reach`` cells, and the original index of each."""
    shifts = np.array(list(itertools.product(range(-reach, reach + 1), repeat=3)), dtype=float)
    images = (frac[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    owner = np.tile(np.arange(len(frac)), len(shifts))
    return lattice.get_cartesian_coords(images), owner


def find_tetrahedral_voids(structure: Structure, empty_radius: float = 1.2) -> np.ndarray:
    """Fractional coordinates of the empty tetrahedral holes of the anion (O) lattice.

    A tetrahedral hole is a 4-clique of the anion nearest-neighbour graph
    (edges up to 1.3x the median nearest anion–anion distance; an octahedron's
    diagonals are ~1.4x longer, so octahedra never qualify) whose centre has
    those four anions as its nearest ones and no atom within ``empty_radius``.
    """
    anion_idx = [i for i, s in enumerate(structure) if s.specie.symbol in ANIONS]
    if len(anion_idx) < 2:
        return np.zeros((0, 3))
    lattice = structure.lattice
    frac = structure.frac_coords[anion_idx]
    cart, _ = _periodic_points(frac, lattice)
    tree = cKDTree(cart)
    home = lattice.get_cartesian_coords(frac)
    nn = tree.query(home, k=2)[0][:, 1]
    cutoff = 1.3 * float(np.median(nn))
    neighbours = tree.query_ball_point(home, cutoff)
    home_offset = 13 * len(frac)  # index of the (0,0,0) image block in _periodic_points' ordering
    centres = []
    for i, nbrs in enumerate(neighbours):
        me = home_offset + i
        nbrs = [j for j in nbrs if j != me]
        for a, b, c in itertools.combinations(nbrs, 3):
            pts = cart[[me, a, b, c]]
            d = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
            if d.max() <= cutoff:
                centres.append(pts.mean(axis=0))
    if not centres:
        return np.zeros((0, 3))
    centres = np.array(centres)
    # keep true tetrahedral holes: exactly four anions clearly nearest
    dists, _ = tree.query(centres, k=5)
    keep = dists[:, 4] > 1.25 * dists[:, 3]
    centres = centres[keep]
    all_cart, _ = _periodic_points(structure.frac_coords, lattice)
    if len(centres):
        nearest_atom = cKDTree(all_cart).query(centres, k=1)[0]
        centres = centres[nearest_atom > empty_radius]
    fr = np.mod(lattice.get_fractional_coords(centres), 1.0)
    # de-duplicate (each hole is found once per vertex in the home cell)
    unique: list[np.ndarray] = []
    if len(fr):
        cart_f = lattice.get_cartesian_coords(fr)
        groups = cKDTree(fr, boxsize=1.0 + 1e-12).query_ball_point(fr % (1.0 - 1e-12), 0.2 / max(lattice.abc))
        seen = set()
        for k, g in enumerate(groups):
            if k in seen:
                continue
            seen.update(g)
            unique.append(fr[k])
        del cart_f
    out = np.array(unique) if unique else np.zeros((0, 3))
    order = np.lexsort(np.round(out, 4).T[::-1]) if len(out) else []
    return out[order]


@dataclass
class DefectFramework:
    """A labelled pristine supercell with its symmetry, the common ground of configurations and hops."""

    host: Host
    dims: tuple[int, int, int]
    structure: Structure
    symprec: float = 1e-3

    @classmethod
    def from_host(cls, host: Host, dims: tuple[int, int, int] = (1, 1, 1), symprec: float = 1e-3) -> DefectFramework:
        return cls(host=host, dims=tuple(int(d) for d in dims), structure=make_supercell(host.structure, dims), symprec=symprec)

    # ----- points: atom sites first, then voids ---------------------------------------------------
    @cached_property
    def voids(self) -> np.ndarray:
        return find_tetrahedral_voids(self.structure)

    @property
    def n_sites(self) -> int:
        return len(self.structure)

    @cached_property
    def frac_coords(self) -> np.ndarray:
        return np.vstack([self.structure.frac_coords, self.voids]) if len(self.voids) else self.structure.frac_coords

    @cached_property
    def pristine_occupancy(self) -> list[str]:
        return [s.specie.symbol for s in self.structure] + [VOID] * len(self.voids)

    @cached_property
    def point_labels(self) -> list[str]:
        labels = list(self.structure.site_properties["label"])
        for frac in self.voids:
            layer = self._layer_at(frac)
            labels.append(site_label("tet", None, layer) if layer else "tet")
        return labels

    @cached_property
    def oxidation_states(self) -> list[float | None]:
        return list(self.structure.site_properties["oxi"]) + [0] * len(self.voids)

    def _layer_at(self, frac: np.ndarray) -> str | None:
        """Layer of a void = layer of the nearest cation (a tetrahedral hole sits in one cation slab)."""
        idx = [i for i, s in enumerate(self.structure) if s.specie.symbol not in ANIONS]
        if not idx:
            return None
        d = self.structure.lattice.get_all_distances(frac[None, :], self.structure.frac_coords[idx])[0]
        # the nearest cations of a hole are its face-sharing octahedra: 3 in its own slab, 1 across
        nearest = np.argsort(d)[:4]
        layers = [self.structure[idx[k]].properties.get("layer") for k in nearest]
        return max(set(layers), key=layers.count) if any(layers) else None

    @cached_property
    def rank(self) -> np.ndarray:
        """Content-derived order of the points (by pristine occupant, then rounded position)."""
        keys = [
            (occ, *np.round(np.mod(f, 1.0), 4) % 1.0) for occ, f in zip(self.pristine_occupancy, self.frac_coords)
        ]
        order = sorted(range(len(keys)), key=lambda i: keys[i])
        rank = np.empty(len(keys), dtype=np.int64)
        rank[order] = np.arange(len(keys))
        return rank

    def position_key(self, point: int) -> str:
        f = np.round(np.mod(self.frac_coords[point], 1.0), 3) % 1.0
        return ",".join(f"{x:.3f}" for x in f)

    # ----- symmetry ---------------------------------------------------------------------------------
    @cached_property
    def operations(self) -> tuple[np.ndarray, np.ndarray]:
        numbers = [s.specie.Z for s in self.structure]
        cell = (self.structure.lattice.matrix, self.structure.frac_coords, numbers)
        sym = spglib.get_symmetry(cell, symprec=self.symprec)
        return np.array(sym["rotations"]), np.array(sym["translations"])

    @cached_property
    def permutations(self) -> np.ndarray:
        """(n_ops, n_points) integer array: point p goes to ``permutations[g, p]`` under operation g."""
        rotations, translations = self.operations
        frac = np.mod(self.frac_coords, 1.0)
        tree = cKDTree(frac, boxsize=1.0 + 1e-9)
        tol = 0.1 / max(self.structure.lattice.abc)
        occ = np.array(self.pristine_occupancy)
        perms = np.empty((len(rotations), len(frac)), dtype=np.int64)
        for g, (rot, trans) in enumerate(zip(rotations, translations)):
            moved = np.mod(frac @ rot.T + trans, 1.0) % (1.0 - 1e-12)
            dist, idx = tree.query(moved, k=1)
            if dist.max() > tol or not np.array_equal(occ[idx], occ) or len(set(idx.tolist())) != len(idx):
                raise RuntimeError(f"symmetry operation {g} does not map the framework onto itself")
            perms[g] = idx
        return perms

    def stabilizer(self, occupancy: list[str]) -> np.ndarray:
        """Permutations (rows) of the operations that leave an occupation unchanged."""
        codes = {s: k for k, s in enumerate(sorted(set(occupancy)))}
        occ = np.array([codes[s] for s in occupancy])
        keep = (occ[self.permutations] == occ[None, :]).all(axis=1)
        return self.permutations[keep]

    def orbits(self, points: list[int]) -> list[list[int]]:
        """Orbits of the given points under the supercell group, each sorted by rank, in rank order."""
        remaining = sorted(points, key=lambda p: self.rank[p])
        wanted = set(points)
        done: set[int] = set()
        result = []
        for p in remaining:
            if p in done:
                continue
            orbit = sorted(set(self.permutations[:, p].tolist()) & wanted, key=lambda q: self.rank[q])
            done.update(orbit)
            result.append(orbit)
        return result

    # ----- geometry ---------------------------------------------------------------------------------
    def distances_from(self, point: int) -> np.ndarray:
        """Minimum-image distances from one point to every point."""
        return self.structure.lattice.get_all_distances(self.frac_coords[point][None, :], self.frac_coords)[0]

    @cached_property
    def min_image_distance(self) -> float:
        return min_image_distance(self.structure.lattice)

    @cached_property
    def cation_points(self) -> list[int]:
        return [i for i, s in enumerate(self.structure) if s.specie.symbol not in ANIONS]

    @cached_property
    def void_face_sharing(self) -> list[list[int]]:
        """For each void (by point index - n_sites), the cation sites whose octahedra share a face with it.

        Face-sharing octahedra are a tetrahedral hole's nearest cation sites (≈1.8 Å
        in layered oxides, against ≥3.3 Å for the next ones): those within 1.4x the
        nearest distance.
        """
        lattice = self.structure.lattice
        cations = np.array(self.cation_points)
        out = []
        for frac in self.voids:
            d = lattice.get_all_distances(frac[None, :], self.structure.frac_coords[cations])[0]
            out.append(sorted(cations[d <= 1.4 * d.min()].tolist()))
        return out


def framework_for_host(
    host: Host,
    supercell: tuple[int, int, int] | None = None,
    min_distance: float | None = None,
    max_atoms: int = 250,
) -> DefectFramework:
    """The framework of a host in the supercell the user asked for (or chose by image distance)."""
    from structures.supercell import choose_supercell

    dims = choose_supercell(host.structure, min_distance=min_distance, max_atoms=max_atoms, supercell=supercell)
    return DefectFramework.from_host(host, dims)
