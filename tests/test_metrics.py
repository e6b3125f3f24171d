"""Metrics as an operator sees them: names and labels a scrape shows, counts that are exact
however many processes add to them, gauges read from the database, and a package that
imports and runs without prometheus_client; SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, event, func, select

from skypanel_hubspot_plugin.common import clock
from skypanel_hubspot_plugin.delivery.outbox_table import utcnow
from skypanel_hubspot_plugin.delivery.rate_limit import SharedRateLimit
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.hubspot.api_areas import AREAS, area_of
from skypanel_hubspot_plugin.hubspot.versions import SUPPORTED, version_named
from skypanel_hubspot_plugin.metrics import Recorder
from skypanel_hubspot_plugin.metrics.names import REQUEST_DURATION
from skypanel_hubspot_plugin.metrics.table import MetricCounter
from skypanel_hubspot_plugin.prometheus import HubSpotCollector
from skypanel_hubspot_plugin.runtime import Runtime

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(collector: HubSpotCollector) -> tuple[str, Samples]:
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return text, found


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def drain(rt: Runtime) -> None:
    worker = Worker(rt)
    while worker.run_once():
        pass


# -- API areas: a fixed list, whatever a path carries ------------------------------------------

ids = st.text(min_size=1, max_size=40).filter(lambda s: "/" not in s and "?" not in s)


@given(path=st.text(max_size=200))
def test_any_path_is_one_of_the_fixed_areas(path: str) -> None:
    assert area_of(path) in AREAS


@given(record=ids, other=ids, version=st.sampled_from(SUPPORTED))
def test_the_areas_of_the_paths_the_plugin_calls(record: str, other: str, version: str) -> None:
    api = version_named(version)
    assert area_of(api.object("contacts", record)) == "contacts"
    assert area_of(api.batch("contacts", "upsert")) == "contacts"
    assert area_of(api.object("tickets", record)) == "tickets"
    assert area_of(api.search("tickets")) == "search"
    assert area_of(api.association("tickets", record, "contacts", other)) == "associations"
    assert area_of(api.property("tickets", "skypanel_ticket_id")) == "properties"
    assert area_of(api.pipelines("tickets")) == "pipelines"
    assert area_of(api.account_details()) == "account"


# -- what a scrape shows -----------------------------------------------------------------------


def test_a_host_registers_the_collector_before_start_and_scrapes_after(
    rt: Runtime,
) -> None:
    registry = CollectorRegistry()
    registry.register(HubSpotCollector())  # reads nothing until scraped
    for i in range(3):
        email = f"user{i}@example.com"
        rt.outbox.record("contact.upsert", f"user:{email}", {"properties": {"email": email}})
    drain(rt)
    text = generate_latest(registry).decode()
    assert (
        'skypanel_hubspot_deliveries_total{kind="contact.upsert",outcome="delivered"} 3.0' in text
    )
    assert 'skypanel_hubspot_requests_total{area="contacts",status="2xx"} 1.0' in text
    assert "@" not in text  # no label names a record
    assert 'skypanel_hubspot_queue_depth{status="due"} 0.0' in text


def test_histograms_are_cumulative_with_a_count_and_a_sum(engine: Engine, rt: Runtime) -> None:
    recorder = Recorder(engine, enabled=True)
    for seconds in (0.01, 0.07, 0.07, 3.0, 99.0):
        recorder.request("tickets", "2xx", seconds)
    _, found = scrape(HubSpotCollector(engine))
    bucket = f"{REQUEST_DURATION.name}_bucket"
    assert value(found, bucket, area="tickets", le="0.025") == 1
    assert value(found, bucket, area="tickets", le="0.1") == 3
    assert value(found, bucket, area="tickets", le="5.0") == 4
    assert value(found, bucket, area="tickets", le="+Inf") == 5
    assert value(found, f"{REQUEST_DURATION.name}_count", area="tickets") == 5
    assert value(found, f"{REQUEST_DURATION.name}_sum", area="tickets") == pytest.approx(102.15)


def test_counts_from_many_processes_at_once_are_exact(engine: Engine, rt: Runtime) -> None:
    # Each thread has a recorder and a connection pool of its own, as a process would.
    threads, each = 4, 25
    start = threading.Barrier(threads)

    def count(n: int) -> None:
        recorder = Recorder(engine, enabled=True)
        start.wait()
        with recorder.batch():
            for i in range(each):
                recorder.request("contacts", "429" if i % 5 == 0 else "2xx", 0.2)
        for _ in range(each):
            recorder.webhook_events({("ticket.propertyChange", "handled"): 1})

    workers = [threading.Thread(target=count, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(60)
    _, found = scrape(HubSpotCollector(engine))
    total = threads * each
    assert (
        value(found, "skypanel_hubspot_requests_total", area="contacts", status="429") == total / 5
    )
    assert (
        value(found, "skypanel_hubspot_requests_total", area="contacts", status="2xx")
        == total * 4 / 5
    )
    assert (
        value(
            found,
            "skypanel_hubspot_webhook_events_total",
            type="ticket.propertyChange",
            outcome="handled",
        )
        == total
    )


def test_gauges_read_the_queue_the_rate_budget_and_the_pause(engine: Engine, rt: Runtime) -> None:
    for email in ("a@example.com", "b@example.com"):
        rt.outbox.record("contact.upsert", f"user:{email}", {"properties": {"email": email}})
    clock.advance(30)
    try:
        limiter = SharedRateLimit(engine, lambda: rt.settings().rate_limit)
        assert limiter.acquire(threading.Event()) is not None
        rt.outbox.pause_until(utcnow() + timedelta(seconds=600))
        _, found = scrape(HubSpotCollector())
    finally:
        clock.reset()
    assert value(found, "skypanel_hubspot_queue_depth", status="due") == 2
    assert value(found, "skypanel_hubspot_oldest_queued_age_seconds") == pytest.approx(30, abs=5)
    limit = rt.settings().rate_limit
    assert value(found, "skypanel_hubspot_rate_limit_requests") == limit
    assert value(found, "skypanel_hubspot_rate_limit_remaining") == limit - 1
    assert value(found, "skypanel_hubspot_daily_limit_paused") == 1
    assert value(found, "skypanel_hubspot_daily_limit_pause_remaining_seconds") == pytest.approx(
        600, abs=5
    )
    # The same figures from a process that does not run the plugin: the saved settings.
    _, from_engine = scrape(HubSpotCollector(engine))
    assert value(from_engine, "skypanel_hubspot_rate_limit_requests") == limit


def test_polling_age_is_shown_only_while_polling_is_the_way_back(
    engine: Engine, rt: Runtime
) -> None:
    _, found = scrape(HubSpotCollector())
    assert not [k for k in found if k[0] == "skypanel_hubspot_ticket_poll_age_seconds"]


# -- off, and without prometheus_client --------------------------------------------------------


def test_with_metrics_off_delivery_writes_no_count(engine: Engine, rt: Runtime) -> None:
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    rt.outbox.metrics = Recorder(engine, enabled=False)
    rt.outbox.record(
        "contact.upsert", "user:off@example.com", {"properties": {"email": "off@example.com"}}
    )
    rt._service = None  # rebuilt without the request observer
    drain(rt)
    assert not [s for s in statements if "hubspot_metric_counters" in s]
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(MetricCounter)).scalar() == 0


def test_the_package_imports_and_runs_without_prometheus_client() -> None:
    code = (
        "import json, sys\n"
        "sys.modules['prometheus_client'] = None\n"  # as if not installed
        "import skypanel_hubspot_plugin, skypanel_hubspot_plugin.prometheus\n"
        "skypanel_hubspot_plugin.plugin_manager()\n"
        "import skypanel_hubspot_plugin.cli, skypanel_hubspot_plugin.worker\n"
        "from skypanel_hubspot_plugin.metrics import metrics_wanted\n"
        "from skypanel_hubspot_plugin.admin.metrics_route import get_metrics\n"
        "from skypanel_hubspot_plugin import AdminRequest\n"
        "answer = get_metrics(AdminRequest())\n"
        "try:\n"
        "    skypanel_hubspot_plugin.prometheus.HubSpotCollector\n"
        "    missing = False\n"
        "except ImportError:\n"
        "    missing = True\n"
        "print(json.dumps([metrics_wanted(), answer.status, answer.body['message'], missing]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "SKYPANEL_HUBSPOT_METRICS"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    )
    wanted, status, message, missing = json.loads(done.stdout)
    assert wanted is False
    assert status == 501
    assert "skypanel-hubspot-plugin[metrics]" in message
    assert missing is True


def test_the_package_imports_no_prometheus_client_until_a_scrape_needs_it() -> None:
    code = (
        "import sys\n"
        "import skypanel_hubspot_plugin, skypanel_hubspot_plugin.prometheus\n"
        "skypanel_hubspot_plugin.plugin_manager()\n"
        "import skypanel_hubspot_plugin.cli, skypanel_hubspot_plugin.worker\n"
        "import skypanel_hubspot_plugin.runtime\n"
        "print('prometheus_client' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "False"
