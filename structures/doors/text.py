"""The door out: text that reaches a terminal or a log.

* :func:`redact` masks credentials (``scheme://user:***@host``, ``password=***``, the values of
  secret-looking environment variables) in time linear in the text: every pattern starts only where
  a word starts and every repetition is bounded, so a 100 000-letter argument costs milliseconds.
* :func:`printable` replaces control and format characters (ESC, OSC, BEL, C1 controls, bidi and
  zero-width marks) with visible ``\\xNN`` escapes, so nothing a user typed or a file held can move
  the cursor, retitle the terminal or hide text.
* :func:`shown` is both, on one line, cut to a length a person reads: what an error message quotes.
"""

from __future__ import annotations

import os
import re

__all__ = ["redact", "printable", "shown", "one_line"]

_SECRET_WORDS = ("password", "passwd", "secret", "token", "apikey", "api_key")

# a URL's user:password@: the scheme starts where a word starts (no backtracking into a run of
# letters), and every part is bounded
_URL_CREDENTIALS = re.compile(r"(?i)(?<![a-z0-9+.\-])([a-z][a-z0-9+.\-]{0,63}://[^\s:/@'\"]{0,512}):([^\s@'\"]{0,2048})@")
_KEY_VALUE = re.compile(
    rf"(?i)\b((?:{'|'.join(_SECRET_WORDS)})\w{{0,64}}['\"]?\s{{0,16}}[=:]\s{{0,16}}['\"]?)([^\s&;,'\"}}]+)"
)
# C0 controls but tab and newline, DEL, C1 controls, and the format characters that reorder or hide
# text (bidi embeddings, overrides and isolates, zero-width marks, line/paragraph separators)
_FORMAT = "\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb"
_UNPRINTABLE = re.compile(f"[\x00-\x08\x0b-\x1f{_FORMAT}]")  # all but tab and newline
_ANY_CONTROL = re.compile(f"[\x00-\x1f{_FORMAT}]")


def redact(text) -> str:
    """The text with every credential masked; linear in its length."""
    text = _URL_CREDENTIALS.sub(r"\1:***@", str(text))
    text = _KEY_VALUE.sub(r"\1***", text)
    for name, value in os.environ.items():
        if value and len(value) >= 4 and any(word in name.lower() for word in _SECRET_WORDS):
            text = text.replace(value, "***")
    return text


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text, keep: str = "\n\t") -> str:
    """The text with control and format characters shown as escapes (``keep``: those left as they are)."""
    text = str(text)
    if keep == "\n\t":
        return _UNPRINTABLE.sub(_escape, text)
    if not keep:
        return _ANY_CONTROL.sub(_escape, text)
    return _ANY_CONTROL.sub(lambda m: m.group() if m.group() in keep else _escape(m), text)


def one_line(text) -> str:
    """All whitespace runs (newlines included) as one space."""
    return " ".join(str(text).split())


def shown(text, limit: int = 80) -> str:
    """A value quoted in a message: redacted, on one line, escapes visible, at most ``limit`` characters."""
    text = printable(redact(one_line(text)), keep="")
    return text if len(text) <= limit else text[: limit - 1] + "…"
