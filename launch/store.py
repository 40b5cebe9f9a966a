"""The job store the cluster workers write to: opened from a jobflow config file or a jobflow-remote project."""

from __future__ import annotations

from pathlib import Path

from structures.errors import LroxInputError

__all__ = ["job_store_from_file", "job_store_of_project"]


def _connected(store, where: str, timeout_ms: int = 5000):
    try:
        docs = store.docs_store
        if type(docs).__name__ == "MongoStore":  # fail in seconds, not pymongo's default 30 s
            import pymongo

            client = pymongo.MongoClient(docs.host, docs.port, serverSelectionTimeoutMS=timeout_ms, **(docs.mongoclient_kwargs or {}))
            client.admin.command("ping")
            client.close()
        store.connect()
        store.docs_store.count()  # the first real round trip: an unreachable server fails here
    except Exception as exc:  # noqa: BLE001 - maggma/pymongo raise many kinds
        text = str(exc).strip().splitlines()
        raise LroxInputError(f"cannot read the job store of {where}: {(text[0] if text else type(exc).__name__)[:200]}") from None
    return store


def job_store_from_file(path: str | Path):
    """A JobStore from a jobflow config (its ``JOB_STORE`` entry) or from a bare JobStore spec (YAML/JSON)."""
    from jobflow import JobStore

    from structures.safety import MAX_SPEC_BYTES, load_json, load_yaml, read_text

    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise LroxInputError(f"job store file {path} does not exist")
    text = read_text(path, "job store file", MAX_SPEC_BYTES)
    # plain data only: a file never names the classes lrox builds (JobStore.from_dict_spec does)
    spec = load_json(text, f"job store file {path}") if path.suffix == ".json" else load_yaml(text, f"job store file {path}")
    if isinstance(spec, dict) and "JOB_STORE" in spec:
        spec = spec["JOB_STORE"]
    if not isinstance(spec, dict) or "docs_store" not in spec:
        raise LroxInputError(f"job store file {path}: expected a JOB_STORE entry or a JobStore spec with 'docs_store'")
    try:
        store = JobStore.from_dict_spec(spec)
    except Exception as exc:  # noqa: BLE001
        raise LroxInputError(f"job store file {path}: {str(exc).splitlines()[0][:200]}") from None
    return _connected(store, str(path))


def job_store_of_project(name: str | None):
    """The JobStore of a jobflow-remote project (where its workers' outputs land)."""
    from launch.submit import _jobflow_remote_project

    project = _jobflow_remote_project(name)
    return _connected(project.get_jobstore(), f"jobflow-remote project '{project.name}'")
