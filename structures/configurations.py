"""Symmetry-distinct defect configurations: single dopants and vacancies, and pairs within a cutoff.

Deduplication is exact group theory on the supercell's site permutations
(see :mod:`structures.framework`): a configuration is a set of (point,
occupant) pairs, its canonical form the lexicographically smallest image of
that set over all operations, its multiplicity the size of its orbit.
Tests check the counts against brute-force StructureMatcher grouping.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import itertools
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
from monty.json import MSONable
from pymatgen.core import Element, Structure

from structures.charge import charge_bookkeeping
from structures.errors import LroxInputError
from structures.framework import DefectFramework
from structures.labels import site_label
from structures.sublattices import DefectKind, DefectSpec, Sublattice, resolve_sites

__all__ = [
    "PairKind",
    "DefectSite",
    "Configuration",
    "sites_for_spec",
    "dopant_oxidation_state",
    "enumerate_configurations",
    "configuration_from_defects",
    "configuration_id",
    "distinguish_names",
    "summary_digest",
]

VACANT = "Va"


class PairKind(str, Enum):
    DOPANT_VACANCY = "dopant-vacancy"
    DOPANT_DOPANT = "dopant-dopant"
    VACANCY_VACANCY = "vacancy-vacancy"


@dataclass
class DefectSite(MSONable):
    """One point defect of a configuration, named by the host site it sits on.

    ``tag`` tells the site apart from other orbits that carry the same label (see
    :meth:`DefectFramework.point_tag`); ``host_species`` is the element the host has there
    (None for an interstitial void).
    """

    kind: str
    point: int
    host_label: str
    frac_coords: list[float]
    species: str | None = None
    oxidation_state: float | None = None
    tag: str = ""
    host_species: str | None = None

    @property
    def element_removed(self) -> str | None:
        """The host element a vacancy or substitution takes away (from the label for older records)."""
        if self.kind == DefectKind.INTERSTITIAL.value:
            return None
        return self.host_species or self.host_label.split("(")[0]

    @property
    def name(self) -> str:
        """``Al on Mn(4g, TM layer)``, ``V_O(8j)`` (Kröger–Vink style), ``Mg in tet(Li layer)``, plus the tag."""
        if self.kind == DefectKind.VACANCY.value:
            text = f"V_{self.host_label}"
        elif self.kind == DefectKind.INTERSTITIAL.value:
            text = f"{self.species} in {self.host_label}"
        else:
            text = f"{self.species} on {self.host_label}"
        return f"{text} {self.tag}" if self.tag else text


@dataclass
class Configuration(MSONable):
    """A symmetry-distinct defect configuration of a host supercell.

    ``id`` is derived from content only (host lattice and sites, supercell,
    canonical defect positions), so the same structure gets the same id in every
    run and on every machine.
    """

    id: str
    host_name: str
    supercell: list[int]
    defects: list[DefectSite]
    multiplicity: int
    formula: str
    n_atoms: int
    charge: dict | None = None  # ChargeBookkeeping.as_dict(): formal charge change and who takes it
    pair_distance: float | None = None
    structure: Structure | None = field(default=None, repr=False)
    host_fingerprint: str = ""
    # lineage, by id: parent_ids[k] is this configuration without defects[k]; defect_ids[k] the
    # single-defect configuration of defects[k] alone (its site orbit). Descriptors that compare
    # two configurations use these, never labels.
    parent_ids: list[str] = field(default_factory=list)
    defect_ids: list[str] = field(default_factory=list)
    name_suffix: str = ""  # "#2" where two configurations would otherwise read the same

    def __post_init__(self) -> None:
        # restore types after a JSON round trip (jobflow passes configurations between jobs as JSON)
        self.defects = [
            d if isinstance(d, DefectSite) else DefectSite(**{k: v for k, v in d.items() if not k.startswith("@")})
            for d in self.defects
        ]
        if isinstance(self.structure, dict):
            from structures.doors.structures_in import structure_from_dict

            self.structure = structure_from_dict(self.structure, "configuration structure")

    @classmethod
    def from_dict(cls, d: dict) -> Configuration:
        """Decode, ignoring keys of older lrox versions (``net_charge``) that no field holds now."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    @property
    def name(self) -> str:
        if not self.defects:
            return "pristine"
        text = " + ".join(d.name for d in self.defects)
        if self.pair_distance is not None:
            text += f" ({self.pair_distance:.2f} Å apart)"
        return f"{text} {self.name_suffix}" if self.name_suffix else text

    @property
    def charge_change(self) -> float | None:
        """Σ(new − old formal charge) of the defects: > 0 leaves electrons, < 0 holes (the cell stays neutral)."""
        return None if self.charge is None else self.charge["charge_change"]

    @property
    def needs_compensation(self) -> bool:
        """Only carriers that no ion of the cell can take count (an O vacancy's electrons reduce Mn⁴⁺)."""
        return bool(self.charge and self.charge["needs_compensation"])

    def summary(self) -> dict:
        """JSON-friendly description (everything except the structure), with a digest of its content."""
        out = self._summary()
        out["digest"] = summary_digest(out)
        return out

    def _summary(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "host": self.host_name,
            "supercell": "x".join(map(str, self.supercell)),
            "defects": [
                {
                    "kind": d.kind,
                    "species": d.species,
                    "host_species": d.element_removed,
                    "site": d.host_label,
                    "tag": d.tag,
                    "name": d.name,
                    "frac_coords": [round(x, 5) for x in d.frac_coords],
                    "oxidation_state": d.oxidation_state,
                }
                for d in self.defects
            ],
            "multiplicity": self.multiplicity,
            "formula": self.formula,
            "n_atoms": self.n_atoms,
            "pair_distance": None if self.pair_distance is None else round(self.pair_distance, 4),
            "charge_change": self.charge_change,
            "compensation": None if self.charge is None else self.charge["compensation"],
            "needs_compensation": self.needs_compensation,
            "parent_ids": list(self.parent_ids),
            "defect_ids": list(self.defect_ids),
        }


def summary_digest(summary: dict) -> str:
    """sha256 of a configuration summary's identity and content (its id, host, cell and defects):
    an ingested record whose id or defects were edited no longer matches it."""
    content = {k: summary.get(k) for k in ("id", "host", "supercell", "formula", "n_atoms")}
    content["defects"] = [{k: d.get(k) for k in ("kind", "species", "site", "frac_coords")} for d in summary.get("defects", [])]
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ----- specs → points ------------------------------------------------------------------------------
def sites_for_spec(framework: DefectFramework, spec: DefectSpec) -> list[int]:
    """Framework points a defect spec may occupy (empty voids for interstitials)."""
    if spec.kind is DefectKind.INTERSTITIAL:
        points = list(range(framework.n_sites, framework.n_sites + len(framework.voids)))
        if not points:
            raise LroxInputError("the host has no empty tetrahedral sites for an interstitial dopant")
        return points
    if spec.kind is DefectKind.VACANCY and spec.species is not None:
        if spec.species not in {site.specie.symbol for site in framework.structure}:
            raise LroxInputError(f"the host has no {spec.species} to remove (vacancy {spec.species})")
    points = resolve_sites(framework.structure, spec.sublattice)
    if spec.kind is DefectKind.VACANCY and spec.species is not None:
        points = [p for p in points if framework.structure[p].specie.symbol == spec.species]
        if not points:
            raise LroxInputError(f"the host has no {spec.species} on '{spec.sublattice}' to remove (vacancy {spec})")
    if spec.kind is DefectKind.SUBSTITUTION:
        points = [p for p in points if framework.structure[p].specie.symbol != spec.species]
        if not points:
            raise LroxInputError(f"dopant {spec}: every site of '{spec.sublattice}' already holds {spec.species}")
    return points


def dopant_oxidation_state(spec: DefectSpec, replaced: float | None) -> float | None:
    """The dopant's formal oxidation state: as given, else its common state nearest the replaced ion's."""
    if spec.oxidation_state is not None:
        return spec.oxidation_state
    states = Element(spec.species).common_oxidation_states or Element(spec.species).oxidation_states
    if not states:
        return None
    if replaced is None:
        positive = [s for s in states if s > 0]
        return max(positive) if positive else states[0]
    return min(states, key=lambda s: (abs(s - replaced), -s))


# ----- building a configuration --------------------------------------------------------------------
def _defect_site(framework: DefectFramework, point: int, spec: DefectSpec) -> DefectSite:
    host_oxi = framework.oxidation_of(point) if point < framework.n_sites else None
    oxi = None if spec.kind is DefectKind.VACANCY else dopant_oxidation_state(spec, host_oxi)
    return DefectSite(
        kind=spec.kind.value,
        point=int(point),
        host_label=framework.label_of(point),
        frac_coords=[float(x) for x in framework.coords_of([point])[0]],
        species=None if spec.kind is DefectKind.VACANCY else spec.species,
        oxidation_state=oxi,
        tag=framework.point_tag(point),
        host_species=framework.structure[point].specie.symbol if point < framework.n_sites else None,
    )


def _charge_change(framework: DefectFramework, defects: list[DefectSite]) -> float | None:
    total = 0.0
    for d in defects:
        host = framework.oxidation_of(d.point)
        if host is None or (d.kind != DefectKind.VACANCY.value and d.oxidation_state is None):
            return None
        new = 0 if d.kind == DefectKind.VACANCY.value else d.oxidation_state
        total += new - host
    return round(total, 6)


def _charge(framework: DefectFramework, defects: list[DefectSite]) -> dict | None:
    """The formal bookkeeping of the neutral cell (:mod:`structures.charge`)."""
    changed = {d.point: d for d in defects}
    cations = []
    for p in framework.cation_points:
        d = changed.get(p)
        if d is None:
            cations.append((framework.site_occupants[p], framework.oxidation_of(p)))
        elif d.kind == DefectKind.SUBSTITUTION.value:
            cations.append((d.species, d.oxidation_state))
    cations += [(d.species, d.oxidation_state) for d in defects if d.kind == DefectKind.INTERSTITIAL.value]
    has_oxygen = any(occ == "O" and p not in changed for p, occ in enumerate(framework.site_occupants))
    result = charge_bookkeeping(cations, has_oxygen, _charge_change(framework, defects))
    return None if result is None else result.as_dict()


def build_structure(framework: DefectFramework, defects: list[DefectSite]) -> Structure:
    """The defect supercell: substitutions replace, vacancies remove, interstitials are appended."""
    structure = framework.structure.copy()
    removed = []
    appended = []
    for d in defects:
        if d.kind == DefectKind.VACANCY.value:
            removed.append(d.point)
        elif d.kind == DefectKind.SUBSTITUTION.value:
            props = dict(structure[d.point].properties)
            props.update(oxi=d.oxidation_state, label=site_label(d.species, props.get("wyckoff"), props.get("layer")))
            structure.replace(d.point, d.species, properties=props)
        else:
            appended.append(d)
    for d in sorted(appended, key=lambda d: d.point):
        layer = framework.label_of(d.point)
        structure.append(
            d.species,
            d.frac_coords,
            properties={"wyckoff": "tet", "layer": None, "oxi": d.oxidation_state, "label": f"{d.species}({layer})"},
        )
    if removed:
        structure.remove_sites(removed)
    return structure


def point_index_map(framework: DefectFramework, configuration: Configuration) -> dict[int, int]:
    """Framework point → site index in ``configuration.structure`` (the order of :func:`build_structure`)."""
    vacant = {d.point for d in configuration.defects if d.kind == DefectKind.VACANCY.value}
    interstitial = sorted(d.point for d in configuration.defects if d.kind == DefectKind.INTERSTITIAL.value)
    mapping, k = {}, 0
    for p in range(framework.n_sites):
        if p not in vacant:
            mapping[p] = k
            k += 1
    for p in interstitial:
        mapping[p] = k
        k += 1
    return mapping


def _canonical(framework: DefectFramework, items: list[tuple[int, str]], operations: bool = False) -> tuple:
    """Canonical form (smallest image over the group, in content ranks) and orbit size of a point set;
    with ``operations``, also the indices of the operations that take the set to its canonical form."""
    points = [p for p, _ in items]
    perms, rank = framework.symmetry_for(points)
    occupant_codes = {occ: k for k, occ in enumerate(sorted({occ for _, occ in items}))}
    width = len(occupant_codes)
    points = np.array(points)
    codes = np.array([occupant_codes[o] for _, o in items])
    images = rank[perms[:, points]] * width + codes[None, :]  # (n_ops, n_items)
    images.sort(axis=1)
    unique = np.unique(images, axis=0)
    best = tuple(unique[0].tolist())
    inverse = np.argsort(rank)  # rank is a permutation: argsort inverts it
    decoded = tuple(
        (framework.position_key(int(inverse[c // width])), sorted(occupant_codes)[c % width]) for c in best
    )
    if operations:
        return decoded, len(unique), np.flatnonzero((images == unique[0][None, :]).all(axis=1))
    return decoded, len(unique)


def _identity(framework: DefectFramework, items: list[tuple[int, str]]) -> tuple[str, int]:
    """(id, multiplicity) of the configuration that puts each occupant on its point."""
    canonical, multiplicity = _canonical(framework, items) if items else ((), 1)
    digest = hashlib.sha256(repr((framework.host_fingerprint, tuple(framework.dims), canonical)).encode()).hexdigest()
    return f"{framework.host.name}-{digest[:12]}", int(multiplicity)


def _occupant(spec: DefectSpec) -> str:
    """What a defect puts on its point: the dopant element, or a vacancy."""
    return VACANT if spec.kind is DefectKind.VACANCY else spec.species


def configuration_id(framework: DefectFramework, placed: list[tuple[int, DefectSpec]]) -> str:
    """The id a configuration of these (point, spec) placements gets, without building it."""
    return _identity(framework, [(int(p), _occupant(spec)) for p, spec in placed])[0]


def configuration_from_defects(
    framework: DefectFramework, placed: list[tuple[int, DefectSpec]], pair_distance: float | None = None
) -> Configuration:
    """A Configuration from explicit (point, spec) placements, with its id, multiplicity and lineage."""
    defects = [_defect_site(framework, p, spec) for p, spec in placed]
    config_id, multiplicity = _identity(framework, [(d.point, d.species or VACANT) for d in defects])
    parents = [configuration_id(framework, placed[:k] + placed[k + 1 :]) for k in range(len(placed))]
    singles = [configuration_id(framework, [item]) for item in placed]
    structure = build_structure(framework, defects)
    return Configuration(
        id=config_id,
        host_name=framework.host.name,
        supercell=list(framework.dims),
        defects=defects,
        multiplicity=multiplicity,
        formula=structure.composition.formula.replace(" ", ""),
        n_atoms=len(structure),
        charge=_charge(framework, defects),
        pair_distance=pair_distance,
        structure=structure,
        host_fingerprint=framework.host_fingerprint,
        parent_ids=parents,
        defect_ids=singles,
    )


# ----- enumeration ---------------------------------------------------------------------------------
def _pair_kind(a: DefectSpec, b: DefectSpec) -> PairKind:
    if a.is_dopant and b.is_dopant:
        return PairKind.DOPANT_DOPANT
    if a.is_dopant or b.is_dopant:
        return PairKind.DOPANT_VACANCY
    return PairKind.VACANCY_VACANCY


def enumerate_singles(framework: DefectFramework, spec: DefectSpec) -> list[Configuration]:
    """One configuration per symmetry orbit of the spec's sites."""
    return [configuration_from_defects(framework, [(orbit[0], spec)]) for orbit in framework.orbits(sites_for_spec(framework, spec))]


def enumerate_pairs(
    framework: DefectFramework, first: DefectSpec, second: DefectSpec, cutoff: float
) -> list[Configuration]:
    """Symmetry-distinct pairs (first at i, second at j), |ij| ≤ cutoff, i ≠ j, sorted by distance."""
    if cutoff <= 0:
        raise LroxInputError(f"pair cutoff must be positive, got {cutoff}")
    sites_a = sites_for_spec(framework, first)
    sites_b = np.array(sites_for_spec(framework, second))
    rank = framework.symmetry_for(list(sites_a) + sites_b.tolist())[1]
    seen: dict[tuple, tuple[int, int, float]] = {}
    for orbit in framework.orbits(sites_a):
        i = orbit[0]
        d = framework.distances_from(i, sites_b)
        for j, dist in zip(sites_b[(d <= cutoff + 1e-6)], d[d <= cutoff + 1e-6]):
            if j == i:
                continue
            key, _ = _canonical(framework, [(i, _occupant(first)), (int(j), _occupant(second))])
            if key not in seen:
                seen[key] = (i, int(j), float(dist))
    ordered = sorted(seen.values(), key=lambda t: (round(t[2], 4), rank[t[0]], rank[t[1]]))
    return [configuration_from_defects(framework, [(i, first), (j, second)], pair_distance=dist) for i, j, dist in ordered]


def enumerate_configurations(
    framework: DefectFramework,
    dopants: list[DefectSpec] = (),
    vacancies: list[DefectSpec] = (),
    pair_cutoff: float | None = None,
    pair_kinds: tuple[PairKind, ...] = (PairKind.DOPANT_VACANCY, PairKind.DOPANT_DOPANT),
    include_pristine: bool = True,
) -> list[Configuration]:
    """Pristine host, then every symmetry-distinct single defect, then pairs within ``pair_cutoff``.

    Pairs are formed between every two specs (a spec with itself too) whose
    pair kind is in ``pair_kinds``.
    """
    specs = list(dopants) + list(vacancies)
    for spec in specs:  # validate every spec before any work
        sites_for_spec(framework, spec)
    if pair_cutoff is not None and pair_cutoff <= 0:
        raise LroxInputError(f"pair cutoff must be positive, got {pair_cutoff}")
    result = [configuration_from_defects(framework, [])] if include_pristine else []
    for spec in specs:
        result.extend(enumerate_singles(framework, spec))
    if pair_cutoff is not None:
        kinds = {PairKind(k) for k in pair_kinds}
        for a, b in itertools.combinations_with_replacement(specs, 2):
            if _pair_kind(a, b) in kinds:
                result.extend(enumerate_pairs(framework, a, b, pair_cutoff))
    unique: dict[str, Configuration] = {}
    for config in result:  # two specs may describe the same configuration
        unique.setdefault(config.id, config)
    return distinguish_names(list(unique.values()))


def distinguish_names(configurations: list[Configuration]) -> list[Configuration]:
    """Give configurations that would read the same a ``#k`` suffix (in list order); ids are untouched."""
    by_name: dict[str, list[Configuration]] = {}
    for config in configurations:
        config.name_suffix = ""
        by_name.setdefault(config.name, []).append(config)
    for group in by_name.values():
        if len(group) > 1:
            for k, config in enumerate(group, start=1):
                config.name_suffix = f"#{k}"
    return configurations


__all__ += ["point_index_map", "enumerate_singles", "enumerate_pairs", "build_structure", "VACANT", "Sublattice"]


# ----- the same defects in another cell -----------------------------------------------------------
def same_defects_in(
    configuration: Configuration, source: DefectFramework, target: DefectFramework, tolerance: float = 0.05
) -> Configuration | None:
    """This configuration's defects on the same host sites of another supercell of the same host, or None.

    Used where a calculation cannot afford the screen's cell (a GPAW static of 48 atoms beside
    96-atom NEBs): each defect keeps its Cartesian position in the host (the two supercells share
    the host lattice), and the result is refused (None) when two defects would fall on one site or
    their nearest-image distances change by more than ``tolerance`` Å: a pair that does not fit the
    smaller cell is a different configuration there, not the same one.
    """
    if source.host_fingerprint != target.host_fingerprint:
        raise LroxInputError("same_defects_in: the two cells are not supercells of the same host")
    placed, points = [], []
    target_lattice = target.structure.lattice
    target_frac = target.frac_coords
    for defect in configuration.defects:
        cart = source.structure.lattice.get_cartesian_coords(source.coords_of([defect.point])[0])
        frac = target_lattice.get_fractional_coords(cart)
        delta = target_frac - frac
        delta -= np.round(delta)
        distance = np.linalg.norm(target_lattice.get_cartesian_coords(delta), axis=1)
        point = int(np.argmin(distance))
        if distance[point] > tolerance:
            return None
        spec = DefectSpec(
            kind=DefectKind(defect.kind),
            sublattice=defect.host_label,
            species=defect.species,
            oxidation_state=None if defect.oxidation_state is None else int(round(defect.oxidation_state)),
        )
        placed.append((point, spec))
        points.append(point)
    if len(set(points)) != len(points):
        return None
    for (a, b), (p, q) in zip(itertools.combinations([d.point for d in configuration.defects], 2), itertools.combinations(points, 2)):
        before = source.structure.lattice.get_all_distances(source.coords_of([a]), source.coords_of([b]))[0, 0]
        after = target_lattice.get_all_distances(target.coords_of([p]), target.coords_of([q]))[0, 0]
        if abs(before - after) > tolerance:
            return None
    return configuration_from_defects(target, placed, pair_distance=configuration.pair_distance)


__all__ += ["same_defects_in"]


def configuration_from_summary(framework: DefectFramework, summary: dict, tolerance: float = 0.1) -> Configuration:
    """The configuration a stored summary (``Configuration.summary()``, e.g. a database row) describes,
    rebuilt on ``framework``: each defect found by its fractional position and kind. Raises
    :class:`LroxInputError` when a defect sits on no site of the cell or the rebuilt id differs
    (the summary is of another cell or host)."""
    placed = []
    lattice = framework.structure.lattice
    for defect in summary.get("defects", []):
        distances = lattice.get_all_distances(np.array([defect["frac_coords"]], dtype=float), framework.frac_coords)[0]
        point = int(np.argmin(distances))
        if distances[point] > tolerance:
            raise LroxInputError(f"configuration {summary.get('id')}: defect {defect.get('name')} is not on a site of the {framework.host.name} {'x'.join(map(str, framework.dims))} cell")
        oxidation = defect.get("oxidation_state")
        spec = DefectSpec(
            kind=DefectKind(defect["kind"]),
            sublattice=defect["site"],
            species=defect.get("species"),
            oxidation_state=None if oxidation is None else int(round(oxidation)),
        )
        placed.append((point, spec))
    configuration = configuration_from_defects(framework, placed, pair_distance=summary.get("pair_distance"))
    if summary.get("id") and configuration.id != summary["id"]:
        raise LroxInputError(f"configuration {summary['id']} could not be rebuilt on its {framework.host.name} {'x'.join(map(str, framework.dims))} cell (got {configuration.id})")
    return configuration


__all__ += ["configuration_from_summary"]
