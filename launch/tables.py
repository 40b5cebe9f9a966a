"""Plain-text tables for the command line: tabulate's "simple" layout, character for character, in
time linear in the cells.

``lrox query`` prints one row per configuration: 10,000 rows took tabulate 0.45 s of CPU, half the
command's budget (issue 32), because it re-derives every cell's type by parsing its text.
:func:`table_text` does the same layout from the cells' Python types, for the tables lrox prints
(None, bool, int, float and text cells), and hands any table it is not sure of to tabulate itself:
a text cell that could read as a number (tabulate would right-align it as one), a control or escape
character, a multi-line cell, any other type, or no rows. ``tests/test_tables.py`` compares the two
on such tables.
"""

from __future__ import annotations

import re

__all__ = ["table_text", "tabulate"]

_TYPE_RANK = {type(None): 0, bool: 1, int: 2, float: 3, str: 5}  # tabulate's order of genericity
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_THOUSANDS = re.compile(r"^(([+-]?[0-9]{1,3})(?:,([0-9]{3}))*)?(?(1)\.[0-9]*|\.[0-9]+)?$")  # tabulate's


class _NotSure(Exception):
    """A cell this printer does not lay out exactly as tabulate would: tabulate prints the table."""


def _could_be_number(text: str) -> bool:
    """Whether tabulate would read this text as a number or a bool (then the column is not text)."""
    if text in ("True", "False"):
        return True
    stripped = text.strip()
    if not stripped:
        return False
    if stripped[0] not in "+-." and not stripped[0].isdigit() and stripped[:3].lower() not in ("inf", "nan", "+in", "-in", "+na", "-na"):
        return False  # float() reads other scripts' digits too (isdigit says so): those are tried
    try:
        float(text)
        return True
    except ValueError:
        return bool(_THOUSANDS.match(text))


def _wide_width():
    """tabulate's measure of a text's width: wcwidth's where that (optional) package is installed, else len."""
    try:
        from wcwidth import wcswidth
    except ImportError:
        return None
    return wcswidth


_WCSWIDTH = []  # found at the first non-ASCII text


def _width(text: str) -> int:
    if text.isascii():
        return len(text)
    if not _WCSWIDTH:
        _WCSWIDTH.append(_wide_width())
    if _WCSWIDTH[0] is None:
        return len(text)
    width = _WCSWIDTH[0](text)
    if width < 0:
        raise _NotSure
    return width


def _column(values: list, floatfmt: str) -> tuple[list[str], bool]:
    """(cells as text, numeric) of one column, as tabulate's type deduction and formatting make them."""
    kinds = set(map(type, values))
    if not kinds <= _TYPE_RANK.keys():
        raise _NotSure
    rank = max([1, *(_TYPE_RANK[k] for k in kinds if k is not str)])  # tabulate starts from bool
    if str in kinds:
        texts = {v for v in values if type(v) is str and v}  # empty text counts as missing
        if any(_could_be_number(v) for v in texts):
            raise _NotSure
        if texts:
            rank = 5
    if rank == 3:
        cells = ["" if v is None or v == "" else format(float(v), floatfmt) for v in values]
        # tabulate's decimal alignment: the digits after the point (or after the exponent's e)
        after = [len(c) - c.rfind(".") - 1 if "." in c else len(c) - c.lower().rfind("e") - 1 if "e" in c.lower() else -1 for c in cells]
        most = max(after)
        return [c + " " * (most - a) for c, a in zip(cells, after)], True
    if rank == 2:
        return ["" if v is None or v == "" else format(v, "") for v in values], True
    return ["" if v is None else v.strip() if type(v) is str else f"{v}".strip() for v in values], False


def _fast(rows: list[list], headers: list[str], floatfmt: str) -> str:
    if not rows or any(len(r) != len(headers) for r in rows):
        raise _NotSure
    text = "".join(v for row in rows for v in row if type(v) is str) + "".join(headers)
    if _CONTROL.search(text):
        raise _NotSure
    columns, header_cells = [], []
    for k, header in enumerate(headers):
        cells, numeric = _column([row[k] for row in rows], floatfmt)
        if "".join(cells).isascii():
            width = max(max(map(len, cells)), _width(header) + 2)
            cells = [c.rjust(width) for c in cells] if numeric else [c.ljust(width) for c in cells]
        else:
            widths = [_width(c) for c in cells]
            width = max(max(widths), _width(header) + 2)
            if numeric:
                cells = [c.rjust(width - w + len(c)) for c, w in zip(cells, widths)]
            else:
                cells = [c.ljust(width - w + len(c)) for c, w in zip(cells, widths)]
        pad = width - _width(header) + len(header)
        header_cells.append(header.rjust(pad) if numeric else header.ljust(pad))
        columns.append((cells, width))
    lines = ["  ".join(header_cells).rstrip(), "  ".join("-" * width for _, width in columns).rstrip()]
    lines += ["  ".join(cells).rstrip() for cells in zip(*(c for c, _ in columns))]
    return "\n".join(lines)


def table_text(rows: list[list], headers: list[str], floatfmt: str = "g") -> str:
    """``tabulate(rows, headers=headers, floatfmt=floatfmt)``, the same text, fast for the tables lrox prints."""
    headers = [str(h) for h in headers]
    try:
        return _fast(rows, headers, floatfmt)
    except _NotSure:
        return tabulate(rows, headers=headers, floatfmt=floatfmt)


def tabulate(rows, headers=(), **options) -> str:
    """tabulate's own, imported when a table is printed (it costs every command 70 ms of start-up otherwise)."""
    from tabulate import tabulate as _tabulate

    return _tabulate(rows, headers=headers, **options)
