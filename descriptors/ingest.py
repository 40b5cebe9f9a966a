"""Results into the database: read (one reader per source), extract (one extractor), write (one transaction).

* :func:`store_result`: the local runner's one door into the database (``lrox run``).
* :func:`collect_records` / :func:`ingest`: a results.json, a JSON job store, or a folder of them
  and of VASP run folders, held whole and written in one transaction.
* :func:`ingest_units` / :func:`ingest_in_batches`: the same sources read one unit at a time (a
  results file, one VASP run folder) and written in batches (``lrox ingest PATH``): a tree of a
  thousand configurations' run folders is ingested with progress and in bounded memory.
* :func:`collect_from_job_store` / :func:`ingest_job_store`: a jobflow JobStore (``lrox ingest
  --job-store``, ``--project``).

A file that cannot be read is reported by name in ``problems`` and skipped, and everything else is
still ingested.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from descriptors.records.extractor import records_from_result
from descriptors.records.hops import hop_rows
from descriptors.records.readers.jobstore import results_in_job_store
from descriptors.records.readers.results import RESULTS_NAMES, load_results_file, results_in_file
from descriptors.records.readers.vasp import resolve_run_folders, result_from_vasp_tree, result_of_vasp_folder, vasp_run_folders
from structures.errors import LroxInputError

__all__ = [
    "IngestBatch",
    "result_rows",
    "store_result",
    "collect_records",
    "ingest",
    "collect_from_job_store",
    "ingest_job_store",
    "write_batch",
    "rederive",
    "ingest_units",
    "ingest_in_batches",
]


@dataclass
class IngestBatch:
    configurations: list[dict] = field(default_factory=list)
    calculations: list[dict] = field(default_factory=list)
    descriptors: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "path: what is wrong"
    sources: list[str] = field(default_factory=list)

    def add(self, records: tuple[list, list, list], source: str) -> None:
        configs, calcs, descriptors = records
        self.configurations += configs
        self.calculations += calcs
        self.descriptors += descriptors
        self.sources.append(source)

    def add_result(self, result: dict, source: str) -> None:
        """One normalized result's rows; a result the extractor cannot read is a problem, not a crash."""
        try:
            self.add(result_rows(result, source), source)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.problems.append(f"{source}: malformed screen result ({type(exc).__name__}: {str(exc)[:120]})")


def result_rows(result: dict, source: str = "") -> tuple[list[dict], list[dict], list[dict]]:
    """(configuration, calculation, descriptor) rows of a run's result, its run folders read."""
    return records_from_result(resolve_run_folders(result), source=source)


def store_result(result: dict, db, source: str) -> tuple[dict, list[dict]]:
    """A local run's result into the database in one transaction: (row counts, its descriptor rows)."""
    configurations, calculations, descriptors = result_rows(result, source)
    return write_batch(IngestBatch(configurations, calculations, descriptors), db), descriptors


def collect_records(path: str | Path) -> IngestBatch:
    """Every record under ``path`` (a results.json, a JSON job store, a folder of runs or of VASP folders)."""
    from structures.doors.files import MAX_RESULTS_BYTES, kind_of, regular_file

    path = Path(path)
    kind = kind_of(path, "ingest")
    if kind == "missing":
        raise LroxInputError(f"ingest: {path} does not exist")
    batch = IngestBatch()
    folder = kind == "directory"
    if not folder:
        regular_file(path, "ingest: results file", MAX_RESULTS_BYTES)  # a FIFO or device is refused, never read
    json_files = [path] if not folder else sorted(p for p in path.rglob("*.json*") if p.name.startswith(RESULTS_NAMES))
    for file in json_files:
        try:
            obj = load_results_file(file)
        except LroxInputError as exc:
            if not folder:
                raise
            batch.problems.append(f"{file}: {exc}")
            continue
        except (OSError, ValueError, EOFError, UnicodeDecodeError) as exc:
            batch.problems.append(f"{file}: not readable JSON ({type(exc).__name__})")
            continue
        results, problems = results_in_file(file, obj, alone=not folder)
        batch.problems += problems
        for result in results:
            batch.add_result(result, str(file))
    if folder:
        result, problems = result_from_vasp_tree(path)
        batch.problems += problems
        if result is not None:
            batch.add(records_from_result(result), str(path))
    if not folder and not batch.sources:  # one file, and nothing in it: an error, not a warning
        what = "not a results file (give a results.json, a job-store JSON or a folder)" if path.suffix not in (".json", ".gz") else None
        raise LroxInputError(f"ingest: {f'{path}: {what}' if what else batch.problems[0]}")
    return batch


def ingest_units(path: str | Path) -> list:
    """What ``lrox ingest PATH`` reads, one unit at a time: each a zero-argument callable that reads
    its unit (a results file, one VASP run or NEB folder) into an :class:`IngestBatch`. Only names
    are listed here (the count is the progress bar's total); a single file named by the user that
    holds nothing is refused when it is read, before anything is written."""
    from structures.doors.files import MAX_RESULTS_BYTES, kind_of, regular_file

    path = Path(path)
    kind = kind_of(path, "ingest")
    if kind == "missing":
        raise LroxInputError(f"ingest: {path} does not exist")
    if kind != "directory":
        regular_file(path, "ingest: results file", MAX_RESULTS_BYTES)  # a FIFO or device is refused, never read
        return [lambda: collect_records(path)]
    json_files = sorted(p for p in path.rglob("*.json*") if p.name.startswith(RESULTS_NAMES))
    return [*(lambda file=file: _results_file_batch(file) for file in json_files),
            *(lambda folder=folder, kind=kind: _vasp_folder_batch(path, folder, kind) for folder, kind in vasp_run_folders(path))]


def _results_file_batch(file: Path) -> IngestBatch:
    batch = IngestBatch()
    try:
        obj = load_results_file(file)
    except LroxInputError as exc:
        batch.problems.append(f"{file}: {exc}")
        return batch
    except (OSError, ValueError, EOFError, UnicodeDecodeError) as exc:
        batch.problems.append(f"{file}: not readable JSON ({type(exc).__name__})")
        return batch
    results, batch.problems = results_in_file(file, obj, alone=False)
    for result in results:
        batch.add_result(result, str(file))
    return batch


def _vasp_folder_batch(root: Path, folder: Path, kind: str) -> IngestBatch:
    batch = IngestBatch()
    result, batch.problems = result_of_vasp_folder(root, folder, kind)
    if result is not None:
        batch.add(records_from_result(result), str(root))
    return batch


def ingest_in_batches(units: list, open_database, batch_configurations: int = 200, on_unit=None) -> tuple[dict, list[str], int]:
    """Read ``units`` (:func:`ingest_units`) one at a time and write their rows in batches of about
    ``batch_configurations`` configurations, each batch in one transaction (a unit's rows never
    split across two, so its hop rows are derived whole). ``open_database`` is called at the first
    write: nothing found, nothing created. ``on_unit(batch)`` follows each unit read (progress).
    Returns (row counts, problems, sources read)."""
    totals = {"configurations": 0, "calculations": 0, "descriptors": 0}
    configurations: set[str] = set()  # a configuration's folders may fall in two batches: counted once
    problems: list[str] = []
    pending, db, sources = IngestBatch(), None, 0

    def flush():
        nonlocal pending, db
        if pending.configurations or pending.calculations or pending.descriptors:
            db = db if db is not None else open_database()
            for name, n in write_batch(pending, db).items():
                totals[name] += n
            configurations.update(c["id"] for c in pending.configurations)
            totals["configurations"] = len(configurations)
        pending = IngestBatch()

    for unit in units:
        batch = unit()
        problems += batch.problems
        sources += len(batch.sources)
        pending.configurations += batch.configurations
        pending.calculations += batch.calculations
        pending.descriptors += batch.descriptors
        if on_unit is not None:
            on_unit(batch)
        if len({c["id"] for c in pending.configurations}) >= batch_configurations:
            flush()
    flush()
    return totals, problems, sources


def collect_from_job_store(store, screen: str | None = None) -> IngestBatch:
    """Every screen result the collector jobs wrote to a jobflow JobStore (cluster workers' outputs)."""
    batch = IngestBatch()
    results, batch.problems = results_in_job_store(store, screen)
    for result, source in results:
        batch.add_result(result, source)
    return batch


def ingest_job_store(store, db, screen: str | None = None) -> tuple[IngestBatch, dict]:
    """Collect the screens in a JobStore and write them in one transaction."""
    batch = collect_from_job_store(store, screen)
    return batch, write_batch(batch, db)


def ingest(path: str | Path, db) -> tuple[IngestBatch, dict]:
    """Collect records under ``path`` and write them in one transaction; returns the batch and row counts."""
    batch = collect_records(path)
    return batch, write_batch(batch, db)


def write_batch(batch: IngestBatch, db) -> dict:
    """Write a collected batch, and the hop table's rows derived from it, in one transaction; returns row counts."""
    if not (batch.configurations or batch.calculations or batch.descriptors):
        return {"configurations": 0, "calculations": 0, "descriptors": 0}
    # a configuration referenced by a row must exist: runs of unknown structures carry their own
    configurations, calculations = _unique(batch.configurations, "id"), _unique(batch.calculations, "id")
    descriptors = _unique_descriptors(batch.descriptors)
    return db.write(configurations, calculations, descriptors, hop_rows(configurations, calculations, descriptors))


def rederive(source, target) -> dict:
    """A stored database's barrier rows derived again by this lrox from the calculations it holds,
    into ``target`` (a new database): the mechanism from each stored band, both saddles, ΔE_a against
    the parent configuration, and the hop table with the twins' energies. Every other row (energies
    of vacancies, geometry, electronic descriptors: what a calculation row cannot give again) is
    copied as stored. Nothing reruns; returns the target's row counts."""
    from descriptors.records.readers.database import REDERIVED, results_from_rows
    from descriptors.store.tables import CalculationRow, ConfigurationRow, DescriptorRow

    configurations, calculations, descriptors = source.rows(ConfigurationRow), source.rows(CalculationRow), source.rows(DescriptorRow)
    batch = IngestBatch(configurations=[{k: v for k, v in c.items()} for c in configurations])
    rederived_calcs, rederived_rows = {}, []
    for result in results_from_rows(configurations, calculations, descriptors):
        _, calcs, rows = records_from_result(result, source="")
        kept = {c["id"]: c for c in calcs if c["kind"] == "neb"}
        rederived_calcs.update(kept)
        rederived_rows += [r for r in rows if r["name"] in REDERIVED]
    stored = {c["id"]: c for c in calculations}
    for calc_id, calc in rederived_calcs.items():  # the stored row, with its data derived again
        stored[calc_id] = {**stored[calc_id], "data": calc["data"]} if calc_id in stored else calc
    batch.calculations = [{k: v for k, v in c.items() if k != "ingested_at"} for c in stored.values()]
    batch.descriptors = [{k: v for k, v in d.items() if k != "id"} for d in descriptors if d["name"] not in REDERIVED] + rederived_rows
    return write_batch(batch, target)


def _unique(rows: list[dict], key: str) -> list[dict]:
    return list({r[key]: r for r in rows}.values())


def _unique_descriptors(rows: list[dict]) -> list[dict]:
    return list({(r["configuration_id"], r["name"], r["subject"], r["level_of_theory"], r["settings_hash"]): r for r in rows}.values())
