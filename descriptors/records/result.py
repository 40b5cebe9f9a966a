"""The normalized screen result: the one shape every reader produces and the extractor reads.

It is the shape a local run already writes (``workflows.schemas.ScreenResult``, as plain data)::

    {"screen": name or None, "configurations": [Configuration.summary(), ...],
     "documents": [{"kind", "status", "reason", "label", "configuration_id", "hop_id",
                    "provenance": {"backend", "level_of_theory", "settings_hash", "settings",
                                   "code_versions", "o2_correction"}, ...the kind's numbers}],
     "provenance", "oxygen", "min_image_distance", "source"}

A reader may add to a document what it read from files (``from_run_folder``: a VASP run folder's
``dos`` and ``band_edges``, or ``dos_error``, and its ``bader`` charges), say what identifies its calculation (``key``, default the
label) and where it came from (``source``), state what its calculation row keeps (``data``), and
mark a run it found on disk without lrox's job document (``found_on_disk``). Nothing in a
normalized result is a file still to be read.
"""

from __future__ import annotations

__all__ = ["KINDS", "STATUSES", "is_screen_result", "screen_results_in", "has_blob_references", "validate_result"]

KINDS = {"relax", "static", "bader", "neb", "reference"}
STATUSES = {"success", "failed", "not_available"}


def is_screen_result(obj) -> bool:
    return isinstance(obj, dict) and "documents" in obj and "configurations" in obj and "level_of_theory" in obj


def screen_results_in(obj) -> list[dict]:
    """ScreenResults in a results.json, or in a jobflow JobStore dump (a list of job documents)."""
    if is_screen_result(obj):
        return [obj]
    if isinstance(obj, list):
        found = []
        for doc in obj:
            output = doc.get("output") if isinstance(doc, dict) else None
            if is_screen_result(output):
                found.append(output)
        return found
    return []


def has_blob_references(node, depth: int = 0) -> bool:
    """Whether a document still holds jobflow references to an additional store (not loaded)."""
    if depth > 50:
        return False
    if isinstance(node, dict):
        return "blob_uuid" in node or any(has_blob_references(v, depth + 1) for v in node.values())
    if isinstance(node, list):
        return any(has_blob_references(v, depth + 1) for v in node)
    return False


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
        if doc.get("kind") not in KINDS or str(getattr(doc.get("status"), "value", doc.get("status"))) not in STATUSES:
            return f"a document of kind {str(doc.get('kind'))[:20]!r} and status {str(doc.get('status'))[:20]!r} is not an lrox calculation"
        if doc.get("configuration_id") is not None and doc["configuration_id"] not in ids:
            return f"a document names configuration {str(doc['configuration_id'])[:40]}, which the result does not describe"
        if not isinstance(doc.get("provenance") or {}, dict):
            return "a document's provenance is not a mapping"
    return None
