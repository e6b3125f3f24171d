"""The options every command that opens the panel's database takes, shared by
``skypanel-hubspot`` and ``python -m skypanel_hubspot_plugin.worker``."""

from __future__ import annotations

import argparse
import os

from skypanel_hubspot_plugin.hubspot.versions import SUPPORTED, UnknownApiVersion, version_named

DATABASE_ENV = "SKYPANEL_DATABASE_URL"


def api_version(value: str) -> str:
    """``--api-version``'s type: a supported version's name, or the reason it is not one."""
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
