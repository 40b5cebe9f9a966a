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
from structures.hops import HopMechanism, LiHop, enumerate_hops
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
    static_job,
    unavailable_static_job,
)
from workflows.spec import Backend, HopSelection, ScreenSpec
from structures.errors import LroxInputError

__all__ = ["ScreenPlan", "plan_screen", "select_hops", "ScreenMaker"]


@dataclass
class ScreenPlan:
    """What a screen computes, before any job exists: configurations and the hops of each."""

    host: Host
    framework: DefectFramework
    configurations: list[Configuration]
    hops: dict[str, list[LiHop]]  # configuration id → hops to run (pristine id → host references)
    references: list[str] = field(default_factory=list)  # "O2", "Li"

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
        if not any(self.hops.values()):
            lines.append("warning: this screen has no Li hop to run (no NEB): check 'hops' (per_configuration, max_defect_distance) and the defects")
        return lines


def select_hops(framework: DefectFramework, configurations: list[Configuration], selection: HopSelection) -> dict[str, list[LiHop]]:
    """The nearest distinct hops around each defect (and, with ``nearest_tsh``, the nearest
    tetrahedral-path hop of each n-TM class a divacancy opens), plus the same hops in the pristine host."""
    pristine = next((c for c in configurations if not c.defects), None)
    chosen: dict[str, list[LiHop]] = {}
    host_hops = enumerate_hops(framework, pristine, cutoff=selection.cutoff) if pristine else []
    by_key = {tuple(h.canonical_key): h for h in host_hops}
    references: dict[str, LiHop] = {}
    perms, rank = framework.permutations, framework.rank
    for config in configurations:
        if not config.defects or selection.per_configuration == 0 or not selection.selects(config.name, config.id):
            continue
        hops = enumerate_hops(framework, config, cutoff=selection.cutoff, max_defect_distance=selection.max_defect_distance)
        chosen[config.id] = hops[: selection.per_configuration]
        if selection.tsh_per_class:  # the nearest tetrahedral-path hops of each n-TM class, up to the number asked
            per_class = Counter(h.n_tm for h in chosen[config.id] if h.mechanism == HopMechanism.TSH)
            taken = {h.id for h in chosen[config.id]}
            for hop in hops:
                if hop.mechanism == HopMechanism.TSH and per_class[hop.n_tm] < selection.tsh_per_class and hop.id not in taken:
                    chosen[config.id].append(hop)
                    taken.add(hop.id)
                    per_class[hop.n_tm] += 1
        for hop in chosen[config.id]:
            pair = np.sort(rank[perms[:, [hop.start_point, hop.end_point]]], axis=1)
            key = tuple(np.unique(pair, axis=0)[0].tolist())
            if key in by_key:
                references[by_key[key].id] = by_key[key]
    if pristine is not None and selection.host_reference and references:
        chosen[pristine.id] = sorted(references.values(), key=lambda h: (round(h.length, 3), h.id))
    return chosen


def plan_screen(spec: ScreenSpec) -> ScreenPlan:
    """Enumerate configurations and hops for a validated spec (no jobs, no calculations)."""
    from structures.supercell import DEFAULT_MIN_IMAGE_DISTANCE

    host = load_host(spec.resolved_host())
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
    if spec.max_configurations is not None:
        configurations = configurations[: spec.max_configurations]
    for token in spec.hops.configurations:  # a selection that selects nothing is a typo, never a silent empty screen
        if not any(HopSelection.token_selects(token, c.name, c.id) for c in configurations if c.defects):
            raise LroxInputError(f"spec 'hops.configurations': '{token}' matches no defect configuration of this screen (an id, an exact name, or a name prefix ending in '*')")
    hops = select_hops(framework, configurations, spec.hops)
    references = []
    vacancies = {framework.structure[d.point].specie.symbol for c in configurations for d in c.defects if d.kind == DefectKind.VACANCY.value}
    if "O" in vacancies:
        references.append("O2")
    if "Li" in vacancies:
        references.append("Li")
    return ScreenPlan(host=host, framework=framework, configurations=configurations, hops=hops, references=references)


def _short(config: Configuration) -> str:
    return config.id.rsplit("-", 1)[-1]


@dataclass
class ScreenMaker(Maker):
    """Build the Flow of a screen. The defaults are the spec's; the maker adds no science of its own."""

    name: str = "lrox screen"

    def make(self, spec: ScreenSpec, plan: ScreenPlan | None = None, seeds: dict | None = None) -> Flow:
        """The screen's Flow; ``seeds`` (hop id → a converged ML band, VASP only) seed the DFT bands."""
        plan = plan or plan_screen(spec)
        if spec.backend is Backend.VASP or spec.emulates_vasp:
            from workflows.vasp import make_vasp_flow

            flow = make_vasp_flow(spec, plan, name=f"{self.name}: {spec.name}", seeds=seeds)
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
            job.update_metadata({"lrox_screen": spec.name, "tags": [spec.name], **{k: meta[k] for k in ("kind", "configuration_id") if meta.get(k)}})
            jobs.append(job)
            documents.append(job.output)
            expected.append(meta)

        pristine = next((c for c in plan.configurations if not c.defects), None)
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
            for config in plan.configurations:
                for hop in plan.hops.get(config.id, []):
                    label = f"neb {config.name} [{_short(config)}] {hop.start_label}->{hop.end_label} [{hop.id.rsplit('-', 1)[-1]}]{tag}"
                    job = neb_job(relaxed_of[config.id].output, plan.host, list(plan.framework.dims), config, hop, backend, member, label)
                    job.name = label
                    add(job, {"kind": "neb", "label": label, "configuration_id": config.id, "hop_id": hop.id, "hop": hop.summary()})
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
                    bader = gpaw_bader_job(static.output, gpaw_settings, bader_label, config.id)
                    static.name, bader.name = static_label, bader_label
                    add(static, {"kind": "static", "label": static_label, "configuration_id": config.id})
                    add(bader, {"kind": "bader", "label": bader_label, "configuration_id": config.id})
                    return
                relaxed = static_cell.relax(rebuilt, backend, settings, add)
                cell_configuration = rebuilt.summary()
            folder = str((spec.output_dir() / "gpaw" / _short(config)).resolve())
            static = gpaw_static_job(relaxed, gpaw_settings, static_label, config.id, folder, cell_configuration)
            bader = gpaw_bader_job(static.output, gpaw_settings, bader_label, config.id)
        else:
            static = static_job(relax.output, backend, settings, static_label, config.id)
            bader = bader_job(static.output, backend, settings, bader_label, config.id)
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
