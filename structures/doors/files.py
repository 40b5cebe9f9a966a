"""The door for files: every byte lrox reads from a file comes through here.

What it guarantees, for every path:

* the name fits the filesystem (each part at most 255 bytes, the whole at most 4095, no NUL): a
  300-character name is one error line, never ``OSError: File name too long``;
* only a regular file is opened (after links: a link to ``/dev/zero`` is judged as ``/dev/zero``),
  and the check is made on the opened file itself (``fstat`` of a non-blocking open), so a FIFO,
  a device or a folder is refused without ever blocking, even if it replaced the file after a look;
* a file that cannot be read (permissions) is named as such;
* at most ``max_bytes`` are read; a compressed file (every suffix any reader lrox calls unpacks:
  monty's ``zopen``, which pymatgen opens VASP files with, takes ``.gz``, ``.z``/``.Z``, ``.bz2``,
  ``.xz`` and ``.lzma``) is unpacked while streaming, in bounded steps, and refused as soon as it
  unpacks to more than its bound: a 2 MB gzip that would unpack to 2 GiB costs a second and a few MiB;
* a file read whole into memory is at most :data:`MAX_IN_MEMORY_BYTES` (after unpacking): larger
  files are read only as streams, so no whole read can exhaust memory;
* text is UTF-8 (a byte-order mark is dropped), or the error names the file and the offset.

The output side (:func:`output_path`, :func:`write_atomically`) checks where a command writes:
a regular file in a writable folder, never a FIFO or device, never a name holding a control
character (a newline would split the name in every listing), and no half-written file on failure.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from pathlib import Path

from structures.errors import LroxInputError

__all__ = [
    "MAX_STRUCTURE_BYTES",
    "MAX_SPEC_BYTES",
    "MAX_RESULTS_BYTES",
    "MAX_UNPACKED_BYTES",
    "MAX_IN_MEMORY_BYTES",
    "COMPRESSED_SUFFIXES",
    "check_name",
    "kind_of",
    "exists",
    "is_folder",
    "regular_file",
    "read_file_bytes",
    "read_file_text",
    "head",
    "checked_file",
    "open_binary",
    "open_text",
    "unpacked_size",
    "contains",
    "copy_unpacked",
    "package_text",
    "output_name",
    "output_path",
    "write_atomically",
]

MAX_STRUCTURE_BYTES = 50 * 2**20
MAX_SPEC_BYTES = 2**20
MAX_RESULTS_BYTES = 2 * 2**30
MAX_UNPACKED_BYTES = 2**30  # what any compressed file may unpack to
# and at most this many times its packed size beyond a floor: text that lrox reads (JSON, XML, OUTCARs)
# packs 3 to 30 times, a bomb a thousand times; counting a bomb's first 64 MiB takes a fraction of a second
MAX_PACKING_RATIO = 200
UNPACKED_FLOOR_BYTES = 64 * 2**20
# a whole read holds the bytes, then the text, then what a parser builds (JSON: several times the text):
# beyond this a file is read only as a stream (a 1 GiB memory bound holds for any whole read)
MAX_IN_MEMORY_BYTES = 160 * 2**20
# the suffixes monty's zopen (pymatgen's Vasprun, Outcar, Chgcar...) unpacks, and how
COMPRESSED_SUFFIXES = (".gz", ".z", ".bz2", ".xz", ".lzma")
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4095
_CHUNK = 2**20


def _size(n: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.0f} {unit}"
    return f"{int(n)} bytes"


def check_name(path: str | Path, what: str) -> Path:
    """The path, if every part of its name fits the filesystem (an over-long name is one error line)."""
    from structures.doors.text import shown

    text = os.fspath(path)
    if "\x00" in text:
        raise LroxInputError(f"{what}: the name '{shown(text, 60)}' holds a NUL byte")
    encoded = os.fsencode(text)
    if len(encoded) > MAX_PATH_BYTES:
        raise LroxInputError(f"{what}: the name '{shown(text, 40)}' is {len(encoded)} bytes long, more than a path may be ({MAX_PATH_BYTES})")
    for part in encoded.split(b"/"):
        if len(part) > MAX_NAME_BYTES:
            name = os.fsdecode(part)
            raise LroxInputError(f"{what}: the name '{shown(name, 40)}' is longer than a filesystem allows ({MAX_NAME_BYTES} bytes)")
    return Path(path)


def kind_of(path: str | Path, what: str, follow: bool = True) -> str:
    """'missing', 'file', 'directory', 'fifo', 'device', 'socket' or 'other' (a broken link is 'missing')."""
    from structures.doors.text import shown

    path = check_name(path, what)
    try:
        mode = (os.stat if follow else os.lstat)(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LroxInputError(f"{what} '{shown(path)}' is a loop of symbolic links") from None
        raise LroxInputError(f"{what} '{shown(path)}' cannot be examined ({exc.strerror})") from None
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISLNK(mode):
        return "link"
    return "other"


def exists(path: str | Path, what: str = "path") -> bool:
    """Whether anything is at the path, a dangling link included (never OSError)."""
    return kind_of(path, what, follow=False) != "missing"


def is_folder(path: str | Path, what: str = "folder") -> bool:
    return kind_of(path, what) == "directory"


_KIND_WORDS = {"fifo": "FIFO", "device": "device", "socket": "socket", "other": "special file"}


def _refuse_kind(path: Path, what: str, kind: str) -> None:
    from structures.doors.text import shown

    if kind == "missing":
        raise LroxInputError(f"{what} '{shown(path)}' does not exist")
    if kind == "directory":
        raise LroxInputError(f"{what} '{shown(path)}' is a directory, not a file")
    if kind != "file":
        raise LroxInputError(f"{what} '{shown(path)}' is a {_KIND_WORDS.get(kind, 'special file')}, not a regular file")


def regular_file(path: str | Path, what: str, max_bytes: int) -> Path:
    """The path, if it names a readable regular file (after links) of at most ``max_bytes``."""
    from structures.doors.text import shown

    path = check_name(path, what)
    _refuse_kind(path, what, kind_of(path, what))
    size = os.stat(path).st_size
    if size > max_bytes:
        raise LroxInputError(f"{what} '{shown(path)}' is {_size(size)}, more than the {_size(max_bytes)} lrox reads")
    if not os.access(path, os.R_OK):
        raise LroxInputError(f"{what} '{shown(path)}' cannot be read (permission denied)")
    return path


def _open(path: Path, what: str) -> int:
    """A descriptor of the regular file at ``path``, judged on the opened file (never blocks)."""
    from structures.doors.text import shown

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise LroxInputError(f"{what} '{shown(path)}' cannot be read ({exc.strerror})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "directory" if stat.S_ISDIR(mode) else "fifo" if stat.S_ISFIFO(mode) else "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "other"
        _refuse_kind(path, what, kind)
    os.set_blocking(fd, True)
    return fd


def _raw_chunks(path: Path, what: str, max_bytes: int):
    from structures.doors.text import shown

    fd = _open(path, what)
    total = 0
    try:
        while True:
            try:
                chunk = os.read(fd, _CHUNK)
            except OSError as exc:
                raise LroxInputError(f"{what} '{shown(path)}' cannot be read ({exc.strerror})") from None
            if not chunk:
                return
            total += len(chunk)
            if total > max_bytes:
                raise LroxInputError(f"{what} '{shown(path)}' is more than the {_size(max_bytes)} lrox reads")
            yield chunk
    finally:
        os.close(fd)


def _decompressor(suffix: str):
    import bz2
    import lzma
    import zlib

    suffix = suffix.lower()
    if suffix in (".gz", ".z"):  # zopen opens both with gzip
        return lambda: zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
    if suffix == ".bz2":
        return bz2.BZ2Decompressor
    if suffix in (".xz", ".lzma"):  # zopen opens both with lzma (either container, detected)
        return lzma.LZMADecompressor
    return None


def _unpack(raw, make):
    """Unpacked chunks of the raw chunks, each step producing at most one chunk (a bomb never
    inflates in one call); several concatenated streams (gzip members) are read one after another."""
    decompressor, started = make(), False
    for data in raw:
        while data or (started and not getattr(decompressor, "needs_input", True)):
            started = True
            out = decompressor.decompress(data, _CHUNK)
            if out:
                yield out
            if decompressor.eof:  # the next member, if any (zero padding after the last one is allowed, as gzip allows it)
                data, decompressor, started = decompressor.unused_data.lstrip(b"\x00"), make(), False
            elif hasattr(decompressor, "unconsumed_tail"):  # zlib keeps the input it did not use
                data = decompressor.unconsumed_tail
            else:  # bz2 and lzma keep it themselves
                data = b""
    if started and not decompressor.eof:
        raise EOFError("the compressed stream ends early")


def _chunks(path: Path, what: str, max_bytes: int, unpacked_limit: int = MAX_UNPACKED_BYTES):
    """The file's content in chunks, unpacked while streaming (each step bounded) when compressed."""
    from structures.doors.text import shown

    make = _decompressor(path.suffix.lower())
    if make is None:
        yield from _raw_chunks(path, what, max_bytes)
        return
    packed = os.stat(path).st_size
    limit = min(max_bytes, unpacked_limit, max(UNPACKED_FLOOR_BYTES, MAX_PACKING_RATIO * packed))
    produced = 0
    try:
        for out in _unpack(_raw_chunks(path, what, max_bytes), make):
            produced += len(out)
            if produced > limit:
                raise LroxInputError(f"{what} '{shown(path)}' unpacks to more than {_size(limit)} (at most {MAX_PACKING_RATIO} times its packed size, {_size(MAX_UNPACKED_BYTES)} in all); lrox reads no more")
            yield out
    except LroxInputError:
        raise
    except Exception as exc:  # noqa: BLE001 - zlib.error, lzma.LZMAError, OSError, EOFError: a damaged archive
        raise LroxInputError(f"{what} '{shown(path)}' is not a valid {path.suffix[1:]} file ({type(exc).__name__}: {exc})") from None


class _ChunkStream(io.RawIOBase):
    """A readable stream over the door's chunks: every limit holds while a parser reads it."""

    def __init__(self, chunks):
        super().__init__()
        self._chunks, self._buffer = chunks, b""

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    def close(self) -> None:
        self._chunks.close()
        super().close()


def open_binary(path: str | Path, what: str, max_bytes: int):
    """A binary stream of a regular file (unpacked while streaming if compressed), every limit held
    while it is read: for parsers that read as they go (XML, line by line)."""
    path = regular_file(path, what, max_bytes)
    return io.BufferedReader(_ChunkStream(_chunks(path, what, max_bytes)), buffer_size=_CHUNK)


class _Text(io.TextIOWrapper):
    """UTF-8 text whose bad bytes are one LroxInputError naming the file (as every door's refusal)."""

    what = "file"

    def _decoded(self, read, *args):
        from structures.doors.text import shown

        try:
            return read(*args)
        except UnicodeDecodeError as exc:
            raise LroxInputError(f"{self.what} is not UTF-8 text ({shown(exc.reason, 40)})") from None

    def read(self, *args):
        return self._decoded(super().read, *args)

    def readline(self, *args):
        return self._decoded(super().readline, *args)

    def __next__(self):
        return self._decoded(super().__next__)


def open_text(path: str | Path, what: str, max_bytes: int):
    """A UTF-8 text stream of a regular file (see :func:`open_binary`); bad bytes are one LroxInputError."""
    from structures.doors.text import shown

    stream = _Text(open_binary(path, what, max_bytes), encoding="utf-8")
    stream.what = f"{what} '{shown(path)}'"
    return stream


def head(path: str | Path, what: str, n_bytes: int) -> bytes:
    """The first ``n_bytes`` of a regular file (a header), whatever its size."""
    path = regular_file(path, what, 2**62)
    for chunk in _raw_chunks(path, what, 2**62):
        return chunk[:n_bytes]
    return b""


def unpacked_size(path: str | Path, what: str, max_bytes: int) -> int:
    """How many bytes the file holds once unpacked, counted without keeping them; refused beyond the limits."""
    path = regular_file(path, what, max_bytes)
    return sum(len(chunk) for chunk in _chunks(path, what, max_bytes))


def checked_file(path: str | Path, what: str, max_bytes: int) -> Path:
    """A regular file within the limits that a parser will open itself; a compressed one is first
    counted while streaming (nothing kept) and refused if it unpacks beyond the limits."""
    path = regular_file(path, what, max_bytes)
    if _decompressor(path.suffix.lower()) is not None:
        unpacked_size(path, what, max_bytes)
    return path


def read_file_bytes(path: str | Path, what: str, max_bytes: int) -> bytes:
    """A regular file's bytes (unpacked, if compressed), within the limits and at most
    :data:`MAX_IN_MEMORY_BYTES` (a whole read is held in memory, several times over by a parser).

    A compressed file is first counted while streaming (nothing kept), then read: a bomb is refused
    with the memory of one chunk."""
    from structures.doors.text import shown

    path = regular_file(path, what, max_bytes)
    if max_bytes > MAX_IN_MEMORY_BYTES:
        size = unpacked_size(path, what, max_bytes) if _decompressor(path.suffix) is not None else os.stat(path).st_size
        if size > MAX_IN_MEMORY_BYTES:
            raise LroxInputError(
                f"{what} '{shown(path)}' holds {_size(size)}, more than the {_size(MAX_IN_MEMORY_BYTES)} lrox reads into memory at once; split it"
            )
        max_bytes = MAX_IN_MEMORY_BYTES
    elif _decompressor(path.suffix) is not None:
        unpacked_size(path, what, max_bytes)
    return b"".join(_chunks(path, what, max_bytes))


def read_file_text(path: str | Path, what: str, max_bytes: int) -> str:
    """A regular file's text (UTF-8; unpacked if compressed), within the limits."""
    from structures.doors.text import shown

    data = read_file_bytes(path, what, max_bytes)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LroxInputError(f"{what} '{shown(path)}' is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def contains(path: str | Path, what: str, needle: str, max_bytes: int = MAX_RESULTS_BYTES) -> bool:
    """Whether a regular file (unpacked while streaming) holds ``needle``; stops at the first hit."""
    path = regular_file(path, what, max_bytes)
    target = needle.encode()
    tail = b""
    for chunk in _chunks(path, what, max_bytes):
        window = tail + chunk
        if target in window:
            return True
        tail = window[-(len(target) - 1) :] if len(target) > 1 else b""
    return False


def copy_unpacked(source: str | Path, target: str | Path, what: str, max_bytes: int) -> Path:
    """``source`` (unpacked if compressed) copied to ``target``, within the limits, chunk by chunk."""
    source = regular_file(source, what, max_bytes)
    target = Path(target)
    try:
        with open(target, "wb") as out:
            for chunk in _chunks(source, what, max_bytes):
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def package_text(package: str, name: str) -> str:
    """A data file shipped inside an installed package (not user input: no limits needed)."""
    from importlib.resources import files

    return (files(package) / name).read_text()


# ----- the way out ------------------------------------------------------------------------------------
def output_name(path: str | Path, what: str) -> Path:
    """A name lrox may create, a file's or a folder's (``--write-dir``, ``--dry-run``, ``--output``, a
    spec's ``output``): it fits the filesystem and holds no control or format character (a newline
    would split it in every listing, an escape would reach the terminal of whoever lists it)."""
    from structures.doors.text import printable

    path = check_name(path, what)
    if printable(os.fspath(path), keep="") != os.fspath(path):
        raise LroxInputError(f"{what}: the name '{printable(os.fspath(path), keep='')[:80]}' holds a control character (a newline, an escape...); lrox writes no such name")
    return path


def output_path(path: str | Path, what: str, overwrite: bool = False) -> Path:
    """A file lrox may write: its folder exists and is writable, its name fits the filesystem, and it
    is not a FIFO, device or folder (refused even with ``overwrite``); an existing file only with it.
    Its name holds no control or format character (a newline, an escape, a bidi override)."""
    from structures.doors.text import shown

    path = output_name(path, what)
    kind = kind_of(path, what, follow=False)
    if kind == "link":
        kind = kind_of(path, what)
        kind = "file" if kind == "file" else kind if kind != "missing" else "other"
    if kind != "missing":
        if kind != "file":
            raise LroxInputError(f"{what}: {shown(path)} exists and is not a regular file; lrox writes only regular files")
        if not overwrite:
            raise LroxInputError(f"{what}: {shown(path)} exists; pass --overwrite to replace it")
    folder = path.absolute().parent
    if kind_of(folder, what) != "directory":
        raise LroxInputError(f"{what}: folder {shown(folder)} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise LroxInputError(f"{what}: folder {shown(folder)} is not writable")
    return path


def write_atomically(path: Path, write, what: str) -> Path:
    """``write(temporary_path)``, then the temporary file renamed onto ``path``: a failure (a full
    disk, a read-only folder) leaves no half-written file, and is one error line."""
    from structures.doors.text import shown

    temporary = path.absolute().parent / f".{path.stem[:100]}.lrox-tmp{os.getpid()}{path.suffix[:20]}"
    try:
        write(temporary)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise LroxInputError(f"{what}: cannot write {shown(path)} ({exc.strerror or exc}); nothing was written") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
