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
        nbrs = np.array([j for j in nbrs if j != me])
        if len(nbrs) < 3:
            continue
        pts = cart[nbrs]
        adjacent = np.linalg.norm(pts[:, None] - pts[None], axis=-1) <= cutoff
        for a, b, c in itertools.combinations(range(len(nbrs)), 3):
            if adjacent[a, b] and adjacent[a, c] and adjacent[b, c]:
                centres.append((cart[me] + pts[a] + pts[b] + pts[c]) / 4)
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
        groups = cKDTree(fr % (1.0 - 1e-12), boxsize=1.0).query_ball_point(fr % (1.0 - 1e-12), 0.2 / max(lattice.abc))
        seen: set[int] = set()
        for k, g in enumerate(groups):
            if k not in seen:
                seen.update(g)
                unique.append(fr[k])
    out = np.array(unique) if unique else np.zeros((0, 3))
    order = np.lexsort(np.round(out, 4).T[::-1]) if len(out) else []
    return out[order]


@dataclass
class DefectFramework:
    """A labelled pristine supercell with its symmetry, the common ground of configurations and hops.

    Points ``0 .. n_sites-1`` are the atom sites; points from ``n_sites`` on are
    the empty tetrahedral voids, found only when something asks for them
    (interstitial dopants, hops), so plain substitution/vacancy enumeration never
    pays for them. Ranks sort sites before voids, so canonical forms are the
    same whether or not the voids were ever built.
    """

    host: Host
    dims: tuple[int, int, int]
    structure: Structure
    symprec: float = 1e-3

    @classmethod
    def from_host(cls, host: Host, dims: tuple[int, int, int] = (1, 1, 1), symprec: float = 1e-3) -> DefectFramework:
        return cls(host=host, dims=tuple(int(d) for d in dims), structure=make_supercell(host.structure, dims), symprec=symprec)

    # ----- points: atom sites first, then voids ---------------------------------------------------
    @property
    def n_sites(self) -> int:
        return len(self.structure)

    @cached_property
    def voids(self) -> np.ndarray:
        return find_tetrahedral_voids(self.structure)

    @cached_property
    def site_frac_coords(self) -> np.ndarray:
        """Fractional coordinates of the atom sites, read once (read-only): pymatgen builds the array
        from its 240 Site objects at each ``structure.frac_coords``, and enumerating a screen's hops
        asked for it ~70,000 times (9 of the enumeration's 25 s under the profiler)."""
        coords = np.array(self.structure.frac_coords)
        coords.flags.writeable = False
        return coords

    @cached_property
    def frac_coords(self) -> np.ndarray:
        """Fractional coordinates of every point, voids included (builds the voids)."""
        return np.vstack([self.site_frac_coords, self.voids]) if len(self.voids) else self.site_frac_coords

    def coords_of(self, points) -> np.ndarray:
        points = np.asarray(points, dtype=int)
        if len(points) and points.max() >= self.n_sites:
            return self.frac_coords[points]
        return self.site_frac_coords[points]

    @cached_property
    def site_occupants(self) -> list[str]:
        return [s.specie.symbol for s in self.structure]

    @cached_property
    def pristine_occupancy(self) -> list[str]:
        return self.site_occupants + [VOID] * len(self.voids)

    @cached_property
    def point_labels(self) -> list[str]:
        labels = list(self.structure.site_properties["label"])
        for layer in self._void_layers():
            labels.append(site_label("tet", None, layer) if layer else "tet")
        return labels

    def label_of(self, point: int) -> str:
        return self.structure[point].properties["label"] if point < self.n_sites else self.point_labels[point]

    def oxidation_of(self, point: int) -> float | None:
        return self.structure[point].properties["oxi"] if point < self.n_sites else 0

    @cached_property
    def oxidation_states(self) -> list[float | None]:
        return list(self.structure.site_properties["oxi"]) + [0] * len(self.voids)

    def _void_layers(self) -> list[str | None]:
        """Layer of each void: that of most of its four nearest (face-sharing) cations."""
        idx = np.array(self.cation_points)
        if not len(idx) or not len(self.voids):
            return [None] * len(self.voids)
        d = self.structure.lattice.get_all_distances(self.voids, self.site_frac_coords[idx])
        layers = np.array([self.structure[i].properties.get("layer") for i in idx], dtype=object)
        out = []
        for row in np.argsort(d, axis=1)[:, :4]:
            found = [x for x in layers[row] if x]
            out.append(max(set(found), key=found.count) if found else None)
        return out

    def _keys(self, frac: np.ndarray, occupants: list[str], is_void: bool) -> list[tuple]:
        rounded = np.round(np.mod(frac, 1.0), 4) % 1.0
        return [(is_void, occ, *row) for occ, row in zip(occupants, rounded.tolist())]

    @cached_property
    def site_rank(self) -> np.ndarray:
        keys = self._keys(self.site_frac_coords, self.site_occupants, False)
        rank = np.empty(len(keys), dtype=np.int64)
        rank[sorted(range(len(keys)), key=keys.__getitem__)] = np.arange(len(keys))
        return rank

    @cached_property
    def rank(self) -> np.ndarray:
        """Content-derived order of all points: sites (by occupant, then position), then voids."""
        keys = self._keys(self.voids, [VOID] * len(self.voids), True)
        void_rank = np.empty(len(keys), dtype=np.int64)
        void_rank[sorted(range(len(keys)), key=keys.__getitem__)] = np.arange(len(keys)) + self.n_sites
        return np.concatenate([self.site_rank, void_rank])

    def position_key(self, point: int) -> str:
        f = np.round(np.mod(self.coords_of([point])[0], 1.0), 3) % 1.0
        return ",".join(f"{x:.3f}" for x in f)

    # ----- symmetry ---------------------------------------------------------------------------------
    @cached_property
    def operations(self) -> tuple[np.ndarray, np.ndarray]:
        numbers = [s.specie.Z for s in self.structure]
        cell = (self.structure.lattice.matrix, self.site_frac_coords, numbers)
        sym = spglib.get_symmetry(cell, symprec=self.symprec)
        return np.array(sym["rotations"]), np.array(sym["translations"])

    def _permute(self, frac: np.ndarray, occupants: np.ndarray, offset: int) -> np.ndarray:
        rotations, translations = self.operations
        frac = np.mod(frac, 1.0) % (1.0 - 1e-12)
        tree = cKDTree(frac, boxsize=1.0)
        tol = 0.1 / max(self.structure.lattice.abc)
        perms = np.empty((len(rotations), len(frac)), dtype=np.int64)
        for g, (rot, trans) in enumerate(zip(rotations, translations)):
            moved = np.mod(frac @ rot.T + trans, 1.0) % (1.0 - 1e-12)
            dist, idx = tree.query(moved, k=1)
            if len(frac) and (dist.max() > tol or not np.array_equal(occupants[idx], occupants) or len(set(idx.tolist())) != len(idx)):
                raise RuntimeError(f"symmetry operation {g} does not map the framework onto itself")
            perms[g] = idx + offset
        return perms

    @cached_property
    def site_permutations(self) -> np.ndarray:
        """(n_ops, n_sites): site p goes to ``site_permutations[g, p]`` under operation g."""
        return self._permute(self.site_frac_coords, np.array(self.site_occupants), 0)

    @cached_property
    def permutations(self) -> np.ndarray:
        """(n_ops, n_points): like ``site_permutations``, voids included (builds the voids)."""
        if not len(self.voids):
            return self.site_permutations
        void_perms = self._permute(self.voids, np.array([VOID] * len(self.voids)), self.n_sites)
        return np.hstack([self.site_permutations, void_perms])

    def symmetry_for(self, points) -> tuple[np.ndarray, np.ndarray]:
        """Permutations and ranks covering the given points (voids only when one of them is a void)."""
        if len(points) and max(points) >= self.n_sites:
            return self.permutations, self.rank
        return self.site_permutations, self.site_rank

    def stabilizer(self, occupancy: list[str]) -> np.ndarray:
        """Permutations (rows, all points) of the operations that leave an occupation unchanged."""
        codes = {s: k for k, s in enumerate(sorted(set(occupancy)))}
        occ = np.array([codes[s] for s in occupancy])
        keep = (occ[self.permutations] == occ[None, :]).all(axis=1)
        return self.permutations[keep]

    def orbits(self, points: list[int]) -> list[list[int]]:
        """Orbits of the given points under the supercell group, each sorted by rank, in rank order."""
        perms, rank = self.symmetry_for(points)
        wanted = set(points)
        done: set[int] = set()
        result = []
        for p in sorted(points, key=lambda q: rank[q]):
            if p in done:
                continue
            orbit = sorted(set(perms[:, p].tolist()) & wanted, key=lambda q: rank[q])
            done.update(orbit)
            result.append(orbit)
        return result

    # ----- names a chemist can tell apart ------------------------------------------------------------
    def label_orbits(self, point: int) -> list[list[int]]:
        """The orbits of every point that carries the same label as ``point``, in rank order."""
        table = self._void_orbits_by_label if point >= self.n_sites else self._site_orbits_by_label
        return table[self.label_of(point)]

    def _orbits_by_label(self, points) -> dict[str, list[list[int]]]:
        by_label: dict[str, list[int]] = {}
        for p in points:
            by_label.setdefault(self.label_of(p), []).append(p)
        return {label: self.orbits(members) for label, members in by_label.items()}

    @cached_property
    def _site_orbits_by_label(self) -> dict[str, list[list[int]]]:
        return self._orbits_by_label(range(self.n_sites))

    @cached_property
    def _void_orbits_by_label(self) -> dict[str, list[list[int]]]:
        return self._orbits_by_label(range(self.n_sites, self.n_sites + len(self.voids)))

    def point_tag(self, point: int) -> str:
        """What tells this point apart from others of the same label: '' when its label is one orbit.

        In a host where inequivalent sites share a label (the Li-rich host's nine Mn(4g) orbits, or
        every O of a P1 cell), the tag is the composition of the point's nearest cation shell,
        ``[2 Ni, 3 Mn, 1 Li(TM)]``, with an orbit index ``#k`` (rank order among the label's
        orbits) where the shells do not settle it. Tags depend on the framework only, so the
        same site gets the same name in every screen.
        """
        orbits = self.label_orbits(point)
        if len(orbits) < 2:
            return ""
        shells = [self._cation_shell(orbit[0]) for orbit in orbits]
        index = next(k for k, orbit in enumerate(orbits) if point in orbit)
        shell = shells[index]
        if shells.count(shell) > 1:
            return f"{shell} #{index + 1}"
        return shell

    def _cation_shell(self, point: int) -> str:
        """``[2 Ni, 3 Mn, 1 Li(TM)]``: cations within 1.25x the nearest cation distance of a point."""
        cations = np.array(self.cation_points)
        d = self.structure.lattice.get_all_distances(self.coords_of([point]), self.site_frac_coords[cations])[0]
        d[cations == point] = np.inf
        shell = cations[d <= 1.25 * d.min()]
        counts: dict[str, int] = {}
        for c in shell.tolist():
            element = self.structure[c].specie.symbol
            name = f"{element}(TM)" if element == "Li" and self.structure[c].properties.get("layer") == "TM layer" else element
            counts[name] = counts.get(name, 0) + 1
        return "[" + ", ".join(f"{n} {name}" for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))) + "]"

    # ----- geometry ---------------------------------------------------------------------------------
    def distances_from(self, point: int, targets=None) -> np.ndarray:
        """Minimum-image distances from one point to ``targets`` (default: every point)."""
        target_frac = self.frac_coords if targets is None else self.coords_of(targets)
        return self.structure.lattice.get_all_distances(self.coords_of([point]), target_frac)[0]

    @cached_property
    def host_fingerprint(self) -> str:
        return self.host.fingerprint()

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
        cations = np.array(self.cation_points)
        if not len(self.voids):
            return []
        d = self.structure.lattice.get_all_distances(self.voids, self.site_frac_coords[cations])
        return [sorted(cations[row <= 1.4 * row.min()].tolist()) for row in d]

    @cached_property
    def anion_points(self) -> list[int]:
        return [i for i, s in enumerate(self.structure) if s.specie.symbol in ANIONS]

    @cached_property
    def void_vertices(self) -> list[list[int]]:
        """For each void, its four anion vertices (framework points), nearest first."""
        anions = np.array(self.anion_points)
        if not len(self.voids) or not len(anions):
            return [[] for _ in range(len(self.voids))]
        d = self.structure.lattice.get_all_distances(self.voids, self.site_frac_coords[anions])
        return [anions[np.argsort(row)[:4]].tolist() for row in d]

    def shared_anions(self, start, end) -> list[int]:
        """The anions two neighbouring cation polyhedra share (the O–O edge of edge-sharing octahedra).

        ``start`` and ``end`` are the fractional positions of the two cations, the end at the
        image the hop goes to: in a small cell several images of a site can be equally near, and
        an O bonded to another image of it is not on this hop's edge. Each shared anion lies
        within 1.25x the nearest cation–anion distance of both positions.
        """
        anions = np.array(self.anion_points)
        if not len(anions):
            return []
        lattice = self.structure.lattice
        start, end = np.asarray(start, dtype=float), np.asarray(end, dtype=float)
        delta = self.site_frac_coords[anions] - (start + end) / 2
        delta -= np.round(delta)  # anions at their image nearest the hop's midpoint
        positions = (start + end) / 2 + delta
        to_a = np.linalg.norm(lattice.get_cartesian_coords(positions - start), axis=1)
        to_b = np.linalg.norm(lattice.get_cartesian_coords(positions - end), axis=1)
        bond = 1.25 * min(to_a.min(), to_b.min())
        return sorted(anions[(to_a <= bond) & (to_b <= bond)].tolist())


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
