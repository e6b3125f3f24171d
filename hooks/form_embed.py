"""HubSpot forms where the host places them, from cached settings: no query, no HTTP call."""

from __future__ import annotations

import logging

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.form_embed import form_embed
from skypanel_hubspot_plugin.hookspecs import hookimpl
from skypanel_hubspot_plugin.payloads import PageContext

log = logging.getLogger("skypanel_hubspot_plugin.hooks")
_reported: set[str] = set()


@hookimpl
def skypanel_form_embed(form: str, page: PageContext) -> str | None:
    # A failure here would break the host's page: log it once, leave the spot empty.
    try:
        html = form_embed(runtime.current().settings(), form, page)
    except Exception as exc:
        _report_once(f"{type(exc).__name__}: {exc}")
        return None
    return html or None


def _report_once(reason: str) -> None:
    if reason not in _reported:
        _reported.add(reason)
        log.error("HubSpot form left out of the page: %s", reason)
