"""jobflow jobs of a screen: thin wrappers over :mod:`workflows.engine` that never lose a failure.

Every job returns a typed document (:mod:`workflows.schemas`). A calculation
that raises, blows up or does not converge is returned as ``status=failed``
with its reason instead of raising, so the rest of the screen runs on; the
collector also turns a job that produced nothing at all (a VASP job that
died on a cluster) into a failed document.
"""

from __future__ import annotations

import hashlib
import json
import time

from jobflow import job
from jobflow.core.job import JobConfig
from jobflow.core.reference import OnMissing as OnMissingReference
from pymatgen.core import Lattice, Structure

from descriptors.physics.levels import level_of_theory
from descriptors.records.bands import compact_band
from workflows.calculators import code_versions, ml_calculator, mock_calculator
from workflows.engine import relax, run_neb
from workflows.reuse import reuse_or_run
from workflows.schemas import BaderDoc, CalcStatus, NebDoc, Provenance, ReferenceDoc, RelaxDoc, ScreenResult, StaticDoc

__all__ = ["settings_hash", "provenance", "relax_job", "static_job", "bader_job", "neb_job", "shared_neb_job", "twin_document", "reference_job", "collect_job"]


# Settings that never change a number (how many threads, which configurations get a static, the
# core-hour model, test switches): left out of the hash that is part of every number's identity.
# ``neb_mirror`` is not among them: a mirrored band ends on the model's own forces, but where they
# were within fmax it stops there, and its numbers differ from a whole band's by the model's parity
# error (1e-3 eV with SevenNet-0, issue 29): a row must say which it is.
NOT_PHYSICS = frozenset({"threads", "cores_per_job", "configurations", "max_atoms", "fail", "blow_up", "crash", "processes", "compile", "log_folder"})


def physics_settings(settings: dict) -> dict:
    """The settings that change a number (fmax, images, cutoff, k-spacing, U values, user INCAR...)."""
    return {k: v for k, v in settings.items() if k not in NOT_PHYSICS}


def settings_hash(backend: str, settings: dict) -> str:
    """Content hash of the backend and the settings that change its numbers: part of a number's identity."""
    payload = {"backend": backend, "settings": physics_settings(settings)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def provenance(backend: str, settings: dict) -> Provenance:
    from descriptors.physics.levels import o2_correction

    return Provenance(
        backend=backend,
        level_of_theory=level_of_theory(backend, settings),
        settings_hash=settings_hash(backend, settings),
        settings=settings,
        code_versions=code_versions(backend, settings),
        o2_correction=getattr(o2_correction(backend, settings), "value", None),
    )


def _calculator_factory(backend: str, settings: dict, label: str, band: bool = False, structure=None):
    """A function returning a fresh calculator for this backend (mock: may be forced to fail).

    ``band``: calculators for the images of a hop's band (the mock leaves the moving Li, the
    last site, free of its anchor there). ``structure``: the cell a GPAW calculator is set up for
    (k-points, U setups, start moments); GPAW's factory keeps its calculators (``calculators``),
    so a band's SCF iterations and magnetic moments can be read back.
    """
    if backend == "gpaw":
        from workflows.gpaw_calculators import GpawImageFactory, dft_settings

        return GpawImageFactory(structure, dft_settings(settings), gpaw_log_folder(settings, label, "band" if band else "ends"))
    if backend == "mlip":
        return lambda: ml_calculator(settings["model"], settings.get("threads"), compiled=settings.get("compile", True))
    if backend == "mock":
        fail = any(token and token in label for token in settings.get("fail", []))
        blow_up = any(token and token in label for token in settings.get("blow_up", []))
        mobile = (-1,) if band else ()
        return lambda: mock_calculator(fail=fail, blow_up=blow_up, mobile=mobile)
    raise ValueError(f"backend '{backend}' does not run calculations in-process")


def gpaw_log_folder(settings: dict, label: str, part: str):
    """Where GPAW writes its text logs for this calculation (``log_folder`` in the settings: a long
    run can then be followed SCF by SCF), or None: no log. The settings hash is part of the path:
    the same hop at two levels (PW and LCAO) at once must not write into one log."""
    import re
    from pathlib import Path

    folder = settings.get("log_folder")
    if not folder:
        return None
    return Path(folder) / re.sub(r"[^A-Za-z0-9_.-]+", "_", label)[:100] / f"{part}-{settings_hash('gpaw', settings)[:8]}"


def as_dict(doc) -> dict | None:
    """A job document as a plain dict, whether jobflow hands over the model or its serialised form."""
    if doc is None:
        return None
    if hasattr(doc, "model_dump"):
        return doc.model_dump()  # nested models become dicts; structures stay pymatgen objects
    return {k: v for k, v in dict(doc).items() if not k.startswith("@")}


def _structure(value) -> Structure:
    from structures.doors.structures_in import structure_from_dict

    return value if isinstance(value, Structure) else structure_from_dict(value, "a job's structure")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


def dft_threshold(settings: dict) -> float:
    """μB: neighbouring images' total moments further apart than this flag a GPAW band."""
    return float(settings.get("magmom_jump", 0.5))


def _failed(cls, label, backend, settings, reason, **fields):
    return cls(label=label, status=CalcStatus.FAILED, reason=reason, provenance=provenance(backend, settings), **fields)


# ----- pure functions (tests call these) ----------------------------------------------------------
def relax_structure(
    structure: Structure,
    backend: str,
    settings: dict,
    label: str,
    configuration_id: str | None = None,
    relax_cell: bool = False,
    lattice_from: dict | None = None,
) -> RelaxDoc:
    """Relax a structure; ``lattice_from`` (a relaxed host document) sets the cell first."""
    start = time.perf_counter()
    lattice_from = as_dict(lattice_from)
    try:
        if lattice_from is not None:
            if lattice_from.get("status") != CalcStatus.SUCCESS.value:
                return _failed(RelaxDoc, label, backend, settings, "host relaxation failed", configuration_id=configuration_id)
            host = _structure(lattice_from["structure"])
            structure = structure.copy()
            structure.lattice = Lattice(host.lattice.matrix)
        factory = _calculator_factory(backend, settings, label, structure=structure)
        outcome = relax(
            structure,
            factory(),
            fmax=settings.get("relax_fmax", 0.05),
            steps=settings.get("relax_steps", 300),
            relax_cell=relax_cell,
        )
    except Exception as exc:  # recorded, never raised: one failure must not stop the screen
        return _failed(RelaxDoc, label, backend, settings, _reason(exc), configuration_id=configuration_id)
    doc = RelaxDoc(
        label=label,
        configuration_id=configuration_id,
        status=CalcStatus.SUCCESS if outcome.converged else CalcStatus.FAILED,
        reason=None if outcome.converged else f"not converged in {outcome.n_steps} steps (max force {outcome.max_force:.3f} eV/Å)",
        provenance=provenance(backend, settings),
        energy=outcome.energy,
        n_atoms=len(outcome.structure),
        structure=outcome.structure,
        converged=outcome.converged,
        n_steps=outcome.n_steps,
        max_force=outcome.max_force,
        wall_time=time.perf_counter() - start,
    )
    return doc


def hop_neb(
    relaxed: dict,
    host,
    dims: list[int],
    configuration,
    hop,
    backend: str,
    settings: dict,
    label: str,
    seed: dict | None = None,
) -> NebDoc:
    """Relax both end points (fixed cell), interpolate by IDPP, run CI-NEB: one Li hop.

    ``seed`` (``{"level", "band", "hop_id", "configuration_id"}``: a converged band of this hop at
    another level, ML) replaces the IDPP start: the band is mapped onto this level's relaxed end
    points (:func:`structures.hops.seeded_band`), and the document says so (``seeded_from``,
    ``start_band``). GPAW: each image keeps its calculator (its wave functions) through the band,
    and a band whose neighbouring images' total moments jump is recorded as failed with the jump.

    A hop that a divacancy opens to the tetrahedral route (expected TSH) may need a second band:
    IDPP's starts through the O–O edge and can stay there when the tetrahedral path is lower. So
    where the edge band did not converge through the tetrahedral site, a band led through it
    (:func:`structures.hops.tetrahedral_band`) runs from the same end points; both are kept in
    ``routes`` and the hop's profile is the route with the lower saddle among those that
    converged. Where the edge band already crossed the tetrahedral site (observed TSH), the
    second band is redundant and is skipped (:func:`tetrahedral_band_needed`).
    """
    from structures.framework import DefectFramework
    from structures.hops import hop_endpoints, hop_mirror, interpolate_hop, tetrahedral_band

    start = time.perf_counter()
    relaxed = as_dict(relaxed)
    common = {"configuration_id": configuration.id, "hop_id": hop.id, "hop": hop.summary()}
    if relaxed is None or relaxed.get("status") != CalcStatus.SUCCESS.value:
        reason = "configuration relaxation failed" + (f" ({relaxed.get('reason')})" if relaxed else "")
        return _failed(NebDoc, label, backend, settings, reason, **common)
    try:
        framework = DefectFramework.from_host(host, tuple(dims))
        relaxed_structure = _structure(relaxed["structure"])
        # GPAW sets a calculator up for its cell's atoms: the end points' (the moving Li removed)
        end_like = hop_endpoints(framework, configuration, hop, relaxed=relaxed_structure)[0] if backend == "gpaw" else None
        factory = _calculator_factory(backend, settings, label, structure=end_like)
        ends = relaxed_endpoints(framework, configuration, hop, relaxed_structure, factory, settings)
        endpoint_time = time.perf_counter() - start
        if any(not e.converged for e in ends):
            bad = next(e for e in ends if not e.converged)
            return _failed(NebDoc, label, backend, settings, f"end point not converged in {bad.n_steps} steps", **common)
        if seed is not None:
            from descriptors.records.bands import band_structures
            from structures.hops import seeded_band

            images = seeded_band(band_structures(seed["band"]), ends[0].structure, ends[1].structure, n_images=settings.get("n_images", 5))
        else:
            images = interpolate_hop(ends[0].structure, ends[1].structure, n_images=settings.get("n_images", 5))
        start_band = compact_band(images)
        band_factory = _calculator_factory(backend, settings, label, band=True, structure=images[0])
        # an ML (or GPAW) band's images see the calculator its end points were relaxed with, which
        # evaluated them at these very positions; the mock's band calculator differs from its relaxation one
        end_energies = (ends[0].energy, ends[1].energy) if backend in ("mlip", "gpaw") else None
        # a hop between equivalent sites, its defects symmetric about it: half its band is the mirror
        # of the other half (run_neb checks the band image by image)
        mirror = hop_mirror(framework, configuration, hop) if settings.get("neb_mirror", True) else None

        def climb(band):
            return run_neb(
                band,
                band_factory,
                fmax=settings.get("neb_fmax", 0.05),
                steps=settings.get("neb_steps", 200),
                climb=settings.get("climb", True),
                optimizer=settings.get("neb_optimizer", "ode"),  # the mock has no setting: ODE, as its tests were written
                end_energies=end_energies,
                mirror=mirror,
            )

        edge = climb(images)
        routes, summaries = [("edge", edge)], [_route_summary("edge", edge, hop)]
        needed, why = tetrahedral_band_needed(hop, summaries[0])
        if needed:
            tetrahedral = climb(tetrahedral_band(images, hop.saddle_geometry))
            routes.append(("tetrahedral", tetrahedral))
            summaries.append(_route_summary("tetrahedral", tetrahedral, hop))
        elif why:
            summaries.append({"route": "tetrahedral", "skipped": why})
    except Exception as exc:
        return _failed(NebDoc, label, backend, settings, _reason(exc), **common)
    endpoint_calls = sum(e.n_steps + 1 for e in ends)
    converged = [(route, neb) for route, neb in routes if neb.converged]
    route, neb = min(converged or routes, key=lambda rn: max(rn[1].energies))
    reason = None if converged else f"NEB not converged in {neb.n_steps} steps"
    moments, scf = None, None
    if backend == "gpaw":  # the band's magnetic state: one surface, or the band is not a barrier
        from workflows.gpaw_calculators import magnetic_moment_jumps

        ends_moments = factory.magnetic_moments()  # the two end points' last SCFs
        inner = band_factory.magnetic_moments()  # every band's images, in order: the profile's are its band's
        k = len(neb.energies) - 2
        inner = inner[:k] if route == "edge" else inner[-k:]
        moments = [ends_moments[0], *inner, ends_moments[-1]]
        scf = factory.scf_iterations() + band_factory.scf_iterations()
        jumps = magnetic_moment_jumps(moments, dft_threshold(settings))
        if jumps and reason is None:
            reason = "magnetic moment jumps between images " + "; ".join(
                f"{j['images'][0]}->{j['images'][1]}: {j['moments'][0]} -> {j['moments'][1]} μB" for j in jumps
            ) + ": the images are not on one energy surface"
    return NebDoc(
        label=label,
        status=CalcStatus.SUCCESS if reason is None else CalcStatus.FAILED,
        reason=reason,
        seeded_from=None if seed is None else {k: seed.get(k) for k in ("level", "hop_id", "configuration_id")} | {"mapping": "ML displacements from image 0 on this level's start point, end mismatch spread linearly (structures.hops.seeded_band)"},
        start_band=start_band,
        magnetic_moments=moments,
        scf_iterations=scf,
        provenance=provenance(backend, settings),
        energies=neb.energies,
        images=neb.images,
        converged=neb.converged,
        n_steps=sum(n.n_steps for _, n in routes),
        force_calls=sum(n.force_calls for _, n in routes) + endpoint_calls,
        endpoint_steps=[e.n_steps for e in ends],
        route=route,
        routes=summaries,
        wall_time=time.perf_counter() - start,
        endpoint_time=endpoint_time,
        **common,
    )


def tetrahedral_band_needed(hop, edge: dict) -> tuple[bool, str]:
    """Whether a hop needs the band led through the tetrahedral site, given its edge band's
    summary, and, where it is left out, why.

    Only a hop a divacancy opens to the tetrahedral path (expected TSH) can need it, and only if
    its edge band did not already converge through the tetrahedral site: a band that crossed it
    has found the tetrahedral path. Measured on the 9 divacancy hops of the design-rules example
    (SevenNet-0, 96 atoms) that ran both bands: where the edge band was observed TSH (6 hops), the
    tetrahedral band's saddle lay 0.0001-0.0013 eV lower, below the NEB's resolution.
    """
    from structures.hops import HopMechanism

    if hop.mechanism is not HopMechanism.TSH or not hop.saddle_geometry.get("tetrahedra"):
        return False, ""
    if edge.get("converged") and edge.get("mechanism_observed") == HopMechanism.TSH.value:
        return False, "the edge band converged through the tetrahedral site (observed TSH)"
    return True, ""


def relaxed_endpoints(framework, configuration, hop, relaxed: Structure, factory, settings: dict) -> list:
    """The hop's two end points relaxed at fixed cell (RelaxOutcomes): the relaxed configuration with
    the Li vacancy at each end. Where the final state is a symmetry image of the initial one, it
    starts from the image of the relaxed initial end point (a check relaxation then takes a step or two)."""
    from structures.hops import end_to_end_operation, hop_endpoints, map_initial_to_final

    initial, final = hop_endpoints(framework, configuration, hop, relaxed=relaxed)
    operation = end_to_end_operation(framework, configuration, hop)
    ends = []
    for k, structure in enumerate((initial, final)):
        if k == 1 and operation is not None:
            structure = map_initial_to_final(framework, configuration, hop, ends[0].structure, operation)
        outcome = relax(structure, factory(), fmax=settings.get("relax_fmax", 0.05), steps=settings.get("relax_steps", 300))
        ends.append(outcome)
        if not outcome.converged:
            break
    return ends


def _route_summary(route: str, neb, hop) -> dict:
    """What one band of a hop did: its profile, convergence and the mechanism its saddle shows."""
    from descriptors.physics.mechanism import observed_mechanism

    try:
        observed = observed_mechanism(neb.images, neb.energies, hop.saddle_geometry)
    except (ValueError, IndexError):
        observed = None
    return {
        "route": route,
        "energies": neb.energies,
        "converged": neb.converged,
        "n_steps": neb.n_steps,
        "force_calls": neb.force_calls,
        "mirrored_calls": neb.mirrored_calls,
        "mirror_check": neb.mirror_check,
        "model_check": neb.model_check,
        "saddle_energy": max(neb.energies),
        "mechanism_observed": (observed or {}).get("mechanism"),
        "observed": observed,
    }


# relative: how far the cell may be from keeping the operation that relates two twin hops (a relaxed
# cell keeps its symmetry to float noise, 1e-6; a strain of 1e-4 changes no energy that matters)
TWIN_LATTICE_TOLERANCE = 1.0e-4
_PER_IMAGE = ("max_force", "mirrored_max_force", "checked_max_force")  # model_check's lists, one value per moving image


def twin_document(computed: dict, twin, hop: dict, configuration_id: str, label: str, computed_as: dict) -> dict:
    """A twin hop's NEB document from the document of the band that ran (pure: tests call it).

    Two hops are twins when their two end states and path are images of each other under an
    operation of the pristine supercell (``LiHop.twin_key``); computed in the same cell (every
    configuration of a screen relaxes at fixed cell on the relaxed host's lattice, and its hops'
    end points at fixed cell on its own), at the same level and settings, they are the same
    calculation up to that operation. So everything the band is (status and reason, converged,
    energies, images, steps, routes, provenance) is the computed band's, carried onto the twin by
    the operation (``twin``, structures.hops.TwinMap): images in the twin's atom order and
    direction, energies and end-point steps in its direction. The twin keeps its own identity
    (configuration, hop id and summary, label), and ``computed_as`` names the band that ran and
    the operation. Where the cell has lost the operation (a model that broke the host's symmetry
    when it relaxed its cell), the twin is recorded as failed with that reason.

    Of the routes, the profile's own is read again on the carried band (its mechanism evidence
    refers to the twin's sites); the others keep their profile, not their evidence, whose band
    stays with the hop that ran.
    """
    from structures.hops import TwinMap

    twin = twin if isinstance(twin, TwinMap) else TwinMap.from_dict(twin)
    doc = dict(computed)
    stored = doc.get("images") or []
    images = [_structure(image) for image in stored]
    record = {**computed_as, "operation": twin.operation, "reversed": twin.reversed}
    if images:
        record["lattice_deviation"] = twin.lattice_deviation(images[0].lattice)
    doc.update(label=label, configuration_id=configuration_id, hop_id=hop.get("id"), hop=hop, computed_as=record)

    def directed(values):
        return None if values is None else (list(values)[::-1] if twin.reversed else list(values))

    doc["energies"] = directed(doc.get("energies"))
    doc["endpoint_steps"] = directed(doc.get("endpoint_steps"))
    mapped = twin.band(images) if images else []
    if mapped:
        doc["images"] = [m.as_dict() for m in mapped] if isinstance(stored[0], dict) else mapped
    if record.get("lattice_deviation", 0.0) > TWIN_LATTICE_TOLERANCE:
        reason = (
            f"twin of {computed_as.get('label')}, but the relaxed cell has lost the operation that relates them "
            f"(deviation {record['lattice_deviation']:.1e}): its band is not this hop's"
        )
        doc.update(status=CalcStatus.FAILED.value, reason=reason)
    routes = []
    for route in doc.get("routes") or []:
        route = dict(route)
        if "skipped" not in route:
            route["energies"] = directed(route.get("energies"))
            if route.get("model_check"):
                route["model_check"] = {k: directed(v) if k in _PER_IMAGE else v for k, v in route["model_check"].items()}
            route["observed"] = None
            if route.get("route") == doc.get("route") and mapped and doc.get("energies"):
                route["observed"] = _observed(mapped, doc["energies"], hop.get("saddle_geometry") or {})
                route["mechanism_observed"] = (route["observed"] or {}).get("mechanism")
        routes.append(route)
    if doc.get("routes") is not None:
        doc["routes"] = routes
    return doc


def _observed(images, energies, geometry) -> dict | None:
    from descriptors.physics.mechanism import observed_mechanism

    try:
        return observed_mechanism(images, energies, geometry)
    except (ValueError, IndexError):
        return None


def shared_neb(computed, hop, configuration_id: str, label: str, computed_as: dict, twin, backend: str, settings: dict) -> NebDoc:
    """The NEB document of a twin hop: the band of the hop it twins, which ran once (``computed_as``),
    recorded under this hop's configuration and id (:func:`twin_document`). Its cost is the band's
    that ran: none here (``force_calls`` 0). A band that produced nothing leaves its twin failed too."""
    start = time.perf_counter()
    computed = as_dict(computed)
    if computed is None:
        reason = f"the band it shares ({computed_as.get('label')}) produced no output"
        return _failed(NebDoc, label, backend, settings, reason, configuration_id=configuration_id, hop_id=hop.id, hop=hop.summary(), computed_as=computed_as)
    doc = twin_document(computed, twin, hop.summary(), configuration_id, label, computed_as)
    doc.pop("kind", None)
    doc.update(force_calls=0, endpoint_time=0.0, wall_time=time.perf_counter() - start)
    return NebDoc(**doc)


def reference_structure(species: str) -> tuple[Structure, bool]:
    """The elemental reference cell and whether its cell relaxes: an O2 molecule in a 12 x 12.5 x 13 Å
    box (asymmetric, so the molecule sees no spurious symmetry), or bcc Li metal."""
    from ase.build import bulk, molecule
    from pymatgen.io.ase import AseAtomsAdaptor

    if species == "O2":
        atoms = molecule("O2")
        atoms.set_cell([12.0, 12.5, 13.0])
        atoms.center()
        atoms.pbc = True
        return AseAtomsAdaptor.get_structure(atoms), False
    if species == "Li":
        return AseAtomsAdaptor.get_structure(bulk("Li", "bcc", a=3.44, cubic=True)), True
    raise ValueError(f"no reference defined for {species}")


def reference_energy(species: str, backend: str, settings: dict) -> ReferenceDoc:
    """Energy per atom of the elemental reference at this level of theory (O2 molecule, bcc Li)."""
    label = f"reference {species}"
    try:
        structure, relax_cell = reference_structure(species)
        factory = _calculator_factory(backend, settings, label, structure=structure)
        outcome = relax(structure, factory(), fmax=settings.get("relax_fmax", 0.05), steps=settings.get("relax_steps", 300), relax_cell=relax_cell)
    except Exception as exc:
        return _failed(ReferenceDoc, label, backend, settings, _reason(exc), species=species)
    return ReferenceDoc(
        label=label,
        species=species,
        status=CalcStatus.SUCCESS if outcome.converged else CalcStatus.FAILED,
        reason=None if outcome.converged else "reference relaxation not converged",
        provenance=provenance(backend, settings),
        energy_per_atom=outcome.energy / len(outcome.structure),
        wall_time=outcome.wall_time,
    )


def not_available(cls, label: str, configuration_id: str, backend: str, settings: dict, what: str):
    """A quantity this level of theory does not have: recorded as such, never faked."""
    return cls(
        label=label,
        configuration_id=configuration_id,
        status=CalcStatus.NOT_AVAILABLE,
        reason=f"{what} is not available at this level of theory ({level_of_theory(backend, settings)})",
        provenance=provenance(backend, settings),
    )


def gpaw_static_document(
    relaxed, settings: dict, label: str, configuration_id: str, folder: str, cell_configuration: dict | None = None
) -> StaticDoc:
    """GPAW static (DOS and all-electron density) of a relaxed configuration.

    ``cell_configuration``: where the static runs in another cell than the screen's (the same
    defects rebuilt there, :func:`structures.configurations.same_defects_in`), that cell's
    configuration summary, kept with the result so that nothing reads its sites as the screen's.
    """
    from workflows.gpaw_parallel import run_gpaw_static  # serial here, or under the worker's MPI launcher

    relaxed = as_dict(relaxed)
    if relaxed is None or relaxed.get("status") != CalcStatus.SUCCESS.value:
        reason = "configuration relaxation failed" + (f" ({relaxed.get('reason')})" if relaxed else "")
        return _failed(StaticDoc, label, "gpaw", settings, reason, configuration_id=configuration_id)
    structure = _structure(relaxed["structure"])
    try:
        out = run_gpaw_static(structure, settings, folder)
    except Exception as exc:  # a refused cell, a missing install, an SCF that did not converge
        return _failed(StaticDoc, label, "gpaw", settings, _reason(exc), configuration_id=configuration_id)
    return StaticDoc(
        structure=structure,
        cell_configuration=cell_configuration,
        label=label,
        configuration_id=configuration_id,
        status=CalcStatus.SUCCESS,
        provenance=provenance("gpaw", settings),
        energy=out["energy"],
        dos=out["dos"],
        efermi=out["efermi"],
        charge_density_file=out["charge_density_file"],
        eigenvalues=out["eigenvalues"],
        occupations=out["occupations"],
        wall_time=out["wall_time"],
    )


def gpaw_bader_document(static, settings: dict, label: str, configuration_id: str) -> BaderDoc:
    """Bader partition of the static's all-electron density; net charge = Z − basin electrons."""
    from pymatgen.core import Element

    from descriptors.physics.bader import run_bader

    static = as_dict(static)
    if static is not None and static.get("status") == CalcStatus.NOT_AVAILABLE.value:
        return BaderDoc(
            label=label, configuration_id=configuration_id, status=CalcStatus.NOT_AVAILABLE,
            reason=f"no static: {static.get('reason')}", provenance=provenance("gpaw", settings),
        )
    if static is None or static.get("status") != CalcStatus.SUCCESS.value or not static.get("charge_density_file"):
        return _failed(BaderDoc, label, "gpaw", settings, "no all-electron density: the static failed", configuration_id=configuration_id)
    try:
        result = run_bader(static["charge_density_file"])  # reads the density once; elements come with it
        nuclear = {e: float(Element(e).Z) for e in set(result.elements)}
        result.net_charges = [nuclear[e] - q for e, q in zip(result.elements, result.electrons)]
        expected = sum(nuclear[e] for e in result.elements)
        if abs(result.n_electrons - expected) > 0.01 * expected:
            raise ValueError(f"the density holds {result.n_electrons:.2f} electrons, the cell {expected:.0f}")
    except Exception as exc:
        return _failed(BaderDoc, label, "gpaw", settings, _reason(exc), configuration_id=configuration_id)
    return BaderDoc(
        label=label,
        configuration_id=configuration_id,
        status=CalcStatus.SUCCESS,
        provenance=provenance("gpaw", settings),
        charges=result.net_charges,
        site_labels=[f"{e}{i}" for i, e in enumerate(result.elements)],
    )


def collect(screen: dict, configurations: list[dict], documents: list, expected: list[dict]) -> ScreenResult:
    """Gather every document; a job that returned nothing becomes a failed document with its label."""
    docs = []
    for doc, meta in zip(documents, expected):
        if doc is None:
            docs.append(
                {
                    **meta,
                    "status": CalcStatus.FAILED.value,
                    "reason": "job produced no output (it failed or was cancelled before finishing)",
                    "provenance": screen["provenance"],
                }
            )
        else:
            docs.append(as_dict(doc))
    return ScreenResult(
        screen=screen["name"],
        host=screen["host"],
        supercell=screen["supercell"],
        min_image_distance=screen.get("min_image_distance"),
        backend=screen["backend"],
        level_of_theory=screen["provenance"]["level_of_theory"],
        settings_hash=screen["provenance"]["settings_hash"],
        configurations=configurations,
        documents=docs,
        n_failed=sum(1 for d in docs if d["status"] == CalcStatus.FAILED.value),
        oxygen=screen.get("oxygen"),
        provenance=screen["provenance"],
    )


# ----- jobs ------------------------------------------------------------------------------------------
# A job whose parent died without output (a killed worker, a FIZZLED firework) still runs, with
# None in place of the missing output, and records the failure: the screen goes on.
_TOLERANT = JobConfig(on_missing_references=OnMissingReference.NONE)


class SimulatedCrash(RuntimeError):
    """Raised by a mock job listed under ``crash``: the job dies as a killed cluster job would."""


def _crash_if_asked(backend: str, settings: dict, label: str) -> None:
    if backend == "mock" and any(token and token in label for token in settings.get("crash", [])):
        raise SimulatedCrash(f"{label}: simulated crash of the job (mock 'crash' setting)")


@job(output_schema=RelaxDoc, config=_TOLERANT)
def relax_job(structure, backend, settings, label, configuration_id=None, relax_cell=False, lattice_from=None, needs_lattice=False):
    _crash_if_asked(backend, settings, label)
    if needs_lattice and lattice_from is None:
        return _failed(RelaxDoc, label, backend, settings, "host relaxation produced no output", configuration_id=configuration_id)
    return reuse_or_run(RelaxDoc, relax_structure, structure, backend, settings, label, configuration_id, relax_cell, lattice_from, versions=code_versions(backend, settings))


# Arrays that make a job document large (a 48-atom GPAW DOS is megabytes; NEB images are whole
# structures) go to the job store's additional store named "data" (GridFS on a cluster), so no job
# document, the collector's included, comes near MongoDB's 16 MB limit.
BIG_OUTPUTS = ["dos", "eigenvalues", "occupations", "images"]


def local_job_store():
    """An in-memory JobStore with the additional "data" store that lrox jobs put their big arrays in."""
    from jobflow import JobStore
    from maggma.stores import MemoryStore

    return JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})


@job(output_schema=NebDoc, config=_TOLERANT, data=BIG_OUTPUTS)
def neb_job(relaxed, host, dims, configuration, hop, backend, settings, label, seed=None):
    _crash_if_asked(backend, settings, label)
    if seed is None:  # the cache key of an unseeded band stays what it was
        return reuse_or_run(NebDoc, hop_neb, relaxed, host, dims, configuration, hop, backend, settings, label, versions=code_versions(backend, settings))
    return reuse_or_run(NebDoc, hop_neb, relaxed, host, dims, configuration, hop, backend, settings, label, seed, versions=code_versions(backend, settings))


@job(output_schema=NebDoc, config=_TOLERANT, data=BIG_OUTPUTS)
def shared_neb_job(computed, hop, configuration_id, label, computed_as, twin, backend, settings):
    """A twin hop's document from the band that ran for it (no calculation: see :func:`shared_neb`)."""
    return shared_neb(computed, hop, configuration_id, label, computed_as, twin, backend, settings)


@job(output_schema=StaticDoc, config=_TOLERANT)
def static_job(relaxed, backend, settings, label, configuration_id):
    return not_available(StaticDoc, label, configuration_id, backend, settings, "a DOS or charge density")


@job(output_schema=StaticDoc, config=_TOLERANT)
def unavailable_static_job(backend, settings, label, configuration_id, reason):
    """A static that cannot be run for a stated reason (e.g. the defects do not fit GPAW's cell)."""
    return StaticDoc(
        label=label, configuration_id=configuration_id, status=CalcStatus.NOT_AVAILABLE, reason=reason, provenance=provenance(backend, settings)
    )


@job(output_schema=BaderDoc, config=_TOLERANT)
def bader_job(static, backend, settings, label, configuration_id):
    return not_available(BaderDoc, label, configuration_id, backend, settings, "a Bader analysis")


@job(output_schema=StaticDoc, config=_TOLERANT, data=BIG_OUTPUTS)
def gpaw_static_job(relaxed, settings, label, configuration_id, folder, cell_configuration=None):
    return reuse_or_run(
        StaticDoc, gpaw_static_document, relaxed, settings, label, configuration_id, folder, cell_configuration, versions=code_versions("gpaw", settings)
    )


@job(output_schema=BaderDoc, config=_TOLERANT)
def gpaw_bader_job(static, settings, label, configuration_id):
    return reuse_or_run(BaderDoc, gpaw_bader_document, static, settings, label, configuration_id, versions=code_versions("gpaw", settings))


@job(output_schema=ReferenceDoc)
def reference_job(species, backend, settings):
    return reuse_or_run(ReferenceDoc, reference_energy, species, backend, settings, versions=code_versions(backend, settings))


@job(output_schema=ScreenResult, config=JobConfig(on_missing_references=OnMissingReference.NONE), data=BIG_OUTPUTS)
def collect_job(screen, configurations, documents, expected):
    return collect(screen, configurations, documents, expected)

