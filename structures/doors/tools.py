"""The door for other tools' configuration files: a FireWorks LaunchPad file, a jobflow job store
(``--job-store``: a jobflow config's ``JOB_STORE`` or a bare JobStore spec) and a jobflow-remote
project's stores.

Those tools would build whatever a file names (``JobStore.from_dict_spec`` takes any maggma
``Store`` subclass by its ``type``; a LaunchPad file sets ``logdir``, where FireWorks then writes
logs; maggma's JSONStore creates the files it names unless read-only, and decodes their dates with
MontyDecoder). Here each file is read through the file and data doors (size, no YAML aliases), and
lrox builds the objects itself from an allow-list:

* LaunchPad: ``host``, ``port``, ``name``, ``username``, ``password``, ``authsource``, ``uri_mode``,
  ``user_indices``, ``wf_user_indices``, ``strm_lvl`` and a few pymongo client options; ``logdir``
  only as null (FireWorks logs nowhere; lrox prints its own summary). Any other key is refused.
* Job store: stores of the types ``MongoStore``, ``MongoURIStore``, ``GridFSStore``,
  ``GridFSURIStore`` (connection keys only) and ``JSONStore``, whose files lrox reads through the
  file door into an in-memory store (never written, never created, nothing decoded). No other
  store type, no other key.
* Client options, in ``mongoclient_kwargs`` or in a URI's own query (``mongodb://h/?tlsCAFile=...``,
  read case-insensitively as pymongo reads them), from one allow-list; an option that names a file
  (``tlsCAFile``, ``tlsCertificateKeyFile``) names a regular file, judged by the file door before
  pymongo opens it (a FIFO would block the connection forever).

A refusal is one :class:`LroxInputError` naming the file and the key.
"""

from __future__ import annotations

from pathlib import Path

from structures.doors.data import load_json, load_yaml
from structures.doors.files import MAX_RESULTS_BYTES, MAX_SPEC_BYTES, kind_of, read_file_text
from structures.doors.text import shown
from structures.errors import LroxInputError

__all__ = [
    "read_config_file",
    "launchpad_settings",
    "launchpad_from_file",
    "job_store_from_spec",
    "check_job_store_spec",
    "job_store_from_file",
    "check_store_spec",
    "jobflow_remote_project",
    "job_store_of_project",
]

# pymongo client options a configuration may set: connection and TLS, nothing that runs or writes
_CLIENT_OPTIONS = {
    "tls", "ssl", "tlsAllowInvalidCertificates", "tlsAllowInvalidHostnames", "tlsCAFile", "tlsCertificateKeyFile", "tlsInsecure",
    "authMechanism", "serverSelectionTimeoutMS", "connectTimeoutMS", "socketTimeoutMS", "retryWrites", "retryReads",
    "replicaSet", "directConnection", "appname", "readPreference", "w", "maxPoolSize", "authSource",
}
_LAUNCHPAD_KEYS = {"host", "port", "name", "username", "password", "authsource", "uri_mode", "user_indices", "wf_user_indices",
                   "strm_lvl", "logdir", "mongoclient_kwargs"}
_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
_MONGO_KEYS = {"database", "collection_name", "host", "port", "username", "password", "auth_source", "mongoclient_kwargs", "key",
               "safe_update", "last_updated_field", "validator"}
_STORE_KEYS = {
    "MongoStore": _MONGO_KEYS,
    "MongoURIStore": {"uri", "database", "collection_name", "mongoclient_kwargs", "key", "safe_update", "last_updated_field"},
    "GridFSStore": _MONGO_KEYS | {"compression", "ensure_metadata", "searchable_fields"},
    "GridFSURIStore": {"uri", "database", "collection_name", "mongoclient_kwargs", "key", "compression", "ensure_metadata", "searchable_fields"},
    "JSONStore": {"paths", "read_only", "key", "last_updated_field"},
}
_JOB_STORE_KEYS = {"docs_store", "additional_stores", "save", "load"}


def read_config_file(path: str | Path, what: str):
    """A YAML or JSON configuration file as plain data (size-limited, no aliases)."""
    path = Path(path)
    if kind_of(path, what, follow=False) == "missing":
        raise LroxInputError(f"{what} {shown(path)} does not exist")
    text = read_file_text(path, what, MAX_SPEC_BYTES)
    return load_json(text, f"{what} {shown(path)}") if path.suffix.lower() == ".json" else load_yaml(text, f"{what} {shown(path)}")


def _scalar(value) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


_CLIENT_OPTIONS_FOLDED = {option.lower(): option for option in _CLIENT_OPTIONS}


def _option_file(key: str, value, where: str) -> None:
    """A client option that names a file (a TLS certificate or key): pymongo opens it itself, so the
    file door judges it first (a FIFO would block the connection forever, a device never end)."""
    from structures.doors.files import regular_file

    if key.lower().endswith("file"):
        if not isinstance(value, str) or not value:
            raise LroxInputError(f"{where}: {shown(key, 40)} must name a file")
        regular_file(value, f"{where}: {shown(key, 40)}", MAX_SPEC_BYTES)


def _client_options(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise LroxInputError(f"{where}: mongoclient_kwargs must be a mapping")
    for key, option in value.items():
        if key not in _CLIENT_OPTIONS or not _scalar(option):
            raise LroxInputError(f"{where}: mongoclient_kwargs.{shown(key, 40)} is not a client option lrox passes on")
        _option_file(key, option, where)
    return dict(value)


def _uri_options(uri, where: str) -> None:
    """A MongoDB URI's own options (``?tlsCAFile=...&...``) are client options too: the same
    allow-list, the same file door; pymongo reads them case-insensitively."""
    from urllib.parse import parse_qsl, urlsplit

    if not isinstance(uri, str):
        raise LroxInputError(f"{where}: the URI must be text")
    try:
        options = parse_qsl(urlsplit(uri).query, keep_blank_values=True)
    except ValueError:
        raise LroxInputError(f"{where}: the URI is not a MongoDB URI") from None
    for key, value in options:
        if key.lower() not in _CLIENT_OPTIONS_FOLDED:
            raise LroxInputError(f"{where}: the URI option {shown(key, 40)} is not a client option lrox passes on")
        _option_file(key, value, where)


def launchpad_settings(data, where: str) -> dict:
    """The keyword arguments of a LaunchPad, from a file's plain data (see the module docstring)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise LroxInputError(f"{where} must be a mapping of LaunchPad settings")
    unknown = sorted(str(k) for k in set(data) - _LAUNCHPAD_KEYS)
    if unknown:
        raise LroxInputError(f"{where}: unknown key '{shown(unknown[0], 40)}' (a LaunchPad file takes {', '.join(sorted(_LAUNCHPAD_KEYS))})")
    if data.get("logdir") is not None:
        raise LroxInputError(f"{where}: logdir must be null; lrox does not let a LaunchPad file choose a folder to write logs in")
    settings = {}
    for key in ("host", "name", "username", "password", "authsource"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise LroxInputError(f"{where}: {key} must be text")
        settings[key] = value
    port = data.get("port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
        raise LroxInputError(f"{where}: port must be a number from 1 to 65535")
    settings["port"] = port
    uri_mode = data.get("uri_mode", False)
    if not isinstance(uri_mode, bool):
        raise LroxInputError(f"{where}: uri_mode must be true or false")
    settings["uri_mode"] = uri_mode
    for key in ("user_indices", "wf_user_indices"):
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise LroxInputError(f"{where}: {key} must be a list of field names")
        settings[key] = value
    level = str(data.get("strm_lvl") or "WARNING").upper()
    if level not in _LEVELS:
        raise LroxInputError(f"{where}: strm_lvl must be one of {', '.join(sorted(_LEVELS))}")
    settings["strm_lvl"] = level
    settings["logdir"] = None
    settings["mongoclient_kwargs"] = _client_options(data.get("mongoclient_kwargs"), where)
    if uri_mode and settings["host"]:
        _uri_options(settings["host"], where)
    return settings


def launchpad_from_file(path: str | Path | None):
    """A FireWorks LaunchPad from a my_launchpad.yaml (or FireWorks' own default location, else
    FireWorks' defaults), built by lrox from the allow-listed keys."""
    from fireworks import LaunchPad

    if path is None:
        from fireworks.fw_config import LAUNCHPAD_LOC

        path = LAUNCHPAD_LOC
        if not path:
            return LaunchPad(**launchpad_settings({}, "FireWorks' default LaunchPad"))
    where = f"launchpad file {shown(path)}"
    settings = launchpad_settings(read_config_file(path, "launchpad file"), where)
    try:
        return LaunchPad(**settings)
    except Exception as exc:  # noqa: BLE001 - pymongo's errors for a malformed host
        text = str(exc).strip().splitlines()
        raise LroxInputError(f"{where} is not a valid LaunchPad file: {shown(text[0] if text else type(exc).__name__, 200)}") from None


def check_store_spec(spec, where: str) -> dict:
    """A maggma store's spec, if its type and every key are on the allow-list."""
    if not isinstance(spec, dict):
        raise LroxInputError(f"{where} must be a mapping with a 'type'")
    kind = spec.get("type")
    if kind not in _STORE_KEYS:
        raise LroxInputError(f"{where}: store type {shown(kind, 40)!r} is not one lrox opens ({', '.join(sorted(_STORE_KEYS))})")
    unknown = sorted(str(k) for k in set(spec) - _STORE_KEYS[kind] - {"type"})
    if unknown:
        raise LroxInputError(f"{where}: {kind} key '{shown(unknown[0], 40)}' is not one lrox passes on")
    for key, value in spec.items():
        if key in ("mongoclient_kwargs",):
            _client_options(value, where)
        elif key == "uri":
            _uri_options(value, where)
        elif key == "searchable_fields" or key == "paths":
            values = value if isinstance(value, list) else [value]
            if not all(isinstance(v, str) for v in values):
                raise LroxInputError(f"{where}: {key} must be text")
        elif not _scalar(value):
            raise LroxInputError(f"{where}: {key} must be a single value")
    if kind == "JSONStore" and spec.get("read_only", True) is not True:
        raise LroxInputError(f"{where}: a JSONStore lrox reads is read-only (read_only: false would let the file choose a file to write)")
    return spec


def _json_store(spec: dict, where: str):
    """An in-memory store holding the documents of a JSONStore's files, read through the file door."""
    from maggma.stores import MemoryStore

    paths = spec["paths"] if isinstance(spec["paths"], list) else [spec["paths"]]
    documents = []
    for path in paths:
        data = load_json(read_file_text(path, f"{where}: JSON file", MAX_RESULTS_BYTES), f"{where}: JSON file {shown(path)}")
        documents += data if isinstance(data, list) else [data]
    if not all(isinstance(d, dict) for d in documents):
        raise LroxInputError(f"{where}: a JSONStore file must hold documents (mappings)")

    class LoadedStore(MemoryStore):
        def connect(self, force_reset: bool = False):
            fresh = self._coll is None or force_reset
            super().connect(force_reset)
            if fresh and documents:
                self._coll.insert_many([dict(d) for d in documents])

    return LoadedStore(collection_name=f"lrox-json-{abs(hash(tuple(map(str, paths))))}", **({"key": spec["key"]} if "key" in spec else {}))


def _store(spec: dict, where: str):
    from maggma import stores

    spec = check_store_spec(spec, where)
    kind = spec["type"]
    kwargs = {k: v for k, v in spec.items() if k != "type"}
    if kind == "JSONStore":
        return _json_store(spec, where)
    try:
        return getattr(stores, kind)(**kwargs)
    except Exception as exc:  # noqa: BLE001
        raise LroxInputError(f"{where}: {shown(exc, 200)}") from None


def check_job_store_spec(spec, where: str) -> dict:
    """A JobStore spec, if its keys and every store in it are on the allow-list (nothing is built)."""
    if not isinstance(spec, dict) or "docs_store" not in spec:
        raise LroxInputError(f"{where}: expected a JOB_STORE entry or a JobStore spec with 'docs_store'")
    unknown = sorted(str(k) for k in set(spec) - _JOB_STORE_KEYS)
    if unknown:
        raise LroxInputError(f"{where}: unknown key '{shown(unknown[0], 40)}' (a JobStore spec takes {', '.join(sorted(_JOB_STORE_KEYS))})")
    check_store_spec(spec["docs_store"], f"{where}: docs_store")
    extra = spec.get("additional_stores") or {}
    if not isinstance(extra, dict):
        raise LroxInputError(f"{where}: additional_stores must be a mapping of names to stores")
    for name, value in extra.items():
        check_store_spec(value, f"{where}: additional_stores.{shown(name, 30)}")
    for key in ("save", "load"):
        value = spec.get(key)
        if value is not None and not (isinstance(value, bool) or isinstance(value, dict) and all(isinstance(k, str) for k in value)):
            raise LroxInputError(f"{where}: {key} must be true/false or a mapping of store names")
    return spec


def job_store_from_spec(spec, where: str):
    """A jobflow JobStore from a spec's plain data: every store checked against the allow-list and built by lrox."""
    from jobflow import JobStore

    spec = check_job_store_spec(spec, where)
    docs = _store(spec["docs_store"], f"{where}: docs_store")
    extra = spec.get("additional_stores") or {}
    additional = {str(name): _store(value, f"{where}: additional_stores.{shown(name, 30)}") for name, value in extra.items()}
    return JobStore(docs, additional_stores=additional, save=spec.get("save"), load=spec.get("load") or False)


def job_store_from_file(path: str | Path):
    """A JobStore from a jobflow config (its ``JOB_STORE`` entry) or a bare JobStore spec (YAML/JSON)."""
    where = f"job store file {shown(path)}"
    data = read_config_file(path, "job store file")
    if isinstance(data, dict) and "JOB_STORE" in data:
        data = data["JOB_STORE"]
    return job_store_from_spec(data, where)


def jobflow_remote_project(name: str | None):
    """A jobflow-remote Project read from its projects folder through the doors (as its ConfigManager
    would, without ruamel's alias expansion), its queue store and job store checked against the
    allow-list. Files that do not parse as a project are passed over, as jobflow-remote does."""
    try:
        from jobflow_remote import SETTINGS
        from jobflow_remote.config.base import Project
    except ImportError:
        raise LroxInputError("jobflow-remote is not installed: pip install 'lrox[cluster]'") from None
    import tomllib

    folder = Path(SETTINGS.projects_folder)
    projects, passed_over, refused = {}, [], []
    if kind_of(folder, "jobflow-remote projects folder") == "directory":
        for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in (".yaml", ".json", ".toml")):
            try:
                text = read_file_text(path, "jobflow-remote project file", MAX_SPEC_BYTES)
                data = tomllib.loads(text) if path.suffix.lower() == ".toml" else load_json(text, path.name) if path.suffix.lower() == ".json" else load_yaml(text, path.name)
                _check_project_stores(data, path.name)  # before jobflow-remote's own validation, which builds its stores
            except LroxInputError as exc:  # refused by a door: said, whichever project was asked for
                refused.append(str(exc))
                continue
            except (ValueError, TypeError) as exc:
                passed_over.append(f"{path.name} ({shown(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 80)})")
                continue
            try:
                project = Project.model_validate(data)
            except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
                passed_over.append(f"{path.name} ({shown(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 80)})")
                continue
            if project.name in projects:
                raise LroxInputError(f"two jobflow-remote projects are named '{shown(project.name, 40)}' in {shown(folder)}")
            projects[project.name] = project
    wanted = name or SETTINGS.project or (next(iter(projects)) if len(projects) == 1 else None)
    if (wanted is None or wanted not in projects) and refused:
        raise LroxInputError(f"jobflow-remote project '{shown(name or '(default)', 40)}': {refused[0]}")
    if wanted is None or wanted not in projects:
        skipped = f"; passed over: {', '.join(passed_over[:3])}" if passed_over else ""
        raise LroxInputError(
            f"jobflow-remote project '{shown(name or wanted or '(default)', 40)}': no such project in {shown(folder)} "
            f"(known: {', '.join(sorted(projects)) or 'none'}){skipped}"
        )
    return projects[wanted]


def _check_project_stores(data, where: str) -> None:
    """A project's queue store and job stores on the allow-list (its raw data, before anything is built)."""
    if not isinstance(data, dict):
        raise ValueError("not a mapping")
    queue = data.get("queue") or {}
    if isinstance(queue, dict) and "store" in queue:
        check_store_spec(queue["store"], f"{where}: queue.store")
    if data.get("jobstore"):
        check_job_store_spec(data["jobstore"], f"{where}: jobstore")
    for key, spec in (data.get("optional_jobstores") or {}).items():
        check_job_store_spec(spec, f"{where}: optional_jobstores.{shown(key, 30)}")


def job_store_of_project(project):
    """The JobStore a jobflow-remote project's workers write, built from its allow-listed spec."""
    return job_store_from_spec(project.jobstore, f"jobflow-remote project '{shown(project.name, 40)}': jobstore")
