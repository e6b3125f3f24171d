"""Start-up and shut-down: the plugin's runtime lives between them."""

from __future__ import annotations

import logging

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.hookspecs import hookimpl
from skypanel_hubspot_plugin.payloads import HostContext

log = logging.getLogger("skypanel_hubspot_plugin.hooks")


@hookimpl
def skypanel_startup(host: HostContext) -> None:
    # A bad key or an unusable settings table leaves HubSpot off, never the panel down.
    try:
        runtime.start(host)
    except Exception as exc:
        log.error("HubSpot plugin not started: %s", exc)


@hookimpl
def skypanel_shutdown() -> None:
    try:
        runtime.stop()
    except Exception:
        log.exception("HubSpot plugin did not stop cleanly")
