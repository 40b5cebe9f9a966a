"""Limits on everything lrox reads: the names older modules import, kept so that callers read one
place. The doors themselves are :mod:`structures.doors` (files, data, numbers, structures, VASP
files, databases, other tools' configuration files, and text out)."""

from __future__ import annotations

from structures.doors.data import MAX_NESTING, decode_msonable, load_json, load_yaml
from structures.doors.files import (
    MAX_RESULTS_BYTES,
    MAX_SPEC_BYTES,
    MAX_STRUCTURE_BYTES,
    output_path,
    read_file_text,
    regular_file,
    write_atomically,
)
from structures.doors.numbers import MAX_ATOMS, finite
from structures.doors.text import redact

read_text = read_file_text  # the file door's UTF-8 reader, under its older name

__all__ = [
    "MAX_STRUCTURE_BYTES",
    "MAX_SPEC_BYTES",
    "MAX_RESULTS_BYTES",
    "MAX_ATOMS",
    "MAX_NESTING",
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
