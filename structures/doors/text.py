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

__all__ = ["redact", "redacted_head", "printable", "shown", "one_line"]

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


# the longest stretch a credential pattern reads from where it starts (scheme, user, password, '@'):
# redacting a text cut N + this many characters on gives its first N characters as redacting the whole
_LONGEST_CREDENTIAL = 64 + 3 + 512 + 1 + 2048 + 1
_SPACES = re.compile(r"\s+")


def _secrets() -> list[str]:
    return [v for k, v in os.environ.items() if v and len(v) >= 4 and any(word in k.lower() for word in _SECRET_WORDS)]


def redacted_head(text, limit: int) -> str:
    """The first ``limit`` characters of the text on one line, redacted, at a cost bounded by ``limit``
    however long the text (a value quoted from a 50 MB file, megabytes of arguments): each pattern
    start reads up to a few thousand characters, so redacting the whole text and then cutting it cost
    seconds per megabyte. Only the head is collapsed and redacted, with room for any credential (or
    secret value) that starts within its first ``limit`` characters."""
    text = str(text)
    need = limit + _LONGEST_CREDENTIAL + max((len(v) for v in _secrets()), default=0)
    head, start, step = "", 0, need + 4096
    while len(head) < need and start < len(text):  # whitespace runs collapse: read on until the head is long enough
        head = _SPACES.sub(" ", head + text[start : start + step])
        start += step
    return redact(head.strip())[:limit]


def redact(text) -> str:
    """The text with every credential masked; linear in its length (but each pattern start reads a
    bounded stretch: a long text is quoted through :func:`redacted_head` or :func:`shown`, which cut first)."""
    text = _URL_CREDENTIALS.sub(r"\1:***@", str(text))
    text = _KEY_VALUE.sub(r"\1***", text)
    for value in _secrets():
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
    text = printable(redacted_head(text, limit + 1), keep="")
    return text if len(text) <= limit else text[: limit - 1] + "…"
