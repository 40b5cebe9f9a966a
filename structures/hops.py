"""Li vacancy hops around defects: which hop, how long, which mechanism, how many TM at the saddle.

Mechanism (Van der Ven & Ceder, Electrochem. Solid-State Lett. 3, 301 (2000);
Kang & Ceder, Phys. Rev. B 74, 094105 (2006)): Li moves between edge-sharing
octahedra either straight through the shared O–O edge (**ODH**, oxygen-dumbbell
hop) or through a tetrahedral hole that shares a face with both octahedra
(**TSH**, tetrahedral-site hop). TSH needs a divacancy: besides the
destination, another octahedron face-sharing that tetrahedron must be empty,
otherwise the Li there repels the activated ion and the hop goes ODH.

n-TM (Lee, Urban, Ceder et al., Science 343, 519 (2014)) counts the
high-valence cations (formal oxidation state above +1: TM or dopant) on the
octahedra sharing a face with the tetrahedral hole. Every hop reports the
n-TM of the tetrahedral hole it would cross (the lowest-n-TM one when there are
two); for an ODH hop that is the TSH alternative, which the ``mechanism`` field
tells apart.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
from monty.json import MSONable
from pymatgen.core import Structure

from structures.configurations import VACANT, Configuration, configuration_id
from structures.framework import VOID, DefectFramework
from structures.labels import LI_LAYER, TM_LAYER

__all__ = [
    "HopMechanism",
    "TetrahedralSite",
    "LiHop",
    "occupancy_of",
    "enumerate_hops",
    "hop_endpoints",
    "interpolate_hop",
    "idpp_positions",
    "idpp_images",
]

DEFAULT_HOP_CUTOFF = 3.5  # Å: nearest Li–Li distances in layered oxides are 2.8–3.0 Å


class HopMechanism(str, Enum):
    ODH = "ODH"  # oxygen-dumbbell hop, straight through the shared O–O edge
    TSH = "TSH"  # tetrahedral-site hop, through a face-sharing tetrahedral hole (needs a divacancy)
    VO_EDGE = "V_O-edge"  # the shared O–O edge has lost an O: neither a dumbbell nor a tetrahedron


@dataclass
class TetrahedralSite(MSONable):
    """A tetrahedral hole next to a hop, with the cations on its face-sharing octahedra.

    ``vertices`` are the framework points of its four O; a hole with a vertex O missing is
    not a tetrahedral site and never appears here.
    """

    point: int
    label: str
    frac_coords: list[float]
    face_sharing: list[str]  # "Mn(4g, TM layer)", "vacant Li(2c, Li layer)", ...
    n_tm: int
    has_extra_vacancy: bool
    vertices: list[int] = field(default_factory=list)


@dataclass
class LiHop(MSONable):
    """A symmetry-distinct Li vacancy hop in a configuration (or a host).

    Equality is by symmetry: two hops are equal when they belong to the same
    configuration and one maps onto the other under its symmetry group (their
    canonical keys agree), like pymatgen-analysis-diffusion's ``MigrationHop``.
    """

    id: str
    configuration_id: str
    start_point: int
    end_point: int
    start_label: str
    end_label: str
    start_frac: list[float]
    end_frac: list[float]  # image of the end site nearest the start
    length: float
    layers: str  # "Li layer", "TM layer -> Li layer", "TM layer", or "unlayered"
    mechanism: HopMechanism
    n_tm: int | None
    tetrahedral_sites: list[TetrahedralSite]
    distance_to_defect: float | None
    multiplicity: int
    into_existing_vacancy: bool = False
    canonical_key: tuple = field(default=(), repr=False)
    # the O–O edge the two octahedra share (framework points), and which of them are vacant
    edge_points: list[int] = field(default_factory=list)
    vacant_edge_points: list[int] = field(default_factory=list)
    # the symmetry-equivalent hop of the pristine host (same two sites, no defects): the
    # reference of ΔE_a
    reference_hop_id: str | None = None
    # where to look in the NEB images (site indices of hop_endpoints' structures), so that the
    # converged path can be judged without the framework: see descriptors.physics.mechanism
    saddle_geometry: dict = field(default_factory=dict)
    # the same physical hop, whatever configuration it was enumerated in: equal for two hops whose
    # two end states and path are images of each other under the pristine supercell's operations
    # (see hop_twin_key); a Li-vacancy configuration's hop into its own vacancy has the pristine hop's
    twin_key: str = ""

    def __post_init__(self) -> None:
        # restore types after a JSON round trip (jobflow passes hops between jobs as JSON)
        self.mechanism = HopMechanism(self.mechanism)
        self.tetrahedral_sites = [
            t if isinstance(t, TetrahedralSite) else TetrahedralSite(**{k: v for k, v in t.items() if not k.startswith("@")})
            for t in self.tetrahedral_sites
        ]
        self.canonical_key = tuple(self.canonical_key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LiHop):
            return NotImplemented
        return self.configuration_id == other.configuration_id and tuple(self.canonical_key) == tuple(other.canonical_key)

    def __hash__(self) -> int:
        return hash((self.configuration_id, tuple(self.canonical_key)))

    @property
    def n_tm_label(self) -> str:
        return "-" if self.n_tm is None else f"{self.n_tm}-TM"

    def summary(self) -> dict:
        return {
            "id": self.id,
            "configuration_id": self.configuration_id,
            "start": self.start_label,
            "end": self.end_label,
            "length": round(self.length, 4),
            "layers": self.layers,
            "mechanism": self.mechanism.value,
            "n_tm": self.n_tm,
            "tetrahedral_site_face_sharing": self.tetrahedral_sites[0].face_sharing if self.tetrahedral_sites else [],
            "distance_to_defect": None if self.distance_to_defect is None else round(self.distance_to_defect, 4),
            "nearest_defect": self.saddle_geometry.get("nearest_defect"),
            "multiplicity": self.multiplicity,
            "into_existing_vacancy": self.into_existing_vacancy,
            "reference_hop_id": self.reference_hop_id,
            "twin_key": self.twin_key,
            "saddle_geometry": self.saddle_geometry,
        }


def occupancy_of(framework: DefectFramework, configuration: Configuration | None) -> tuple[list[str], list[float | None]]:
    """Occupant and formal oxidation state of every framework point in a configuration."""
    occupancy = list(framework.pristine_occupancy)
    oxidation = list(framework.oxidation_states)
    for d in configuration.defects if configuration else []:
        occupancy[d.point] = d.species if d.species else VACANT
        oxidation[d.point] = d.oxidation_state if d.species else 0
    return occupancy, oxidation


def _layers(framework: DefectFramework, a: int, b: int) -> str:
    la = framework.structure[a].properties.get("layer")
    lb = framework.structure[b].properties.get("layer")
    if la is None or lb is None:
        return "unlayered"
    if la == lb:
        return la
    return f"{TM_LAYER} -> {LI_LAYER}"


def _tetrahedral_sites(framework, occupancy, oxidation, a: int, b: int, start, end) -> list[TetrahedralSite]:
    """Empty tetrahedral holes sharing a face with both octahedra of the hop (start → end image)."""
    sites = []
    lattice = framework.structure.lattice
    midpoint = (np.asarray(start) + np.asarray(end)) / 2
    for k, face in enumerate(framework.void_face_sharing):
        if a not in face or b not in face:
            continue
        point = framework.n_sites + k
        # in a small cell the hole may face another image of b: it must sit beside this hop
        offset = framework.frac_coords[point] - midpoint
        offset -= np.round(offset)
        centre = midpoint + offset
        if max(np.linalg.norm(lattice.get_cartesian_coords(centre - x)) for x in (start, end)) > 2.4:
            continue  # ≈1.8 Å from each face-sharing cation in a layered oxide
        if occupancy[point] != VOID:
            continue  # an occupied hole (interstitial dopant) is not a path
        vertices = framework.void_vertices[k]
        if any(occupancy[v] == VACANT for v in vertices):
            continue  # a face O is missing: this is no longer a tetrahedral site
        others = [c for c in face if c not in (a, b)]
        n_tm = sum(1 for c in others if occupancy[c] not in (VACANT,) and (oxidation[c] or 0) > 1)
        extra_vacancy = any(occupancy[c] == VACANT for c in others)
        described = []
        for c in face:
            label = framework.point_labels[c]
            if occupancy[c] == VACANT:
                described.append(f"vacant {label}")
            elif occupancy[c] != framework.pristine_occupancy[c]:
                described.append(f"{occupancy[c]} on {label}")
            else:
                described.append(label)
        sites.append(
            TetrahedralSite(
                point=point,
                label=framework.point_labels[point],
                frac_coords=[float(x) for x in framework.frac_coords[point]],
                face_sharing=described,
                n_tm=n_tm,
                has_extra_vacancy=extra_vacancy,
                vertices=[int(v) for v in vertices],
            )
        )
    # TSH-enabled holes first, then fewest TM
    return sorted(sites, key=lambda t: (not t.has_extra_vacancy, t.n_tm, framework.rank[t.point]))


def enumerate_hops(
    framework: DefectFramework,
    configuration: Configuration | None = None,
    cutoff: float = DEFAULT_HOP_CUTOFF,
    max_defect_distance: float | None = None,
    twin_keys: bool = True,
) -> list[LiHop]:
    """All symmetry-distinct Li vacancy hops up to ``cutoff`` (Å), nearest to the defects first.

    A hop joins two Li sites of the configuration; if one end is already a Li
    vacancy of the configuration, the hop moves that vacancy, otherwise its NEB
    end points each get one extra Li vacancy. ``max_defect_distance`` keeps only
    hops whose midpoint lies that close to a defect. ``twin_keys=False`` leaves ``twin_key``
    empty: a screen selects a few of each configuration's ~70 candidate hops and keys only those
    (:func:`with_twin_key`; a key costs a canonical form under every operation of the supercell).
    """
    from structures.errors import LroxInputError

    if cutoff <= 0:
        raise LroxInputError(f"hop cutoff must be positive, got {cutoff}")
    if max_defect_distance is not None and max_defect_distance < 0:
        raise LroxInputError(f"defect distance must not be negative, got {max_defect_distance}")
    occupancy, oxidation = occupancy_of(framework, configuration)
    config_id = configuration.id if configuration else configuration_id(framework, [])
    defects = [d.point for d in configuration.defects] if configuration else []
    stabilizer = framework.stabilizer(occupancy)
    rank = framework.rank
    lattice = framework.structure.lattice
    li_points = [
        p
        for p in framework.cation_points
        if occupancy[p] == "Li" or (occupancy[p] == VACANT and framework.pristine_occupancy[p] == "Li")
    ]
    li_array = np.array(li_points)
    found: dict[tuple, tuple[int, int, float, int]] = {}
    for a in li_points:
        d = framework.distances_from(a)[li_array]
        for b, dist in zip(li_array[d <= cutoff + 1e-6], d[d <= cutoff + 1e-6]):
            b = int(b)
            if b <= a or (occupancy[a] == VACANT and occupancy[b] == VACANT):
                continue
            key, multiplicity = canonical_pair(np.sort(rank[stabilizer[:, [a, b]]], axis=1), len(rank))
            if key not in found:
                found[key] = (a, b, float(dist), multiplicity)
    hops = []
    for key, (a, b, length, multiplicity) in found.items():
        if occupancy[a] == VACANT:  # the moving Li starts on the occupied end
            a, b = b, a
        start = framework.frac_coords[a]
        _, image = lattice.get_distance_and_image(start, framework.frac_coords[b])
        end = framework.frac_coords[b] + image
        midpoint = (start + end) / 2
        defect_distance = nearest = None
        if defects:
            distances = lattice.get_all_distances(midpoint[None, :], framework.frac_coords[defects])[0]
            defect_distance = float(distances.min())
            nearest = configuration.defects[int(distances.argmin())].name
            if max_defect_distance is not None and defect_distance > max_defect_distance + 1e-6:
                continue
        tets = _tetrahedral_sites(framework, occupancy, oxidation, a, b, start, end)
        edge = framework.shared_anions(start, end)
        vacant_edge = [p for p in edge if occupancy[p] == VACANT]
        if vacant_edge:
            mechanism = HopMechanism.VO_EDGE
        elif tets and tets[0].has_extra_vacancy:
            mechanism = HopMechanism.TSH
        else:
            mechanism = HopMechanism.ODH
        hops.append(
            LiHop(
                id=_hop_id(framework, config_id, key),
                configuration_id=config_id,
                start_point=a,
                end_point=b,
                start_label=framework.point_labels[a],
                end_label=("vacant " if occupancy[b] == VACANT else "") + framework.point_labels[b],
                start_frac=[float(x) for x in start],
                end_frac=[float(x) for x in end],
                length=length,
                layers=_layers(framework, a, b),
                mechanism=mechanism,
                n_tm=tets[0].n_tm if tets else None,
                tetrahedral_sites=tets,
                distance_to_defect=defect_distance,
                multiplicity=int(multiplicity),
                into_existing_vacancy=occupancy[b] == VACANT,
                canonical_key=key,
                edge_points=[int(p) for p in edge],
                vacant_edge_points=[int(p) for p in vacant_edge],
                reference_hop_id=reference_hop_id(framework, a, b),
                saddle_geometry=_saddle_geometry(framework, occupancy, a, b, edge, vacant_edge, tets, nearest),
                twin_key=hop_twin_key(framework, configuration, a, b, start, end) if twin_keys else "",
            )
        )
    hops.sort(key=lambda h: (h.distance_to_defect if h.distance_to_defect is not None else 0.0, round(h.length, 3), h.id))
    return hops


def _hop_id(framework: DefectFramework, config_id: str, key: tuple) -> str:
    """A hop's id: its configuration and the positions of its canonical (start, end) pair."""
    inverse = np.argsort(framework.rank)  # rank is a permutation: argsort inverts it
    position_key = tuple(framework.position_key(int(inverse[r])) for r in key)
    return f"{config_id}-hop-{hashlib.sha256(repr((config_id, position_key)).encode()).hexdigest()[:10]}"


def reference_hop_id(framework: DefectFramework, a: int, b: int) -> str:
    """The id of the hop between points a and b in the pristine host (its symmetry-equivalent)."""
    pair = np.sort(framework.rank[framework.permutations[:, [a, b]]], axis=1)
    return _hop_id(framework, configuration_id(framework, []), canonical_pair(pair, len(framework.rank))[0])


def canonical_pair(images: np.ndarray, n_points: int) -> tuple[tuple[int, int], int]:
    """Of a pair's images under a group (rows of two ranks, each row sorted), the smallest row and
    the number of distinct rows: ``np.unique(images, axis=0)``'s first row and length, from one
    integer per row (ranks are below ``n_points``), ten times faster for the ~30,000 candidate
    pairs of a screen's hop enumeration."""
    codes = np.unique(images[:, 0] * n_points + images[:, 1])
    first = int(codes[0])
    return (first // n_points, first % n_points), len(codes)


HOP_END = "hop end"  # the occupant a twin key puts on a hop's two end sites (no element's name)


def _twin_items(configuration: Configuration | None, a: int, b: int) -> list[tuple[int, str]]:
    """A hop as a point set: its two end sites, and every defect of its configuration elsewhere.

    Its two end states are this set with a Li on one end site and a vacancy on the other, so two
    hops with images of the same set (and path) have the same end states, whichever end a
    configuration's own Li vacancy occupied and whichever way the hop was enumerated.
    """
    defects = configuration.defects if configuration else []
    return [(d.point, d.species or VACANT) for d in defects if d.point not in (a, b)] + [(a, HOP_END), (b, HOP_END)]


def hop_twin_key(framework: DefectFramework, configuration: Configuration | None, a: int, b: int, start, end) -> str:
    """The key two hops share when they are the same physical hop: the canonical form, under the
    pristine supercell's operations (pure translations included), of the hop's end sites and its
    configuration's other defects (:func:`_twin_items`), together with the path.

    The path is the hop vector (``end − start``, the end at the image the hop goes to) carried by
    each operation that takes the point set to its canonical form, oriented from the lower-ranked
    end site, the smallest of these: in a small cell two paths join the same two sites (LiCoO2
    2x2x1, around the cell either way: see :func:`_reverses_the_hop`), and they are twins only
    where an operation maps one onto the other.
    """
    from structures.configurations import _canonical

    items = _twin_items(configuration, a, b)
    canonical, _, operations = _canonical(framework, items, operations=True)
    perms, rank = framework.symmetry_for([p for p, _ in items])
    rotations, _ = framework.operations
    vector = np.asarray(end, dtype=float) - np.asarray(start, dtype=float)
    paths = []
    for g in operations:
        mapped = rotations[g] @ vector
        if rank[perms[g, a]] > rank[perms[g, b]]:
            mapped = -mapped
        paths.append(tuple(float(x) + 0.0 for x in np.round(mapped, 3)))
    content = repr((framework.host_fingerprint, tuple(framework.dims), canonical, min(paths)))
    return f"{framework.host.name}-twin-{hashlib.sha256(content.encode()).hexdigest()[:12]}"


def with_twin_key(framework: DefectFramework, configuration: Configuration | None, hop: LiHop) -> LiHop:
    """The hop with its ``twin_key``, as :func:`enumerate_hops` computes it (same end sites, the
    moving Li's start first, the same path): for hops enumerated with ``twin_keys=False``."""
    if hop.twin_key:
        return hop
    key = hop_twin_key(framework, configuration, hop.start_point, hop.end_point, np.asarray(hop.start_frac), np.asarray(hop.end_frac))
    return dataclasses.replace(hop, twin_key=key)


def _saddle_geometry(framework, occupancy, a, b, edge, vacant_edge, tets, nearest) -> dict:
    """Site indices, in the NEB images of :func:`hop_endpoints`, of what the saddle is judged by."""
    state = list(occupancy)
    state[a] = state[b] = VACANT
    kept = [p for p, occ in enumerate(state) if occ not in (VACANT, VOID)]
    index = {p: k for k, p in enumerate(kept)}
    return {
        "moving_li": len(kept),  # appended last in both end points
        "edge": [index[p] for p in edge if p in index],
        "vacant_edge_frac": [[float(x) for x in framework.frac_coords[p]] for p in vacant_edge],
        "tetrahedra": [[index[v] for v in t.vertices] for t in tets],
        "tetrahedra_labels": [t.label for t in tets],
        "nearest_defect": nearest,
    }


def _structure_from_occupancy(framework: DefectFramework, occupancy: list[str]) -> Structure:
    species, coords, labels = [], [], []
    for p, occ in enumerate(occupancy):
        if occ in (VACANT, VOID):
            continue
        species.append(occ)
        coords.append(framework.frac_coords[p])
        labels.append(framework.point_labels[p])
    return Structure(framework.structure.lattice, species, coords, site_properties={"label": labels})


def hop_endpoints(
    framework: DefectFramework,
    configuration: Configuration | None,
    hop: LiHop,
    relaxed: Structure | None = None,
) -> tuple[Structure, Structure]:
    """Initial (Li on the start site, vacancy at the end) and final structures of a hop.

    The moving Li is the last site in both, so images interpolate index by index.
    With ``relaxed`` (the relaxed configuration, sites in the order of
    ``configuration.structure``) the end points start from relaxed positions.
    """
    occupancy, _ = occupancy_of(framework, configuration)
    occupancy[hop.start_point] = VACANT
    occupancy[hop.end_point] = VACANT
    base = _structure_from_occupancy(framework, occupancy)
    start, end = np.array(hop.start_frac), np.array(hop.end_frac)
    if relaxed is not None:
        from structures.configurations import point_index_map

        mapping = point_index_map(framework, configuration) if configuration else {p: p for p in range(framework.n_sites)}
        if len(relaxed) != len(mapping):
            raise ValueError(f"relaxed structure has {len(relaxed)} sites, the configuration {len(mapping)}")
        kept = [mapping[p] for p, occ in enumerate(occupancy) if occ not in (VACANT, VOID)]
        base = Structure(
            relaxed.lattice,
            [relaxed[i].species for i in kept],
            relaxed.frac_coords[kept],
            site_properties={"label": base.site_properties["label"]},
        )
        start = _nearest_image(relaxed[mapping[hop.start_point]].frac_coords, start)
        if hop.end_point in mapping:
            end = _nearest_image(relaxed[mapping[hop.end_point]].frac_coords, end)
    initial, final = base.copy(), base.copy()
    initial.append("Li", start, properties={"label": f"moving Li ({hop.start_label})"})
    final.append("Li", end, properties={"label": f"moving Li ({hop.start_label})"})
    return initial, final


def _nearest_image(frac: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The periodic image of ``frac`` closest to ``reference`` (keeps a hop's end beside its start)."""
    return frac + np.round(reference - frac)


def interpolate_hop(initial: Structure, final: Structure, n_images: int = 5, method: str = "idpp") -> list[Structure]:
    """End points plus ``n_images`` intermediate images, by IDPP (default) or linear interpolation."""
    from structures.errors import LroxInputError

    if n_images < 1:
        raise LroxInputError(f"number of NEB images must be at least 1, got {n_images}")
    if method == "linear":
        return initial.interpolate(final, nimages=n_images + 1, autosort_tol=0)
    if method != "idpp":
        raise LroxInputError(f"unknown interpolation '{method}': use idpp or linear")
    return idpp_images(initial, final, idpp_positions(initial, final, n_images))


def idpp_images(initial: Structure, final: Structure, positions: list[np.ndarray]) -> list[Structure]:
    """The band of :func:`idpp_positions`' arrays as Structures, end points included."""
    properties = initial.site_properties
    middle = [Structure(initial.lattice, initial.species, p, coords_are_cartesian=True, site_properties=properties) for p in positions]
    return [initial.copy(), *middle, final.copy()]


def idpp_positions(initial: Structure, final: Structure, n_images: int = 5) -> list[np.ndarray]:
    """The Cartesian positions (Å) of the ``n_images`` intermediate images of the IDPP band between
    two end points (:func:`interpolate_hop`'s images, as arrays: a dry run writes them as POSCARs
    without building a 240-site Structure for each)."""
    # IDPP (Smidstrup et al., J. Chem. Phys. 140, 214106 (2014)), relaxed by ASE's MDMin as
    # ase.mep.idpp_interpolate does, on a fixed list of periodic pairs (periodic_idpp_calculators)
    from ase import Atoms
    from ase.mep import NEB
    from ase.optimize import MDMin

    if len(initial) != len(final) or initial.species != final.species:
        raise ValueError("the end points of a hop must list the same species in the same order")
    if initial.lattice != final.lattice:
        raise ValueError("the end points of a hop must share one lattice")
    # the linear band as pymatgen's Structure.interpolate makes it (each atom along its shortest
    # periodic path), built in arrays: 240-site Structures cost more than the potential
    start = initial.frac_coords
    path = final.frac_coords - start
    path -= np.round(path)
    matrix = initial.lattice.matrix
    numbers = [site.specie.Z for site in initial]
    fractions = np.arange(n_images + 2) / (n_images + 1)
    atoms = [Atoms(numbers=numbers, positions=(start + x * path) @ matrix, cell=matrix, pbc=True) for x in fractions]
    for image, calculator in zip(atoms, periodic_idpp_calculators(atoms)):
        image.calc = calculator

    class RememberingNEB(NEB):
        """ASE's NEB, its forces kept for the positions they were computed at: MDMin asks three
        times a step (step, log, convergence check), and the band's tangents cost as much as IDPP."""

        def get_forces(self):
            positions = self.get_positions()
            if getattr(self, "_remembered", None) is None or not np.array_equal(self._remembered[0], positions):
                self._remembered = (positions, super().get_forces())
            return self._remembered[1].copy()

    MDMin(RememberingNEB(atoms, method="improvedtangent"), logfile=None).run(fmax=0.05, steps=200)
    return [a.positions for a in atoms[1:-1]]


IDPP_CUTOFF = 8.0  # Å: a pair weighs 1/d⁴, so at 8 Å 1/260 of its weight at 2 Å


def idpp_pairs(first, last, cutoff: float = IDPP_CUTOFF) -> np.ndarray:
    """The band's fixed pairs, each once: rows (i, j, shift) with i < j, or i == j and the shift
    positive (its first non-zero component), of every (i, j, lattice shift) within ``cutoff`` in
    either end point (ASE Atoms, unwrapped), in lexicographic order.

    The neighbour list is matscipy's (compiled; ASE's pure-Python one took 0.3 s a call in a
    240-atom cell) and finds the same pairs. Every ordered pair (i, j, S) has its twin
    (j, i, −S) in the list: keeping one of the two halves the work and leaves the potential as it
    was (ASE's IDPP sums each pair twice, ½ each). Where only a few atoms differ between the end
    points (a dry run's unrelaxed hop: the moving Li), the last end point's pairs are the first's
    without those atoms plus theirs, found directly.
    """
    from matscipy.neighbours import neighbour_list

    first_pairs = _half(np.column_stack(neighbour_list("ijS", first, cutoff)).astype(np.int64))
    moved = np.flatnonzero(np.any(first.positions != last.positions, axis=1))
    if len(moved) <= _FEW_MOVED and np.array_equal(first.cell.array, last.cell.array):
        untouched = ~(np.isin(first_pairs[:, 0], moved) | np.isin(first_pairs[:, 1], moved))
        last_pairs = np.vstack([first_pairs[untouched], _pairs_of(last, moved, cutoff)])
    else:
        last_pairs = _half(np.column_stack(neighbour_list("ijS", last, cutoff)).astype(np.int64))
    found = np.vstack([first_pairs, last_pairs])
    # one integer per row, ordered as the rows are, so that the union is a 1-D unique (fast)
    offset = int(np.abs(found[:, 2:]).max(initial=0))
    radix, n = 2 * offset + 1, max(len(first), 1)
    key = (found[:, 0] * n + found[:, 1]) * radix**3
    for axis in range(3):
        key += (found[:, 2 + axis] + offset) * radix ** (2 - axis)
    _, index = np.unique(key, return_index=True)
    return found[index]


_FEW_MOVED = 16  # atoms that differ between the end points, below which their pairs are found directly


def _half(pairs: np.ndarray) -> np.ndarray:
    """One of each twin (i, j, S) / (j, i, −S): i < j, or i == j with its first non-zero shift > 0."""
    i, j, shift = pairs[:, 0], pairs[:, 1], pairs[:, 2:]
    first_nonzero = shift[np.arange(len(shift)), np.argmax(shift != 0, axis=1)]
    return pairs[(i < j) | ((i == j) & (first_nonzero > 0))]


def _pairs_of(atoms, indices: np.ndarray, cutoff: float) -> np.ndarray:
    """Every pair (i, j, S) within ``cutoff`` that involves one of ``indices``, halved as :func:`_half`
    does: what a neighbour list of ``atoms`` holds for them, by direct search over lattice shifts."""
    if len(indices) == 0:
        return np.empty((0, 5), dtype=np.int64)
    cell = atoms.cell.array
    frac = np.linalg.solve(cell.T, atoms.positions.T).T
    heights = 1.0 / np.linalg.norm(np.linalg.inv(cell), axis=0)  # plane spacings
    spread = np.ptp(frac, axis=0)
    reach = np.ceil(cutoff / heights + spread).astype(int) + 1
    shifts = np.array(np.meshgrid(*[np.arange(-r, r + 1) for r in reach], indexing="ij")).reshape(3, -1).T
    rows = []
    for m in indices:
        # pair (m, k, S): vector r_k − r_m + S·cell, for every atom k and shift S
        vectors = atoms.positions[None, :, :] - atoms.positions[m] + (shifts @ cell)[:, None, :]
        s, k = np.nonzero(np.einsum("skc,skc->sk", vectors, vectors) < cutoff * cutoff)
        pairs = np.column_stack([np.full(len(k), m), k, shifts[s]]).astype(np.int64)
        pairs = pairs[~((pairs[:, 1] == m) & ~pairs[:, 2:].any(axis=1))]  # not the atom with itself
        swapped = pairs[:, 1] < m  # written as (k, m, −S): the twin _half keeps
        pairs[swapped] = np.column_stack([pairs[swapped, 1], pairs[swapped, 0], -pairs[swapped, 2:]])
        rows.append(_half(pairs))
    return np.vstack(rows)


class _BandPairs:
    """The pairs of one band and the work arrays its potential is evaluated in.

    Arrays are component-major (3 × pairs) and reused from call to call: a fresh 700 kB array per
    operation cost more in page faults than the arithmetic.
    """

    def __init__(self, first, last, cutoff: float):
        pairs = idpp_pairs(first, last, cutoff)
        self.i, self.j = np.ascontiguousarray(pairs[:, 0], dtype=np.intp), np.ascontiguousarray(pairs[:, 1], dtype=np.intp)
        self.shift = np.ascontiguousarray(pairs[:, 2:].T, dtype=float)
        self.n_atoms, n = len(first), len(pairs)
        self.vec, self.other = np.empty((3, n)), np.empty((3, n))
        self.d, self.work = np.empty(n), np.empty(n)

    def lengths(self, positions: np.ndarray, cell: np.ndarray) -> np.ndarray:
        """Pair vectors (into ``self.vec``, 3 × pairs) and lengths (``self.d``)."""
        columns = np.ascontiguousarray(positions.T)
        np.take(columns, self.j, axis=1, out=self.vec)
        np.take(columns, self.i, axis=1, out=self.other)
        self.vec -= self.other
        self.vec += np.einsum("ck,cp->kp", np.asarray(cell), self.shift, out=self.other)  # shift · cell
        np.einsum("kp,kp->p", self.vec, self.vec, out=self.d)
        return np.sqrt(self.d, out=self.d)

    def energy_and_forces(self, positions: np.ndarray, cell: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
        d = self.lengths(positions, cell)
        inverse = np.reciprocal(d, out=self.work)
        dd = np.subtract(d, target, out=d)
        scaled = dd * inverse  # (d − d₀)/d
        inverse_squared = inverse * inverse
        # Σ (d − d₀)²/d⁴, each pair once (einsum, not BLAS: a threaded ddot waits on a busy machine)
        energy = float(np.einsum("p,p->", scaled * scaled, inverse_squared))
        # dE/dr_j of the pair (ASE's expression, twice: the twin pair's share); −dE/dr_i
        slope = np.multiply(2 * scaled * (1 - 2 * scaled), inverse_squared * inverse_squared, out=self.work)
        forces = np.empty((self.n_atoms, 3))
        for axis in range(3):
            component = np.multiply(slope, self.vec[axis], out=self.d)
            forces[:, axis] = np.bincount(self.i, component, self.n_atoms) - np.bincount(self.j, component, self.n_atoms)
        return energy, forces


def periodic_idpp_calculators(images: list, cutoff: float = IDPP_CUTOFF) -> list:
    """ASE calculators of the image-dependent pair potential, one per image of a linearly
    interpolated band (ASE Atoms, unwrapped), on pairs fixed at the start: every (i, j, lattice
    shift) within ``cutoff`` in either end point, its target length interpolated between the ends.

    ASE's IDPP pairs each atom with the minimum image of each other atom. In a C2/m cell, atoms
    half a lattice vector apart have two images at one distance; which one ASE took, and so the
    direction of the pair's force, flipped with the last bit of the arithmetic: OpenBLAS's generic
    kernels moved the initial band of Li2MnO3 hops by 5e-3 Å (24-atom cell) and 7e-3 Å (96-atom
    cell) against its default ones, and the converged NEB with it. With both images in the sum
    the potential is smooth, and the band is the same across kernels (tests/test_hops.py).

    Each unordered pair is evaluated once (:func:`idpp_pairs`), in arrays the band's calculators
    share (they are called one after another): a 240-atom band's ~30,000 pairs in about a
    millisecond a call.
    """
    from ase.calculators.calculator import Calculator, all_changes

    first, last = images[0], images[-1]
    band = _BandPairs(first, last, cutoff)
    start = band.lengths(first.positions, first.cell).copy()
    end = band.lengths(last.positions, last.cell).copy()

    class PeriodicIDPP(Calculator):
        implemented_properties = ["energy", "forces"]

        def __init__(self, target: np.ndarray):
            super().__init__()
            self.target = target

        def check_state(self, atoms, tol=1e-15):
            # only positions change along a band: ASE's full comparison cost more than the potential
            if self.atoms is None or len(atoms) != len(self.atoms):
                return list(all_changes)
            same = np.array_equal(self.atoms.positions, atoms.positions) and np.array_equal(self.atoms.cell.array, atoms.cell.array)
            return [] if same else ["positions"]

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            energy, forces = band.energy_and_forces(self.atoms.positions, self.atoms.cell.array, self.target)
            self.results = {"energy": energy, "forces": forces}

    steps = len(images) - 1
    return [PeriodicIDPP(start + (end - start) * k / steps) for k in range(len(images))]


def _state(framework: DefectFramework, configuration: Configuration | None, hop: LiHop, li_at: int) -> list[str]:
    occupancy, _ = occupancy_of(framework, configuration)
    occupancy[hop.start_point] = VACANT
    occupancy[hop.end_point] = VACANT
    occupancy[li_at] = "Li"
    return occupancy


def end_to_end_operation(framework: DefectFramework, configuration: Configuration | None, hop: LiHop):
    """A symmetry operation taking the hop's initial state onto its final one, or None.

    Returns ``(rotation, translation, permutation)`` in the supercell's fractional basis.
    When it exists, the final end point is the image of the relaxed initial one, so
    only one end point needs a full relaxation.
    """
    initial = _state(framework, configuration, hop, hop.start_point)
    final = _state(framework, configuration, hop, hop.end_point)
    codes = {s: k for k, s in enumerate(sorted(set(initial) | set(final)))}
    occ_i = np.array([codes[s] for s in initial])
    occ_f = np.array([codes[s] for s in final])
    perms = framework.permutations
    ok = (occ_f[perms] == occ_i[None, :]).all(axis=1) & (perms[:, hop.start_point] == hop.end_point)
    if not ok.any():
        return None
    rotations, translations = framework.operations
    # the hop's own mirror first (see _reverses_the_hop): the same operation then makes the band
    # mirror-symmetric (hop_mirror), and the end points and the band share it exactly; of those, one
    # that keeps each of the hop's tetrahedral sites in place (a mirror plane through them, not an
    # inversion swapping them: see hop_mirror)
    mirrors = [g for g in np.flatnonzero(ok) if _reverses_the_hop(rotations[g], translations[g], perms[g], hop)]
    keeping = [g for g in mirrors if _keeps_tetrahedral_sites(rotations[g], translations[g], hop)]
    g = int((keeping or mirrors or list(np.flatnonzero(ok)))[0])
    return rotations[g], translations[g], perms[g]


def _keeps_tetrahedral_sites(rotation, translation, hop: LiHop) -> bool:
    """Whether an operation that reverses the hop (fixing its midpoint) leaves each of the hop's
    tetrahedral sites where it is: the centre beside the hop, not another periodic image of it."""
    start, end = np.asarray(hop.start_frac, dtype=float), np.asarray(hop.end_frac, dtype=float)
    middle = 0.5 * (start + end)
    rotation, translation = np.asarray(rotation, dtype=float), np.asarray(translation, dtype=float)
    lattice_shift = np.round(rotation @ middle + translation - middle)  # the operation that fixes the midpoint itself
    for site in hop.tetrahedral_sites:
        offset = np.asarray(site.frac_coords, dtype=float) - middle
        centre = middle + offset - np.round(offset)  # the hole beside this hop (as _tetrahedral_sites finds it)
        if not np.allclose(rotation @ centre + translation - lattice_shift, centre, atol=1e-6):
            return False
    return True


def _reverses_the_hop(rotation, translation, perm, hop: LiHop) -> bool:
    """Whether an operation is its own inverse and maps the hop's path onto itself reversed.

    Swapping the two end sites is not enough: in a small cell the same two sites are joined by
    two paths, around the cell either way, and the inversion centre of one swaps the other's
    sites too, mapping that path onto this one.
    """
    if not (perm[perm] == np.arange(len(perm))).all():
        return False
    start, end = np.asarray(hop.start_frac, dtype=float), np.asarray(hop.end_frac, dtype=float)
    middle = 0.5 * (start + end)
    moved = rotation @ middle + translation - middle
    return bool(np.allclose(rotation @ (end - start), start - end, atol=1e-6) and np.allclose(moved, np.round(moved), atol=1e-6))


def map_initial_to_final(
    framework: DefectFramework, configuration: Configuration | None, hop: LiHop, initial: Structure, operation
) -> Structure:
    """The final end point as the symmetry image of a (relaxed) initial end point."""
    rotation, translation, perm = operation
    initial_state = _state(framework, configuration, hop, hop.start_point)
    points = [p for p, occ in enumerate(initial_state) if occ not in (VACANT, VOID) and p != hop.start_point]
    order = points + [hop.start_point]  # site k of the initial structure sits on point order[k]
    if len(order) != len(initial):
        raise ValueError("initial end point does not match the hop's configuration")
    image_of = {int(perm[p]): k for k, p in enumerate(order)}  # final point -> initial site index
    final_points = points + [hop.end_point]
    frac = []
    for q in final_points:
        x = rotation @ initial.frac_coords[image_of[q]] + translation
        reference = framework.coords_of([q])[0] if q != hop.end_point else np.array(hop.end_frac)
        frac.append(x + np.round(reference - x))
    return Structure(initial.lattice, initial.species, frac, site_properties=initial.site_properties)


@dataclass
class HopMirror(MSONable):
    """A symmetry operation that is its own inverse and maps a hop's path onto itself reversed,
    swapping its two end states.

    Such a hop's band is mirror-symmetric: image ``n + 1 − k`` is the image of image ``k``
    under the operation (``x → rotation · x + translation`` in the supercell's fractional basis,
    atom ``k`` going to atom ``permutation[k]``), and so are its energy and forces. A band then
    needs the model on its first half and its central image only (workflows.engine.run_neb).
    """

    rotation: list[list[int]]
    translation: list[float]
    permutation: list[int]  # over the band's atoms: the hop's end points' site order

    def image_frac(self, frac: np.ndarray) -> np.ndarray:
        """Fractional coordinates of the mirror image, in the band's atom order (not wrapped)."""
        frac = np.asarray(frac, dtype=float)
        mapped = frac @ np.asarray(self.rotation, dtype=float).T + np.asarray(self.translation, dtype=float)
        out = np.empty_like(mapped)
        out[np.asarray(self.permutation)] = mapped
        return out


def hop_mirror(framework: DefectFramework, configuration: Configuration | None, hop: LiHop) -> HopMirror | None:
    """The involution reversing the hop's path, and so swapping its initial and final states
    (HopMirror), or None.

    It exists for a hop between two equivalent sites whose defects sit symmetrically about it
    (a pristine hop, a hop beside a dopant on the mirror between its two sites); a defect on one
    side only, a vacant O on one end's face, breaks it. The operation is the one
    :func:`end_to_end_operation` returns, so the final end point is its image of the initial one.
    It must also keep each of the hop's tetrahedral sites in place: where the only reversing
    operations swap them (an inversion), there is none, and the band runs whole.
    """
    operation = end_to_end_operation(framework, configuration, hop)
    if operation is None:
        return None
    rotation, translation, perm = operation
    if not _reverses_the_hop(rotation, translation, perm, hop):
        return None
    if not _keeps_tetrahedral_sites(rotation, translation, hop):
        # an inversion (or a two-fold axis) through the midpoint swaps the two tetrahedral sites
        # beside the edge, and a band kept symmetric under it pins the central image's Li on the
        # operation's fixed set, away from both: a path bending through one of them (the pristine
        # 4h -> 4h hop of Li2MnO3 did, issue 29) could not be found. Such a band runs whole. A
        # mirror plane through the edge keeps both sites, each tetrahedral path is its own mirror
        # image, and the mirrored band can take it (end_to_end_operation prefers that plane)
        return None
    initial_state = _state(framework, configuration, hop, hop.start_point)
    points = [p for p, occ in enumerate(initial_state) if occ not in (VACANT, VOID) and p != hop.start_point]
    # it maps the initial state onto the final one and start onto end, so the other atoms onto each other
    index = {p: k for k, p in enumerate(points)}
    permutation = [index[int(perm[p])] for p in points] + [len(points)]  # the moving Li stays the last atom
    return HopMirror(rotation=np.asarray(rotation).astype(int).tolist(), translation=np.asarray(translation, dtype=float).tolist(), permutation=permutation)


__all__ += ["end_to_end_operation", "map_initial_to_final", "HopMirror", "hop_mirror"]


# ----- twins: one physical hop enumerated in two configurations --------------------------------------
def _band_points(framework: DefectFramework, configuration: Configuration | None, hop: LiHop) -> list[int]:
    """Framework points of a hop's band atoms in hop_endpoints' order (the moving Li, last, not listed)."""
    state, _ = occupancy_of(framework, configuration)
    state[hop.start_point] = state[hop.end_point] = VACANT
    return [p for p, occ in enumerate(state) if occ not in (VACANT, VOID)]


@dataclass
class TwinMap(MSONable):
    """How a twin hop's band is the image of the band of the hop that ran (same ``twin_key``).

    ``x → rotation · x + translation`` (fractional, the supercell's basis) takes atom ``k`` of the
    computed band to atom ``permutation[k]`` of the twin's, which is then moved by whole lattice
    vectors to the periodic image nearest ``reference`` (the twin's own sites, and its start site
    for the moving Li), the same for every image of the band. ``reversed``: the twin runs the other
    way, so its image ``k`` is the image of the computed band's image ``n − k``. ``proper``: the
    operation is a rotation (det +1), to which every rotation-equivariant model holds; an improper
    one (inversion, mirror) only a model that is parity-invariant too (workflows.engine,
    MIRROR_CHECK_FORCE), so a proper one is chosen wherever there is one.
    """

    rotation: list[list[int]]
    translation: list[float]
    permutation: list[int]
    reference: list[list[float]]
    reversed: bool
    proper: bool

    @property
    def operation(self) -> str:
        """``identity``, ``translation``, ``rotation`` (proper) or ``improper``."""
        if not np.array_equal(np.asarray(self.rotation), np.eye(3, dtype=int)):
            return "rotation" if self.proper else "improper"
        moved = np.asarray(self.translation, dtype=float)
        return "identity" if np.allclose(moved - np.round(moved), 0.0, atol=1e-8) else "translation"

    def lattice_deviation(self, lattice) -> float:
        """How far (relative) a cell is from being mapped onto itself by the operation: 0 for the
        pristine supercell; a relaxed cell that kept its symmetry stays at float noise."""
        matrix = np.asarray(getattr(lattice, "matrix", lattice), dtype=float)
        cartesian = matrix.T @ np.asarray(self.rotation, dtype=float) @ np.linalg.inv(matrix.T)
        return float(np.abs(cartesian.T @ cartesian - np.eye(3)).max())

    def band(self, images: list[Structure]) -> list[Structure]:
        """The twin's band: each image of the computed band moved by the operation, its atoms in the
        twin's order (and the band reversed where the twin runs the other way)."""
        rotation = np.asarray(self.rotation, dtype=float)
        translation = np.asarray(self.translation, dtype=float)
        permutation = np.asarray(self.permutation)
        out, shifts = [], None
        for image in images[::-1] if self.reversed else images:
            if len(image) != len(permutation):
                raise ValueError(f"the computed band has {len(image)} atoms, its twin {len(permutation)}")
            frac = np.empty((len(image), 3))
            frac[permutation] = image.frac_coords @ rotation.T + translation
            if shifts is None:  # from the twin's first image, then the same for all: the band stays whole
                shifts = np.round(np.asarray(self.reference, dtype=float) - frac)
            frac += shifts
            species = [None] * len(image)
            for k, site in enumerate(image):
                species[permutation[k]] = site.species
            # no site properties: a label of the computed band's (its moving Li's start site) would
            # name the wrong site here
            out.append(Structure(image.lattice, species, frac))
        return out


def twin_map(
    framework: DefectFramework,
    computed_configuration: Configuration | None,
    computed_hop: LiHop,
    twin_configuration: Configuration | None,
    twin_hop: LiHop,
) -> TwinMap | None:
    """The operation of the pristine supercell that takes the computed hop onto its twin: its end
    states onto the twin's (the other defects onto the twin's, its two end sites onto the twin's)
    and its path onto the twin's path, either way; None where there is none (not twins).

    Preferred, in order: a proper operation, one that keeps the direction, a pure translation.
    """
    def marked(configuration, hop):
        state, _ = occupancy_of(framework, configuration)
        state[hop.start_point] = state[hop.end_point] = HOP_END
        return state

    source, target = marked(computed_configuration, computed_hop), marked(twin_configuration, twin_hop)
    if len(source) != len(target):
        return None
    codes = {s: k for k, s in enumerate(sorted(set(source) | set(target)))}
    src = np.array([codes[s] for s in source])
    tgt = np.array([codes[s] for s in target])
    perms = framework.permutations
    rotations, translations = framework.operations
    vector = np.asarray(computed_hop.end_frac, dtype=float) - np.asarray(computed_hop.start_frac, dtype=float)
    twin_vector = np.asarray(twin_hop.end_frac, dtype=float) - np.asarray(twin_hop.start_frac, dtype=float)
    candidates = []
    for g in np.flatnonzero((tgt[perms] == src[None, :]).all(axis=1)):
        g = int(g)
        reverse = int(perms[g, computed_hop.start_point]) != twin_hop.start_point
        if not np.allclose(rotations[g] @ vector, -twin_vector if reverse else twin_vector, atol=1e-6):
            continue  # the other path between the same two sites (a small cell)
        proper = round(float(np.linalg.det(rotations[g]))) > 0
        identity = np.array_equal(rotations[g], np.eye(3, dtype=int))
        candidates.append(((not proper, reverse, not identity, g), g, reverse, proper))
    if not candidates:
        return None
    _, g, reverse, proper = min(candidates)
    rotation, translation, perm = rotations[g], translations[g], perms[g]
    points = _band_points(framework, computed_configuration, computed_hop)
    index = {q: k for k, q in enumerate(_band_points(framework, twin_configuration, twin_hop))}
    permutation = [index[int(perm[p])] for p in points] + [len(points)]
    reference = [[round(float(x), 6) for x in framework.frac_coords[q]] for q in index] + [[float(x) for x in twin_hop.start_frac]]
    return TwinMap(
        rotation=np.asarray(rotation).astype(int).tolist(),
        translation=[float(x) for x in translation],
        permutation=permutation,
        reference=reference,
        reversed=bool(reverse),
        proper=bool(proper),
    )


__all__ += ["TwinMap", "twin_map"]


# ----- paths through a hop -----------------------------------------------------------------------------
def mic_vectors(structure: Structure, origin_frac: np.ndarray, frac_points: np.ndarray) -> np.ndarray:
    """Cartesian vectors from ``origin_frac`` to each point, each to its nearest periodic image."""
    delta = np.asarray(frac_points, dtype=float) - np.asarray(origin_frac, dtype=float)
    delta -= np.round(delta)
    return structure.lattice.get_cartesian_coords(delta)


def tetrahedral_band(images: list[Structure], geometry: dict, tetrahedron: int = 0) -> list[Structure]:
    """The same band with the moving Li led through a tetrahedral site: start → tet centre → end.

    IDPP starts every band through the O–O edge; a divacancy hop must also be tried through the
    tetrahedral site, or the NEB may never find the lower saddle. The moving Li follows the two
    straight segments at equal arc-length steps; every other atom keeps its IDPP position. The
    tet centre is the centroid of its four O in the initial end point.
    """
    vertices = geometry["tetrahedra"][tetrahedron]
    li_index = geometry.get("moving_li", len(images[0]) - 1)
    first, last = images[0], images[-1]
    p0 = first[li_index].coords
    p1 = p0 + mic_vectors(first, first[li_index].frac_coords, last[li_index].frac_coords[None, :])[0]
    centre = p0 + mic_vectors(first, first[li_index].frac_coords, first.frac_coords[vertices]).mean(axis=0)
    legs = (np.linalg.norm(centre - p0), np.linalg.norm(p1 - centre))
    total = sum(legs)
    out = [first.copy()]
    n = len(images) - 1
    for k, image in enumerate(images[1:-1], start=1):
        s = total * k / n
        position = p0 + (centre - p0) * (s / legs[0]) if s <= legs[0] else centre + (p1 - centre) * ((s - legs[0]) / legs[1])
        moved = image.copy()
        moved.replace(li_index, moved[li_index].species, coords=position, coords_are_cartesian=True, properties=moved[li_index].properties)
        out.append(moved)
    out.append(last.copy())
    return out


__all__ += ["mic_vectors", "tetrahedral_band", "reference_hop_id", "hop_twin_key", "with_twin_key", "canonical_pair"]


def seeded_band(ml_images: list[Structure], start: Structure, end: Structure, n_images: int | None = None) -> list[Structure]:
    """A band for another level of theory (DFT) seeded with a converged band of this hop (ML).

    The mapping: image k = the DFT start point + (ML image k − ML image 0), the displacement taken in
    fractional coordinates and applied on the DFT lattice; then, so that the band ends exactly on
    the DFT end point, the mismatch at the last image is spread linearly along the band
    (k/N of it at image k). Site order must be the same in all structures (lrox's end points: the
    moving Li last), which is checked. ``n_images`` (intermediate images) resamples the ML band at
    equal steps of its path length first, where the two levels use different counts.
    """
    if len(ml_images) < 3:
        raise ValueError("a band needs at least three images")
    n_sites = len(start)
    if len(end) != n_sites or any(len(image) != n_sites for image in ml_images):
        raise ValueError("the ML band and the end points hold different numbers of sites")
    if [s.species_string for s in start] != [s.species_string for s in ml_images[0]]:
        raise ValueError("the ML band and the end points list their sites in different orders")
    first = ml_images[0].frac_coords
    displacement = [image.frac_coords - first for image in ml_images]
    displacement = [d - np.round(d) for d in displacement]  # each the shortest, across the cell boundary
    if n_images is not None and n_images + 2 != len(displacement):
        lattice = ml_images[0].lattice.matrix
        steps = [np.linalg.norm((b - a) @ lattice) for a, b in zip(displacement[:-1], displacement[1:])]
        path = np.concatenate([[0.0], np.cumsum(steps)])
        targets = np.linspace(0.0, path[-1], n_images + 2)
        stacked = np.array(displacement)
        displacement = [
            np.array([[np.interp(t, path, stacked[:, i, j]) for j in range(3)] for i in range(n_sites)]) for t in targets
        ]
    n = len(displacement) - 1
    mismatch = end.frac_coords - (start.frac_coords + displacement[-1])
    mismatch -= np.round(mismatch)
    band = []
    for k, d in enumerate(displacement):
        if k == 0:
            band.append(start.copy())
        elif k == n:
            band.append(end.copy())
        else:
            frac = start.frac_coords + d + mismatch * (k / n)
            band.append(Structure(start.lattice, start.species, frac, site_properties=start.site_properties))
    return band


__all__ += ["seeded_band"]


def same_hop_in(
    hop: LiHop,
    source: DefectFramework,
    target: DefectFramework,
    target_configuration: Configuration | None,
    tolerance: float = 0.05,
) -> LiHop | None:
    """The hop of ``target_configuration`` (the same defects rebuilt in another supercell of the same
    host, :func:`structures.configurations.same_defects_in`) between the same two host sites, or None.

    The two sites keep their Cartesian positions (the cells share the host lattice). The hop is the
    same hop only if it has the same length, mechanism, n-TM and distance to its nearest defect
    within ``tolerance`` (Å): in a smaller cell a hop can come near a defect's periodic image, and
    is then another hop there, not the same one.
    """
    lattice_s, lattice_t = source.structure.lattice, target.structure.lattice

    def point_of(frac_source) -> int | None:
        cart = lattice_s.get_cartesian_coords(frac_source)
        delta = target.frac_coords - lattice_t.get_fractional_coords(cart)
        delta -= np.round(delta)
        distance = np.linalg.norm(lattice_t.get_cartesian_coords(delta), axis=1)
        point = int(np.argmin(distance))
        return point if distance[point] <= tolerance else None

    a, b = point_of(np.array(hop.start_frac)), point_of(np.array(hop.end_frac))
    if a is None or b is None or a == b:
        return None
    occupancy, _ = occupancy_of(target, target_configuration)
    images = np.sort(target.rank[target.stabilizer(occupancy)[:, [a, b]]], axis=1)
    key = tuple(np.unique(images, axis=0)[0].tolist())
    for candidate in enumerate_hops(target, target_configuration, cutoff=hop.length + 0.5):
        if tuple(candidate.canonical_key) != key:
            continue
        same = (
            abs(candidate.length - hop.length) <= tolerance
            and candidate.mechanism is hop.mechanism
            and candidate.n_tm == hop.n_tm
            and (candidate.distance_to_defect is None) == (hop.distance_to_defect is None)
            and (hop.distance_to_defect is None or abs(candidate.distance_to_defect - hop.distance_to_defect) <= tolerance)
            and candidate.saddle_geometry.get("nearest_defect") == hop.saddle_geometry.get("nearest_defect")
        )
        return candidate if same else None
    return None


__all__ += ["same_hop_in"]
