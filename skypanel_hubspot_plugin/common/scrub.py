"""Keeping secrets out of every text the plugin stores or logs.

Every :class:`~skypanel_hubspot_plugin.common.secret.Secret` remembers its value here when
it is made, so the access token and the app client secret are known as soon as they are
read, from the database or the environment. :func:`scrub` replaces them in any text:

- :class:`ScrubbedText` is the column type of the outbox's ``last_error``, so a stored
  error cannot hold a secret whatever code wrote it;
- :class:`ScrubFilter`, installed by :func:`install_log_filter` on the package's loggers,
  rewrites each log record (message, arguments and traceback) before a handler sees it.

A secret is also found in pieces (a token with a line break, as an error message may
show it split or escaped), down to pieces of :data:`MIN_PIECE` characters.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

REDACTED = "[redacted]"
MIN_PIECE = 8
MAX_REMEMBERED = 256
PACKAGE = "skypanel_hubspot_plugin"

_lock = threading.Lock()
_known: dict[str, None] = {}  # insertion-ordered; the oldest are forgotten past MAX_REMEMBERED


def remember(value: str) -> None:
    """Makes ``value`` (and its escaped form and whitespace-separated pieces) scrubbed from now on."""
    forms = {value, value.strip(), repr(value)[1:-1], *value.split()}
    with _lock:
        for form in forms:
            if len(form) >= MIN_PIECE:
                _known.pop(form, None)
                _known[form] = None  # the newest last: a secret in use is never forgotten
        while len(_known) > MAX_REMEMBERED:
            del _known[next(iter(_known))]


def scrub(text: str) -> str:
    """``text`` with every remembered secret, or piece of one, replaced by ``[redacted]``."""
    with _lock:
        known = sorted(_known, key=len, reverse=True)  # the whole before its pieces
    for secret in known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


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
