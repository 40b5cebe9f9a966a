"""Reading results into database rows: a finished local run, a jobflow/atomate2 JSON store, or VASP run folders.

Every source becomes (configurations, calculations, descriptors) rows through the same
functions; a file that cannot be read is reported by name in ``problems`` and skipped, and
everything else is still ingested.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

from structures.errors import LroxInputError

__all__ = ["IngestBatch", "collect_records", "ingest", "collect_from_job_store", "ingest_job_store"]


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


def _load_json(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        return json.load(handle)


def _is_screen_result(obj) -> bool:
    return isinstance(obj, dict) and "documents" in obj and "configurations" in obj and "level_of_theory" in obj


def _screen_results_in(obj) -> list[dict]:
    """ScreenResults in a results.json, or in a jobflow JobStore dump (a list of job documents)."""
    if _is_screen_result(obj):
        return [obj]
    if isinstance(obj, list):
        found = []
        for doc in obj:
            output = doc.get("output") if isinstance(doc, dict) else None
            if _is_screen_result(output):
                found.append(output)
        return found
    return []


def collect_records(path: str | Path) -> IngestBatch:
    """Every record under ``path`` (a results.json, a JSON job store, a folder of runs or of VASP folders)."""
    from descriptors.extract import records_from_result

    path = Path(path)
    if not path.exists():
        raise LroxInputError(f"ingest: {path} does not exist")
    batch = IngestBatch()
    json_files = [path] if path.is_file() else sorted(p for p in path.rglob("*.json*") if p.name.startswith(("results", "store", "jobstore")))
    for file in json_files:
        try:
            obj = _load_json(file)
        except (OSError, ValueError, EOFError, UnicodeDecodeError) as exc:
            batch.problems.append(f"{file}: not readable JSON ({type(exc).__name__})")
            continue
        results = _screen_results_in(obj)
        if not results and path.is_file():
            batch.problems.append(f"{file}: holds no lrox screen result")
        for result in results:
            try:
                batch.add(records_from_result(result, source=str(file)), str(file))
            except (KeyError, TypeError, ValueError) as exc:
                batch.problems.append(f"{file}: malformed screen result ({exc})")
    if path.is_dir():
        from descriptors.vasp_dirs import records_from_vasp_tree

        records, problems = records_from_vasp_tree(path)
        batch.problems += problems
        if any(records):
            batch.add(records, str(path))
    if path.is_file() and not batch.sources:  # one file, and nothing in it: an error, not a warning
        what = "not a results file (give a results.json, a job-store JSON or a folder)" if path.suffix not in (".json", ".gz") else None
        raise LroxInputError(f"ingest: {f'{path}: {what}' if what else batch.problems[0]}")
    return batch


def collect_from_job_store(store, screen: str | None = None) -> IngestBatch:
    """Every screen result the collector jobs wrote to a jobflow JobStore (cluster workers' outputs).

    Older outputs of the same screen come first, so a rerun's newer collector output wins.
    """
    from descriptors.extract import records_from_result

    batch = IngestBatch()
    criteria = {"metadata.kind": "collect"}
    if screen:
        criteria["metadata.lrox_screen"] = screen
    for doc in store.query(criteria, load=True, sort={"completed_at": 1}):
        output = doc.get("output")
        source = f"job store {doc.get('uuid')} (index {doc.get('index')})"
        if not _is_screen_result(output):
            batch.problems.append(f"{source}: holds no lrox screen result")
            continue
        try:
            batch.add(records_from_result(output, source=source), source)
        except (KeyError, TypeError, ValueError) as exc:
            batch.problems.append(f"{source}: malformed screen result ({exc})")
    return batch


def ingest_job_store(store, db, screen: str | None = None) -> tuple[IngestBatch, dict]:
    """Collect the screens in a JobStore and write them in one transaction."""
    return _write(collect_from_job_store(store, screen), db)


def ingest(path: str | Path, db) -> tuple[IngestBatch, dict]:
    """Collect records under ``path`` and write them in one transaction; returns the batch and row counts."""
    return _write(collect_records(path), db)


def _write(batch: IngestBatch, db) -> tuple[IngestBatch, dict]:
    if not (batch.configurations or batch.calculations or batch.descriptors):
        return batch, {"configurations": 0, "calculations": 0, "descriptors": 0}
    # a configuration referenced by a row must exist: runs of unknown structures carry their own
    return batch, db.write(_unique(batch.configurations, "id"), _unique(batch.calculations, "id"), _unique_descriptors(batch.descriptors))


def _unique(rows: list[dict], key: str) -> list[dict]:
    return list({r[key]: r for r in rows}.values())


def _unique_descriptors(rows: list[dict]) -> list[dict]:
    return list({(r["configuration_id"], r["name"], r["subject"], r["level_of_theory"], r["settings_hash"]): r for r in rows}.values())
