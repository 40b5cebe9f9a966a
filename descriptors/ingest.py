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

__all__ = ["IngestBatch", "collect_records", "ingest", "collect_from_job_store", "ingest_job_store", "write_batch"]


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
    """A results or job-store JSON (gzipped or not): a regular file within the size limit, bounded nesting."""
    from structures.safety import MAX_RESULTS_BYTES, load_json, read_text, regular_file

    if path.suffix == ".gz":
        regular_file(path, "results file", MAX_RESULTS_BYTES)
        with gzip.open(path, "rb") as handle:
            data = handle.read(MAX_RESULTS_BYTES + 1)
        if len(data) > MAX_RESULTS_BYTES:
            raise LroxInputError(f"results file '{path}' unpacks to more than {MAX_RESULTS_BYTES / 2**30:.0f} GiB")
        text = data.decode("utf-8")
    else:
        text = read_text(path, "results file", MAX_RESULTS_BYTES)
    return load_json(text, f"results file '{path}'")


_KINDS = {"relax", "static", "bader", "neb", "reference"}
_STATUSES = {"success", "failed", "not_available"}


def validate_result(result: dict) -> str | None:
    """What is wrong with a screen result's content, or None: every configuration a mapping whose
    id matches its content digest, every document a mapping of a known kind and status, at least
    one document. A refused result is reported, never inserted as a junk configuration."""
    from structures.configurations import summary_digest

    configurations, documents = result.get("configurations"), result.get("documents")
    if not isinstance(configurations, list) or not isinstance(documents, list):
        return "'configurations' and 'documents' must be lists"
    if not documents:
        return "holds no calculations (an empty document list)"
    ids = set()
    for config in configurations:
        if not isinstance(config, dict) or not isinstance(config.get("id"), str) or not isinstance(config.get("defects", []), list):
            return "a configuration is not a mapping with an id and a list of defects"
        if not all(isinstance(d, dict) for d in config.get("defects", [])):
            return f"configuration {config['id'][:40]}: a defect is not a mapping"
        digest = config.get("digest")
        if digest is not None and digest != summary_digest(config):
            return f"configuration {config['id'][:40]}: its id and content do not match its digest (edited or corrupted)"
        ids.add(config["id"])
    for doc in documents:
        if not isinstance(doc, dict):
            return "a document is not a mapping"
        if doc.get("kind") not in _KINDS or str(getattr(doc.get("status"), "value", doc.get("status"))) not in _STATUSES:
            return f"a document of kind {str(doc.get('kind'))[:20]!r} and status {str(doc.get('status'))[:20]!r} is not an lrox calculation"
        if doc.get("configuration_id") is not None and doc["configuration_id"] not in ids:
            return f"a document names configuration {str(doc['configuration_id'])[:40]}, which the result does not describe"
        if not isinstance(doc.get("provenance") or {}, dict):
            return "a document's provenance is not a mapping"
    return None


def _has_blob_references(node, depth: int = 0) -> bool:
    """Whether a document still holds jobflow references to an additional store (not loaded)."""
    if depth > 50:
        return False
    if isinstance(node, dict):
        return "blob_uuid" in node or any(_has_blob_references(v, depth + 1) for v in node.values())
    if isinstance(node, list):
        return any(_has_blob_references(v, depth + 1) for v in node)
    return False


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
    if not path.is_dir():
        from structures.safety import MAX_RESULTS_BYTES, regular_file

        regular_file(path, "ingest: results file", MAX_RESULTS_BYTES)  # a FIFO or device is refused, never read
    json_files = [path] if not path.is_dir() else sorted(p for p in path.rglob("*.json*") if p.name.startswith(("results", "store", "jobstore")))
    for file in json_files:
        try:
            obj = _load_json(file)
        except LroxInputError as exc:
            if not path.is_dir():
                raise
            batch.problems.append(f"{file}: {exc}")
            continue
        except (OSError, ValueError, EOFError, UnicodeDecodeError) as exc:
            batch.problems.append(f"{file}: not readable JSON ({type(exc).__name__})")
            continue
        results = _screen_results_in(obj)
        if results and _has_blob_references(results):
            batch.problems.append(
                f"{file}: its arrays (DOS, NEB images) live in the job store's additional store 'data'; "
                "ingest the store itself with 'lrox ingest --job-store CONFIG'"
            )
            continue
        if not results and not path.is_dir():
            batch.problems.append(f"{file}: holds no lrox screen result")
        for result in results:
            problem = validate_result(result)
            if problem:
                batch.problems.append(f"{file}: {problem}; not ingested")
                continue
            try:
                batch.add(records_from_result(result, source=str(file)), str(file))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                batch.problems.append(f"{file}: malformed screen result ({type(exc).__name__}: {str(exc)[:120]})")
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
        problem = validate_result(output)
        if problem:
            batch.problems.append(f"{source}: {problem}; not ingested")
            continue
        try:
            batch.add(records_from_result(output, source=source), source)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            batch.problems.append(f"{source}: malformed screen result ({type(exc).__name__}: {str(exc)[:120]})")
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
    """Write a collected batch in one transaction; returns row counts."""
    if not (batch.configurations or batch.calculations or batch.descriptors):
        return {"configurations": 0, "calculations": 0, "descriptors": 0}
    # a configuration referenced by a row must exist: runs of unknown structures carry their own
    return db.write(_unique(batch.configurations, "id"), _unique(batch.calculations, "id"), _unique_descriptors(batch.descriptors))


def _unique(rows: list[dict], key: str) -> list[dict]:
    return list({r[key]: r for r in rows}.values())


def _unique_descriptors(rows: list[dict]) -> list[dict]:
    return list({(r["configuration_id"], r["name"], r["subject"], r["level_of_theory"], r["settings_hash"]): r for r in rows}.values())
