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


def _structure_of(value) -> Structure:
    """A job output's structure (a dict once jobflow stored it) through the structure door."""
    from structures.doors.structures_in import structure_from_dict

    return value if isinstance(value, Structure) else structure_from_dict(value, "a relaxation's structure")


@job
def on_host_lattice(structure: Structure, host_output) -> Structure:
    """The defect structure on the relaxed host cell (fractional coordinates kept)."""
    relaxed = host_output.structure if hasattr(host_output, "structure") else _structure_of(host_output["structure"])
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

    relaxed = relax_output.structure if hasattr(relax_output, "structure") else _structure_of(relax_output["structure"])
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
    from workflows.jobs import twin_document

    documents = []
    for output, meta in zip(outputs, expected):
        twin = meta.get("twin")  # a twin hop: the output is the band of the hop it twins
        meta = {k: v for k, v in meta.items() if k != "twin"}
        if output is None:
            documents.append({**meta, "status": "failed", "reason": "job produced no output (it failed or was cancelled before finishing)"})
            continue
        if twin is not None:
            documents.append(twin_document(_vasp_document(output, meta, screen), twin, meta["hop"], meta["configuration_id"], meta["label"], meta["computed_as"]))
            continue
        documents.append(_vasp_document(output, meta, screen))
    return {
        **screen,
        "level_of_theory": screen["provenance"]["level_of_theory"],
        "settings_hash": screen["provenance"]["settings_hash"],
        "configurations": configurations,
        "documents": documents,
        "n_failed": sum(d["status"] == "failed" for d in documents),
    }


def _vasp_document(output, meta: dict, screen: dict) -> dict:
    """One VASP task's document: its status (emmet's task state), numbers and run folder."""
    summary = getattr(output, "output", None)
    structure = getattr(summary, "structure", None)
    state = _state_name(getattr(output, "state", None))
    images = getattr(output, "images", None) or []
    n_atoms = len(structure) if structure is not None else 0
    return {
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


def make_vasp_flow(spec, plan, name: str, seeds: dict | None = None, echo=None) -> Flow:
    """The screen on VASP: same graph as the in-process backends, atomate2 jobs inside; the build's
    progress (jobflow checks every job's arguments: 13 s for 931 configurations) on ``echo``."""
    import dataclasses

    from workflows.jobs import provenance
    from workflows.progress import CountProgress

    n_hops = sum(len(hops) for hops in plan.hops.values())
    from workflows.schemas import output_field

    settings = spec.settings_for_backend()
    backend = spec.backend.value  # 'mock' when the VASP runs are emulated: never reported as physics
    makers = vasp_makers(settings)
    progress = CountProgress("building the flow", {"configurations": len(plan.configurations), "hops": n_hops}, echo=echo or (lambda text: None))
    try:
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
                    placed = on_host_lattice(structure=config.structure, host_output=host_job.output)
                    placed.name = f"host lattice {short}"
                    placed.update_metadata({"kind": "lattice", "configuration_id": config.id})
                    jobs.append(placed)
                    structure = placed.output
                relax = makers.defect_relax.make(structure)
            relax.name = f"relax {config.name} [{short}]"
            static = makers.static.make(output_field(relax, "structure"), prev_dir=output_field(relax, "dir_name"))
            static.name = f"static {config.name} [{short}]"
            relax_of[config.id] = relax
            for j, kind in ((relax, "relax"), (static, "static")):
                j.update_metadata({"kind": kind, "configuration_id": config.id})
                jobs.append(j)
                outputs.append(j.output)
                expected.append({"kind": kind, "label": j.name, "configuration_id": config.id})
            progress.advance(configurations=1)
        twins = plan.twins()  # hops that are the same physical hop as another: their band runs once
        bands = {}
        for config in plan.configurations:
            # the hop job needs the defects, not the 240-atom structure: jobflow scans every argument
            # of every job, so the structure went through that scan once per hop
            defects_only = dataclasses.replace(config, structure=None) if plan.hops.get(config.id) else None
            for hop in plan.hops.get(config.id, []):
                progress.advance(hops=1)
                if (config.id, hop.id) in twins:
                    continue
                band = (seeds or {}).get(hop.id)
                neb = vasp_hop_neb(
                    relax_output=relax_of[config.id].output, host=plan.host, dims=list(plan.framework.dims),
                    configuration=defects_only, hop=hop, settings=settings, band=band,
                )
                neb.name = f"neb {config.name} {hop.start_label}->{hop.end_label} [{hop.id.rsplit('-', 1)[-1]}]"
                neb.update_metadata({"kind": "neb", "configuration_id": config.id, "hop_id": hop.id})
                bands[(config.id, hop.id)] = neb
        for config in plan.configurations:
            for hop in plan.hops.get(config.id, []):
                meta = {"kind": "neb", "configuration_id": config.id, "hop_id": hop.id, "hop": hop.summary()}
                twin = twins.get((config.id, hop.id))
                if twin is None:
                    neb = bands[(config.id, hop.id)]
                    jobs.append(neb)
                    outputs.append(neb.output)
                    expected.append({**meta, "label": neb.name})
                    continue
                # no job: the collector carries the band that ran onto this hop (workflows.jobs.twin_document)
                neb = bands[(twin.configuration_id, twin.hop_id)]
                computed_as = {"configuration_id": twin.configuration_id, "hop_id": twin.hop_id, "label": neb.name}
                label = f"neb {config.name} {hop.start_label}->{hop.end_label} [{hop.id.rsplit('-', 1)[-1]}]"
                outputs.append(neb.output)
                expected.append({**meta, "label": label, "computed_as": computed_as, "twin": twin.map.as_dict()})
    except BaseException:
        progress.close(finished=False)  # an error is its one line
        raise
    progress.close()
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


def _write(structure: Structure, generator, target: Path, tidy: bool = True, poscar: bool = True, shared: dict | None = None) -> dict[str, str]:
    """atomate2's input set (``write_vasp_input_set``: the generator's set with atomate2's INCAR
    updates), with POTCAR.spec instead of a POTCAR (none is needed or shipped); the INCAR's numbers
    then written as VASP users write them (EDIFF = 1.2e-03, not 0.0012000000000000001). Returns
    the files' texts.

    The files are written here rather than by atomate2, for two reasons: pymatgen's POSCAR writer
    is quadratic in the atoms (:func:`structures.io.poscar_text` writes the same bytes), and
    atomate2's writer first deletes any INCAR, KPOINTS, POSCAR or POTCAR in the *current* folder.
    ``poscar=False``: no POSCAR (an NEB folder's are in 00..NN). ``shared`` (a dict the caller
    keeps): INCAR, KPOINTS and POTCAR.spec taken from an earlier structure with the same
    :func:`_input_key`, not generated again.
    """
    from atomate2 import SETTINGS

    from structures.io import poscar_text

    key = _input_key(structure, generator) if shared is not None else None
    if key is not None and key in shared:
        texts, comment = shared[key]
        texts = {**texts, **({"POSCAR": poscar_text(structure, comment=comment)} if poscar else {})}
        _write_texts(texts, target)
        return texts
    inputs = generator.get_input_set(structure, potcar_spec=True)
    inputs.incar.update(SETTINGS.VASP_INCAR_UPDATES)
    texts = {}
    for name, value in inputs.items():
        if value is None or (name == "POSCAR" and not poscar):
            continue
        text = poscar_text(value.structure, comment=value.comment) if name == "POSCAR" else str(value)
        texts[name] = tidy_incar_text(text) if tidy and name == "INCAR" else text
    if key is not None and _mesh_reads_no_positions(inputs.get("KPOINTS"), structure, generator):
        shared[key] = ({k: v for k, v in texts.items() if k != "POSCAR"}, inputs["POSCAR"].comment)
    _write_texts(texts, target)
    return texts


def _write_texts(texts: dict[str, str], target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (target / name).write_text(text, encoding="utf-8")


LROX_SITE_PROPERTIES = ("label", "layer", "oxi", "wyckoff")  # lrox's own bookkeeping: no input set reads them


def _input_key(structure: Structure, generator) -> tuple | None:
    """What a Materials Project input set makes INCAR, KPOINTS and POTCAR.spec from, apart from
    the k-mesh's centring (:func:`_mesh_reads_no_positions`): the generator (and its number of NEB
    images), the lattice, the species site by site (POTCAR and MAGMOM/LDAU order, the element
    counts, the formula), every site property an input set may read (``magmom``, ``ldauu``,
    ``selective_dynamics``...: all but :data:`LROX_SITE_PROPERTIES`) and the structure's
    properties. Never positions: the sets read none (LREAL reads the site count, the k-mesh the
    lattice). None where the generator reshapes the structure by its symmetry (``standardize``).

    Every configuration of a screen shares the host's lattice, and configurations with the dopant
    on one site and the vacancy on another O (one run of O in the site order) list the same
    species: issue 32's screen has 20 keys for its 94 configurations' relaxations and 20 for its
    238 hops' end points, where each input set cost 40-70 ms (two space-group analyses and three
    copies of the 240-atom cell). tests/test_scale.py generates both and compares.
    """
    if getattr(generator, "standardize", False) or getattr(generator, "prev_incar", None) or getattr(generator, "prev_kpoints", None):
        return None
    try:
        properties = {k: v for k, v in structure.site_properties.items() if k not in LROX_SITE_PROPERTIES}
        return (
            id(generator),
            getattr(generator, "num_images", None),
            structure.lattice.matrix.tobytes(),
            tuple(site.species_string for site in structure),
            repr(sorted(properties.items())),
            repr(sorted(structure.properties.items())),
            structure.charge,
        )
    except (TypeError, ValueError):  # a property that cannot be written out: generated every time
        return None


def _mesh_reads_no_positions(kpoints, structure: Structure, generator) -> bool:
    """Whether a KPOINTS made by pymatgen would be the same for any positions in this lattice.

    pymatgen's automatic meshes (``Kpoints.automatic_density``) are divisions from the lattice
    and the site count, Γ-centred where ``force_gamma`` is set, a division is odd or the lattice
    is hexagonal, else Γ-centred only for a face-centred space group: the one place positions enter.
    A KSPACING set (no KPOINTS) reads none; an explicit list of k-points (line mode, irreducible
    mesh) reads the symmetry: never shared.
    """
    if kpoints is None:
        return True
    if kpoints.num_kpts != 0 or len(kpoints.kpts) != 1:
        return False
    if kpoints.style.name == "Gamma" and (getattr(generator, "force_gamma", False) or any(int(k) % 2 == 1 for k in kpoints.kpts[0]) or structure.lattice.is_hexagonal()):
        return True
    return False


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
    from structures.doors.files import MAX_SPEC_BYTES, read_file_text

    path.write_text(tidy_incar_text(read_file_text(path, "INCAR", MAX_SPEC_BYTES)))


def tidy_incar_text(text: str) -> str:
    """An INCAR's text with its float values written by :func:`vasp_number`."""
    import re

    lines = []
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and re.fullmatch(r"\s*[-+]?\d*\.\d+(e[-+]?\d+)?\s*|\s*[-+]?\d+e[-+]?\d+\s*", value, flags=re.I):
            line = f"{key.rstrip()} = {vasp_number(float(value))}"
        lines.append(line)
    return "\n".join(lines) + "\n"


SEED_MAPPING = (
    "image k = DFT start point + (ML image k - ML image 0), the displacement in fractional coordinates on the DFT "
    "lattice; the mismatch at the last image spread linearly (k/N) so the band ends on the DFT end point"
)


def write_vasp_inputs(
    spec, plan, directory: Path, seeds: dict | None = None, seed_levels: dict | None = None, processes: int = 1, progress=None
) -> dict[str, int]:
    """Every VASP job's inputs (INCAR, KPOINTS, POSCAR, POTCAR.spec; NEB: 00..NN) without running anything.

    NEB folders use the unrelaxed end points and IDPP images (the real run starts from
    relaxed ones), or with ``seeds`` (hop id → a converged ML band) the ML band mapped onto them
    (``seed.json`` states the source and the mapping); a hop a divacancy opens to the tetrahedral
    route gets a second folder (``_tetrahedral``); everything else is exactly what atomate2 would write.
    Configurations are written in ``processes`` worker processes (:mod:`workflows.pool`), and
    ``progress`` (a :class:`workflows.progress.CountProgress`) counts configurations, hops and
    folders as each is done. A twin hop gets no folder (``twins.json`` in its configuration's
    folder names the band that runs for it). Returns the number of jobs of each kind.
    """
    from collections import Counter

    from workflows.pool import each_in_processes

    writer = _VaspInputWriter(spec, plan, Path(directory), seeds or {}, seed_levels or {})

    def done(result):
        if progress is not None:
            progress.advance(configurations=1, hops=result["hops"], folders=result["folders"])

    counts = Counter({"relax": 0, "static": 0, "neb": 0})
    for result in each_in_processes(writer.configuration, list(enumerate(plan.configurations)), processes, done):
        counts.update(result["counts"])
    from workflows.jobs import reference_structure

    counts["reference"] = 0
    for species in plan.references:
        structure, _ = reference_structure(species)
        _write(structure, writer.makers.references[species].input_set_generator, writer.directory / f"reference_{species}")
        counts["reference"] += 1
    if progress is not None and plan.references:
        progress.advance(folders=len(plan.references))
    return dict(counts)


def dry_run_folder_count(plan) -> int:
    """How many calculation folders :func:`write_vasp_inputs` writes for a plan (its progress total)."""
    from structures.hops import HopMechanism

    folders = 2 * len(plan.configurations) + len(plan.references)
    twins = plan.twins()
    for config_id, hops in plan.hops.items():
        for hop in hops:
            if (config_id, hop.id) in twins:
                continue  # no folder: its twin's band runs for it
            tetrahedral = hop.mechanism is HopMechanism.TSH and bool(hop.saddle_geometry.get("tetrahedra"))
            folders += 3 + tetrahedral  # the band(s) and its two end points
    return folders


class _VaspInputWriter:
    """One configuration's folder: configuration.json, relax, static, and per hop its NEB band(s)
    and its two end points' relaxations (a unit of work of :func:`write_vasp_inputs`)."""

    def __init__(self, spec, plan, directory: Path, seeds: dict, seed_levels: dict):
        self.plan, self.directory, self.seeds, self.seed_levels = plan, directory, seeds, seed_levels
        self.settings = spec.settings_for_backend()
        self.makers = vasp_makers(self.settings)
        self.pristine = next((c for c in plan.configurations if not c.defects), None)
        self.twins = plan.twins()  # once, before the workers fork
        self.input_sets = {}  # _input_key → INCAR, KPOINTS, POTCAR.spec (each worker fills its own)

    def configuration(self, item: tuple) -> dict:
        import json

        from descriptors.records.bands import band_structures
        from structures.hops import HopMechanism, hop_endpoints, idpp_images, idpp_positions, seeded_band, tetrahedral_band
        from structures.io import configuration_folder, poscar_text, poscar_texts_along, write_configuration_file

        index, config = item
        plan, makers, n_images = self.plan, self.makers, self.settings.get("n_images", 5)
        counts = {"relax": 0, "static": 0, "neb": 0}
        folder = self.directory / configuration_folder(index, config)
        write_configuration_file(folder, plan.host, config)  # what 'lrox ingest' reads back beside the runs
        relax_maker = makers.host_relax if config is self.pristine else makers.defect_relax
        for kind, maker in (("relax", relax_maker), ("static", makers.static)):
            _write(config.structure, maker.input_set_generator, folder / kind, shared=self.input_sets)
            counts[kind] += 1
        shared = {hop.id: self.twins[(config.id, hop.id)] for hop in plan.hops.get(config.id, []) if (config.id, hop.id) in self.twins}
        if shared:  # twin hops get no folder: the band of the hop each twins runs once, for both
            twins_json = {
                hop_id: {"computed_as": {"configuration_id": t.configuration_id, "hop_id": t.hop_id}, "operation": t.map.operation, "reversed": t.map.reversed}
                for hop_id, t in shared.items()
            }
            (folder / "twins.json").write_text(json.dumps(twins_json, indent=1))
        hops = [hop for hop in plan.hops.get(config.id, []) if hop.id not in shared]
        for hop in hops:
            ends = hop_endpoints(plan.framework, config, hop)
            bands = {}  # route → (its first image, the POSCAR of each image)
            seed = self.seeds.get(hop.id)
            tetrahedral = hop.mechanism is HopMechanism.TSH and hop.saddle_geometry.get("tetrahedra")
            positions = idpp_positions(*ends, n_images=n_images) if seed is None or tetrahedral else None  # one IDPP per hop
            if seed is not None:
                images = seeded_band(band_structures(seed), *ends, n_images=n_images)
                bands["seeded"] = (images[0], [poscar_text(image) for image in images])
            else:
                # the IDPP images written from their arrays (no 240-site Structure per image)
                frac = [ends[0].frac_coords, *(ends[0].lattice.get_fractional_coords(p) for p in positions), ends[1].frac_coords]
                bands["edge"] = (ends[0], poscar_texts_along(ends[0], frac))
            if tetrahedral:
                # the IDPP band through the edge, led through the tetrahedral site
                images = tetrahedral_band(idpp_images(*ends, positions), hop.saddle_geometry)
                bands["tetrahedral"] = (images[0], [poscar_text(image) for image in images])
            for route, (first, poscars) in bands.items():
                suffix = "" if route in ("edge", "seeded") else f"_{route}"
                target = folder / f"neb_{hop.id.rsplit('-', 1)[-1]}{suffix}"
                generator = makers.neb.input_set_generator
                generator.num_images = len(poscars) - 2
                _write(first, generator, target, poscar=False, shared=self.input_sets)
                for k, text in enumerate(poscars):
                    _write_texts({"POSCAR": text}, target / f"{k:02d}")
                if route == "seeded":
                    (target / "seed.json").write_text(json.dumps({"hop_id": hop.id, "seeded_from": self.seed_levels.get(hop.id), "mapping": SEED_MAPPING}, indent=1))
                counts["neb"] += 1
            end_dirs = [folder / f"neb_{hop.id.rsplit('-', 1)[-1]}" / f"endpoint_{k}" for k in range(2)]
            for end, end_dir in zip(ends, end_dirs):
                _write(end, makers.defect_relax.input_set_generator, end_dir, shared=self.input_sets)
            counts["relax"] += 2
        return {"counts": counts, "hops": len(hops), "folders": sum(counts.values())}
