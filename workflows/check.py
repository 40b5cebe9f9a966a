"""``lrox check``: ML hops of a database re-evaluated with GPAW, in a cell GPAW can afford.

For each selected hop (:func:`descriptors.query.checks.hops_to_check`) the same defects and the same
hop are rebuilt in a smaller cell (default 2x1x1: 48 atoms for Li2MnO3, against the 96 of a 2x1x2
screen; :func:`structures.configurations.same_defects_in`, :func:`structures.hops.same_hop_in`).
There the database's own ML model runs the hop first (host cell relaxed, configuration at fixed
cell on it, end points, CI-NEB): ML and DFT are then compared in one cell, and the ML barrier's
change from the database's cell to this one is shown beside. Then GPAW, by ``route``:

* ``neb``: GPAW-relaxed end points (fixed cell, from the ML end points) and a CI-NEB whose images
  start from the ML band of the same hop in this cell (the DFT barrier);
* ``single-points``: GPAW-relaxed end points and one GPAW SCF on each image of the ML band mapped
  onto them (the DFT energy along the ML path: at or above the DFT saddle of that path). With
  ``endpoints="ml"`` the ML end points are used as they are, and the level says so.

Every result is stored on the database's own hop id and configuration id, as a level of its own:
``MLIP 7net-0, 2x1x1 cell`` and ``GPAW PBE+U (MP U values; PW 400 eV) // seeded from MLIP 7net-0,
2x1x1 cell`` (or ``... single points on the MLIP 7net-0 band, 2x1x1 cell``), so ``lrox query hops``
shows the levels of a hop side by side. Each band's ``cell`` says where it ran. A hop that does not
exist in the smaller cell (it comes near a defect's image there) is recorded as not available,
with the reason. Finished calculations are kept in ``output/jobs`` and reused by the next run.
"""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path

from structures.errors import LroxInputError

__all__ = ["CheckRoute", "Endpoints", "check_hops", "DEFAULT_CHECK_CELL"]

DEFAULT_CHECK_CELL = "2x1x1"


class CheckRoute(str, Enum):
    SINGLE_POINTS = "single-points"
    NEB = "neb"


class Endpoints(str, Enum):
    GPAW = "gpaw"  # GPAW-relaxed at fixed cell, from the ML end points
    ML = "ml"  # the ML end points as they are (cheaper; named in the level)


def _framework_of(entry: dict, host_path: str | None):
    from structures.framework import DefectFramework
    from structures.hosts import BUILTIN_HOSTS, load_host
    from structures.supercell import parse_supercell

    name = entry["host"]
    if host_path is None and name.lower() not in BUILTIN_HOSTS:
        raise LroxInputError(f"check: host '{name}' is not built in: give its structure file with --host")
    host = load_host(host_path or name)
    return host, DefectFramework.from_host(host, parse_supercell(entry["supercell"]))


def _rebuild(entry: dict, host, source, target):
    """(configuration, hop) of ``entry`` on the source cell, and the same in the target cell (None, reason)."""
    from structures.configurations import configuration_from_summary, same_defects_in
    from structures.hops import enumerate_hops, same_hop_in

    config = configuration_from_summary(source, entry["configuration"])
    length = float(entry["hop"].get("length") or 3.5)
    hop = next((h for h in enumerate_hops(source, config, cutoff=length + 0.5) if h.id == entry["hop_id"]), None)
    if hop is None:
        raise LroxInputError(f"check: hop {entry['hop_id']} could not be rebuilt on its own {entry['supercell']} cell")
    target_config = same_defects_in(config, source, target)
    if target_config is None:
        return config, hop, None, None, "its defects do not fit the smaller cell"
    target_hop = same_hop_in(hop, source, target, target_config)
    if target_hop is None:
        return config, hop, target_config, None, "the same hop does not exist in the smaller cell (it comes near a defect's periodic image there)"
    return config, hop, target_config, target_hop, None


def _stored_hop(hop, target_hop) -> dict:
    """The hop as stored with a checked band: the target cell's geometry (its saddle atoms are the
    band's) under the database hop's identity (id, reference and twin keys), so the rows line up."""
    source = hop.summary()
    return {**target_hop.summary(), **{k: source.get(k) for k in ("id", "configuration_id", "reference_hop_id", "twin_key", "multiplicity")}}


def check_hops(
    db,
    selection: str,
    route: CheckRoute | str = CheckRoute.SINGLE_POINTS,
    cell: str = DEFAULT_CHECK_CELL,
    gpaw: dict | None = None,
    endpoints: Endpoints | str = Endpoints.GPAW,
    output: str | Path = "lrox-out/check",
    host_path: str | None = None,
    echo=print,
) -> dict:
    """Run the check of the selected hops and store it in ``db`` (the same database); returns a summary."""
    from descriptors.ingest import store_result
    from descriptors.query.checks import hops_to_check
    from structures.framework import DefectFramework
    from structures.supercell import parse_supercell
    from workflows.gpaw_calculators import backend_settings, smaller_cell_hint
    from workflows.jobs import provenance
    from workflows.reuse import JobCache, using_cache

    route = CheckRoute(str(getattr(route, "value", route)).lower())
    endpoints = Endpoints(str(getattr(endpoints, "value", endpoints)).lower())
    dims = parse_supercell(cell)
    gpaw_settings = {**backend_settings(gpaw), "log_folder": str(Path(output) / "gpaw-logs")}  # GPAW's text logs: a long check can be followed
    entries = hops_to_check(db, selection)
    started = time.perf_counter()
    out = Path(output)
    documents, configurations, lines = [], {}, []
    cache = JobCache(out / "jobs")
    host_relaxed = {}
    with using_cache(cache):
        for entry in entries:
            host, source = _framework_of(entry, host_path)
            target = DefectFramework.from_host(host, dims)
            config, hop, target_config, target_hop, why = _rebuild(entry, host, source, target)
            n_atoms = len(target_config.structure) if target_config is not None else len(target.structure)
            if n_atoms > gpaw_settings["max_atoms"]:
                raise LroxInputError(
                    f"check: the {cell} cell holds {n_atoms} atoms, above the GPAW limit of {gpaw_settings['max_atoms']} (gpaw max_atoms); "
                    f"{smaller_cell_hint(target_config.structure if target_config is not None else target.structure, gpaw_settings['max_atoms'])}"
                )
            configurations[entry["configuration_id"]] = entry["configuration"]
            ml = {**entry["settings"], "cell": cell}
            ml_level = entry["level_of_theory"]
            dft = {**gpaw_settings, "cell": cell, "seeded_from": ml_level, "route": route.value}
            if route is CheckRoute.SINGLE_POINTS and endpoints is Endpoints.ML:
                dft["endpoints"] = "ml"
            where = {
                "supercell": cell, "n_atoms": n_atoms, "database_supercell": entry["supercell"], "database_n_atoms": entry["n_atoms"],
                "configuration_id": None if target_config is None else target_config.id, "hop_id": None if target_hop is None else target_hop.id,
            }
            common = {"kind": "neb", "configuration_id": entry["configuration_id"], "hop_id": entry["hop_id"], "cell": where}
            label = f"check {entry['configuration_name']} {entry['hop'].get('start')}->{entry['hop'].get('end')} [{entry['hop_id'].rsplit('-', 1)[-1]}] in the {cell} cell"
            if why is not None:
                for backend, settings, what in (("mlip", ml, "ML"), ("gpaw", dft, "GPAW")):
                    documents.append({**common, "label": f"{label} ({what})", "status": "not_available", "reason": why,
                                      "hop": entry["hop"], "provenance": provenance(backend, settings).model_dump(mode="json")})
                lines.append(f"{entry['hop_id']}: not available in the {cell} cell: {why}")
                continue
            stored_hop = _stored_hop(hop, target_hop)
            echo(f"{label}: ML band ({ml_level}) in the {cell} cell ({n_atoms} atoms; the database's {entry['supercell']} cell has {entry['n_atoms']})")
            relaxed = _ml_relaxed(host, target, target_config, ml, cell, host_relaxed)
            ml_band = _run(_ml_band, relaxed, host, list(dims), target_config, target_hop, ml, f"{label} (ML)")
            documents.append({**ml_band, **common, "hop": stored_hop})
            if ml_band["status"] != "success":
                reason = f"the ML band in the {cell} cell failed ({ml_band.get('reason')}): nothing to seed GPAW from"
                documents.append({**common, "label": f"{label} (GPAW)", "status": "failed", "reason": reason, "hop": stored_hop,
                                  "provenance": provenance("gpaw", dft).model_dump(mode="json")})
                lines.append(f"{entry['hop_id']}: {reason}")
                continue
            seed = {"level": ml_level + f", {cell} cell", "band": _compact(ml_band["images"]), "hop_id": entry["hop_id"], "configuration_id": entry["configuration_id"]}
            echo(f"{label}: GPAW {route.value} ({'ML' if dft.get('endpoints') == 'ml' else 'GPAW-relaxed'} end points), seeded from that band")
            if route is CheckRoute.NEB:
                dft_band = _run(_gpaw_neb, relaxed, host, list(dims), target_config, target_hop, dft, f"{label} (GPAW)", seed)
            else:
                dft_band = _run(_gpaw_single_points, relaxed, host, list(dims), target_config, target_hop, dft, f"{label} (GPAW)", seed, ml_band)
            documents.append({**dft_band, **common, "hop": stored_hop})
            lines.append(_line(entry, ml_band, dft_band, cell))
    result = {
        "screen": f"check in the {cell} cell",
        "configurations": list(configurations.values()),
        "documents": documents,
        "provenance": provenance("gpaw", gpaw_settings).model_dump(mode="json"),
        "min_image_distance": round(target.min_image_distance, 3) if entries else None,
        "source": "lrox check",
    }
    counts, _ = store_result(result, db, source="lrox check")
    return {
        "cell": cell, "route": route.value, "hops": len(entries), "lines": lines, "counts": counts,
        "computed": cache.computed, "reused": cache.reused, "wall_time": time.perf_counter() - started,
    }


def _run(function, *args):
    """A check calculation through the job cache (a finished one is reused), as plain data. Each
    gets its own copy of its inputs: a band fills lazily computed fields of the hop it runs, and
    the next calculation's cache key must not depend on whether this one ran or was reused."""
    import copy

    from workflows.calculators import code_versions
    from workflows.reuse import reuse_or_run
    from workflows.schemas import NebDoc

    backend = "mlip" if function is _ml_band else "gpaw"
    args = copy.deepcopy(args)
    return _as_stored(NebDoc, reuse_or_run(NebDoc, function, *args, versions=code_versions(backend, args[5])))


def _as_stored(document_class, document) -> dict:
    """A document as the job cache gives it back (through JSON): a calculation just finished and
    the same one reused then feed identical inputs (and cache keys) to the calculations after it."""
    import json

    from monty.json import MontyEncoder

    from structures.doors.data import decode_msonable, load_json

    data = decode_msonable(load_json(json.dumps(document.model_dump(), cls=MontyEncoder), "a check result"), "a check result", modules=("workflows",))
    return document_class.model_validate(data).model_dump()


def _compact(images) -> dict:
    from descriptors.records.bands import compact_band
    from structures.doors.structures_in import structure_from_dict

    return compact_band([structure_from_dict(i, "a band image") if isinstance(i, dict) else i for i in images])


def _ml_relaxed(host, target, target_config, ml: dict, cell: str, done: dict) -> dict:
    """The ML-relaxed configuration in the target cell: the pristine host's cell relaxed once, the
    configuration at fixed cell on it (as a screen relaxes them)."""
    from structures.configurations import configuration_from_defects
    from workflows.calculators import code_versions
    from workflows.jobs import relax_structure
    from workflows.reuse import reuse_or_run
    from workflows.schemas import RelaxDoc

    versions = code_versions("mlip", ml)
    key = (cell, ml.get("model"))
    if key not in done:
        pristine = configuration_from_defects(target, [])
        done[key] = _as_stored(RelaxDoc, reuse_or_run(RelaxDoc, relax_structure, pristine.structure, "mlip", ml, f"check: relax pristine in the {cell} cell", None,
                                                      ml.get("relax_host_cell", True), None, versions=versions))
    if not target_config.defects:
        return done[key]
    return _as_stored(RelaxDoc, reuse_or_run(RelaxDoc, relax_structure, target_config.structure, "mlip", ml, f"check: relax {target_config.name} in the {cell} cell", None,
                                             False, done[key], versions=versions))


def _ml_band(relaxed, host, dims, configuration, hop, settings, label):
    from workflows.jobs import hop_neb

    return hop_neb(relaxed, host, dims, configuration, hop, "mlip", settings, label)


def _gpaw_neb(relaxed, host, dims, configuration, hop, settings, label, seed):
    """GPAW end points relaxed from the ML configuration and a CI-NEB started from the ML band."""
    from workflows.jobs import hop_neb

    return hop_neb(relaxed, host, dims, configuration, hop, "gpaw", settings, label, seed)


def _gpaw_single_points(relaxed, host, dims, configuration, hop, settings, label, seed, ml_band):
    """GPAW energies along the ML band: end points GPAW-relaxed (or the ML ones, ``endpoints: ml``),
    the ML band mapped onto them, one SCF per image (each image's SCF starts from the previous
    image's wave functions: one calculator walks the band)."""
    from descriptors.records.bands import band_structures, compact_band
    from structures.framework import DefectFramework
    from structures.hops import hop_endpoints, seeded_band
    from workflows.gpaw_calculators import GpawImageFactory, dft_settings, magnetic_moment_jumps
    from workflows.jobs import _failed, _reason, _structure, dft_threshold, gpaw_log_folder, provenance, relaxed_endpoints
    from workflows.schemas import CalcStatus, NebDoc

    start = time.perf_counter()
    common = {"configuration_id": configuration.id, "hop_id": hop.id, "hop": hop.summary()}
    try:
        ml_images = [_structure(i) for i in ml_band["images"]]
        framework = DefectFramework.from_host(host, tuple(dims))
        structure = _structure(relaxed["structure"])
        end_like = hop_endpoints(framework, configuration, hop, relaxed=structure)[0]
        factory = GpawImageFactory(end_like, dft_settings(settings), gpaw_log_folder(settings, label, "single-points"))
        if settings.get("endpoints") == "ml":
            ends, end_steps = [ml_images[0], ml_images[-1]], [0, 0]
            end_energies, end_moments = [], []
            for image in ends:
                energy, moment = _single_point(image, factory())
                end_energies.append(energy)
                end_moments.append(moment)
        else:
            outcomes = relaxed_endpoints(framework, configuration, hop, structure, factory, settings)
            if any(not o.converged for o in outcomes):
                bad = next(o for o in outcomes if not o.converged)
                return _failed(NebDoc, label, "gpaw", settings, f"GPAW end point not converged in {bad.n_steps} steps", **common)
            ends = [o.structure for o in outcomes]
            end_energies, end_steps = [o.energy for o in outcomes], [o.n_steps for o in outcomes]
            end_moments = factory.magnetic_moments()[:2]
        images = seeded_band(band_structures(seed["band"]), ends[0], ends[1])
        walker = factory()  # one calculator along the band: each SCF restarts from its neighbour's
        inner = [_single_point(image, walker) for image in images[1:-1]]
    except Exception as exc:  # an SCF that did not converge, a cell refused: recorded, never a number
        return _failed(NebDoc, label, "gpaw", settings, _reason(exc), **common)
    energies = [end_energies[0], *[e for e, _ in inner], end_energies[1]]
    band_moments = [end_moments[0], *[m for _, m in inner], end_moments[-1]]
    jumps = magnetic_moment_jumps(band_moments, dft_threshold(settings))
    reason = None
    if jumps:
        reason = "magnetic moment jumps between images " + "; ".join(
            f"{j['images'][0]}->{j['images'][1]}: {j['moments'][0]} -> {j['moments'][1]} μB" for j in jumps
        ) + ": the images are not on one energy surface"
    return NebDoc(
        label=label, status=CalcStatus.SUCCESS if reason is None else CalcStatus.FAILED, reason=reason,
        provenance=provenance("gpaw", settings), energies=energies, images=images, converged=None,
        n_steps=0, force_calls=len(inner) + sum(n + 1 for n in end_steps), endpoint_steps=end_steps, route="single-points",
        seeded_from={k: seed.get(k) for k in ("level", "hop_id", "configuration_id")} | {"mapping": "the ML band on these end points (structures.hops.seeded_band)"},
        start_band=compact_band(images), magnetic_moments=band_moments, scf_iterations=factory.scf_iterations(),
        wall_time=time.perf_counter() - start, **common,
    )


def _single_point(structure, calc) -> tuple[float, float | None]:
    """One GPAW SCF: the energy and the total moment (None without spin)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = calc
    energy = float(atoms.get_potential_energy())
    results = calc.dft.results if getattr(calc, "_dft", None) is not None else {}
    return energy, float(calc.get_magnetic_moment()) if "magmom" in results else None


def _line(entry: dict, ml_band: dict, dft_band: dict, cell: str) -> str:
    from descriptors.physics.barriers import migration_barrier

    def barrier(doc):
        if doc.get("status") != "success" or not doc.get("energies"):
            return None, f"failed ({doc.get('reason')})"
        b = migration_barrier(doc["energies"], converged=doc.get("converged"))
        return b.stable_end, f"{b.stable_end:.3f} eV"

    ml, ml_text = barrier(ml_band)
    dft, dft_text = barrier(dft_band)
    db = entry.get("barrier")
    parts = [f"{entry['hop_id']}: ML {db:.3f} eV in the database's {entry['supercell']} cell" if db is not None else f"{entry['hop_id']}: ML (database cell) -",
             f"ML {ml_text} in the {cell} cell" + (f" ({ml - db:+.3f} from the cell size)" if ml is not None and db is not None else ""),
             f"GPAW {dft_text}" + (f" (GPAW − ML {dft - ml:+.3f} eV)" if dft is not None and ml is not None else "")]
    return "; ".join(parts)
