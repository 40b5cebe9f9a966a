"""The ``lrox`` command line: a thin layer over the library packages.

Every user error ends as one line on stderr (``lrox: error: ...``) and exit
status 2; nothing is written before the inputs are validated.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import warnings
from pathlib import Path

import click

from launch.tables import table_text, tabulate
from structures.doors.text import printable, shown
from structures.errors import LroxInputError

EXIT_USAGE = 2


def _framework(host_name: str, supercell: str | None, min_distance: float | None, max_atoms: int, default_distance: float):
    from structures.framework import framework_for_host
    from structures.hosts import load_host
    from structures.supercell import parse_supercell

    host = load_host(host_name, max_atoms=max_atoms)
    dims = parse_supercell(supercell) if supercell else None
    if dims is None and min_distance is None:
        min_distance = default_distance
    return host, framework_for_host(host, supercell=dims, min_distance=min_distance, max_atoms=max_atoms)


def _number(low: float, high: float, strictly_above: bool = False):
    """A click callback: the option's value must be a finite number in [low, high] (None passes)."""

    def check(ctx, param, value):
        if value is None:
            return None
        from structures.safety import finite

        return finite(value, f"--{param.name.replace('_', '-')}" if param.name != "min_distance" else "--min-image-distance", low, high, strictly_above)

    return check


def _count(low: int, high: int):
    def check(ctx, param, value):
        if value is not None and not low <= value <= high:
            raise LroxInputError(f"--{param.name.replace('_', '-')} must be between {low} and {high}, got {value}")
        return value

    return check


class _Path(click.Path):
    """click's path type, with the file door's name check first: a name no filesystem holds is one
    error line, never an OSError from the first look at it."""

    def convert(self, value, param, ctx):
        from structures.doors.files import check_name

        check_name(value, f"--{param.name.replace('_', '-')}" if param is not None and param.param_type_name == "option" else str(getattr(param, "name", "path")).upper())
        return super().convert(value, param, ctx)


class _OutputFolder(_Path):
    """A folder lrox creates or writes into: its name passes the output door too (no newline, no escape)."""

    def convert(self, value, param, ctx):
        from structures.doors.files import output_name

        output_name(value, param.opts[0] if param is not None and param.param_type_name == "option" else "folder")
        return super().convert(value, param, ctx)


supercell_option = click.option("--supercell", help="Multiples of the conventional cell, e.g. 2x1x2.")
distance_option = click.option(
    "--min-image-distance", "min_distance", type=float, callback=_number(0.0, 100.0, True), help="Smallest allowed distance (Å) between a defect and its image (default 8)."
)
max_atoms_option = click.option("--max-atoms", type=click.IntRange(min=None), default=250, show_default=True, callback=_count(1, 5000), help="Largest supercell allowed.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lrox")
def cli() -> None:
    """lrox: DFT/NEB screening of dopants and vacancies in Li-rich layered oxides."""


@cli.command("hosts")
def hosts_command() -> None:
    """List the built-in host structures."""
    from structures.hosts import BUILTIN_HOSTS

    click.echo(tabulate([(name, text) for name, (text, _) in sorted(BUILTIN_HOSTS.items())], headers=["host", "description"]))


@cli.command("enumerate")
@click.argument("host")
@supercell_option
@distance_option
@max_atoms_option
@click.option("--dopant", "dopants", multiple=True, help="ELEMENT:SUBLATTICE, e.g. Al:tm, Na:li-layer, Mg:tm-layer-li, F:o, Mg:interstitial.")
@click.option("--vacancy", "vacancies", multiple=True, help="Element to remove (O, Li, Mn, TM), optionally EL:SUBLATTICE.")
@click.option("--pair-cutoff", type=float, callback=_number(0.0, 30.0, True), help="Also enumerate defect pairs up to this distance (Å).")
@click.option(
    "--pairs",
    "pair_kinds",
    default="dopant-vacancy,dopant-dopant",
    show_default=True,
    help="Pair kinds: comma-separated from dopant-vacancy, dopant-dopant, vacancy-vacancy.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--write-dir", type=_OutputFolder(file_okay=False, path_type=Path), help="Write DIR/<id>/POSCAR and configuration.json.")
def enumerate_command(host, supercell, min_distance, max_atoms, dopants, vacancies, pair_cutoff, pair_kinds, as_json, write_dir):
    """Symmetry-distinct dopant / vacancy configurations of HOST (a built-in name or a CIF/POSCAR)."""
    from structures.configurations import PairKind, enumerate_configurations
    from structures.sublattices import parse_dopant, parse_vacancy

    dopant_specs = [parse_dopant(d) for d in dopants]
    vacancy_specs = [parse_vacancy(v) for v in vacancies]
    kinds = []
    for kind in filter(None, (k.strip() for k in pair_kinds.split(","))):
        try:
            kinds.append(PairKind(kind))
        except ValueError:
            raise LroxInputError(f"unknown pair kind '{kind}': use dopant-vacancy, dopant-dopant or vacancy-vacancy") from None
    if pair_cutoff is not None and pair_cutoff <= 0:
        raise LroxInputError(f"--pair-cutoff must be positive, got {pair_cutoff}")
    from structures.supercell import DEFAULT_MIN_IMAGE_DISTANCE

    host_obj, framework = _framework(host, supercell, min_distance, max_atoms, default_distance=DEFAULT_MIN_IMAGE_DISTANCE)
    configs = enumerate_configurations(framework, dopant_specs, vacancy_specs, pair_cutoff=pair_cutoff, pair_kinds=tuple(kinds))
    if write_dir is not None:
        _write_configurations(write_dir, host_obj, configs)
    notes = []
    if pair_cutoff is not None and pair_cutoff > framework.min_image_distance / 2:
        notes.append(
            f"pair cutoff {pair_cutoff:g} Å exceeds half the minimum image distance "
            f"({framework.min_image_distance / 2:.2f} Å): such pairs also feel the partner's periodic images"
        )
    if as_json:
        click.echo(json.dumps({
            "host": host_obj.name,
            "supercell": "x".join(map(str, framework.dims)),
            "n_atoms": len(framework.structure),
            "min_image_distance": round(framework.min_image_distance, 4),
            "notes": notes,
            "configurations": [c.summary() for c in configs],
        }, indent=1))
        return
    click.echo(
        f"{host_obj.name}: supercell {'x'.join(map(str, framework.dims))}, {len(framework.structure)} atoms, "
        f"minimum image distance {framework.min_image_distance:.2f} Å, {len(configs)} configurations"
    )
    rows = [
        (
            c.id,
            c.name,
            c.multiplicity,
            c.formula,
            c.n_atoms,
            "" if c.pair_distance is None else f"{c.pair_distance:.3f}",
            "?" if c.charge is None else c.charge["compensation"] + (" !" if c.needs_compensation else ""),
        )
        for c in configs
    ]
    click.echo(tabulate(rows, headers=["id", "configuration", "mult.", "formula", "atoms", "pair Å", "charge bookkeeping (neutral cell)"]))
    if any(c.needs_compensation for c in configs):
        click.echo("'!': carriers that no ion of the cell can take (no formal valence change compensates them)")
    for note in notes:
        click.echo(f"note: {note}")
    if write_dir is not None:
        click.echo(f"wrote {len(configs)} configurations to {write_dir}")


def _write_configurations(directory: Path, host, configs) -> None:
    """``DIR/<id>/{POSCAR,configuration.json}`` for every configuration, built in a staging folder and
    moved in at the end: a failure leaves no half-written tree."""
    import os
    import shutil

    from structures.io import write_configuration

    if directory.exists() and not directory.is_dir():
        raise LroxInputError(f"--write-dir: {directory} exists and is not a folder")
    parent = directory.absolute().parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK) or (directory.exists() and not os.access(directory, os.W_OK | os.X_OK)):
        raise LroxInputError(f"--write-dir: {directory} cannot be written (its folder is missing or read-only)")
    clashes = [c.id for c in configs if (directory / c.id).exists()]
    if clashes:
        raise LroxInputError(f"--write-dir: {directory / clashes[0]} exists; choose a new folder")
    staging = parent / f".{directory.name[:100]}.lrox-tmp{os.getpid()}"
    try:
        for config in configs:
            write_configuration(staging, host, config)
        directory.mkdir(exist_ok=True)
        for config in configs:
            os.replace(staging / config.id, directory / config.id)
    except OSError as exc:
        raise LroxInputError(f"--write-dir: cannot write {directory} ({exc.strerror or exc}); nothing was written") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@cli.command("hops")
@click.argument("source")
@click.option("--cutoff", type=float, default=3.5, show_default=True, callback=_number(0.0, 10.0, True), help="Longest Li–Li hop (Å).")
@click.option("--near-defect", type=float, callback=_number(0.0, 100.0), help="Only hops whose midpoint is this close (Å) to a defect.")
@supercell_option
@distance_option
@max_atoms_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def hops_command(source, cutoff, near_defect, supercell, min_distance, max_atoms, as_json):
    """Symmetry-distinct Li vacancy hops of SOURCE: a host name, a CIF/POSCAR, or a configuration.json."""
    from structures.hops import enumerate_hops
    from structures.io import is_configuration_file, read_configuration

    if cutoff <= 0:
        raise LroxInputError(f"--cutoff must be positive, got {cutoff}")
    if near_defect is not None and near_defect < 0:
        raise LroxInputError(f"--near-defect must not be negative, got {near_defect}")
    configuration = None
    if is_configuration_file(Path(source)):
        framework, configuration = read_configuration(Path(source))
        name = configuration.name
    else:
        # A hop and its periodic image must not both fit under the cutoff.
        host, framework = _framework(source, supercell, min_distance, max_atoms, default_distance=2 * cutoff + 0.1)
        name = host.name
    hops = enumerate_hops(framework, configuration, cutoff=cutoff, max_defect_distance=near_defect)
    if as_json:
        click.echo(json.dumps({"source": source, "configuration": name, "hops": [h.summary() for h in hops]}, indent=1))
        return
    click.echo(f"{name}: supercell {'x'.join(map(str, framework.dims))}, {len(hops)} symmetry-distinct Li hops up to {cutoff} Å")
    rows = [
        (
            h.id.rsplit("-", 1)[-1],
            h.start_label,
            h.end_label,
            f"{h.length:.3f}",
            h.layers,
            h.mechanism.value,
            h.n_tm_label,
            "" if h.distance_to_defect is None else f"{h.distance_to_defect:.2f}",
            h.multiplicity,
        )
        for h in hops
    ]
    click.echo(tabulate(rows, headers=["hop", "from", "to", "Å", "layers", "mech.", "n-TM", "to defect Å", "mult."]))


processes_option = click.option(
    "--processes", type=int, callback=_count(1, 256),
    help="Worker processes (default: the spec's, else one per core for a dry run's bands and inputs).",
)


_core_hours_check = _number(0.0, 1e15, True)  # (a later _number formats numbers for the summary)


def limit_options(function):
    """--limit-configurations and --limit-core-hours: the spec's ``limits``, from the command line."""
    function = click.option(
        "--limit-core-hours", type=float, callback=_core_hours_check,
        help="Refuse a screen whose estimated cost is above this many core-hours (spec: limits.core_hours).",
    )(function)
    return click.option(
        "--limit-configurations", type=int, callback=_count(1, 10**7),
        help="Refuse a screen of more configurations than this (spec: limits.configurations).",
    )(function)


def _apply_options(spec, processes: int | None, limit_configurations: int | None, limit_core_hours: float | None) -> None:
    """The command line's --processes and limits over the spec's settings."""
    from workflows.spec import Backend

    if processes is not None:
        chosen = {Backend.MLIP: spec.mlip, Backend.VASP: spec.vasp, Backend.MOCK: spec.mock}.get(spec.backend)
        if chosen is not None:  # the gpaw backend runs one job at a time (GPAW uses the cores)
            chosen.processes = processes
    if limit_configurations is not None:
        spec.limits.configurations = limit_configurations
    if limit_core_hours is not None:
        spec.limits.core_hours = limit_core_hours


@cli.command("run")
@click.argument("spec_file", metavar="SPEC.yaml")
@click.option("--backend", type=click.Choice(["vasp", "mlip", "mock", "gpaw"]), help="Override the spec's backend.")
@click.option("--dry-run", "dry_run_dir", type=_OutputFolder(file_okay=False, path_type=Path), help="Write every job's inputs here; run nothing.")
@click.option("--db", "db_url", help="Descriptor database URL (default: the spec's 'database', $LROX_DB, or sqlite:///lrox-out/lrox.db).")
@click.option("--json", "as_json", is_flag=True, help="Print the results summary as JSON.")
@click.option("--rerun-failed", is_flag=True, help="Recompute failed jobs instead of reusing their stored outputs.")
@click.option("--seed-path-from", "seed_db", help="VASP, GPAW: seed each NEB with the converged band of the same hop from an ML screen in this database.")
@click.option("--seed-fallback", type=click.Choice(["none", "idpp"]), default="none", show_default=True, help="A hop without an ML band: an error (none), or an IDPP start (idpp).")
@processes_option
@limit_options
def run_command(spec_file, backend, dry_run_dir, db_url, as_json, rerun_failed, seed_db, seed_fallback, processes, limit_configurations, limit_core_hours):
    """Run a screen locally (jobflow), or --dry-run it: write all inputs, count jobs, estimate core-hours."""
    from workflows.calculators import check_model
    from workflows.dryrun import check_limits
    from workflows.flows import plan_screen
    from workflows.spec import Backend, load_spec

    spec = load_spec(spec_file, backend=backend, echo=lambda text: click.echo(text, err=as_json))
    _apply_options(spec, processes, limit_configurations, limit_core_hours)
    seeds, plan, bands, seed_levels = None, None, None, None
    if seed_db is not None:
        if not (spec.backend in (Backend.VASP, Backend.GPAW) or spec.emulates_vasp):
            raise LroxInputError("--seed-path-from seeds DFT bands: use it with --backend vasp or gpaw (or the emulated VASP)")
        from workflows.seeds import seeds_for

        plan = plan_screen(spec, echo=lambda text: click.echo(text, err=True), processes=processes)
        check_limits(spec, plan)
        hops = [(cid, h.id) for cid, hs in plan.hops.items() for h in hs]
        bands, seed_levels, notes = seeds_for(_database(seed_db, read_only=True), hops, seed_fallback, ml_only=spec.backend is Backend.GPAW)
        seeds = {hop: (seed_levels[hop], band) for hop, band in bands.items()}
        for note in notes:
            click.echo(note, err=True)
    if dry_run_dir is not None:
        from workflows.dryrun import dry_run

        summary = dry_run(spec, dry_run_dir, seeds=seeds, processes=processes, echo=lambda text: click.echo(text, err=True), plan=plan)
        if as_json:
            click.echo(json.dumps(summary, indent=1))
            return
        click.echo(summary["cell"])
        for note in summary["notes"]:
            click.echo(note)
        click.echo(
            f"{summary['screen']} ({summary['backend']}): {summary['configurations']} configurations, "
            f"{summary['hops']} hops, {summary['flow_jobs']} jobs in the flow; inputs written to {dry_run_dir} "
            "(index.json maps its folders to configuration ids)"
        )
        kinds = sorted(set(summary["flow_jobs_by_kind"]) | set(summary["jobs_by_kind"]))
        rows = [(k, summary["flow_jobs_by_kind"].get(k, 0), summary["jobs_by_kind"].get(k, 0)) for k in kinds]
        rows.append(("total", summary["flow_jobs"], sum(summary["jobs_by_kind"].values())))
        click.echo(tabulate(rows, headers=["kind", "jobs in the flow", "calculations written"]))
        if summary["backend"] == "vasp" and summary["hops"]:
            click.echo("each NEB job relaxes its two end points when it starts: those relaxations are among the calculations written")
        if seed_db is not None:
            click.echo(f"{summary['seeded_hops']} of {summary['hops']} NEBs seeded with a converged ML band (seed.json in each says from where and how)")
        from workflows.dryrun import about

        click.echo(f"estimated cost: about {about(summary['core_hours_estimate'])} core-hours (model, to its two significant figures: workflows/dryrun.py)")
        return
    if spec.backend is Backend.VASP:
        raise LroxInputError("the vasp backend runs on a cluster: use 'lrox run SPEC --dry-run DIR' here, or submit it")
    if spec.backend is Backend.MLIP:
        check_model(spec.mlip.model)
    if spec.backend is Backend.GPAW:
        from workflows.gpaw_static import GpawUnavailable, check_gpaw

        try:
            check_gpaw()
        except GpawUnavailable as exc:
            raise LroxInputError(str(exc)) from None
    from descriptors.ingest import store_result
    from descriptors.store.database import DescriptorDatabase, safe_url
    from workflows.run import RESULTS_FILE, run_screen, summarise, writable_output

    plan = plan_screen(spec, echo=lambda text: click.echo(text, err=True), processes=processes)  # every configuration and hop, checked before anything is written
    check_limits(spec, plan)
    url = db_url or spec.database
    # a bad URL, or a foreign or unreachable database, fails before any job runs; the database is
    # read (never written, never switched to WAL) until the run has its results
    DescriptorDatabase.check_writable(url or DescriptorDatabase.default_url())
    writable_output(spec)  # then an output folder that cannot be written
    result = run_screen(spec, echo=lambda text: click.echo(text, err=as_json), rerun_failed=rerun_failed, plan=plan, seeds=bands, seed_levels=seed_levels)
    db = DescriptorDatabase(url)
    counts, descriptors = store_result(result, db, source=str(spec.output_dir() / RESULTS_FILE))
    click.echo(f"descriptor database {safe_url(db.url)}: {counts['descriptors']} descriptors, {counts['calculations']} calculations written", err=as_json)
    summary = summarise(result, descriptors)
    if as_json:
        click.echo(json.dumps(summary, indent=1, default=str))
        return
    click.echo(format_summary(summary))


def _number(value, status: str | None = None, flags=()) -> str:
    """A number as a reader must see it: flagged values carry their flags, failed ones say so."""
    if value is None:
        return status or ""
    text = f"{value:.3f}"
    return f"{text} [{', '.join(flags)}]" if flags else text


def format_summary(summary: dict) -> str:
    """The run's summary as two tables: configurations, then every hop with its mechanism and E_KRA."""
    lines = [f"level of theory: {summary['level_of_theory']}; jobs by status: {summary['status_counts']}"]
    if summary.get("stage_times"):
        lines.append("time by stage (s, summed over jobs): " + ", ".join(f"{k} {v:.0f}" for k, v in summary["stage_times"].items()))
    several = len(summary.get("levels", [])) > 1  # a committee: its members' numbers beside its own
    level = (lambda row: [row["level_of_theory"].removeprefix("MLIP ")]) if several else (lambda row: [])  # noqa: E731
    rows = []
    for row in summary["configurations"]:
        ef = row.get("vacancy_formation_energy")
        rows.append((row["id"], row["name"], *level(row), row["relax"], _number(ef, row.get("vacancy_status"), row.get("vacancy_flags", ()))))
    lines.append(tabulate(rows, headers=["id", "configuration", *(["level"] if several else []), "relax", "E_vac eV (O-rich)"], disable_numparse=True))
    hops = []
    for row in summary["configurations"]:
        for b in row["barriers"]:
            observed = b.get("mechanism_observed") or ""
            if b.get("closest_to_vacant_o") is not None:
                observed += f" (closest to V_O {b['closest_to_vacant_o']:.2f} Å)"
            if b.get("route") == "tetrahedral":
                observed += " via tet band"
            hops.append(
                (
                    row["id"].rsplit("-", 1)[-1],
                    *level(row),
                    f"{b.get('start', '?')} -> {b.get('end', '?')}",
                    b.get("mechanism_expected") or "",
                    observed,
                    _number(b.get("e_kra"), b["status"]),
                    _number(b.get("barrier"), b["status"], b.get("flags", ())),
                    "" if b.get("forward") is None else f"{b['forward']:.3f}/{b['reverse']:.3f}",
                    "" if b.get("delta_e_a") is None else f"{b['delta_e_a']:+.3f}",
                )
            )
    if hops:
        lines.append("")
        lines.append(
            tabulate(
                hops,
                headers=["config", *(["level"] if several else []), "hop", "expected", "observed (climbing image)", "E_KRA eV", "barrier eV (stable end)", "fwd/rev eV", "ΔE_a eV"],
                disable_numparse=True,
            )
        )
    return "\n".join(lines)


# ----- clusters: FireWorks and jobflow-remote -------------------------------------------------------
engine_option = click.option("--engine", required=True, help="fireworks or jobflow-remote.")
launchpad_option = click.option("--launchpad", type=_Path(path_type=Path), help="FireWorks my_launchpad.yaml (default: FireWorks' own lookup).")
project_option = click.option("--project", help="jobflow-remote project name (default: its current project).")


@cli.command("submit")
@click.argument("spec_file", metavar="SPEC.yaml")
@engine_option
@launchpad_option
@project_option
@click.option("--worker", help="jobflow-remote worker (default: the project's first).")
@click.option("--backend", type=click.Choice(["vasp", "mlip", "mock", "gpaw"]), help="Override the spec's backend.")
@click.option("--db", "db_url", help="Descriptor database whose finished work is skipped (default: the spec's, $LROX_DB, or lrox-out/lrox.db).")
@limit_options
def submit_command(spec_file, engine, launchpad, project, worker, backend, db_url, limit_configurations, limit_core_hours):
    """Add a screen to a FireWorks LaunchPad or a jobflow-remote queue, skipping work already done or already queued."""
    from descriptors.store.database import DescriptorDatabase
    from launch.submit import parse_engine, submit_screen
    from workflows.spec import load_spec

    engine = parse_engine(engine)
    spec = load_spec(spec_file, backend=backend)
    _apply_options(spec, None, limit_configurations, limit_core_hours)
    from structures.doors.files import kind_of

    if launchpad is not None and kind_of(launchpad, "launchpad file") != "file":
        raise LroxInputError(f"launchpad file {launchpad} does not exist (templates: launch/templates/my_launchpad.yaml)")
    db = _done_work_database(db_url or spec.database or DescriptorDatabase.default_url())
    submission = submit_screen(spec, engine, db=db, launchpad=launchpad, project=project, worker=worker, echo=lambda text: click.echo(text, err=True))
    click.echo(submission.message())


def _done_work_database(url: str):
    """The database whose finished work a submission skips, opened read-only (a submission never
    creates or changes it); None where no SQLite file is there yet (nothing is done)."""
    from descriptors.store.database import DescriptorDatabase
    from structures.doors.databases import parse_url
    from structures.doors.files import kind_of

    backend, _, path = parse_url(url)
    if backend == "sqlite" and (path is None or kind_of(path, "database") == "missing"):
        return None
    return DescriptorDatabase(url, read_only=True)


@cli.command("status")
@click.argument("screen", required=False)
@engine_option
@launchpad_option
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status_command(screen, engine, launchpad, project, as_json):
    """Jobs of SCREEN (default: every lrox screen) by state, and per configuration."""
    from launch.submit import screen_status

    status = screen_status(engine, screen, launchpad=launchpad, project=project)
    states = sorted(status.by_state)
    if as_json:
        click.echo(json.dumps({
            "screen": screen, "engine": status.engine.value, "total": status.total, "by_state": dict(status.by_state),
            "by_configuration": {k: dict(v) for k, v in status.by_configuration.items()},
            "failed": [{"id": i, "name": n} for i, n in status.failed],
        }, indent=1))
        return
    click.echo(f"{screen or 'all lrox screens'} on {status.engine.value}: {status.total} jobs; "
               + ", ".join(f"{s} {status.by_state[s]}" for s in states))
    rows = [(key.rsplit("-", 1)[-1], *[counts.get(s, 0) for s in states]) for key, counts in sorted(status.by_configuration.items())]
    click.echo(tabulate(rows, headers=["configuration", *states]))
    for job_id, name in status.failed:
        click.echo(f"failed: {job_id} {name}")


@cli.command("rerun")
@click.argument("screen", required=False)
@engine_option
@click.option("--failed", "failed_only", is_flag=True, required=True, help="Rerun the failed jobs (the only mode).")
@launchpad_option
@project_option
def rerun_command(screen, engine, failed_only, launchpad, project):
    """Put the failed jobs of SCREEN back in the queue; jobs that finished stay as they are."""
    from launch.submit import rerun_failed

    if not failed_only:
        raise LroxInputError("rerun: give --failed (lrox reruns failed jobs only)")
    ids = rerun_failed(engine, screen, launchpad=launchpad, project=project)
    click.echo(f"{len(ids)} failed jobs put back in the queue" + (f": {', '.join(ids)}" if ids else ""))


# ----- the descriptor database ---------------------------------------------------------------------
db_option = click.option("--db", "db_url", help="Descriptor database URL (default: $LROX_DB or sqlite:///lrox-out/lrox.db).")


class _AnyName:
    def __contains__(self, name) -> bool:
        return True


def _check_syntax(where: str | None) -> None:
    """A filter's syntax, checked before any database is opened (its fields are checked against the table)."""
    if where:
        from descriptors.query.language import parse_filter

        parse_filter(where, fields=_AnyName())


# A read command holds the database's rows (tens of thousands of dicts) until it ends; CPython's
# collector, every 700 allocations, scanned them again and again: 1 s of CPU of the
# 10,000-configuration report's 8 (issue 32). A read command collects less often; main() restores it.
READ_COMMAND_GC_THRESHOLDS = (50_000, 20, 20)


def _database(db_url, read_only: bool = False):
    """The descriptor database; read commands (query, export, plot, report) open it read-only and
    never create or change one."""
    import gc

    from descriptors.store.database import DescriptorDatabase

    if read_only:
        gc.set_threshold(*READ_COMMAND_GC_THRESHOLDS)
    db = DescriptorDatabase(db_url, read_only=read_only)
    _OPENED.append((db, read_only))
    return db


_OPENED: list = []  # (database, read-only) opened through _database by the running command

# the commands that only read databases (their files are written whole before they return)
READ_COMMANDS = frozenset({"query", "report", "export", "plot"})


def console() -> None:
    """The ``lrox`` console script: :func:`main`, then, after a read command (:data:`READ_COMMANDS`)
    that opened its databases read-only, its databases closed, its exit handlers run and its output
    flushed, out without the interpreter's teardown (freeing every module and object it imported:
    about 0.1 s of a 1 s query at 10,000 configurations). Every other command ends the ordinary way."""
    import atexit

    command = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    code = main()
    if command not in READ_COMMANDS or not _OPENED or not all(reading for _, reading in _OPENED):
        sys.exit(code)
    for db, _ in _OPENED:
        db.engine.dispose()  # PostgreSQL sees each connection closed, not dropped
    atexit._run_exitfuncs()  # what the interpreter would run: e.g. a private copy of a database removed
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # a closed pipe (lrox query | head): nothing more to say
            pass
    os._exit(code)


@cli.command("ingest")
@click.argument("path", type=_Path(path_type=Path), required=False)
@db_option
@click.option("--job-store", "job_store", type=_Path(path_type=Path), help="A jobflow config (JOB_STORE) or JobStore YAML: read the screens the workers wrote there.")
@click.option("--project", help="Read the job store of this jobflow-remote project.")
def ingest_command(path, db_url, job_store, project):
    """Read results (a results.json, a jobflow JSON store, VASP run folders, or a workers' job store) into the database."""
    from descriptors.store.database import safe_url
    from descriptors.ingest import collect_from_job_store, ingest_in_batches, ingest_units, write_batch

    if sum(x is not None for x in (path, job_store, project)) != 1:
        raise LroxInputError("ingest: give one of PATH, --job-store FILE or --project NAME")
    from structures.doors.files import exists

    if path is not None and not exists(path, "ingest"):
        raise LroxInputError(f"ingest: {path} does not exist")
    # everything is read and checked first: a bad input never creates or touches the database
    if path is None:
        from launch.store import job_store_from_file, job_store_of_project

        store = job_store_from_file(job_store) if job_store is not None else job_store_of_project(project)
        path = job_store or f"jobflow-remote project {project}"
        batch = collect_from_job_store(store)
        if not batch.sources and not batch.calculations:
            reason = f": {batch.problems[0]}" if batch.problems else ""
            raise LroxInputError(f"ingest: nothing to ingest under {path}{reason}")
        db = _database(db_url)
        counts, problems = write_batch(batch, db), batch.problems
    else:
        # a folder is read one results file or run folder at a time and written in batches (a tree
        # of a thousand configurations in bounded memory, with progress); the database is created
        # at the first write, so a tree with nothing to ingest creates nothing
        from descriptors.store.database import DescriptorDatabase
        from workflows.progress import CountProgress

        units = ingest_units(path)
        DescriptorDatabase.check_writable(db_url or DescriptorDatabase.default_url())  # refused before the reading
        opened = []
        with CountProgress("ingesting", {"files and folders": len(units)}, echo=lambda text: click.echo(text, err=True)) as progress:
            counts, problems, sources = ingest_in_batches(
                units, lambda: opened.append(_database(db_url)) or opened[0], on_unit=lambda _: progress.advance(**{"files and folders": 1})
            )
        if not opened:
            reason = f": {problems[0]}" if problems else ""
            raise LroxInputError(f"ingest: nothing to ingest under {path}{reason}")
        db = opened[0]
    for problem in problems:
        click.echo(f"lrox: warning: {_error_text(problem)}", err=True)
    click.echo(
        f"ingested {counts['configurations']} configurations, {counts['calculations']} calculations, "
        f"{counts['descriptors']} descriptors into {safe_url(db.url)}; {len(problems)} files flagged"
    )


@cli.command("check")
@click.argument("db_url", metavar="DB")
@click.option("--hops", "selection", required=True, help="Hop ids (comma-separated; the last part of an id is enough) or a hop filter, e.g. \"mechanism = V_O-edge\".")
@click.option("--route", type=click.Choice(["single-points", "neb"]), default="single-points", show_default=True,
              help="GPAW single points on the ML band (GPAW-relaxed end points), or a CI-NEB seeded from it.")
@click.option("--cell", default="2x1x1", show_default=True, help="The smaller cell the hops are rebuilt in (2x1x1: 48 atoms for Li2MnO3).")
@click.option("--endpoints", type=click.Choice(["gpaw", "ml"]), default="gpaw", show_default=True, help="single-points: GPAW-relaxed end points, or the ML ones (named in the level).")
@click.option("--gpaw", "gpaw_yaml", help="GPAW settings as YAML/JSON text, e.g. '{mode: pw, ecut: 400, kspacing: 1.0}' (workflows.gpaw_calculators.GpawDftSettings).")
@click.option("--host", "host_path", type=_Path(dir_okay=False), help="The host's structure file, where the database's host is not built in.")
@click.option("--output", "output", type=_OutputFolder(file_okay=False), default="lrox-out/check", show_default=True, help="Folder of finished calculations (reused by the next run).")
def check_command(db_url, selection, route, cell, endpoints, gpaw_yaml, host_path, output):
    """Re-evaluate ML hops of a database with GPAW in a smaller cell; results stored on the same hop ids as their own levels."""
    from descriptors.store.database import DescriptorDatabase, safe_url
    from structures.doors.data import load_yaml
    from workflows.check import check_hops
    from workflows.gpaw_static import GpawUnavailable, check_gpaw

    gpaw = load_yaml(gpaw_yaml, "--gpaw") if gpaw_yaml else None
    if gpaw is not None and not isinstance(gpaw, dict):
        raise LroxInputError("--gpaw: give a mapping of GPAW settings, e.g. '{mode: pw, kspacing: 1.0}'")
    try:
        check_gpaw()
    except GpawUnavailable as exc:
        raise LroxInputError(str(exc)) from None
    DescriptorDatabase.check_writable(db_url)
    _database(db_url, read_only=True).engine.dispose()  # an lrox database that exists: a check never creates one
    db = DescriptorDatabase(db_url, create=False)
    summary = check_hops(db, selection, route=route, cell=cell, gpaw=gpaw, endpoints=endpoints, output=output, host_path=host_path,
                         echo=lambda text: click.echo(text, err=True))
    click.echo(f"checked {summary['hops']} hops in the {summary['cell']} cell ({summary['route']}); "
               f"{summary['computed']} calculations run, {summary['reused']} reused from {output}/jobs")
    for line in summary["lines"]:
        click.echo(line)
    click.echo(f"stored in {safe_url(db.url)} as their own levels ('lrox query hops' shows them beside the ML level)")


@cli.command("query")
@click.argument("view", required=False, default="configurations", type=click.Choice(["configurations", "hops", "levels"]))
@db_option
@click.option("--where", help="Filter, e.g. \"barrier@7net-0 < 0.5\" or, for hops, \"mechanism = TSH and n_tm <= 1\" (fields: descriptors/query.py).")
@click.option("--sort", help="Field to sort by; prefix '-' for descending.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
@click.option("--oxygen", help="T,pO2 (K, atm): re-evaluate E_f(V_O) there as e_vac_o_tp, e.g. 1173,0.21.")
def query_command(view, db_url, where, sort, as_json, as_csv, oxygen):
    """Configurations with every level side by side (default), the hop table, or the levels and their aliases."""
    if as_json and as_csv:
        raise LroxInputError("query: choose one of --json and --csv")
    _check_syntax(where)
    db = _database(db_url, read_only=True)
    if view == "levels":
        from descriptors.query.levels import level_aliases

        if where or sort or oxygen:
            raise LroxInputError("query levels: takes no --where, --sort or --oxygen")
        rows, columns = level_aliases(db), ["alias", "level_of_theory", "settings_hash", "backend", "n_descriptors", "first_ingested"]
        shown = columns[:5]
    elif view == "hops":
        from descriptors.query.hops import HOP_VIEW_FIELDS, query_hops

        if oxygen:
            raise LroxInputError("query hops: --oxygen applies to the configuration view")
        shown = ["calculation_id", "configuration", "level", "start", "end", "mechanism_expected", "mechanism_observed", "n_tm",
                 "distance_to_defect", "e_kra", "barrier", "delta_e_a", "twin_group", "n_twins", "status", "flags"]
        rows, columns = query_hops(db, where, sort, fields=None if (as_json or as_csv) else shown), list(HOP_VIEW_FIELDS)
        if any(r.get("compared_with") for r in rows):  # lrox check's levels: each beside the level it checks
            shown[shown.index("delta_e_a") + 1 : shown.index("delta_e_a") + 1] = ["compared_with", "barrier_difference"]
        if not (as_json or as_csv):  # the twin group by its representative hop's short hash (the full id in --json/--csv)
            for row in rows:
                row["twin_group"] = str(row.get("twin_group") or "").rsplit("-", 1)[-1]
    else:
        from descriptors.query.configurations import parse_oxygen, query

        conditions = parse_oxygen(oxygen) if oxygen is not None else None
        wanted = ("barrier", "e_kra_min", "e_vac_o", "e_vac_o_tp", "o2p_center_vbm", "li_slab_spacing")
        # the printed table reads these fields (JSON and CSV every field)
        table = query(db, where, sort, oxygen=conditions, fields=None if (as_json or as_csv) else (*wanted, "n_flagged", "n_failed"))
        rows, columns = table.rows, table.columns
        if len(table.aliases) <= 1:
            wanted = (*wanted, "n_flagged", "n_failed")
        shown = ["id", "name", *[c for c in columns if c.split("@")[0] in wanted]]
        if conditions is None:
            shown = [c for c in shown if not c.startswith("e_vac_o_tp")]
    if as_json:
        click.echo(json.dumps(rows, indent=1, default=str))
    elif as_csv:
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        click.echo(buffer.getvalue().rstrip("\n"))
    else:
        click.echo(table_text(_cells(rows, shown), shown, floatfmt=".3f"))
        note = "; 'lrox plot neb CALCULATION_ID OUT.png' draws a profile (a committee has none: plot a member's)"
        click.echo(f"{len(rows)} rows" + (note if view == "hops" and rows else ""))


def _cells(rows: list[dict], shown: list[str]) -> list[list]:
    """The printed table's cells: each row's values of the shown columns (None where it has none)."""
    from operator import itemgetter

    if len(shown) > 1:
        get = itemgetter(*shown)
        try:
            return [list(get(r)) for r in rows]
        except KeyError:
            pass
    return [[r.get(c) for c in shown] for r in rows]


@cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "parquet"]), help="Format of the configuration view.")
@click.option("--features", "features", is_flag=True, help="Write the ML feature table instead (one row per hop, parquet).")
@click.argument("out", type=_Path(dir_okay=False, path_type=Path))
@db_option
@click.option("--where", help="Filter, as for 'lrox query' (for --features: the hop fields).")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
def export_command(fmt, features, out, db_url, where, overwrite):
    """Write the configuration view (csv, json or parquet), or with --features the per-hop feature table."""
    _check_syntax(where)
    if features:
        from descriptors.report.features import write_features

        if fmt not in (None, "parquet"):
            raise LroxInputError("export --features writes parquet only")
        n = write_features(_database(db_url, read_only=True), out, where=where, overwrite=overwrite)
        click.echo(f"wrote {n} hops with their configurations' descriptors to {out} (units and levels in the parquet metadata, key 'lrox')")
        return
    if fmt is None:
        raise LroxInputError("export: give --format csv|json|parquet, or --features")
    from descriptors.query.export import export

    n = export(_database(db_url, read_only=True), out, fmt, where=where, overwrite=overwrite)
    click.echo(f"wrote {n} rows to {out}")


@cli.command("report")
@click.argument("out", type=_Path(dir_okay=False, path_type=Path))
@db_option
@click.option("--where", help="Only these configurations (configuration-view filter, as for 'lrox query').")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
def report_command(out, db_url, where, overwrite):
    """A self-contained HTML report: each design rule tested on the database, with data, figure, statistic and verdict."""
    _check_syntax(where)
    from descriptors.report.html import write_report

    write_report(_database(db_url, read_only=True), out, where=where, overwrite=overwrite)
    click.echo(f"wrote {out}")


@cli.group("plot")
def plot_group():
    """Figures: an NEB profile, or one descriptor against another."""


@plot_group.command("neb")
@click.argument("calc_id", metavar="ID")
@click.argument("out", type=_Path(dir_okay=False, path_type=Path))
@db_option
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
def plot_neb_command(calc_id, out, db_url, overwrite):
    """Energy profile of an NEB (ID: calculation id, a unique prefix, or the hop id)."""
    from descriptors.report.plots import plot_neb

    plot_neb(_database(db_url, read_only=True).calculation(calc_id), out, overwrite=overwrite)
    click.echo(f"wrote {out}")


@plot_group.command("scatter")
@click.argument("x")
@click.argument("y")
@click.argument("out", type=_Path(dir_okay=False, path_type=Path))
@db_option
@click.option("--where", help="Filter, as for 'lrox query'.")
@click.option("--colour", "--color", "colour", default="dopant", show_default=True, help="Field that colours the points.")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
def plot_scatter_command(x, y, out, db_url, where, colour, overwrite):
    """Y against X for every configuration that has both (e.g. li_slab_spacing barrier)."""
    _check_syntax(where)
    from descriptors.report.plots import plot_scatter
    from descriptors.query.configurations import query

    plot_scatter(query(_database(db_url, read_only=True), where), x, y, out, colour=colour, overwrite=overwrite)
    click.echo(f"wrote {out}")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    from structures.errors import LroxWarning

    if issubclass(category, LroxWarning):
        click.echo(f"lrox: warning: {_error_text(message)}", err=True)
    else:
        click.echo(f"{category.__name__}: {_error_text(message)}", err=True)


def _error_text(message) -> str:
    """An error or warning as it is shown: one line, credentials masked, escapes visible (the text door)."""
    return shown(message, 4000)  # cut before it is redacted: two megabytes of arguments cost milliseconds


class _PrintableStream:
    """stdout/stderr while a command runs: every control or escape character anything echoes (a
    value a user typed, a name from a file or a database) shown as a visible escape, never sent to
    the terminal. Tabs and newlines pass."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        return self._stream.write(printable(text) if isinstance(text, str) else text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def _printable_output():
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _PrintableStream(sys.stdout), _PrintableStream(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the command, turning every input error into one line and exit status 2."""
    args = sys.argv[1:] if argv is None else list(argv)
    from structures.errors import LroxWarning

    if not os.environ.get("LROX_SHOW_WARNINGS"):
        # pymatgen/spglib noise about inputs stays out; lrox's own warnings (a run that did not
        # converge, a structure that could not be symmetrised) always reach the user
        warnings.simplefilter("ignore")
    warnings.filterwarnings("always", category=LroxWarning)
    warnings.showwarning = _show_warning
    import gc

    thresholds = gc.get_threshold()  # a read command raises them (READ_COMMAND_GC_THRESHOLDS): this process's own again after it
    _OPENED.clear()  # this command's databases only
    try:
        with _printable_output():
            return _main(args)
    finally:
        gc.set_threshold(*thresholds)


def _main(args: list[str]) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        result = cli.main(args=args, prog_name="lrox", standalone_mode=False)
    except LroxInputError as exc:
        click.echo(f"lrox: error: {_error_text(exc)}", err=True)
        return EXIT_USAGE
    except OSError as exc:  # the system refused a file operation no door foresaw: still one line
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        click.echo(f"lrox: error: {_error_text((exc.strerror or str(exc)) + where)}", err=True)
        return EXIT_USAGE
    except SQLAlchemyError as exc:  # a database refused a statement no door foresaw: its driver's first line
        from structures.doors.databases import reason

        click.echo(f"lrox: error: {_error_text('database: ' + reason(exc))}", err=True)
        return EXIT_USAGE
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        return 0
    except click.ClickException as exc:
        click.echo(f"lrox: error: {_error_text(exc.format_message())}", err=True)
        return EXIT_USAGE
    except click.exceptions.Abort:
        click.echo("lrox: error: aborted", err=True)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
