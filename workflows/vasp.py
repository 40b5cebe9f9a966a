"""The VASP backend: atomate2's VASP makers with Materials-Project-compatible GGA+U input sets.

What lrox adds on top of atomate2 (and why):
* defect cells relax at fixed cell (ISIF = 2) on the relaxed host lattice, so defect energies
  share one volume; the host relaxes its cell (MPRelaxSet as is);
* the static writes a fine DOS (LORBIT = 11, NEDOS) and the all-electron core densities
  (LAECHG), for O 2p band centres and Bader charges (atomate2's own Bader switch still works);
* the CI-NEB end points come from the relaxed configuration (one Li removed at each end), a step
  that needs the relaxed structure, so it is a dynamic job that hands over to atomate2's
  ``NebFromEndpointsMaker`` (end points relaxed with ISIF = 2, images by IDPP, VTST climbing
  image settings of atomate2's ``NebSetGenerator``) once the relaxation is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jobflow import Flow, Response, job
from jobflow.core.job import JobConfig
from jobflow.core.reference import OnMissing
from pymatgen.core import Lattice, Structure

__all__ = ["VaspMakers", "vasp_makers", "make_vasp_flow", "write_vasp_inputs"]


@dataclass
class VaspMakers:
    host_relax: object
    defect_relax: object
    static: object
    neb: object  # NebFromImagesMaker
    references: dict  # species → relax maker of the elemental reference (O2 molecule, Li metal)


def vasp_makers(settings: dict) -> VaspMakers:
    """atomate2 makers configured for a screen (user INCAR settings applied to every step).

    Every input set keeps lrox's site order (``sort_structure=False``; POSCAR and POTCAR then repeat
    an element where lrox's order does): the moving Li of a hop stays the last site of its end
    points and images, which is how the saddle's atoms are found (LiHop.saddle_geometry). pymatgen's
    default sorts by electronegativity, which put other atoms there.
    """
    from atomate2.vasp.jobs.mp import MPGGARelaxMaker, MPGGAStaticMaker
    from atomate2.vasp.jobs.neb import NebFromImagesMaker
    from atomate2.vasp.sets.core import NebSetGenerator
    from pymatgen.io.vasp.sets import MPRelaxSet, MPStaticSet

    user = dict(settings.get("user_incar_settings", {}))
    functional = settings.get("potcar_functional", "PBE_54")
    host_relax = MPGGARelaxMaker(
        name="host relax",
        input_set_generator=MPRelaxSet(force_gamma=True, sort_structure=False, user_incar_settings=user, user_potcar_functional=functional),
    )
    defect_relax = MPGGARelaxMaker(
        name="defect relax",
        input_set_generator=MPRelaxSet(
            force_gamma=True, sort_structure=False, user_incar_settings={"ISIF": 2, **user}, user_potcar_functional=functional
        ),
    )
    static = MPGGAStaticMaker(
        name="static",
        input_set_generator=MPStaticSet(
            force_gamma=True,
            sort_structure=False,
            user_incar_settings={"LORBIT": 11, "NEDOS": settings.get("nedos", 3001), "LAECHG": True, "LCHARG": True, **user},
            user_potcar_functional=functional,
        ),
        # Bader: atomate2's switch (ATOMATE2_VASP_RUN_BADER=true) runs the bader program when a
        # worker has it; forcing run_bader here would fail every static on a worker without it.
        # lrox reads the charges from the run folder either way (descriptors/extract.py:
        # baderkit on CHGCAR with the AECCAR0+AECCAR2 reference that LAECHG writes).
    )
    neb = NebFromImagesMaker(
        # atomate2's NEB set starts from its own base config (PBEsol, 680 eV); the MP config keeps
        # the NEB on the same PBE+U Hamiltonian, cutoff and POTCARs as the relaxations
        input_set_generator=NebSetGenerator(
            config_dict=MPRelaxSet.CONFIG,
            sort_structure=False,
            num_images=settings.get("n_images", 5),
            user_incar_settings={"EDIFFG": -0.05, "ISMEAR": 0, **user},
            user_potcar_functional=functional,
        )
    )
    from pymatgen.io.vasp import Kpoints

    references = {
        # O2 triplet in a box: Γ only, Gaussian smearing, fixed box; same POTCARs and cutoff as
        # the cells, so ½E(O2) (plus the MP2020 oxide correction on μ_O) enters E_vac consistently
        "O2": MPGGARelaxMaker(
            name="reference O2",
            input_set_generator=MPRelaxSet(
                force_gamma=True,
                sort_structure=False,
                user_incar_settings={"ISIF": 2, "ISMEAR": 0, "SIGMA": 0.05, **user},
                user_kpoints_settings=Kpoints.gamma_automatic((1, 1, 1)),
                user_potcar_functional=functional,
            ),
        ),
        "Li": MPGGARelaxMaker(
            name="reference Li",
            input_set_generator=MPRelaxSet(force_gamma=True, sort_structure=False, user_incar_settings=user, user_potcar_functional=functional),
        ),
    }
    return VaspMakers(host_relax, defect_relax, static, neb, references)


@job
def on_host_lattice(structure: Structure, host_output) -> Structure:
    """The defect structure on the relaxed host cell (fractional coordinates kept)."""
    relaxed = host_output.structure if hasattr(host_output, "structure") else Structure.from_dict(host_output["structure"])
    moved = structure.copy()
    moved.lattice = Lattice(relaxed.lattice.matrix)
    return moved


@job
def vasp_hop_neb(relax_output, host, dims, configuration, hop, settings, band=None):
    """Build the hop's end points from the relaxed configuration and hand over to the NEB jobs.

    The end points are relaxed with atomate2's defect relax maker; the band is IDPP's (through the
    O–O edge), or ``band`` (a converged band of this hop at another level, ``descriptors.bands``)
    mapped onto the relaxed end points (:func:`structures.hops.seeded_band`), which waits for them
    just as the IDPP band does. A hop that a divacancy opens to the tetrahedral route also runs a
    band led through the tetrahedral site; the hop's document is the lower saddle's.
    """
    from atomate2.common.jobs.neb import NebInterpolation, get_images_from_endpoints

    from structures.framework import DefectFramework
    from structures.hops import HopMechanism, hop_endpoints

    relaxed = relax_output.structure if hasattr(relax_output, "structure") else Structure.from_dict(relax_output["structure"])
    framework = DefectFramework.from_host(host, tuple(dims))
    endpoints = hop_endpoints(framework, configuration, hop, relaxed=relaxed)
    makers = vasp_makers(settings)
    n_images = settings.get("n_images", 5)
    ends = [makers.defect_relax.make(endpoint) for endpoint in endpoints]
    for k, end in enumerate(ends):
        end.append_name(f" endpoint {k + 1}")
    relaxed_ends = [end.output.structure for end in ends]
    end_dirs = [end.output.dir_name for end in ends]
    jobs, collected, routes = list(ends), [], []
    if band is not None:
        images = seeded_images(relaxed_ends, band, n_images)
        routes.append("seeded")
    else:
        images = get_images_from_endpoints(relaxed_ends, n_images, interpolation_method=NebInterpolation.IDPP)
        routes.append("edge")
    bands = [images]
    if hop.mechanism is HopMechanism.TSH and hop.saddle_geometry.get("tetrahedra"):
        bands.append(tetrahedral_images(relaxed_ends, hop.saddle_geometry, n_images))
        routes.append("tetrahedral")
    for route, band_job in zip(routes, bands):
        neb = makers.neb.make(band_job.output)
        neb.append_name(f" ({route})")
        collate = collect_neb_with_state(end_dirs, neb.output.dir_name)
        jobs += [band_job, neb, collate]
        collected.append(collate.output)
    final = lower_saddle(collected, routes)
    jobs.append(final)
    return Response(replace=Flow(jobs, output=final.output))


@job
def seeded_images(endpoints, band: dict, n_images: int):
    """The seeded band on the relaxed end points (see :func:`structures.hops.seeded_band`)."""
    from descriptors.records.bands import band_structures
    from structures.hops import seeded_band

    return seeded_band(band_structures(band), *endpoints, n_images=n_images)


@job
def tetrahedral_images(endpoints, geometry: dict, n_images: int):
    """IDPP images between the relaxed end points, the moving Li led through the tetrahedral site."""
    from structures.hops import interpolate_hop, tetrahedral_band

    return tetrahedral_band(interpolate_hop(*endpoints, n_images=n_images), geometry)


@job
def lower_saddle(documents: list, routes: list[str]):
    """Of the NEBs of one hop, the finished one with the lower saddle, its route in its tags."""
    finished = [(doc, route) for doc, route in zip(documents, routes) if doc is not None and _state_name(doc.state) == "successful" and doc.energies]
    pool = finished or [(doc, route) for doc, route in zip(documents, routes) if doc is not None]
    if not pool:
        return None
    doc, route = min(pool, key=lambda pair: max(pair[0].energies) if pair[0].energies else float("inf"))
    tried = ", ".join(f"{r}: {'max ' + format(max(d.energies), '.4f') + ' eV' if d is not None and d.energies else 'failed'}" for d, r in zip(documents, routes))
    return doc.model_copy(update={"tags": [*(doc.tags or []), f"lrox route: {route}", f"lrox routes: {tried}"]})


def _state_name(state) -> str:
    """An emmet TaskState (or its value, or None) as its plain string."""
    return str(getattr(state, "value", state) or "")


def neb_state(endpoint_calculations: list, images_state) -> str:
    """'successful' only when both end-point relaxations and every image finished.

    emmet-core 0.87's ``NebTaskDoc.from_directories`` reads ``state`` from the end-point
    ``Calculation`` objects, which have none (their field is ``has_vasp_completed``), so every
    NEB with relaxed end points came out 'failed'. Found by the mock-VASP test of this flow.
    """
    states = [_state_name(getattr(c, "has_vasp_completed", None)) for c in endpoint_calculations]
    states.append(_state_name(images_state))
    return "successful" if all(s == "successful" for s in states) else "failed"


@job
def collect_neb_with_state(endpoint_dirs, neb_head_dir):
    """atomate2's ``collect_neb_output`` with a correct task state (see :func:`neb_state`)."""
    from atomate2.utils.path import strip_hostname
    from emmet.core.neb import NebTaskDoc
    from emmet.core.vasp.task_valid import TaskState

    doc = NebTaskDoc.from_directories(
        [strip_hostname(d) for d in endpoint_dirs], strip_hostname(neb_head_dir), store_calculations=True
    )
    calculations = doc.calculations or []
    endpoints = [calculations[0], calculations[-1]] if len(calculations) >= 2 else []
    images_ok = all(_state_name(c.has_vasp_completed) == "successful" for c in calculations[1:-1])
    state = neb_state(endpoints, "successful" if images_ok and len(endpoints) == 2 else "failed")
    # the per-image calculations stay in the run folders (as atomate2 does, store_calculations=False)
    return doc.model_copy(update={"state": TaskState(state), "calculations": None, "objects": None})


@job(config=JobConfig(on_missing_references=OnMissing.NONE))
def collect_vasp(screen: dict, configurations: list[dict], outputs: list, expected: list[dict]) -> dict:
    """Record each VASP task's status; a task that produced nothing is failed with its label."""
    documents = []
    for output, meta in zip(outputs, expected):
        if output is None:
            documents.append({**meta, "status": "failed", "reason": "job produced no output (it failed or was cancelled before finishing)"})
            continue
        summary = getattr(output, "output", None)
        structure = getattr(summary, "structure", None)
        state = _state_name(getattr(output, "state", None))
        images = getattr(output, "images", None) or []
        n_atoms = len(structure) if structure is not None else 0
        documents.append(
            {
                **meta,
                "energy_per_atom": getattr(summary, "energy", None) / n_atoms if meta["kind"] == "reference" and n_atoms else None,
                # emmet's task state: 'successful' for a finished run, 'failed' for one that did
                # not converge (kept, with the reason, never dropped)
                "status": "failed" if state in ("failed", "error") else "success",
                "reason": f"VASP task state '{state}'" if state in ("failed", "error") else None,
                "provenance": screen["provenance"],
                "energy": getattr(summary, "energy", None),
                "structure": structure.as_dict() if structure is not None else None,
                "energies": list(getattr(output, "energies", None) or []) or None,
                "images": [image.as_dict() for image in images] or None,
                "route": next((t.split(": ", 1)[1] for t in getattr(output, "tags", None) or [] if t.startswith("lrox route: ")), None),
                # the run folder: the descriptor module reads the DOS (vasprun.xml) and the
                # charge density / ACF.dat from it, as 'lrox ingest' does for any VASP folder
                "dir_name": getattr(output, "dir_name", None),
            }
        )
    return {
        **screen,
        "level_of_theory": screen["provenance"]["level_of_theory"],
        "settings_hash": screen["provenance"]["settings_hash"],
        "configurations": configurations,
        "documents": documents,
        "n_failed": sum(d["status"] == "failed" for d in documents),
    }


def make_vasp_flow(spec, plan, name: str, seeds: dict | None = None) -> Flow:
    """The screen on VASP: same graph as the in-process backends, atomate2 jobs inside."""
    from workflows.jobs import provenance

    settings = spec.settings_for_backend()
    backend = spec.backend.value  # 'mock' when the VASP runs are emulated: never reported as physics
    makers = vasp_makers(settings)
    jobs, outputs, expected = [], [], []
    pristine = next((c for c in plan.configurations if not c.defects), None)
    host_job = None
    relax_of = {}
    for config in plan.configurations:
        short = config.id.rsplit("-", 1)[-1]
        if config is pristine:
            relax = makers.host_relax.make(config.structure)
            host_job = relax
        else:
            structure = config.structure
            if host_job is not None:
                placed = on_host_lattice(config.structure, host_job.output)
                placed.name = f"host lattice {short}"
                placed.update_metadata({"kind": "lattice", "configuration_id": config.id})
                jobs.append(placed)
                structure = placed.output
            relax = makers.defect_relax.make(structure)
        relax.name = f"relax {config.name} [{short}]"
        static = makers.static.make(relax.output.structure, prev_dir=relax.output.dir_name)
        static.name = f"static {config.name} [{short}]"
        relax_of[config.id] = relax
        for j, kind in ((relax, "relax"), (static, "static")):
            j.update_metadata({"kind": kind, "configuration_id": config.id})
            jobs.append(j)
            outputs.append(j.output)
            expected.append({"kind": kind, "label": j.name, "configuration_id": config.id})
    for config in plan.configurations:
        for hop in plan.hops.get(config.id, []):
            band = (seeds or {}).get(hop.id)
            neb = vasp_hop_neb(relax_of[config.id].output, plan.host, list(plan.framework.dims), config, hop, settings, band=band)
            neb.name = f"neb {config.name} {hop.start_label}->{hop.end_label} [{hop.id.rsplit('-', 1)[-1]}]"
            neb.update_metadata({"kind": "neb", "configuration_id": config.id})
            jobs.append(neb)
            outputs.append(neb.output)
            expected.append({"kind": "neb", "label": neb.name, "configuration_id": config.id, "hop_id": hop.id, "hop": hop.summary()})
    from workflows.jobs import reference_structure

    for species in plan.references:
        structure, _ = reference_structure(species)
        ref = makers.references[species].make(structure)
        ref.name = f"reference {species}"
        ref.update_metadata({"kind": "reference"})
        jobs.append(ref)
        outputs.append(ref.output)
        expected.append({"kind": "reference", "label": ref.name, "species": species})
    screen = {
        "screen": spec.name,
        "host": plan.host.name,
        "supercell": list(plan.framework.dims),
        "min_image_distance": round(plan.framework.min_image_distance, 3),
        "backend": backend,
        "provenance": provenance(backend, settings).model_dump(mode="json"),
        "oxygen": spec.oxygen_conditions(),
    }
    collector = collect_vasp(screen, [c.summary() for c in plan.configurations], outputs, expected)
    collector.name = "collect results"
    collector.update_metadata({"kind": "collect"})
    return Flow([*jobs, collector], output=collector.output, name=name)


def _write(structure: Structure, generator, target: Path, tidy: bool = True) -> None:
    """atomate2's own input writer, with POTCAR.spec instead of a POTCAR (none is needed or shipped);
    the INCAR's numbers then written as VASP users write them (EDIFF = 1.2e-03, not 0.0012000000000000001)."""
    from atomate2.vasp.files import write_vasp_input_set

    target.mkdir(parents=True, exist_ok=True)
    write_vasp_input_set(structure, generator, directory=target, potcar_spec=True)
    if tidy:
        tidy_incar(target / "INCAR")


def vasp_number(value: float) -> str:
    """The shortest decimal that reads back as the same float to 10 digits: 520, 0.05, 1.2e-03."""
    import numpy as np

    if float(value).is_integer() and abs(value) < 1e9:
        return str(int(value))
    if abs(value) < 1e-2:
        return np.format_float_scientific(value, precision=9, unique=True, trim="-", exp_digits=2)
    return np.format_float_positional(round(value, 10), unique=True, trim="-")


def tidy_incar(path: Path) -> None:
    """Rewrite an INCAR's float values with :func:`vasp_number`; everything else as pymatgen wrote it."""
    import re

    lines = []
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and re.fullmatch(r"\s*[-+]?\d*\.\d+(e[-+]?\d+)?\s*|\s*[-+]?\d+e[-+]?\d+\s*", value, flags=re.I):
            line = f"{key.rstrip()} = {vasp_number(float(value))}"
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")


SEED_MAPPING = (
    "image k = DFT start point + (ML image k - ML image 0), the displacement in fractional coordinates on the DFT "
    "lattice; the mismatch at the last image spread linearly (k/N) so the band ends on the DFT end point"
)


def write_vasp_inputs(spec, plan, directory: Path, seeds: dict | None = None, seed_levels: dict | None = None) -> dict[str, int]:
    """Every VASP job's inputs (INCAR, KPOINTS, POSCAR, POTCAR.spec; NEB: 00..NN) without running anything.

    NEB folders use the unrelaxed end points and IDPP images (the real run starts from
    relaxed ones), or with ``seeds`` (hop id → a converged ML band) the ML band mapped onto them
    (``seed.json`` states the source and the mapping); a hop a divacancy opens to the tetrahedral
    route gets a second folder (``_tetrahedral``); everything else is exactly what atomate2 would write.
    Returns the number of jobs of each kind.
    """
    import json

    from descriptors.records.bands import band_structures
    from structures.hops import HopMechanism, hop_endpoints, interpolate_hop, seeded_band, tetrahedral_band

    seed_levels = seed_levels or {}
    settings = spec.settings_for_backend()
    makers = vasp_makers(settings)
    counts = {"relax": 0, "static": 0, "neb": 0}
    pristine = next((c for c in plan.configurations if not c.defects), None)
    from structures.io import write_configuration_file
    from structures.io import configuration_folder

    for index, config in enumerate(plan.configurations):
        folder = directory / configuration_folder(index, config)
        write_configuration_file(folder, plan.host, config)  # what 'lrox ingest' reads back beside the runs
        relax_maker = makers.host_relax if config is pristine else makers.defect_relax
        for kind, maker in (("relax", relax_maker), ("static", makers.static)):
            target = folder / kind
            _write(config.structure, maker.input_set_generator, target)
            counts[kind] += 1
        for hop in plan.hops.get(config.id, []):
            ends = hop_endpoints(plan.framework, config, hop)
            bands = {}
            seed = (seeds or {}).get(hop.id)
            if seed is not None:
                bands["seeded"] = seeded_band(band_structures(seed), *ends, n_images=settings.get("n_images", 5))
            else:
                bands["edge"] = interpolate_hop(*ends, n_images=settings.get("n_images", 5))
            if hop.mechanism is HopMechanism.TSH and hop.saddle_geometry.get("tetrahedra"):
                bands["tetrahedral"] = tetrahedral_band(interpolate_hop(*ends, n_images=settings.get("n_images", 5)), hop.saddle_geometry)
            for route, images in bands.items():
                suffix = "" if route in ("edge", "seeded") else f"_{route}"
                target = folder / f"neb_{hop.id.rsplit('-', 1)[-1]}{suffix}"
                generator = makers.neb.input_set_generator
                generator.num_images = len(images) - 2
                _write(images[0], generator, target)
                (target / "POSCAR").unlink(missing_ok=True)
                for k, image in enumerate(images):
                    (target / f"{k:02d}").mkdir(parents=True, exist_ok=True)
                    image.to(filename=str(target / f"{k:02d}" / "POSCAR"), fmt="poscar")
                if route == "seeded":
                    (target / "seed.json").write_text(json.dumps({"hop_id": hop.id, "seeded_from": seed_levels.get(hop.id), "mapping": SEED_MAPPING}, indent=1))
                counts["neb"] += 1
            for k, end in enumerate(ends):
                end_dir = folder / f"neb_{hop.id.rsplit('-', 1)[-1]}" / f"endpoint_{k}"
                _write(end, makers.defect_relax.input_set_generator, end_dir)
                counts["relax"] += 1
    from workflows.jobs import reference_structure

    counts["reference"] = 0
    for species in plan.references:
        structure, _ = reference_structure(species)
        _write(structure, makers.references[species].input_set_generator, directory / f"reference_{species}")
        counts["reference"] += 1
    return counts
