"""Prometheus exposition of the integration's metrics (``pip install
skypanel-hubspot-plugin[metrics]``): :class:`HubSpotCollector` for a host's own registry.

The counts themselves are kept by :mod:`skypanel_hubspot_plugin.metrics` in the database;
this package reads them, and the gauges, when scraped. Importing it needs no
prometheus_client: only :class:`HubSpotCollector` does, loaded when first named.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skypanel_hubspot_plugin.prometheus.collector import HubSpotCollector

__all__ = ["HubSpotCollector"]


def __getattr__(name: str) -> Any:
    if name == "HubSpotCollector":
        from skypanel_hubspot_plugin.prometheus.collector import HubSpotCollector

        return HubSpotCollector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
