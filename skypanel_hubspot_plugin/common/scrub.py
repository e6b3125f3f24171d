"""Keeping secrets out of every text the plugin stores, shows or logs.

Every :class:`~skypanel_hubspot_plugin.common.secret.Secret` remembers its value here when
it is made, so the access token and the app client secret are known as soon as they are
read, from the database or the environment. :func:`scrub` replaces them in any text:

- :class:`ScrubbedText` is the column type of the outbox's ``last_error``, so a stored
  error cannot hold a secret whatever code wrote it;
- :class:`ScrubFilter`, installed by :func:`install_log_filter` on the package's loggers,
  rewrites each log record (message, arguments and traceback) before a handler sees it;
- HubSpot's error answers are scrubbed as they are read (``hubspot/errors.py``), so a token
  HubSpot echoes back never reaches an admin page, a stored error or the command line.

HubSpot (or a proxy, or a traceback) may show a secret in another form than the one we
sent, so matching happens on a normalised view of the text: ``\\uXXXX``, ``\\xXX``, JSON
and Python string escapes and ``%XX`` URL escapes are decoded (nested ones too), all
whitespace is ignored (a secret split over lines) and case is ignored (an upper-cased
echo); a backslash left over from an escape is ignored like whitespace. Any run of at least :data:`MIN_PIECE` characters of a secret is redacted, so a
prefix, a suffix or a middle part is too; the redaction covers the original characters,
escapes and line breaks included.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

REDACTED = "[redacted]"
#: The shortest run of a secret's characters that is redacted wherever it appears.
MIN_PIECE = 8
#: Secrets remembered at most; the oldest are forgotten first (a secret in use is re-read,
#: and so remembered again, whenever the settings are).
MAX_REMEMBERED = 256
PACKAGE = "skypanel_hubspot_plugin"

# One escaped character, in any case (an upper-cased echo turns \u002d into \U002D):
# \UXXXXXXXX (a code point, so at most 0010FFFF), \uXXXX, \xXX, \n \r \t, \/ \" \' \\, %XX.
_ESCAPE = re.compile(
    r"\\U(00(?:0[0-9a-fA-F]|10)[0-9a-fA-F]{4})|\\[uU]([0-9a-fA-F]{4})|\\[xX]([0-9a-fA-F]{2})"
    r"|\\([nrtNRT])|\\([/\"']|\\(?![uU][0-9a-fA-F]{4}))|%([0-9a-fA-F]{2})"
)
#: Escapes inside escapes (``\\u0070`` in JSON, ``%5Cu0070``) are decoded this many times.
_DECODE_ROUNDS = 3

_lock = threading.Lock()
_known: dict[str, frozenset[str]] = {}  # normalised secret -> its MIN_PIECE-long runs
_pieces: frozenset[str] = frozenset()  # the union, swapped whole so readers need no lock


def _ignored(char: str) -> bool:
    """Whitespace (a secret split over lines) and backslashes (an escape's leftover, as in
    ``\\\\u0070``, read as a backslash before ``\\u0070``) are not part of what is matched."""
    return char.isspace() or char == "\\"


def _normalised(value: str) -> str:
    return "".join(_fold(c) for c in value if not _ignored(c))


def _fold(char: str) -> str:
    lower = char.lower()
    return lower if len(lower) == 1 else char  # keeps one character per character


def remember(value: str) -> None:
    """Makes ``value`` (in any of the forms above, or any long enough part of it) scrubbed."""
    secret = _normalised(value)
    if len(secret) < MIN_PIECE:
        return
    global _pieces
    with _lock:
        if secret in _known:
            _known[secret] = _known.pop(secret)  # the newest last: a secret in use stays
            return
        _known[secret] = frozenset(
            secret[i : i + MIN_PIECE] for i in range(len(secret) - MIN_PIECE + 1)
        )
        while len(_known) > MAX_REMEMBERED:
            del _known[next(iter(_known))]
        _pieces = frozenset().union(*_known.values())


def _views(text: str) -> Iterator[tuple[str, list[int], list[int]]]:
    """The normalised characters of ``text`` and, for each, where it starts and ends in it:
    as written, then after each round of decoding escapes. Every reading is searched, as
    nested escapes can be read more than one way (is ``\\\\r00`` a backslash, then
    ``r00``, or an escaped ``\\r``?)."""
    chars = list(text)
    starts = list(range(len(text)))
    ends = list(range(1, len(text) + 1))
    for round_ in range(_DECODE_ROUNDS + 1):
        kept = [i for i, c in enumerate(chars) if not _ignored(c)]
        yield (
            "".join(_fold(chars[i]) for i in kept),
            [starts[i] for i in kept],
            [ends[i] for i in kept],
        )
        joined = "".join(chars)
        matches = list(_ESCAPE.finditer(joined)) if round_ < _DECODE_ROUNDS else []
        if not matches:
            return
        new_chars: list[str] = []
        new_starts: list[int] = []
        new_ends: list[int] = []
        at = 0
        for match in matches:
            new_chars += chars[at : match.start()]
            new_starts += starts[at : match.start()]
            new_ends += ends[at : match.start()]
            new_chars.append(_unescape(match))
            new_starts.append(starts[match.start()])
            new_ends.append(ends[match.end() - 1])
            at = match.end()
        chars = new_chars + chars[at:]
        starts = new_starts + starts[at:]
        ends = new_ends + ends[at:]


def _unescape(match: re.Match[str]) -> str:
    hex_digits = match.group(1) or match.group(2) or match.group(3) or match.group(6)
    if hex_digits:
        return chr(int(hex_digits, 16))
    if match.group(4):
        return " "  # an escaped line break or tab: whitespace, ignored like any other
    return match.group(5)


def scrub(text: str) -> str:
    """``text`` with every remembered secret, or run of one, replaced by ``[redacted]``."""
    pieces = _pieces
    if not pieces or len(text) < MIN_PIECE:
        return text
    found: list[tuple[int, int]] = []  # [start, end) in text
    for normal, starts, ends in _views(text):
        for i in range(len(normal) - MIN_PIECE + 1):
            if normal[i : i + MIN_PIECE] in pieces:
                found.append((starts[i], ends[i + MIN_PIECE - 1]))
    if not found:
        return text
    spans: list[list[int]] = []
    for start, end in sorted(found):
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    out: list[str] = []
    at = 0
    for start, end in spans:
        out += [text[at:start], REDACTED]
        at = end
    out.append(text[at:])
    return "".join(out)


class ScrubbedText(TypeDecorator[str]):
    """A Text column whose every written value has been through :func:`scrub`."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else scrub(value)


class ScrubFilter(logging.Filter):
    """Rewrites a record's message and traceback with secrets scrubbed; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_skypanel_scrubbed", False):
            return True
        record.msg = scrub(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        record._skypanel_scrubbed = True
        return True


_FILTER = ScrubFilter()


def install_log_filter() -> None:
    """Adds the scrubbing filter to every logger of the package that exists now.

    A logger's filters do not apply to its children's records, so each one gets it; the
    runtime, the worker and the command line call this once their modules are imported."""
    names = [PACKAGE, *(n for n in logging.root.manager.loggerDict if n.startswith(PACKAGE + "."))]
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
