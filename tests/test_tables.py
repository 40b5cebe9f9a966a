"""The command line's table printer (launch/tables.py) prints what tabulate prints, character for
character: the tables lrox prints, and the cells that tabulate reads in its own way (text that
looks like a number, wide and combining characters, escapes, several lines, other types)."""

from __future__ import annotations

import random

import pytest
from tabulate import tabulate

from launch.tables import _fast, table_text

TRICKY = [
    None, "", True, False, 0, 7, -12, 10**20, 0.5, -0.0, 1e20, 1e-7, 123.456789, float("nan"), float("inf"), float("-inf"),
    "li2mno3-9d1b3371e277", "Al on Mn(4g, TM layer) + V_O(8j) (1.90 Å apart)", "Li(8j) → vacant Li(4h)", "9d1b3371e277", "123e45", "1e5",
    "123", "1,000", "1,000.5", ".5", " 12 ", "  padded  ", "inf", "-inf", "NaN", "nan", "Infinity", "True", "False", "true",
    "中文", "e\u0301", "TSH", "ok", "mechanism, n-TM", "+", "-", ".", "1_000", "0x1f", "\x1b[31mred\x1b[0m", "two\nlines", "tab\there", "١٢", "１２.５", "²",
]


def _same(rows, headers, floatfmt):
    assert table_text(rows, headers, floatfmt) == tabulate(rows, headers=headers, floatfmt=floatfmt)


@pytest.mark.parametrize("floatfmt", [".3f", "g"])
def test_each_tricky_cell_alone_and_beside_numbers(floatfmt):
    for value in TRICKY:
        _same([[value, 1.5, "x"], [None, 2, "y"]], ["value", "number", "text"], floatfmt)
        _same([[value], [0.25], [3]], ["value"], floatfmt)
        _same([[value], ["word"]], ["a long header"], floatfmt)


@pytest.mark.parametrize("seed", range(40))
def test_random_tables(seed):
    rng = random.Random(seed)
    columns = rng.randint(1, 6)
    headers = [rng.choice(["id", "barrier", "e_kra_min", "name", "n", "Å", "中", "a@b"]) for _ in range(columns)]
    kinds = [rng.choice(["float", "int", "text", "mixed", "none"]) for _ in range(columns)]

    def cell(kind):
        if rng.random() < 0.2:
            return None
        if kind == "float":
            return rng.choice([rng.uniform(-5, 5), rng.uniform(0, 1e6), float(rng.randint(0, 9))])
        if kind == "int":
            return rng.randint(-100, 10**7)
        if kind == "text":
            return rng.choice(["li2mno3-" + "".join(rng.choice("0123456789abcdef") for _ in range(12)), "Ti on Mn(4g, TM layer)", "V_O(8j) → Å", "ok", ""])
        if kind == "none":
            return None
        return rng.choice(TRICKY)

    rows = [[cell(kinds[k]) for k in range(columns)] for _ in range(rng.randint(1, 30))]
    for floatfmt in (".3f", "g"):
        _same(rows, headers, floatfmt)
        if "mixed" not in kinds:  # the tables lrox prints: laid out here, not handed to tabulate
            assert _fast(rows, headers, floatfmt) == tabulate(rows, headers=headers, floatfmt=floatfmt)


def test_a_query_table(tmp_path):
    """The configuration view of the committed example, as lrox query prints it."""
    from pathlib import Path

    from descriptors.query.configurations import query
    from descriptors.store.database import DescriptorDatabase

    example = Path(__file__).resolve().parents[1] / "examples" / "li2mno3_design_rules.db"
    table = query(DescriptorDatabase(f"sqlite:///{example}", read_only=True))
    rows = [[r.get(c) for c in table.columns] for r in table.rows]
    _same(rows, table.columns, ".3f")
    assert _fast(rows, table.columns, ".3f") == tabulate(rows, headers=table.columns, floatfmt=".3f")  # printed without tabulate
    _same([], table.columns, ".3f")
