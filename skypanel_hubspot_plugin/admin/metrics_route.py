"""``GET /api/admin/settings/hubspot/metrics``: the metrics in Prometheus's text format.

An admin route like the others, so every adapter serves it behind the host's admin check
(a Prometheus server scrapes it with the credentials the host's admin check accepts).
Without prometheus_client installed it answers 501 naming the extra to install.
"""

from __future__ import annotations

import importlib.util

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.admin.responses import PREFIX, Route, error
from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse

NOT_INSTALLED = "Metrics need prometheus_client: pip install 'skypanel-hubspot-plugin[metrics]'"


def installed() -> bool:
    """Whether prometheus_client can be imported (without importing it)."""
    try:
        return importlib.util.find_spec("prometheus_client") is not None
    except (ImportError, ValueError):  # a module set to None, or a broken install
        return False


def get_metrics(request: AdminRequest) -> AdminResponse:
    """GET …/metrics: every metric of the integration, read from the database now."""
    if not installed():
        return error(501, NOT_INSTALLED)
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

    from skypanel_hubspot_plugin.prometheus.collector import HubSpotCollector

    rt = runtime.current()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HubSpotCollector(rt.outbox.engine, settings=rt.settings))
    text = generate_latest(registry).decode()
    return AdminResponse(200, text, content_type=CONTENT_TYPE_LATEST)


ROUTES: tuple[Route, ...] = (("GET", f"{PREFIX}/metrics", get_metrics),)
