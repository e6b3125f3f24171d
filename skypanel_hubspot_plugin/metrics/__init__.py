"""Prometheus metrics of the HubSpot integration (``pip install skypanel-hubspot-plugin[metrics]``).

Counts are kept in the database, so every process (web and worker) adds to the same ones
and a scrape of any process sees them all; gauges are read from the database when
scraped. A host registers :class:`HubSpotCollector` in its own registry, or lets admins
scrape ``GET /api/admin/settings/hubspot/metrics``. See docs/operations.md, "Metrics".

Importing this package needs no prometheus_client: only :class:`HubSpotCollector` does,
and it is loaded when first named.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skypanel_hubspot_plugin.metrics.recorder import Recorder, metrics_wanted

if TYPE_CHECKING:
    from skypanel_hubspot_plugin.metrics.collector import HubSpotCollector

__all__ = ["HubSpotCollector", "Recorder", "metrics_wanted"]


def __getattr__(name: str) -> Any:
    if name == "HubSpotCollector":
        from skypanel_hubspot_plugin.metrics.collector import HubSpotCollector

        return HubSpotCollector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
