"""Results into the database: read (one reader per source), extract (one extractor), write (one transaction).

* :func:`store_result`: the local runner's one door into the database (``lrox run``).
* :func:`collect_records` / :func:`ingest`: a results.json, a JSON job store, or a folder of them
  and of VASP run folders (``lrox ingest PATH``).
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
from descriptors.records.readers.vasp import resolve_run_folders, result_from_vasp_tree
from structures.errors import LroxInputError

__all__ = ["IngestBatch", "result_rows", "store_result", "collect_records", "ingest", "collect_from_job_store", "ingest_job_store", "write_batch"]


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
    from structures.safety import MAX_RESULTS_BYTES, regular_file

    path = Path(path)
    if not path.exists():
        raise LroxInputError(f"ingest: {path} does not exist")
    batch = IngestBatch()
    if not path.is_dir():
        regular_file(path, "ingest: results file", MAX_RESULTS_BYTES)  # a FIFO or device is refused, never read
    json_files = [path] if not path.is_dir() else sorted(p for p in path.rglob("*.json*") if p.name.startswith(RESULTS_NAMES))
    for file in json_files:
        try:
            obj = load_results_file(file)
        except LroxInputError as exc:
            if not path.is_dir():
                raise
            batch.problems.append(f"{file}: {exc}")
            continue
        except (OSError, ValueError, EOFError, UnicodeDecodeError) as exc:
            batch.problems.append(f"{file}: not readable JSON ({type(exc).__name__})")
            continue
        results, problems = results_in_file(file, obj, alone=not path.is_dir())
        batch.problems += problems
        for result in results:
            batch.add_result(result, str(file))
    if path.is_dir():
        result, problems = result_from_vasp_tree(path)
        batch.problems += problems
        if result is not None:
            batch.add(records_from_result(result), str(path))
    if path.is_file() and not batch.sources:  # one file, and nothing in it: an error, not a warning
        what = "not a results file (give a results.json, a job-store JSON or a folder)" if path.suffix not in (".json", ".gz") else None
        raise LroxInputError(f"ingest: {f'{path}: {what}' if what else batch.problems[0]}")
    return batch


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


def _unique(rows: list[dict], key: str) -> list[dict]:
    return list({r[key]: r for r in rows}.values())


def _unique_descriptors(rows: list[dict]) -> list[dict]:
    return list({(r["configuration_id"], r["name"], r["subject"], r["level_of_theory"], r["settings_hash"]): r for r in rows}.values())
