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

__all__ = ["KINDS", "STATUSES", "is_screen_result", "screen_results_in", "has_blob_references", "validate_result", "numbers_problem", "structures_problem", "checked_numbers"]

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
    from descriptors.records.schema import DATA_SHAPE, SUMMARY_SHAPE
    from structures.configurations import summary_digest
    from structures.doors.databases import shape_problem

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
        problem = shape_problem(config, SUMMARY_SHAPE)  # what the database door would refuse to read back
        if problem:
            return f"configuration {config['id'][:40]}: {problem}"
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
        provenance = doc.get("provenance") or {}
        if not isinstance(provenance, dict) or not all(isinstance(provenance.get(k) or {}, dict) for k in ("settings", "code_versions")):
            return "a document's provenance (or its settings or code versions) is not a mapping"
        if not isinstance(doc.get("data") or {}, dict):
            return "a document's data is not a mapping"
        for where, part in (("", doc), ("data.", doc.get("data") or {})):  # what a calculation row keeps, as the database door reads it back
            problem = shape_problem({k: part.get(k) for k in ("hop", "band")}, DATA_SHAPE)
            if problem:
                return f"a document's {where}{problem}"
    return None


# ----- the numbers a document holds ----------------------------------------------------------------------
def _n_sites(structure) -> int | None:
    if isinstance(structure, dict) and isinstance(structure.get("sites"), list):
        return len(structure["sites"])
    return len(structure) if hasattr(structure, "sites") else None


def numbers_problem(doc: dict) -> str | None:
    """Why a document's numbers are not a calculation's (non-finite, or outside any physical range:
    the number door's bounds), or None. Energies are judged per atom where the atom count is known."""
    from structures.doors.numbers import MAX_ATOMS, MAX_FORCE, energy_problem, values_problem

    data = doc.get("data") if isinstance(doc.get("data"), dict) else {}
    structure = doc.get("structure", data.get("structure"))
    images = doc.get("images") or []
    n_atoms = doc.get("n_atoms") or data.get("n_atoms") or _n_sites(structure) or (_n_sites(images[0]) if images else None)
    n_atoms = n_atoms if isinstance(n_atoms, int) and not isinstance(n_atoms, bool) and 0 < n_atoms <= MAX_ATOMS else MAX_ATOMS
    for source in (doc, data):
        for name in ("energy",):
            problem = energy_problem(source.get(name), n_atoms, name)
            if problem:
                return problem
        problem = energy_problem(source.get("energy_per_atom"), 1, "energy per atom")
        if problem:
            return problem
        energies = source.get("energies")
        if isinstance(energies, list):
            problem = next((p for e in energies if (p := energy_problem(e, n_atoms, "image energy"))), None)
            if problem:
                return problem
        for name, bound in (("max_force", MAX_FORCE), ("efermi", 1e3), ("charges", 1e2)):
            if name in source and not isinstance(source[name], (dict, str)):
                problem = values_problem(source[name], name.replace("_", " "), bound)
                if problem:
                    return problem
    for route in doc.get("routes") or []:
        if isinstance(route, dict) and isinstance(route.get("energies"), list):
            problem = next((p for e in route["energies"] if (p := energy_problem(e, n_atoms, "band energy"))), None)
            if problem:
                return problem
    return structures_problem(doc)


def structures_problem(doc: dict) -> str | None:
    """Why a document's structure or band images are not structures lrox can build, or None."""
    from structures.doors.numbers import structure_dict_problem

    data = doc.get("data") if isinstance(doc.get("data"), dict) else {}
    structure = doc.get("structure", data.get("structure"))
    images = doc.get("images") or []
    if isinstance(structure, dict):
        problem = structure_dict_problem(structure, "structure")
        if problem:
            return problem
    for k, image in enumerate(images if isinstance(images, list) else []):
        if isinstance(image, dict):
            problem = structure_dict_problem(image, f"image {k}")
            if problem:
                return problem
    return None


def _without_profiles_that_are_not_numbers(doc: dict) -> dict:
    """A failed document's image energies and reaction coordinate left out where they hold anything
    but numbers (text, true/false): kept, they would be a stored value no reader takes for a number."""
    from descriptors.records.schema import DATA_SHAPE
    from structures.doors.databases import shape_problem

    def kept(part: dict) -> dict:
        return {k: v for k, v in part.items() if k not in ("energies", "r") or not shape_problem(v, DATA_SHAPE[k])}

    doc = kept(doc)
    if isinstance(doc.get("data"), dict):
        doc["data"] = kept(doc["data"])
    return doc


def checked_numbers(result: dict) -> dict:
    """The result with every document whose numbers are not a calculation's stored as failed with the
    reason, its unusable structures left out (so nothing downstream builds them); a failed
    document keeps its own reason."""
    documents = []
    for doc in result.get("documents", []):
        problem = numbers_problem(doc) if isinstance(doc, dict) else None
        if problem:
            failed = str(getattr(doc.get("status"), "value", doc.get("status"))) != "success"
            doc = {**doc, "status": "failed", "reason": doc.get("reason") if failed and doc.get("reason") else problem}
            if structures_problem(doc):
                doc["structure"], doc["images"] = None, None
                if isinstance(doc.get("data"), dict):
                    doc["data"] = {k: v for k, v in doc["data"].items() if k != "structure"}
            doc = _without_profiles_that_are_not_numbers(doc)
        documents.append(doc)
    return {**result, "documents": documents}
