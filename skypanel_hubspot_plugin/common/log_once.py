"""Logging a failure once per reason, for code that runs on every page.

A hook that renders into a page must never raise into the host, and a broken setting
would otherwise log the same error on every request; each distinct reason is logged once.
"""

from __future__ import annotations

import logging


class LogOnce:
    """``LogOnce(log, "HubSpot chat script left out of the page head")(reason)``."""

    def __init__(self, log: logging.Logger, what: str) -> None:
        self._log = log
        self._what = what
        self._seen: set[str] = set()

    def __call__(self, exc: Exception) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        if reason not in self._seen:
            self._seen.add(reason)
            self._log.error("%s: %s", self._what, reason)
