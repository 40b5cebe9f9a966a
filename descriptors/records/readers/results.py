"""Results files read into normalized results: a local run's ``results.json`` (gzipped or not) or a JSON
dump of a jobflow job store (a list of job documents whose collector outputs are screen results)."""

from __future__ import annotations

import gzip
from pathlib import Path

from descriptors.records.result import has_blob_references, screen_results_in, validate_result
from structures.errors import LroxInputError

__all__ = ["load_results_file", "results_in_file", "RESULTS_NAMES"]

RESULTS_NAMES = ("results", "store", "jobstore")  # file-name prefixes a folder's results files start with


def load_results_file(path: Path):
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
