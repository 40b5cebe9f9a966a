"""Results files read into normalized results: a local run's ``results.json`` (gzipped or not) or a JSON
dump of a jobflow job store (a list of job documents whose collector outputs are screen results)."""

from __future__ import annotations

from pathlib import Path

from descriptors.records.result import has_blob_references, screen_results_in, validate_result

__all__ = ["load_results_file", "results_in_file", "RESULTS_NAMES"]

RESULTS_NAMES = ("results", "store", "jobstore")  # file-name prefixes a folder's results files start with


def load_results_file(path: Path):
    """A results or job-store JSON (gzipped or not) through the file door: a regular file within the
    size limit, unpacked while streaming within the unpacking limit, bounded nesting."""
    from structures.doors.data import load_json
    from structures.doors.files import MAX_RESULTS_BYTES, read_file_text

    return load_json(read_file_text(path, "results file", MAX_RESULTS_BYTES), f"results file '{path}'")


def results_in_file(file: Path, obj, alone: bool) -> tuple[list[dict], list[str]]:
    """The valid screen results in a loaded results file, and what is wrong with the others.

    ``alone``: the file was named by the user (a file holding no result is then a problem, not
    something a folder scan passes over)."""
    results = screen_results_in(obj)
    if results and has_blob_references(results):
        return [], [
            f"{file}: its arrays (DOS, NEB images) live in the job store's additional store 'data'; "
            "ingest the store itself with 'lrox ingest --job-store CONFIG'"
        ]
    problems = [f"{file}: holds no lrox screen result"] if not results and alone else []
    valid = []
    for result in results:
        problem = validate_result(result)
        if problem:
            problems.append(f"{file}: {problem}; not ingested")
        else:
            valid.append(result)
    return valid, problems
