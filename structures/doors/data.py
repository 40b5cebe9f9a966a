"""The door for data in files: JSON, YAML and the classes a file names.

* :func:`load_json`: JSON into plain data, nesting bounded (a deeply nested document is one error
  line, never a RecursionError); numbers too long to be numbers are refused (``finite=True``: and
  any number that is not finite, as in a database's JSON column); the memory the parsed
  data would take is estimated from the text first (every ``{``/``[`` a container, every ``,``/``:``
  a value: counted at C speed) and a document that would take more than :data:`MAX_JSON_MEMORY` is
  refused before it is parsed (40 MB of ``[],`` would otherwise build 1.3 GiB of empty lists).
* :func:`load_yaml`: YAML through a safe loader (plain data only: no tags that build objects), with
  anchors and aliases refused before anything expands (a billion-laughs file costs its own size),
  nesting bounded, every mapping key text (as in JSON: ``1:``, ``null:`` or ``no:`` is refused, never
  read as a number, None or False); libyaml parses where it is installed.
* :func:`decode_msonable`: what monty's ``MontyDecoder`` does, for an allow-list only: lrox's own
  classes and pymatgen's structure and electronic-structure classes (each resolved and checked to be
  a data class defined there before anything is decoded), numpy arrays, dates and UUIDs. A file that
  names any other module (``"@module": "os"``), a callable, or a class from elsewhere re-exported
  under an allowed name is refused before anything is imported or called.
* :func:`plain`: Python data (numpy scalars and arrays, enums, MSONable objects) as JSON data, with
  non-finite numbers as ``None``: what a database's JSON column may hold.
"""

from __future__ import annotations

import json
import math
import re

from structures.errors import LroxInputError

__all__ = ["MAX_NESTING", "MAX_JSON_MEMORY", "MAX_YAML_BYTES", "json_memory_estimate", "load_json", "load_yaml", "decode_msonable", "check_decodable", "nesting", "plain", "ALLOWED_MODULES"]

MAX_NESTING = 200  # JSON/YAML/query nesting
MAX_SITES = 5000  # as numbers.MAX_ATOMS: no structure (or molecule) a file names is built beyond it
# what parsed JSON may take: an empty container costs about 64 bytes and its reference 8, a value
# (a float, a short string) and its reference about 32-60; real results (arrays of floats) estimate
# within a factor of two of what they take
MAX_JSON_MEMORY = 512 * 2**20
_CONTAINER_BYTES, _VALUE_BYTES = 72, 40
MAX_YAML_BYTES = 2 * 2**20  # YAML is for specs and structures (5000 atoms: 1.3 MiB); larger data comes as JSON (parsing checks every event)


def nesting(obj, limit: int = MAX_NESTING) -> int:
    """The deepest nesting of lists and mappings in plain data (iteratively; stops past ``limit``)."""
    deepest = 0
    stack = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            values = node.values()
        elif isinstance(node, list):
            values = node
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((value, depth + 1) for value in values if isinstance(value, (dict, list)))
    return deepest


def json_memory_estimate(text: str) -> int:
    """About how many bytes the parsed document would take (an upper bound for hostile text: a
    bracket or comma inside a string counts as if it built something)."""
    containers = text.count("{") + text.count("[")
    values = text.count(",") + text.count(":") + containers
    return containers * _CONTAINER_BYTES + values * _VALUE_BYTES + len(text)


def load_json(text: str, what: str, finite: bool = False):
    """JSON with bounded nesting (a deeply nested document is refused, not a RecursionError) and
    bounded memory (estimated from the text before anything is built). ``finite``: every number in
    it is one a float holds (no ``NaN``/``Infinity``, no ``1e999`` read as inf, no 400-digit
    integer): what lrox itself writes (:func:`plain`), so anything else is damage."""
    # a short text cannot reach either bound (each character is at most one container or value), so
    # the many small documents of a database cost no counting
    estimate = json_memory_estimate(text) if len(text) * (_CONTAINER_BYTES + _VALUE_BYTES + 1) > MAX_JSON_MEMORY else 0
    if estimate > MAX_JSON_MEMORY:
        raise LroxInputError(
            f"{what}: its JSON would take about {estimate / 2**20:.0f} MiB of memory once read, more than the "
            f"{MAX_JSON_MEMORY // 2**20} MiB lrox reads at once; split it"
        )
    try:
        if not finite:
            data = json.loads(text)
        elif _LARGE_EXPONENT.search(text) is None:  # the common case: C's parser for floats; hooks for NaN/Infinity and integers
            data = _FINITE.decode(text)
        else:  # an exponent of 100 or more: each float looked at
            data = _EACH_NUMBER_CHECKED.decode(text)
    except _NotFinite as exc:
        raise LroxInputError(f"{what} holds the number {exc.args[0][:30]}, {exc.args[1]}") from None
    except RecursionError:
        raise LroxInputError(f"{what}: JSON nested more than {MAX_NESTING} levels deep") from None
    except ValueError as exc:  # JSONDecodeError, and integers longer than Python converts
        raise LroxInputError(f"{what} is not valid JSON ({type(exc).__name__})") from None
    if text.count("[") + text.count("{") > MAX_NESTING and nesting(data) > MAX_NESTING:
        raise LroxInputError(f"{what}: JSON nested more than {MAX_NESTING} levels deep")
    return data


class _NotFinite(ValueError):
    pass


_LARGE_EXPONENT = re.compile(r"[eE][+-]?0*[0-9]{3}")  # a prefilter (it matches inside strings too): 1e999 would read as inf


def _no_constant(token: str):
    raise _NotFinite(token, "which is not finite")


def _finite_float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise _NotFinite(token, "which is not finite")
    return value


def _float_sized_int(token: str) -> int:
    if len(token.lstrip("-")) > 308:  # beyond any float: float() of it would raise OverflowError
        raise _NotFinite(token, "which no float holds")
    return int(token)


# made once (json.loads with any option builds a decoder per call: most of a small document's cost)
_FINITE = json.JSONDecoder(parse_constant=_no_constant, parse_int=_float_sized_int)
_EACH_NUMBER_CHECKED = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float, parse_int=_float_sized_int)


def load_yaml(text: str, what: str):
    """YAML through the safe loader, with aliases refused (a billion-laughs file cannot expand)."""
    import yaml

    if len(text) > MAX_YAML_BYTES:
        raise LroxInputError(f"{what} is more than {MAX_YAML_BYTES // 2**20} MiB of YAML; lrox reads larger data as JSON")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        depth = 0
        for event in yaml.parse(text, Loader=loader):  # events only: nothing is built or expanded yet
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                mark = event.start_mark
                raise LroxInputError(f"{what} uses a YAML alias or anchor at line {mark.line + 1}; lrox reads no anchors or aliases")
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_NESTING:
                    raise LroxInputError(f"{what} is nested more than {MAX_NESTING} levels deep")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
        data = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader; aliases already refused
    except LroxInputError:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise LroxInputError(f"{what} is not valid YAML{where}") from None
    except (RecursionError, ValueError) as exc:  # ValueError: an integer longer than Python converts
        raise LroxInputError(f"{what} is not valid YAML ({type(exc).__name__})") from None
    _check_text_keys(data, what)
    return data


def _check_text_keys(data, what: str) -> None:
    """Every mapping key is text, as in JSON: YAML reads ``1:``, ``null:``, ``no:`` or a date as a
    number, None, False or a date, which no lrox setting is named by (and which code that sorts or
    joins keys cannot compare with text)."""
    from structures.doors.text import shown

    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            bad = next((key for key in node if not isinstance(key, str)), _NO_KEY)
            if bad is not _NO_KEY:
                raise LroxInputError(f"{what}: the key {shown(repr(bad), 40)} is not text (YAML reads it as {type(bad).__name__}); quote it")
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))


_NO_KEY = object()


# modules whose classes a file may name: lrox's own domain objects and pymatgen's
ALLOWED_MODULES = ("structures", "pymatgen.core", "pymatgen.electronic_structure", "pymatgen.analysis.structure_matcher")
# monty's own decoders of plain values: data, never code
# lrox's own machinery, never data: the doors, their errors, and what opens files or databases
_NEVER_DECODED = ("structures.doors", "structures.errors", "structures.safety")
_PLAIN_VALUES = {("numpy", "array"), ("datetime", "datetime"), ("uuid", "UUID")}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,100}")


def _inside(module: str, allowed: tuple[str, ...]) -> bool:
    return any(module == m or module.startswith(m + ".") for m in allowed)


def _allowed_class(module: str, name: str, allowed: tuple[str, ...]) -> bool:
    """Whether ``module.name`` is a data class defined in an allowed module (imported only if it is)."""
    import dataclasses
    import importlib
    from enum import Enum

    from monty.json import MSONable

    if _inside(module, _NEVER_DECODED):
        return False
    if not (_inside(module, allowed) and all(_IDENTIFIER.fullmatch(p) for p in module.split(".")) and _IDENTIFIER.fullmatch(name)):
        return False
    try:
        cls = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return False
    if not isinstance(cls, type) or not _inside(getattr(cls, "__module__", ""), allowed):
        return False
    try:
        from pydantic import BaseModel
    except ImportError:  # pragma: no cover
        BaseModel = ()  # noqa: N806
    return issubclass(cls, (MSONable, Enum, *((BaseModel,) if BaseModel else ()))) or dataclasses.is_dataclass(cls)


def check_decodable(obj, what: str, modules: tuple[str, ...] = ()) -> None:
    """Refuse, before anything is imported, any class, module or callable a file names outside the allow-list."""
    from monty.json import MSONable

    from structures.doors.text import shown

    allowed = ALLOWED_MODULES + tuple(modules)
    seen: dict[tuple, bool] = {}
    stack = [(obj, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise LroxInputError(f"{what} is nested more than {MAX_NESTING} levels deep")
        if isinstance(node, dict):
            if "@module" in node or "@class" in node or "@callable" in node or "@bound" in node:
                module, name = node.get("@module"), node.get("@class")
                if "@callable" in node or "@bound" in node:
                    raise LroxInputError(f"{what} names a callable ({shown(node.get('@callable'), 60)}); lrox decodes only data")
                if not isinstance(module, str) or not isinstance(name, str):
                    raise LroxInputError(f"{what} names a class without a module and a class name")
                redirect = MSONable.REDIRECT.get(module, {}).get(name)
                target = (redirect["@module"], redirect["@class"]) if redirect else (module, name)
                if target not in seen:
                    seen[target] = target in _PLAIN_VALUES or _allowed_class(*target, allowed)
                if isinstance(node.get("sites"), list) and len(node["sites"]) > MAX_SITES:
                    raise LroxInputError(f"{what} holds a {shown(name, 40)} of {len(node['sites'])} sites, more than the {MAX_SITES} lrox takes")
                if not seen[target]:
                    raise LroxInputError(
                        f"{what} names the class {shown(module, 60)}.{shown(name, 40)}; lrox decodes only its own and pymatgen's data classes"
                    )
            stack.extend((value, depth + 1) for value in node.values() if isinstance(value, (dict, list)))
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node if isinstance(value, (dict, list)))


def decode_msonable(obj, what: str, modules: tuple[str, ...] = ()):
    """MontyDecoder's job for the allow-list only (``modules``: more module prefixes a caller trusts,
    e.g. ``workflows`` for lrox's own job cache)."""
    from monty.json import MontyDecoder

    check_decodable(obj, what, modules)
    try:
        return MontyDecoder().process_decoded(obj)
    except RecursionError:
        raise LroxInputError(f"{what} is nested too deeply") from None


def _default(obj):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "as_dict"):
        return obj.as_dict()
    if hasattr(obj, "value"):
        return obj.value
    raise TypeError(f"cannot store {type(obj).__name__} as JSON data")


def _finite_only(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_only(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_only(v) for v in value]
    return value


def plain(value):
    """``value`` as plain JSON data (numpy, enums and MSONable objects converted); a non-finite number
    becomes None, so what is stored is valid JSON for every reader (SQLite's JSON functions included)."""
    try:
        return json.loads(json.dumps(value, default=_default, allow_nan=False))
    except ValueError:  # a NaN or infinity somewhere
        return _finite_only(json.loads(json.dumps(value, default=_default)))
