"""HubSpot forms where the host places them, from cached settings: no query, no HTTP call."""

from __future__ import annotations

import logging

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.common.log_once import LogOnce
from skypanel_hubspot_plugin.hookspecs import hookimpl
from skypanel_hubspot_plugin.page.form_embed import form_embed
from skypanel_hubspot_plugin.payloads import PageContext

_report_once = LogOnce(
    logging.getLogger("skypanel_hubspot_plugin.hooks"), "HubSpot form left out of the page"
)


@hookimpl
def skypanel_form_embed(form: str, page: PageContext) -> str | None:
    # A failure here would break the host's page: log it once, leave the spot empty.
    try:
        html = form_embed(runtime.current().settings(), form, page)
    except Exception as exc:
        _report_once(exc)
        return None
    return html or None
