"""The options every command that opens the panel's database takes, shared by
``skypanel-hubspot`` and ``python -m skypanel_hubspot_plugin.worker``, and the checks
every option's value goes through.

A value is checked where argparse reads it (its ``type=``), so a bad one stops the
command before anything is opened or changed: one line naming the option and what is
wrong, exit code 2 (:class:`OneLineParser`).
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from typing import NoReturn
from urllib.parse import urlsplit

from skypanel_hubspot_plugin.common.json_logs import LOG_FORMAT_ENV, LOG_FORMATS
from skypanel_hubspot_plugin.hubspot.versions import SUPPORTED, UnknownApiVersion, version_named

DATABASE_ENV = "SKYPANEL_DATABASE_URL"


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (``prog: error: …``) and
    exit code 2, so a script's log shows the reason rather than the usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An option type: a whole number from ``low`` to ``high``, or the reason it is not.

    The length is checked before ``int()``: a number of thousands of digits is refused
    without being converted."""

    def parse(raw: str) -> int:
        text = raw.strip()
        digits = text.lstrip("+-")
        if not digits.isascii() or not digits.isdigit() or len(text) - len(digits) > 1:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number")
        if len(digits) > len(str(high)) or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"{raw} is out of range: use {low} to {high}")
        return int(text)

    parse.__name__ = "whole number"  # argparse names the type in some messages
    return parse


def group_key(raw: str) -> str:
    """An option type: the key of a group in the problems view (12 hex digits)."""
    text = raw.strip().lower()
    if len(text) != 12 or not all(c in "0123456789abcdef" for c in text):
        raise argparse.ArgumentTypeError(
            f"{raw!r} is not a group key (12 hex digits, as `skypanel-hubspot problems` lists)"
        )
    return text


def seconds(low: float, high: float) -> Callable[[str], float]:
    """An option type: a number of seconds from ``low`` to ``high`` (no nan or infinity)."""

    def parse(raw: str) -> float:
        try:
            value = float(raw) if len(raw) <= 32 else math.nan
        except ValueError:
            value = math.nan
        if math.isnan(value):
            raise argparse.ArgumentTypeError(f"{raw!r} is not a number of seconds")
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{raw} is out of range: use {low:g} to {high:g}")
        return value

    parse.__name__ = "seconds"
    return parse


def http_url(raw: str) -> str:
    """``--base-url``'s type: an http(s) URL with a host, without its trailing slash."""
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"{raw!r} is not an http(s) URL with a host, e.g. https://api.hubapi.com"
        )
    return raw.strip().rstrip("/")


def api_version(value: str) -> str:
    """``--api-version``'s type: a supported version's name, or the reason it is not one."""
    if not value.strip():  # the setting's own parser reads "" as "the default"; here it is a typo
        raise argparse.ArgumentTypeError(f"is empty: name one of {', '.join(SUPPORTED)}")
    try:
        return version_named(value).name
    except UnknownApiVersion as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_panel_options(parser: argparse.ArgumentParser) -> None:
    """``--database-url``, ``--base-url`` and ``--api-version``, each help showing its default."""
    parser.add_argument(
        "--database-url",
        default=os.environ.get(DATABASE_ENV),
        required=DATABASE_ENV not in os.environ,
        metavar="URL",
        help=f"SQLAlchemy URL of the panel's database (default: ${DATABASE_ENV})",
    )
    parser.add_argument(
        "--base-url",
        type=http_url,
        default=None,
        metavar="URL",
        help="HubSpot API base URL (default: $SKYPANEL_HUBSPOT_BASE_URL, "
        "else https://api.hubapi.com)",
    )
    parser.add_argument(
        "--api-version",
        type=api_version,
        default=None,
        help=f"HubSpot API version, overriding the setting ({', '.join(SUPPORTED)}; "
        "default: the setting's)",
    )


def add_log_format_option(parser: argparse.ArgumentParser, *, text: str) -> None:
    """``--log-format text|json``; ``text`` says what the text format does for this command."""
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=None,
        help=f"json: the plugin's log records on stderr as JSON lines; text: {text} "
        f"(default: ${LOG_FORMAT_ENV}, else text)",
    )
