"""The Prometheus collector: every metric of :mod:`.names`, read from the database when scraped.

Needs prometheus_client (the ``metrics`` extra). A host adds it to its own registry::

    from prometheus_client import REGISTRY
    from skypanel_hubspot_plugin.prometheus import HubSpotCollector

    REGISTRY.register(HubSpotCollector())  # the running plugin's database, at each scrape

or names a database (``HubSpotCollector(engine)``) to scrape from a process that does not
run the plugin. Nothing is read at registration: only when a scrape asks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.metrics import names
from skypanel_hubspot_plugin.metrics.counters import parse_labels
from skypanel_hubspot_plugin.prometheus.gauges import INTERVAL_S, Knobs, Reading, read
from skypanel_hubspot_plugin.settings.model import HubSpotSettings


class HubSpotCollector(Collector):
    """The integration's metrics for one database.

    With no ``engine``, each scrape reads the database and settings of the plugin running
    in this process (and fails while it is not running); with one, that database and the
    settings saved in it.
    """

    def __init__(
        self,
        engine: Engine | None = None,
        *,
        settings: Callable[[], HubSpotSettings] | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings

    def __repr__(self) -> str:
        return f"HubSpotCollector(engine={self.engine!r})"

    def describe(self) -> Iterable[Metric]:
        """The families, without samples: registering reads nothing."""
        return [_family(m) for m in (*names.STORED, *names.GAUGES)]

    def collect(self) -> Iterable[Metric]:
        engine, settings = self.engine, self.settings
        if engine is None:
            rt = runtime.current()
            engine, settings = rt.outbox.engine, settings or rt.settings
        reading = read(engine, Knobs.of(settings()) if settings is not None else None)
        yield from _stored(reading)
        yield from _gauges(reading)


def _family(metric: names.Metric) -> Metric:
    labels = list(metric.labels)
    if metric.kind == names.COUNTER:
        return CounterMetricFamily(metric.name, metric.help, labels=labels)
    if metric.kind == names.HISTOGRAM:
        return HistogramMetricFamily(metric.name, metric.help, labels=labels)
    return GaugeMetricFamily(metric.name, metric.help, labels=labels)


def _label_values(metric: names.Metric, labels: dict[str, str]) -> list[str]:
    return [labels.get(name, "") for name in metric.labels]


def _stored(reading: Reading) -> Iterator[Metric]:
    by_name: dict[str, list[tuple[dict[str, str], float]]] = {}
    for name, text, value in reading.counters:
        by_name.setdefault(name, []).append((parse_labels(text), value))
    for metric in names.STORED:
        family = _family(metric)
        if metric.kind == names.COUNTER:
            for labels, value in sorted(
                by_name.get(metric.name, []), key=lambda s: sorted(s[0].items())
            ):
                assert isinstance(family, CounterMetricFamily)
                family.add_metric(_label_values(metric, labels), value)
        else:
            assert isinstance(family, HistogramMetricFamily)
            _histogram(family, metric, by_name)
        yield family


def _histogram(
    family: HistogramMetricFamily,
    metric: names.Metric,
    by_name: dict[str, list[tuple[dict[str, str], float]]],
) -> None:
    """Buckets are stored one by one (what fell in each); Prometheus wants them cumulative."""
    sums: dict[tuple[str, ...], float] = {}
    buckets: dict[tuple[str, ...], dict[str, float]] = {}
    for labels, value in by_name.get(f"{metric.name}_sum", []):
        sums[tuple(_label_values(metric, labels))] = value
    for labels, value in by_name.get(f"{metric.name}_bucket", []):
        key = tuple(_label_values(metric, labels))
        buckets.setdefault(key, {})[labels.get("le", "+Inf")] = value
    bounds = [repr(float(b)) for b in metric.buckets] + ["+Inf"]
    for key in sorted(set(sums) | set(buckets)):
        counts = buckets.get(key, {})
        running = 0.0
        cumulative: list[tuple[str, float]] = []
        for bound in bounds:
            running += counts.get(bound, 0.0)
            cumulative.append((bound, running))
        family.add_metric(list(key), cumulative, sums.get(key, 0.0))


def _gauges(reading: Reading) -> Iterator[Metric]:
    def gauge(metric: names.Metric, value: float) -> GaugeMetricFamily:
        family = GaugeMetricFamily(metric.name, metric.help, labels=[])
        family.add_metric([], value)
        return family

    depth = GaugeMetricFamily(names.QUEUE_DEPTH.name, names.QUEUE_DEPTH.help, labels=["status"])
    for status, n in sorted(reading.queue.items()):
        depth.add_metric([status], n)
    yield depth
    yield gauge(names.OLDEST_QUEUED_AGE, reading.oldest_queued_age_s)
    yield gauge(names.PARKED, reading.parked)
    yield gauge(names.RATE_LIMIT_REMAINING, reading.rate_limit_remaining)
    yield gauge(names.RATE_LIMIT, reading.rate_limit)
    yield gauge(names.RATE_LIMIT_WINDOW, INTERVAL_S)
    yield gauge(names.DAILY_LIMIT_PAUSED, 1.0 if reading.pause_remaining_s > 0 else 0.0)
    yield gauge(names.DAILY_LIMIT_PAUSE, reading.pause_remaining_s)
    poll = GaugeMetricFamily(names.POLL_AGE.name, names.POLL_AGE.help, labels=[])
    if reading.poll_age_s is not None:
        poll.add_metric([], reading.poll_age_s)
    yield poll
