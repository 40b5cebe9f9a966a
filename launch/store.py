"""The job store the cluster workers write to: opened from a jobflow config file or a jobflow-remote project."""

from __future__ import annotations

from pathlib import Path

from structures.errors import LroxInputError

__all__ = ["job_store_from_file", "job_store_of_project"]


def _probe(store, timeout_ms: int) -> None:
    """Reach a MongoDB-backed store (by host or by URI; GridFS too) within ``timeout_ms``, never pymongo's
    default 30 s: lrox's timeout is a keyword, which wins over the file's options and its URI's query."""
    import pymongo

    if getattr(store, "uri", None):
        target = (store.uri,)
    elif getattr(store, "host", None):
        target = (store.host, getattr(store, "port", None))
    else:  # a JSON store read into memory: nothing to reach
        return
    options = dict(getattr(store, "mongoclient_kwargs", None) or {})
    options["serverSelectionTimeoutMS"] = min(int(options.get("serverSelectionTimeoutMS") or timeout_ms), timeout_ms)
    client = pymongo.MongoClient(*target, **options)
    try:
        client.admin.command("ping")
    finally:
        client.close()


def _connected(store, where: str, timeout_ms: int = 5000):
    try:
        for each in (store.docs_store, *(getattr(store, "additional_stores", None) or {}).values()):
            _probe(each, timeout_ms)
        store.connect()
        store.docs_store.count()  # the first real round trip: an unreachable server fails here
    except Exception as exc:  # noqa: BLE001 - maggma/pymongo raise many kinds
        text = str(exc).strip().splitlines()
        raise LroxInputError(f"cannot read the job store of {where}: {(text[0] if text else type(exc).__name__)[:200]}") from None
    return store


def job_store_from_file(path: str | Path):
    """A JobStore from a jobflow config (its ``JOB_STORE`` entry) or from a bare JobStore spec (YAML/JSON),
    built by the tools door from an allow-list of store types and keys (a file never names a class,
    a file to create or a file to write)."""
    from structures.doors import tools

    return _connected(tools.job_store_from_file(Path(path)), str(path))


def job_store_of_project(name: str | None):
    """The JobStore of a jobflow-remote project (where its workers' outputs land), built the same way."""
    from structures.doors import tools

    project = tools.jobflow_remote_project(name)
    return _connected(tools.job_store_of_project(project), f"jobflow-remote project '{project.name}'")
