"""A jobflow JobStore (the cluster workers' outputs) read into normalized results: every screen result its
collector jobs wrote, older outputs of a screen first, so a rerun's newer output wins."""

from __future__ import annotations

from descriptors.records.result import is_screen_result, validate_result

__all__ = ["results_in_job_store"]


def results_in_job_store(store, screen: str | None = None) -> tuple[list[tuple[dict, str]], list[str]]:
    """[(result, source)] of the collector outputs in ``store`` (of one screen if named), and problems."""
    criteria = {"metadata.kind": "collect"}
    if screen:
        criteria["metadata.lrox_screen"] = screen
    found, problems = [], []
    for doc in store.query(criteria, load=True, sort={"completed_at": 1}):
        output = doc.get("output")
        source = f"job store {doc.get('uuid')} (index {doc.get('index')})"
        if not is_screen_result(output):
            problems.append(f"{source}: holds no lrox screen result")
            continue
        problem = validate_result(output)
        if problem:
            problems.append(f"{source}: {problem}; not ingested")
            continue
        found.append((output, source))
    return found, problems
