"""The integration's metrics, counted in the database (``pip install
skypanel-hubspot-plugin[metrics]`` turns them on).

Counts are kept in the database, so every process (web and worker) adds to the same ones
and a scrape of any process sees them all. :mod:`skypanel_hubspot_plugin.prometheus` reads
them (and gauges read from the database) when scraped: a host registers its
``HubSpotCollector`` in its own registry, or lets admins scrape
``GET /api/admin/settings/hubspot/metrics``. See docs/operations.md, "Metrics".
"""

from __future__ import annotations

from skypanel_hubspot_plugin.metrics.recorder import Recorder, metrics_wanted

__all__ = ["Recorder", "metrics_wanted"]
