"""The screen as one jobflow Flow: host relax, per-configuration relax/static/Bader, CI-NEB per hop, collector.

``ScreenMaker().make(spec)`` returns the same Flow graph for every backend;
only the jobs inside differ (in-process ML potential or mock calculator, or
atomate2's VASP makers on a cluster).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from jobflow import Flow, Maker

from structures.configurations import Configuration, PairKind, enumerate_configurations
from structures.framework import DefectFramework, framework_for_host
from structures.hops import HopMechanism, LiHop, TwinMap, canonical_pair, enumerate_hops, twin_map, with_twin_key
from structures.hosts import Host, load_host
from structures.sublattices import DefectKind, parse_dopant, parse_vacancy
from structures.supercell import parse_supercell
from workflows.jobs import (
    bader_job,
    collect_job,
    gpaw_bader_job,
    gpaw_static_job,
    neb_job,
    provenance,
    reference_job,
    relax_job,
    shared_neb_job,
    static_job,
    unavailable_static_job,
)
from workflows.spec import Backend, HopSelection, ScreenSpec
from structures.errors import LroxInputError

__all__ = ["ScreenPlan", "Twin", "plan_screen", "select_hops", "hops_beside_vacancy", "ScreenMaker"]


@dataclass
class Twin:
    """A hop of the plan that is the same physical hop as another (equal ``LiHop.twin_key``): its
    band is not run; the band of ``configuration_id``/``hop_id`` is, and ``map`` carries it here."""

    configuration_id: str
    hop_id: str
    map: TwinMap


@dataclass
class ScreenPlan:
    """What a screen computes, before any job exists: configurations and the hops of each."""

    host: Host
    framework: DefectFramework
    configurations: list[Configuration]
    hops: dict[str, list[LiHop]]  # configuration id → hops to run (pristine id → host references)
    references: list[str] = field(default_factory=list)  # "O2", "Li"
    cut: list[str] = field(default_factory=list)  # names of the configurations max_configurations left out

    def describe(self) -> list[str]:
        """What a user must see before a screen runs: the cell, and a warning when nothing hops."""
        fw = self.framework
        lines = [
            f"cell: {self.host.name} {'x'.join(map(str, fw.dims))} supercell, {len(fw.structure)} atoms, "
            f"a defect {fw.min_image_distance:.2f} Å from its nearest periodic image"
        ]
        from structures.supercell import DEFAULT_MIN_IMAGE_DISTANCE

        if fw.min_image_distance < DEFAULT_MIN_IMAGE_DISTANCE - 1e-6 and any(c.defects for c in self.configurations):
            lines.append(
                f"warning: below the converged {DEFAULT_MIN_IMAGE_DISTANCE:.0f} Å (benchmarks/RESULTS.md): the barriers of defect "
                "configurations will be flagged 'cell not converged'"
            )
        if self.cut:
            named = ", ".join(self.cut[:3]) + (f" and {len(self.cut) - 3} more" if len(self.cut) > 3 else "")
            lines.append(
                f"note: max_configurations keeps the first {len(self.configurations)} of {len(self.configurations) + len(self.cut)} "
                f"configurations; {len(self.cut)} cut: {named}"
            )
        if not any(self.hops.values()):
            lines.append("warning: this screen has no Li hop to run (no NEB): check 'hops' (per_configuration, max_defect_distance) and the defects")
        twins = self.twins()
        if twins:
            lines.append(f"{len(twins)} hops are twins of others: computed once")
        return lines

    def twins(self) -> dict[tuple[str, str], Twin]:
        """(configuration id, hop id) of every hop that is a twin of another hop of the plan, with
        the hop whose band runs for both: the pristine host's where it is one of them, else the
        first in plan order.

        Twins are the same physical hop (``LiHop.twin_key``: their two end states and path are
        images under an operation of the pristine supercell), and in a screen they are computed in
        the same cell, at the same level and settings: the same calculation, which runs once
        (see :func:`workflows.jobs.twin_document`). A Li-vacancy configuration's hop into its own
        vacancy is the pristine host's hop; divacancy hops equivalent under the host's operations
        are one hop across configurations.
        """
        shape = (len(self.configurations), tuple((k, len(v)) for k, v in self.hops.items()))
        cached = self.__dict__.get("_twins")
        if cached is not None and cached[0] == shape:
            return cached[1]  # a plan's twins are asked for by the flow, the dry run and its writers
        pristine = next((c for c in self.configurations if not c.defects), None)
        ordered = sorted(self.configurations, key=lambda c: c is not pristine)  # stable: plan order otherwise
        first: dict[str, tuple[Configuration, LiHop]] = {}
        twins: dict[tuple[str, str], Twin] = {}
        for config in ordered:
            for hop in self.hops.get(config.id, []):
                if not hop.twin_key:
                    continue
                if hop.twin_key not in first:
                    first[hop.twin_key] = (config, hop)
                    continue
                computed_config, computed_hop = first[hop.twin_key]
                mapping = twin_map(self.framework, computed_config, computed_hop, config, hop)
                if mapping is not None:  # equal keys always have one; without it, the hop runs its own band
                    twins[(config.id, hop.id)] = Twin(computed_config.id, computed_hop.id, mapping)
        self.__dict__["_twins"] = (shape, twins)
        return twins


# Å, hop midpoint to the vacant O: a hop "beside" an O vacancy (issue 29), as against one through its
# edge (midpoint ~1.5 Å away, the edge O missing: V_O-edge)
BESIDE_VACANCY = (2.0, 4.0)


def hops_beside_vacancy(hops: list[LiHop], count: int, window: tuple[float, float] = BESIDE_VACANCY) -> list[LiHop]:
    """Of a configuration's hops, ``count`` beside its vacancy: O–O edge intact, midpoint within
    ``window`` of the nearest defect; the nearest in each of ``count`` equal shells of the window
    (a shell without a hop gives none), so that a screen sees how an effect fades with distance."""
    low, high = window
    width = (high - low) / count if count else 0.0
    picked = []
    for k in range(count):
        inner, outer = low + k * width, low + (k + 1) * width
        last = k == count - 1
        shell = [
            h for h in hops
            if not h.vacant_edge_points and h.distance_to_defect is not None
            and inner - 1e-6 <= h.distance_to_defect and (h.distance_to_defect < outer or (last and h.distance_to_defect <= outer + 1e-6))
        ]
        if shell:
            picked.append(min(shell, key=lambda h: (h.distance_to_defect, h.id)))
    return picked


def _only_o_vacancies(config: Configuration) -> bool:
    from structures.labels import ANIONS

    return bool(config.defects) and all(d.kind == DefectKind.VACANCY.value and d.element_removed in ANIONS for d in config.defects)


def _chosen_hops(framework: DefectFramework, config: Configuration, selection: HopSelection) -> list[LiHop]:
    """One configuration's chosen hops, with their twin keys (what :func:`select_hops` runs per configuration)."""
    hops = enumerate_hops(framework, config, cutoff=selection.cutoff, max_defect_distance=selection.max_defect_distance, twin_keys=False)
    chosen = hops[: selection.per_configuration]
    if selection.tsh_per_class:  # the nearest tetrahedral-path hops of each n-TM class, up to the number asked
        per_class = Counter(h.n_tm for h in chosen if h.mechanism == HopMechanism.TSH)
        taken = {h.id for h in chosen}
        for hop in hops:
            if hop.mechanism == HopMechanism.TSH and per_class[hop.n_tm] < selection.tsh_per_class and hop.id not in taken:
                chosen.append(hop)
                taken.add(hop.id)
                per_class[hop.n_tm] += 1
    if selection.beside_vacancy and _only_o_vacancies(config):
        reach = BESIDE_VACANCY[1]
        around = hops if selection.max_defect_distance >= reach else enumerate_hops(framework, config, cutoff=selection.cutoff, max_defect_distance=reach, twin_keys=False)
        taken = {h.id for h in chosen}
        chosen += [h for h in hops_beside_vacancy(around, selection.beside_vacancy) if h.id not in taken]
    return [with_twin_key(framework, config, hop) for hop in chosen]


# configurations from which the hops are chosen on several cores: below it a fork costs more than it saves
HOPS_IN_PROCESSES_FROM = 32


def select_hops(framework: DefectFramework, configurations: list[Configuration], selection: HopSelection, processes: int = 1, echo=None) -> dict[str, list[LiHop]]:
    """The nearest distinct hops around each defect (and, with ``nearest_tsh``, the nearest
    tetrahedral-path hop of each n-TM class a divacancy opens; with ``beside_vacancy``, hops beside
    an O vacancy), plus the same hops in the pristine host. Only the chosen hops get their twin
    key (a few of each configuration's candidates: 238 of 6,640 in issue 32's screen). Each
    configuration's hops are chosen on their own, in ``processes`` forked workers for a large
    screen (the same hops in the same order as in one process), with a progress display on
    ``echo`` (stderr in the CLI) where it takes more than a few seconds."""
    from workflows.pool import each_in_processes
    from workflows.progress import CountProgress

    pristine = next((c for c in configurations if not c.defects), None)
    host_hops = enumerate_hops(framework, pristine, cutoff=selection.cutoff, twin_keys=False) if pristine else []
    by_key = {tuple(h.canonical_key): h for h in host_hops}
    perms, rank = framework.permutations, framework.rank
    selected = [c for c in configurations if c.defects and selection.per_configuration != 0 and selection.selects(c.name, c.id)]
    if len(selected) < HOPS_IN_PROCESSES_FROM:
        processes = 1
    with CountProgress("choosing hops", {"configurations": len(selected)}, echo=echo or (lambda text: None)) as progress:
        found = each_in_processes(lambda config: _chosen_hops(framework, config, selection), selected, processes,
                                  on_result=lambda hops: progress.advance(configurations=1))
    chosen: dict[str, list[LiHop]] = {config.id: hops for config, hops in zip(selected, found)}
    references: dict[str, LiHop] = {}
    for hops in found:
        for hop in hops:
            key, _ = canonical_pair(np.sort(rank[perms[:, [hop.start_point, hop.end_point]]], axis=1), len(rank))
            if key in by_key:
                references[by_key[key].id] = by_key[key]
    if pristine is not None and selection.host_reference and references:
        chosen[pristine.id] = [with_twin_key(framework, pristine, h) for h in sorted(references.values(), key=lambda h: (round(h.length, 3), h.id))]
    return chosen


def plan_screen(spec: ScreenSpec, echo=None, processes: int | None = None) -> ScreenPlan:
    """Enumerate configurations and hops for a validated spec (no jobs, no calculations); the hops
    of a large screen are chosen on ``processes`` (default: the spec's, one per core; GPAW's in one
    process, since a GPAW run may have started MPI before it plans), with progress on ``echo``."""
    from structures.supercell import DEFAULT_MIN_IMAGE_DISTANCE

    host = load_host(spec.resolved_host(), max_atoms=spec.max_atoms)
    dims = parse_supercell(spec.supercell) if spec.supercell else None
    # neither a supercell nor an image distance: the documented default distance, never the bare cell
    distance = spec.min_image_distance if (spec.min_image_distance is not None or dims is not None) else DEFAULT_MIN_IMAGE_DISTANCE
    framework = framework_for_host(host, supercell=dims, min_distance=distance, max_atoms=spec.max_atoms)
    configurations = enumerate_configurations(
        framework,
        [parse_dopant(d) for d in spec.dopants],
        [parse_vacancy(v) for v in spec.vacancies],
        pair_cutoff=spec.pair_cutoff,
        pair_kinds=tuple(PairKind(k) for k in spec.pair_kinds),
    )
    cut = []
    if spec.max_configurations is not None:
        configurations, cut = configurations[: spec.max_configurations], [c.name for c in configurations[spec.max_configurations :]]
    for token in spec.hops.configurations:  # a selection that selects nothing is a typo, never a silent empty screen
        if not any(HopSelection.token_selects(token, c.name, c.id) for c in configurations if c.defects):
            raise LroxInputError(f"spec 'hops.configurations': '{token}' matches no defect configuration of this screen (an id, an exact name, or a name prefix ending in '*')")
    if spec.backend is Backend.GPAW:
        processes = 1
    elif processes is None:
        processes = spec.writer_processes()
    hops = select_hops(framework, configurations, spec.hops, processes=processes, echo=echo)
    references = []
    vacancies = {framework.structure[d.point].specie.symbol for c in configurations for d in c.defects if d.kind == DefectKind.VACANCY.value}
    if "O" in vacancies:
        references.append("O2")
    if "Li" in vacancies:
        references.append("Li")
    return ScreenPlan(host=host, framework=framework, configurations=configurations, hops=hops, references=references, cut=cut)


def _short(config: Configuration) -> str:
    return config.id.rsplit("-", 1)[-1]


@dataclass
class ScreenMaker(Maker):
    """Build the Flow of a screen. The defaults are the spec's; the maker adds no science of its own."""

    name: str = "lrox screen"

    def make(self, spec: ScreenSpec, plan: ScreenPlan | None = None, seeds: dict | None = None, seed_levels: dict | None = None, echo=None) -> Flow:
        """The screen's Flow; ``seeds`` (hop id → a converged ML band; VASP and GPAW) seed the DFT
        bands, ``seed_levels`` (hop id → the level the band is of) name it in a GPAW band's level."""
        plan = plan or plan_screen(spec)
        if spec.backend is Backend.VASP or spec.emulates_vasp:
            from workflows.vasp import make_vasp_flow

            flow = make_vasp_flow(spec, plan, name=f"{self.name}: {spec.name}", seeds=seeds, echo=echo)
            flow.update_metadata({"lrox_screen": spec.name, "tags": [spec.name]})
            return flow
        backend = spec.backend.value
        settings = spec.settings_for_backend()
        from descriptors.physics.levels import committee_members, level_of_theory

        # a committee runs every member end to end (its own relaxations, end points and bands);
        # the first member's relaxed geometry feeds the statics and the geometry descriptors
        members = [{**settings, "model": m} for m in committee_members(settings)] if backend == "mlip" else [settings]
        # a GPAW static of an ML-relaxed cell is its own level: "GPAW PBE+U (...) // MLIP chgnet geometry"
        gpaw_settings = {**dataclasses.asdict(spec.gpaw), "geometry_from": level_of_theory(backend, members[0])}
        static_cell = _static_cell(spec, plan)
        if static_cell is None:
            gpaw_settings["supercell"] = None  # the screen's own cell: nothing to name
        jobs, documents, expected = [], [], []

        def add(job, meta):
            # what a cluster engine needs to report status per configuration (FireWorks copies
            # job metadata into the firework's spec; jobflow-remote keeps it on the job)
            job.update_metadata({"lrox_screen": spec.name, "tags": [spec.name], **{k: meta[k] for k in ("kind", "configuration_id", "hop_id") if meta.get(k)}})
            jobs.append(job)
            documents.append(job.output)
            expected.append(meta)

        pristine = next((c for c in plan.configurations if not c.defects), None)
        twins = plan.twins()
        for index, member in enumerate(members):
            tag = f" ({member['model']})" if len(members) > 1 else ""
            host_relax = None
            relaxed_of: dict[str, object] = {}
            for config in plan.configurations:
                label = f"relax {config.name} [{_short(config)}]{tag}"
                if config is pristine:
                    job = relax_job(config.structure, backend, member, label, config.id, relax_cell=member.get("relax_host_cell", True))
                    host_relax = job
                else:
                    job = relax_job(
                        config.structure, backend, member, label, config.id,
                        lattice_from=host_relax.output if host_relax is not None else None,
                        needs_lattice=host_relax is not None,
                    )
                job.name = label
                add(job, {"kind": "relax", "label": label, "configuration_id": config.id})
                relaxed_of[config.id] = job
                if index == 0:
                    self._statics(spec, config, job, backend, member, gpaw_settings, add, static_cell, plan.framework)
            # a twin hop's band is not run again: its document is the computed one's, carried onto it
            bands, band_settings = {}, {}
            for config in plan.configurations:
                for hop in plan.hops.get(config.id, []):
                    if (config.id, hop.id) not in twins:
                        label = f"neb {config.name} [{_short(config)}] {hop.start_label}->{hop.end_label} [{hop.id.rsplit('-', 1)[-1]}]{tag}"
                        seed, hop_settings = None, member
                        if backend == "gpaw" and hop.id in (seeds or {}):
                            # a seeded GPAW band is its own level: "GPAW PBE+U (...) // seeded from MLIP 7net-0"
                            level = (seed_levels or {}).get(hop.id) or "an ML level"
                            seed = {"level": level, "band": seeds[hop.id], "hop_id": hop.id, "configuration_id": config.id}
                            hop_settings = {**member, "seeded_from": level}
                        job = neb_job(relaxed=relaxed_of[config.id].output, host=plan.host, dims=list(plan.framework.dims), configuration=config, hop=hop, backend=backend, settings=hop_settings, label=label, seed=seed)
                        band_settings[(config.id, hop.id)] = hop_settings
                        job.name = label
                        bands[(config.id, hop.id)] = job
            for config in plan.configurations:
                for hop in plan.hops.get(config.id, []):
                    label = f"neb {config.name} [{_short(config)}] {hop.start_label}->{hop.end_label} [{hop.id.rsplit('-', 1)[-1]}]{tag}"
                    meta = {"kind": "neb", "label": label, "configuration_id": config.id, "hop_id": hop.id, "hop": hop.summary()}
                    twin = twins.get((config.id, hop.id))
                    if twin is None:
                        add(bands[(config.id, hop.id)], meta)
                        continue
                    band = bands[(twin.configuration_id, twin.hop_id)]
                    computed_as = {"configuration_id": twin.configuration_id, "hop_id": twin.hop_id, "label": band.name}
                    job = shared_neb_job(band.output, hop, config.id, label, computed_as, twin.map, backend, band_settings[(twin.configuration_id, twin.hop_id)])
                    job.name = label
                    add(job, {**meta, "computed_as": computed_as})
                    job.update_metadata({"computed_as": band.name})  # no band of its own: workflows.parallel leaves it to the serial run
            for species in plan.references:
                job = reference_job(species, backend, member)
                job.name = f"reference {species}{tag}"
                add(job, {"kind": "reference", "label": job.name, "species": species})
        screen = {
            "name": spec.name,
            "host": plan.host.name,
            "supercell": list(plan.framework.dims),
            "min_image_distance": round(plan.framework.min_image_distance, 3),
            "backend": backend,
            "provenance": provenance(backend, settings).model_dump(mode="json"),
            "oxygen": spec.oxygen_conditions(),
        }
        collector = collect_job(screen, [c.summary() for c in plan.configurations], documents, expected)
        collector.name = "collect results"
        collector.update_metadata({"lrox_screen": spec.name, "tags": [spec.name], "kind": "collect"})
        return Flow([*jobs, collector], output=collector.output, name=f"{self.name}: {spec.name}")

    @staticmethod
    def _statics(spec, config, relax, backend, settings, gpaw_settings, add, static_cell=None, framework=None) -> None:
        """The static and Bader jobs of one relaxed configuration: GPAW's where selected, else the
        level's own (an ML potential has none: recorded as not available).

        With ``gpaw.supercell`` (``static_cell``), GPAW's static runs on the same defects rebuilt in
        that cell and relaxed there on its own relaxed host lattice (see :class:`StaticCell`)."""
        static_label = f"static {config.name} [{_short(config)}]"
        bader_label = f"bader {config.name} [{_short(config)}]"
        if spec.static_backend == "gpaw" and spec.gpaw.selects(config.name, config.id):
            relaxed, cell_configuration = relax.output, None
            if static_cell is not None:
                static_label += f" in the {static_cell.name} cell"
                bader_label += f" in the {static_cell.name} cell"
                rebuilt = static_cell.rebuild(config, framework)
                if rebuilt is None:
                    reason = f"its defects do not fit the {static_cell.name} GPAW cell (gpaw.supercell)"
                    static = unavailable_static_job("gpaw", gpaw_settings, static_label, config.id, reason)
                    bader = gpaw_bader_job(static=static.output, settings=gpaw_settings, label=bader_label, configuration_id=config.id)
                    static.name, bader.name = static_label, bader_label
                    add(static, {"kind": "static", "label": static_label, "configuration_id": config.id})
                    add(bader, {"kind": "bader", "label": bader_label, "configuration_id": config.id})
                    return
                relaxed = static_cell.relax(rebuilt, backend, settings, add)
                cell_configuration = rebuilt.summary()
            folder = str((spec.output_dir() / "gpaw" / _short(config)).resolve())
            # references as keywords: jobflow looks a first positional reference up in its schema
            static = gpaw_static_job(relaxed=relaxed, settings=gpaw_settings, label=static_label, configuration_id=config.id, folder=folder, cell_configuration=cell_configuration)
            bader = gpaw_bader_job(static=static.output, settings=gpaw_settings, label=bader_label, configuration_id=config.id)
        else:
            static = static_job(relaxed=relax.output, backend=backend, settings=settings, label=static_label, configuration_id=config.id)
            bader = bader_job(static=static.output, backend=backend, settings=settings, label=bader_label, configuration_id=config.id)
        static.name, bader.name = static_label, bader_label
        add(static, {"kind": "static", "label": static_label, "configuration_id": config.id})
        add(bader, {"kind": "bader", "label": bader_label, "configuration_id": config.id})



@dataclass
class StaticCell:
    """The smaller cell GPAW's statics run in (``gpaw.supercell``), beside the screen's NEB cell.

    Its pristine host is relaxed once (cell relaxed, the screen's model); each configuration is
    rebuilt there by :func:`structures.configurations.same_defects_in` and relaxed at fixed cell
    on that lattice. These relaxations are recorded as calculations of their own (no
    configuration of the screen: their cell is not the screen's) and feed only the statics.
    """

    name: str
    framework: DefectFramework
    host_relax: object = None
    relaxed: dict = field(default_factory=dict)

    def rebuild(self, config: Configuration, framework: DefectFramework) -> Configuration | None:
        from structures.configurations import same_defects_in

        return same_defects_in(config, framework, self.framework)

    def relax(self, rebuilt: Configuration, backend: str, settings: dict, add):
        """The relaxed rebuilt configuration's output (jobs added once per configuration)."""
        if self.host_relax is None:
            from structures.configurations import configuration_from_defects

            pristine = configuration_from_defects(self.framework, [])
            label = f"relax pristine in the {self.name} GPAW cell [{_short(pristine)}]"
            self.host_relax = relax_job(pristine.structure, backend, settings, label, None, relax_cell=settings.get("relax_host_cell", True))
            self.host_relax.name = label
            add(self.host_relax, {"kind": "relax", "label": label})
            self.relaxed[pristine.id] = self.host_relax
        if rebuilt.id not in self.relaxed:
            label = f"relax {rebuilt.name} in the {self.name} GPAW cell [{_short(rebuilt)}]"
            job = relax_job(rebuilt.structure, backend, settings, label, None, lattice_from=self.host_relax.output, needs_lattice=True)
            job.name = label
            add(job, {"kind": "relax", "label": label})
            self.relaxed[rebuilt.id] = job
        return self.relaxed[rebuilt.id].output


def _static_cell(spec: ScreenSpec, plan: ScreenPlan) -> StaticCell | None:
    """The GPAW statics' own cell, or None where they run in the screen's cell."""
    if spec.static_backend != "gpaw" or not spec.gpaw.supercell:
        return None
    dims = parse_supercell(spec.gpaw.supercell)
    if tuple(dims) == tuple(plan.framework.dims):
        return None
    return StaticCell(spec.gpaw.supercell, DefectFramework.from_host(plan.host, dims))
