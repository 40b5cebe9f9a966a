"""Limits on everything lrox reads: regular files of bounded size, finite numbers, no YAML aliases,
bounded nesting, and no code chosen by a file.

Every reader of user input goes through these, so a limit the command line enforces holds for
every file too. Each refusal is a :class:`LroxInputError` whose message names the problem.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

from structures.errors import LroxInputError

__all__ = [
    "MAX_STRUCTURE_BYTES",
    "MAX_SPEC_BYTES",
    "MAX_RESULTS_BYTES",
    "MAX_ATOMS",
    "regular_file",
    "read_text",
    "load_json",
    "load_yaml",
    "finite",
    "decode_msonable",
    "redact",
    "output_path",
    "write_atomically",
]

MAX_STRUCTURE_BYTES = 50 * 2**20
MAX_SPEC_BYTES = 2**20
MAX_RESULTS_BYTES = 2 * 2**30
MAX_ATOMS = 5000  # no structure lrox computes comes near this; a bigger cell is a mistake or an attack
MAX_NESTING = 200  # JSON/YAML/query nesting


def regular_file(path: str | Path, what: str, max_bytes: int) -> Path:
    """The path, if it names a regular file (after links) of at most ``max_bytes``; never opens a FIFO or device."""
    path = Path(path)
    try:
        info = os.stat(path)  # follows links: a link to /dev/zero is judged by /dev/zero
    except FileNotFoundError:
        raise LroxInputError(f"{what} '{path}' does not exist") from None
    except OSError as exc:
        raise LroxInputError(f"{what} '{path}' cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        raise LroxInputError(f"{what} '{path}' is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        kind = "FIFO" if stat.S_ISFIFO(info.st_mode) else "device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "special file"
        raise LroxInputError(f"{what} '{path}' is a {kind}, not a regular file")
    if info.st_size > max_bytes:
        raise LroxInputError(f"{what} '{path}' is {info.st_size / 2**20:.0f} MiB, more than the {max_bytes / 2**20:.0f} MiB lrox reads")
    return path


def read_text(path: str | Path, what: str, max_bytes: int) -> str:
    """A regular file's text (UTF-8), within the size limit."""
    path = regular_file(path, what, max_bytes)
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise LroxInputError(f"{what} '{path}' cannot be read ({exc.strerror})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise LroxInputError(f"{what} '{path}' is not UTF-8 text") from None


def load_json(text: str, what: str):
    """JSON with bounded nesting (a deeply nested document is refused, not a RecursionError)."""
    depth = _nesting(text)
    if depth > MAX_NESTING:
        raise LroxInputError(f"{what}: JSON nested {depth} levels deep (at most {MAX_NESTING})")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise LroxInputError(f"{what} is not valid JSON ({type(exc).__name__})") from None


def _nesting(text: str) -> int:
    """The deepest bracket nesting of a JSON text, strings skipped."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def load_yaml(text: str, what: str):
    """YAML through the safe loader, with aliases refused (a billion-laughs spec cannot expand)."""
    import yaml

    class NoAliases(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.events.AliasEvent):
                mark = self.peek_event().start_mark
                raise LroxInputError(f"{what} uses a YAML alias at line {mark.line + 1}; lrox specs take no anchors or aliases")
            if len(self.__dict__.setdefault("_depth", [])) > MAX_NESTING:
                raise LroxInputError(f"{what} is nested more than {MAX_NESTING} levels deep")
            self._depth.append(1)
            try:
                return super().compose_node(parent, index)
            finally:
                self._depth.pop()

    try:
        return yaml.load(text, Loader=NoAliases)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise LroxInputError(f"{what} is not valid YAML{where}") from None
    except RecursionError:
        raise LroxInputError(f"{what} is nested too deeply") from None


def finite(value, name: str, minimum: float | None = None, maximum: float | None = None, strictly_above: bool = False) -> float:
    """A finite number within bounds, or a one-line error naming ``name``."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise LroxInputError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise LroxInputError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and (number <= minimum if strictly_above else number < minimum):
        if minimum == 0:
            raise LroxInputError(f"{name} {'must be positive' if strictly_above else 'must not be negative'}, got {value!r}")
        raise LroxInputError(f"{name} must be {'above' if strictly_above else 'at least'} {minimum:g}, got {value!r}")
    if maximum is not None and number > maximum:
        raise LroxInputError(f"{name} must be at most {maximum:g}, got {value!r}")
    return number


# modules whose MSONable classes a file may name: lrox's own domain objects and pymatgen's
ALLOWED_MODULES = ("structures.", "pymatgen.core", "pymatgen.electronic_structure", "pymatgen.analysis.structure_matcher")


def decode_msonable(obj, what: str):
    """MontyDecoder's job for lrox's and pymatgen's classes only: a file naming any other module
    (``"@module": "os"``) is refused before anything is imported."""
    from monty.json import MontyDecoder

    def check(node, depth=0):
        if depth > MAX_NESTING:
            raise LroxInputError(f"{what} is nested too deeply")
        if isinstance(node, dict):
            module = node.get("@module")
            if module is not None and not (isinstance(module, str) and module.startswith(ALLOWED_MODULES)):
                raise LroxInputError(f"{what} names the module {str(module)[:60]!r}; lrox decodes only its own and pymatgen's classes")
            for value in node.values():
                check(value, depth + 1)
        elif isinstance(node, list):
            for value in node:
                check(value, depth + 1)

    check(obj)
    return MontyDecoder().process_decoded(obj)


_SECRET_WORDS = ("password", "passwd", "secret", "token", "apikey", "api_key")


def redact(text: str) -> str:
    """The text with every credential masked: ``scheme://user:***@host``, ``password=***`` (in URL
    queries, key=value pairs, YAML or JSON), and the values of secret-looking environment variables."""
    import re

    text = re.sub(r"(?i)([a-z][a-z0-9+.\-]*://[^\s:/@'\"]*):([^\s@'\"]*)@", r"\1:***@", str(text))
    words = "|".join(_SECRET_WORDS)
    text = re.sub(rf"(?i)\b((?:{words})\w*['\"]?\s*[=:]\s*['\"]?)([^\s&;,'\"}}]+)", r"\1***", text)
    for name, value in os.environ.items():
        if value and len(value) >= 4 and any(word in name.lower() for word in _SECRET_WORDS):
            text = text.replace(value, "***")
    return text


def output_path(path: str | Path, what: str, overwrite: bool = False) -> Path:
    """A file lrox may write: its folder exists and is writable, its name fits the filesystem, and it
    is not a FIFO, device or folder (refused even with ``overwrite``); an existing file only with it."""
    path = Path(path)
    if len(path.name.encode()) > 255:
        raise LroxInputError(f"{what}: the name '{path.name[:40]}…' is longer than a filesystem allows (255 bytes)")
    if path.exists() or path.is_symlink():
        info_mode = os.stat(path).st_mode if path.exists() else 0
        if not stat.S_ISREG(info_mode):
            raise LroxInputError(f"{what}: {path} exists and is not a regular file; lrox writes only regular files")
        if not overwrite:
            raise LroxInputError(f"{what}: {path} exists; pass --overwrite to replace it")
    folder = path.absolute().parent
    if not folder.is_dir():
        raise LroxInputError(f"{what}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise LroxInputError(f"{what}: folder {folder} is not writable")
    return path


def write_atomically(path: Path, write, what: str) -> Path:
    """``write(temporary_path)``, then the temporary file renamed onto ``path``: a failure (a full
    disk, a read-only folder) leaves no half-written file, and is one error line."""
    temporary = path.absolute().parent / f".{path.stem[:100]}.lrox-tmp{os.getpid()}{path.suffix}"
    try:
        write(temporary)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise LroxInputError(f"{what}: cannot write {path} ({exc.strerror or exc}); nothing was written") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
