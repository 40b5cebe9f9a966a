"""The filter language of ``lrox query`` and ``lrox query hops``: parsed, never evaluated as code.

::

    expr   := term ("or" term)*
    term   := factor ("and" factor)*
    factor := "not" factor | "(" expr ")" | FIELD OP VALUE | FIELD ["not"] "in" "(" VALUE, ... ")"
              | FIELD "is" ["not"] "null"
    OP     := = | == | != | < | <= | > | >=
    VALUE  := number | 'text' | "text" | bare-word

e.g. ``host = li2mno3 and barrier < 0.5``, ``dopant in (Ti, Al) or defect = pristine``. A parse
gives a tree of tuples; the configuration view evaluates it on rows
(:func:`matches`), the hop table turns it into SQL (:mod:`descriptors.query.hops`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from structures.errors import LroxInputError

__all__ = ["QueryError", "parse_filter", "matches"]


class QueryError(LroxInputError):
    """A filter expression that does not parse; the message says where."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
      | (?P<string>'[^']*'|"[^"]*")
      | (?P<op><=|>=|==|!=|=|<|>)
      | (?P<paren>[(),])
      | (?P<word>[A-Za-z_][\w.+\-]*(?:@[\w.+\-]+)?)
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
    def __init__(self, text: str, fields=None):
        if len(text) > 2000:
            raise QueryError("query: expression longer than 2000 characters")
        self.tokens = _tokens(text)
        self.i = 0
        self.depth = 0
        self.fields = fields

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
        self.depth += 1
        if self.depth > 50:
            raise QueryError("query: expression nested more than 50 levels deep")
        try:
            return self._factor()
        finally:
            self.depth -= 1

    def _factor(self):
        if self.peek("not"):
            self.take()
            return ("not", self.factor())
        if self.peek("("):
            self.take()
            node = self.expr()
            self.expect(")")
            return node
        field = self.take()
        if field.kind != "word" or field.text not in self.fields:
            raise QueryError(f"query: unknown field '{field.text}' at position {field.position + 1} (fields: {', '.join(self.fields)})")
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


def parse_filter(text: str, fields):
    """The syntax tree of a filter expression (tuples); raises QueryError with the position on bad input.

    ``fields``: the names a filter may use (anything with ``in``: the table that resolves them).
    """
    return _Parser(text, fields).parse()


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


def matches(node, row: dict) -> bool:
    kind = node[0]
    if kind == "and":
        return matches(node[1], row) and matches(node[2], row)
    if kind == "or":
        return matches(node[1], row) or matches(node[2], row)
    if kind == "not":
        return not matches(node[1], row)
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
