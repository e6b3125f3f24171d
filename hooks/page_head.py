"""The chat loader in every page's ``<head>``, from cached settings: no query, no HTTP call."""

from __future__ import annotations

import logging

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.common.log_once import LogOnce
from skypanel_hubspot_plugin.hookspecs import hookimpl
from skypanel_hubspot_plugin.page.rendering import chat_loader
from skypanel_hubspot_plugin.payloads import PageContext

_report_once = LogOnce(
    logging.getLogger("skypanel_hubspot_plugin.hooks"),
    "HubSpot chat script left out of the page head",
)


@hookimpl
def skypanel_page_head(page: PageContext) -> str | None:
    if page.tracking_consent is False:
        return None  # the visitor refused tracking, and HubSpot's chat loader tracks
    # Any failure here would be a 500 on every page of the panel: log it once, render nothing.
    try:
        rt = runtime.current()
        settings = rt.settings()
        identity = None
        user = page.user
        if (
            settings.chat_active
            and settings.chat_identify_visitors
            and user
            and user.email_verified
        ):
            identity = rt.identities.identity(user)  # cached; a miss mints in the background
        html = chat_loader(settings, page.csp_nonce, identity)
    except Exception as exc:
        _report_once(exc)
        return None
    return html or None
