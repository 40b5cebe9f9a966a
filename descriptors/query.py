"""Querying the descriptor database: one row per configuration × level of theory × settings, a small filter language.

Fields (the names ``--where``, ``--sort`` and the JSON/CSV output use):

===================  ==========================================================================
``id``               configuration id
``host``             host name (``li2mno3``, ...)
``name``             configuration name (``Ti on Mn(4g, TM layer)``)
``defect``           ``pristine``, ``dopant``, ``vacancy``, ``dopant+vacancy``, ...
``dopant``           dopant species (comma-separated), null for none
``site``             host site label(s) of the defect(s)
``backend``          ``mlip``, ``vasp``, ``mock``, ``gpaw``
``level_of_theory``  e.g. ``MLIP chgnet``
``settings_hash``    hash of the settings that change a number (fmax, images, k-spacing, U...):
                     two settings sets of one level are two rows
``barrier``          lowest Li migration barrier (from the more stable end point) over the
                     configuration's hops with a trustworthy profile (eV); ``barrier_max`` the
                     highest; ``n_hops`` how many
``e_kra_min``        lowest / highest kinetically resolved barrier E_KRA of those hops (eV);
``e_kra_max``        ``n_flagged`` hops whose barrier is flagged (not counted above)
``o2p_center``       O 2p band centre, occupied window E_F − 10 eV..E_F, relative to E_F (eV)
``o2p_center_vbm``   the same relative to the valence-band maximum (eV)
``o2p_center_full``  O 2p band centre over the whole DOS range, relative to E_F (eV)
``e_vac_o``          O-vacancy formation energy, O-rich (eV); ``e_vac_o_tp`` at the spec's
                     (T, pO2); ``delta_e_vac_o`` its change by a nearby defect (against the
                     isolated vacancy of the same site orbit); ``e_vac_li`` vs Li metal
``band_gap``         Kohn–Sham gap from the eigenvalues (eV)
``li_slab_spacing``  and the other geometry descriptors (Å): ``interlayer_distance``,
                     ``tm_o_mean``, ``o_o_min``, ``li_slab_spacing_near``, ...
``n_failed``         calculations of this configuration that failed
===================  ==========================================================================

Filter language (parsed, never evaluated as code)::

    expr   := term ("or" term)*
    term   := factor ("and" factor)*
    factor := "not" factor | "(" expr ")" | FIELD OP VALUE | FIELD ["not"] "in" "(" VALUE, ... ")"
              | FIELD "is" ["not"] "null"
    OP     := = | == | != | < | <= | > | >=
    VALUE  := number | 'text' | "text" | bare-word

e.g. ``host = li2mno3 and barrier < 0.5``, ``dopant in (Ti, Al) or defect = pristine``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from descriptors.extract import GEOMETRY_NAMES
from structures.errors import LroxInputError

__all__ = ["FIELDS", "QueryError", "parse_filter", "descriptor_table", "query", "to_dataframe", "export"]

CONFIG_FIELDS = ("id", "host", "name", "defect", "dopant", "site")
SUMMARY_FIELDS = ("backend", "level_of_theory", "settings_hash", "barrier", "barrier_max", "e_kra_min", "e_kra_max", "n_hops", "n_flagged", "n_failed")
DESCRIPTOR_FIELDS = (
    "o2p_center",
    "o2p_center_vbm",
    "o2p_center_full",
    "o2p_width",
    "tm_d_center",
    "covalency",
    "dp_separation",
    "band_gap",
    "e_vac_o",
    "e_vac_o_tp",
    "delta_e_vac_o",
    "e_vac_li",
    "bader_dopant_charge",
    "bader_charge_li",
    "bader_charge_tm",
    "bader_charge_o",
    *GEOMETRY_NAMES,
)
FIELDS = CONFIG_FIELDS + SUMMARY_FIELDS + DESCRIPTOR_FIELDS


class QueryError(LroxInputError):
    """A filter expression that does not parse; the message says where."""


# ----- the filter language --------------------------------------------------------------------------
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
      | (?P<string>'[^']*'|"[^"]*")
      | (?P<op><=|>=|==|!=|=|<|>)
      | (?P<paren>[(),])
      | (?P<word>[A-Za-z_][\w.+\-]*)
    )""",
    re.VERBOSE,
)
_OPS = {"=", "==", "!=", "<", "<=", ">", ">="}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int


def _tokens(text: str) -> list[_Token]:
    out, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise QueryError(f"query: unexpected character {text[position:].lstrip()[:1]!r} at position {position + 1}")
        kind = match.lastgroup
        out.append(_Token(kind, match.group(kind), match.start(kind)))
        position = match.end()
    return out


class _Parser:
    def __init__(self, text: str):
        if len(text) > 2000:
            raise QueryError("query: expression longer than 2000 characters")
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self, *words) -> bool:
        if self.i >= len(self.tokens):
            return False
        t = self.tokens[self.i]
        return t.text.lower() in words if t.kind in ("word", "paren", "op") else False

    def take(self) -> _Token:
        if self.i >= len(self.tokens):
            raise QueryError("query: expression ends too early")
        self.i += 1
        return self.tokens[self.i - 1]

    def expect(self, text: str) -> None:
        t = self.take()
        if t.text.lower() != text:
            raise QueryError(f"query: expected '{text}' at position {t.position + 1}, found '{t.text}'")

    def parse(self):
        if not self.tokens:
            raise QueryError("query: empty expression")
        node = self.expr()
        if self.i != len(self.tokens):
            t = self.tokens[self.i]
            raise QueryError(f"query: unexpected '{t.text}' at position {t.position + 1}")
        return node

    def expr(self):
        node = self.term()
        while self.peek("or"):
            self.take()
            node = ("or", node, self.term())
        return node

    def term(self):
        node = self.factor()
        while self.peek("and"):
            self.take()
            node = ("and", node, self.factor())
        return node

    def factor(self):
        if self.peek("not"):
            self.take()
            return ("not", self.factor())
        if self.peek("("):
            self.take()
            node = self.expr()
            self.expect(")")
            return node
        field = self.take()
        if field.kind != "word" or field.text not in FIELDS:
            raise QueryError(f"query: unknown field '{field.text}' at position {field.position + 1} (fields: {', '.join(FIELDS)})")
        if self.peek("is"):
            self.take()
            negate = self.peek("not")
            if negate:
                self.take()
            self.expect("null")
            return ("notnull" if negate else "null", field.text)
        negate = self.peek("not")
        if negate:
            self.take()
        if self.peek("in"):
            self.take()
            self.expect("(")
            values = [self.value()]
            while self.peek(","):
                self.take()
                values.append(self.value())
            self.expect(")")
            return ("notin" if negate else "in", field.text, tuple(values))
        if negate:
            raise QueryError(f"query: 'not' after '{field.text}' must be followed by 'in'")
        op = self.take()
        if op.kind != "op" or op.text not in _OPS:
            raise QueryError(f"query: expected a comparison after '{field.text}' at position {op.position + 1}, found '{op.text}'")
        return ("cmp", field.text, "=" if op.text == "==" else op.text, self.value())

    def value(self):
        t = self.take()
        if t.kind == "number":
            return float(t.text)
        if t.kind == "string":
            return t.text[1:-1]
        if t.kind == "word" and t.text.lower() not in ("and", "or", "not", "in", "is"):
            return t.text
        raise QueryError(f"query: expected a value at position {t.position + 1}, found '{t.text}'")


def parse_filter(text: str):
    """The syntax tree of a filter expression (tuples); raises QueryError with the position on bad input."""
    return _Parser(text).parse()


def _compare(left, op, right) -> bool:
    if left is None:
        return False
    if isinstance(right, float):
        try:
            left = float(left)
        except (TypeError, ValueError):
            return False
    else:
        left = str(left).lower()
        right = str(right).lower()
    return {
        "=": left == right,
        "!=": left != right,
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }[op]


def _matches(node, row: dict) -> bool:
    kind = node[0]
    if kind == "and":
        return _matches(node[1], row) and _matches(node[2], row)
    if kind == "or":
        return _matches(node[1], row) or _matches(node[2], row)
    if kind == "not":
        return not _matches(node[1], row)
    if kind == "null":
        return row.get(node[1]) is None
    if kind == "notnull":
        return row.get(node[1]) is not None
    if kind in ("in", "notin"):
        value = row.get(node[1])
        if node[1] == "dopant" and value:
            hit = any(_compare(part, "=", v) for part in str(value).split(",") for v in node[2])
        else:
            hit = any(_compare(value, "=", v) for v in node[2])
        return hit if kind == "in" else (value is not None and not hit)
    _, field, op, value = node
    if field == "dopant" and op == "=" and row.get(field):
        return any(_compare(part, "=", value) for part in str(row[field]).split(","))
    return _compare(row.get(field), op, value)


# ----- the table ---------------------------------------------------------------------------------
def descriptor_table(db, oxygen: tuple[float, float] | None = None) -> list[dict]:
    """One row per configuration × level of theory × settings with every field of FIELDS (None where absent).

    ``oxygen`` = (T in K, pO2 in atm): ``e_vac_o_tp`` is E_f(V_O) re-evaluated there from each
    stored O-rich value and its μ_O (E_f is linear in μ_O: nothing reruns).
    """
    from descriptors.vacancy import reevaluate

    from descriptors.database import CalculationRow, ConfigurationRow, DescriptorRow

    configs = {c["id"]: c for c in db.rows(ConfigurationRow)}
    failed = defaultdict(int)
    for calc in db.rows(CalculationRow):
        if calc["status"] == "failed" and calc["configuration_id"]:
            failed[(calc["configuration_id"], calc["level_of_theory"], calc["settings_hash"])] += 1
    table: dict[tuple, dict] = {}
    for d in db.rows(DescriptorRow):
        key = (d["configuration_id"], d["level_of_theory"], d["settings_hash"])
        config = configs.get(d["configuration_id"])
        if config is None:
            continue
        row = table.setdefault(
            key,
            {
                **{f: config.get(f) for f in CONFIG_FIELDS},
                "backend": d["backend"],
                "level_of_theory": d["level_of_theory"],
                "settings_hash": d["settings_hash"],
                "_barriers": [],
                "_kra": [],
                "n_flagged": 0,
                **{f: None for f in DESCRIPTOR_FIELDS},
            },
        )
        if d["name"] in ("barrier", "e_kra"):
            if d["status"] == "ok" and d["value"] is not None:
                row["_barriers" if d["name"] == "barrier" else "_kra"].append(d["value"])
            elif d["status"] == "flagged" and d["name"] == "barrier":
                row["n_flagged"] += 1
        elif d["name"] in DESCRIPTOR_FIELDS and d["status"] == "ok":
            if d["name"] == "e_vac_o_tp" and oxygen is not None:
                continue  # replaced by the conditions asked for
            row[d["name"]] = d["value"]
            if d["name"] == "e_vac_o" and oxygen is not None and d["details"].get("chemical_potential"):
                row["e_vac_o_tp"] = reevaluate(d["value"], d["details"]["chemical_potential"], temperature=oxygen[0], pressure=oxygen[1])
    out = []
    for key, row in table.items():
        barriers, kra = row.pop("_barriers"), row.pop("_kra")
        row["barrier"] = min(barriers) if barriers else None
        row["barrier_max"] = max(barriers) if barriers else None
        row["e_kra_min"] = min(kra) if kra else None
        row["e_kra_max"] = max(kra) if kra else None
        row["n_hops"] = len(barriers)
        row["n_failed"] = failed.get(key, 0)
        out.append({f: row.get(f) for f in FIELDS})
    return out


def parse_oxygen(text: str) -> tuple[float, float]:
    """``"1173,0.21"`` → (1173.0, 0.21): temperature in K and O2 partial pressure in atm."""
    import math

    from descriptors.vacancy import delta_mu_oxygen

    parts = [p.strip() for p in str(text).split(",")]
    try:
        t, p = (float(parts[0]), float(parts[1]) if len(parts) > 1 else 1.0)
    except (ValueError, IndexError):
        raise LroxInputError(f"--oxygen '{text}': expected T,pO2 (K, atm), e.g. 1173,0.21") from None
    if len(parts) > 2 or not (math.isfinite(t) and math.isfinite(p)):
        raise LroxInputError(f"--oxygen '{text}': expected two finite numbers T,pO2 (K, atm)")
    try:
        delta_mu_oxygen(t, p)
    except ValueError as exc:
        raise LroxInputError(f"--oxygen '{text}': {exc}") from None
    return t, p


def query(db, where: str | None = None, sort: str | None = None, oxygen: tuple[float, float] | None = None) -> list[dict]:
    """Rows of :func:`descriptor_table` that satisfy ``where``, sorted by ``sort`` (``-field`` descending)."""
    rows = descriptor_table(db, oxygen)
    if where:
        tree = parse_filter(where)
        rows = [r for r in rows if _matches(tree, r)]
    if sort:
        descending = sort.startswith("-")
        field = sort.lstrip("-")
        if field not in FIELDS:
            raise QueryError(f"query: unknown sort field '{field}' (fields: {', '.join(FIELDS)})")
        present = [r for r in rows if r.get(field) is not None]
        missing = [r for r in rows if r.get(field) is None]
        present.sort(key=lambda r: (r[field] if isinstance(r[field], int | float) else str(r[field])), reverse=descending)
        rows = present + missing  # rows without the field go last either way
    else:
        rows.sort(key=lambda r: (str(r["host"]), str(r["level_of_theory"]), str(r["settings_hash"]), str(r["name"]), str(r["id"])))
    return rows


def to_dataframe(url: str | None = None, where: str | None = None):
    """The query table as a pandas DataFrame: ``to_dataframe("sqlite:///lrox.db", "barrier < 0.5")``."""
    import pandas as pd

    from descriptors.database import DescriptorDatabase

    return pd.DataFrame(query(DescriptorDatabase(url), where), columns=list(FIELDS))


def export(db, out, fmt: str, where: str | None = None, overwrite: bool = False) -> int:
    """Write the query table to ``out`` as csv, json or parquet; refuses to replace a file unless asked."""
    from pathlib import Path

    import pandas as pd

    out = Path(out)
    if fmt not in ("csv", "json", "parquet"):
        raise LroxInputError(f"export: unknown format '{fmt}' (csv, json, parquet)")
    if out.exists() and not overwrite:
        raise LroxInputError(f"export: {out} exists; pass --overwrite to replace it")
    if not out.parent.exists():
        raise LroxInputError(f"export: folder {out.parent} does not exist")
    rows = query(db, where)
    frame = pd.DataFrame(rows, columns=list(FIELDS))
    if fmt == "csv":
        frame.to_csv(out, index=False)
    elif fmt == "json":
        import json

        out.write_text(json.dumps(rows, indent=1, default=str))
    else:
        frame.to_parquet(out, index=False)
    return len(rows)
