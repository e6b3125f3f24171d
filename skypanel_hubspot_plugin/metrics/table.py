"""The counters every process adds to, as one small table: a scrape from any process reads them all.

One row per metric name and label set; ``value`` only ever grows. A histogram is stored as
rows of the same kind: one per bucket (the observations that fell in it, not yet
cumulative), and one for the sum of what was observed.
"""

from __future__ import annotations

from sqlmodel import Field

from skypanel_hubspot_plugin.settings.table import PluginTable


class MetricCounter(PluginTable, table=True):
    """One counter (or one histogram bucket or sum): its name, its labels and its total."""

    __tablename__ = "hubspot_metric_counters"

    name: str = Field(primary_key=True, max_length=100)
    #: The labels as ``name=value`` pairs in name order, joined by commas; values come from
    #: fixed vocabularies (kinds, outcomes, API areas, status codes), never from a record.
    labels: str = Field(primary_key=True, max_length=200)
    value: float = 0.0
