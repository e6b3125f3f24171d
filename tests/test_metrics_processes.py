"""Metrics across processes: two worker processes deliver, the web process answers a
webhook, and one scrape of the metrics route counts each event exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pluggy
import pytest
from host_kill import wait_until
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, select
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.testclient import TestClient
from worker_process import spawn_worker

from skypanel_hubspot_plugin import HostContext, User, runtime
from skypanel_hubspot_plugin.admin.starlette_adapter import admin_routes, public_routes
from skypanel_hubspot_plugin.delivery.coalesce import CONTACT_UPSERT
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, DELIVERED, OutboxRow
from skypanel_hubspot_plugin.metrics.recorder import ENV
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot
from skypanel_hubspot_plugin.webhooks.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_v3

pytestmark = pytest.mark.slow

METRICS = "/api/admin/settings/hubspot/metrics"
WEBHOOK_URL = "https://panel.example.com/api/hubspot/webhooks"
APP_SECRET = "metrics-test-app-secret"
ADMIN = {"X-Role": "admin"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def require_admin(request: Request) -> None:
    if request.headers.get("X-Role") != "admin":
        raise HTTPException(403, "Administrators only")


def no_csrf(request: Request) -> None:
    raise HTTPException(403, "no state changes here")


def samples(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def status_of(engine: Engine, email: str) -> str | None:
    with engine.connect() as connection:
        return connection.execute(
            select(OutboxRow.status).where(OutboxRow.entity == f"user:{email}")  # type: ignore[arg-type]
        ).scalar()


@pytest.fixture
def client(
    pm: pluggy.PluginManager,
    engine: Engine,
    secret_key: str,
    fake: FakeHubSpot,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[TestClient]:
    monkeypatch.setenv(ENV, "1")  # this process and the workers it starts count
    pm.hook.skypanel_startup(
        host=HostContext(
            engine=engine,
            secret_keys=[secret_key],
            hubspot_base_url=fake.base_url,
            run_worker=False,
            settings_poll_interval=0.1,
        )
    )
    runtime.current().store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_app_secret": APP_SECRET,
            "hubspot_webhook_url": WEBHOOK_URL,
        }
    )
    app = Starlette(
        routes=[
            *admin_routes(pm, require_admin=require_admin, require_csrf=no_csrf),
            *public_routes(pm),
        ]
    )
    try:
        with TestClient(app) as test_client:
            yield test_client
    finally:
        pm.hook.skypanel_shutdown()


def post_webhook(client: TestClient, events: list[dict[str, object]]) -> int:
    body = json.dumps(events).encode()
    timestamp = str(int(time.time() * 1000))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign_v3(APP_SECRET, "POST", WEBHOOK_URL, body, timestamp),
    }
    return client.post("/api/hubspot/webhooks", content=body, headers=headers).status_code


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait(30)


def test_two_workers_and_a_web_process_count_each_event_once(
    client: TestClient,
    pm: pluggy.PluginManager,
    engine: Engine,
    secret_key: str,
    fake: FakeHubSpot,
    tmp_path: Path,
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    workers = [
        spawn_worker(url, fake, secret_key, tmp_path / f"worker{i}.log", "--idle", "0.2")
        for i in range(2)
    ]
    try:
        # A 429 first, then the retry delivers.
        fake.fail_next(429, headers={"Retry-After": "1"})
        pm.hook.skypanel_on_user_created(
            user=User(id="ann@example.com", email="ann@example.com"), session=None
        )
        wait_until(lambda: status_of(engine, "ann@example.com") == DELIVERED, 60, "ann delivered")
        # A refusal retrying cannot fix parks the row.
        fake.fail_next(400, body={"status": "error", "message": "Property values were not valid"})
        pm.hook.skypanel_on_user_created(
            user=User(id="bob@example.com", email="bob@example.com"), session=None
        )
        wait_until(lambda: status_of(engine, "bob@example.com") == DEAD, 60, "bob parked")
    finally:
        stop(workers)
    event = {
        "eventId": 77,
        "subscriptionType": "contact.propertyChange",
        "objectId": 1,
        "portalId": FAKE_PORTAL_ID,
        "occurredAt": 1,
        "propertyName": "email",
        "propertyValue": "ann@example.com",
    }
    assert post_webhook(client, [event]) == 200

    answer = client.get(METRICS, headers=ADMIN)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    found = samples(answer.text)

    deliveries = "skypanel_hubspot_deliveries_total"
    assert value(found, deliveries, kind=CONTACT_UPSERT, outcome="delivered") == 1
    assert value(found, deliveries, kind=CONTACT_UPSERT, outcome="retried") == 1
    assert value(found, deliveries, kind=CONTACT_UPSERT, outcome="parked") == 1
    requests = "skypanel_hubspot_requests_total"
    assert value(found, requests, area="contacts", status="429") == 1
    assert value(found, requests, area="contacts", status="400") == 1
    assert value(found, requests, area="contacts", status="2xx") == 1
    assert sum(v for (name, _), v in found.items() if name == requests) == 3
    assert value(found, "skypanel_hubspot_request_duration_seconds_count", area="contacts") == 3
    assert value(found, "skypanel_hubspot_delivery_delay_seconds_count", kind=CONTACT_UPSERT) == 1
    webhooks = "skypanel_hubspot_webhook_events_total"
    assert value(found, webhooks, type="contact.propertyChange", outcome="ignored") == 1
    assert sum(v for (name, _), v in found.items() if name == webhooks) == 1
    assert value(found, "skypanel_hubspot_parked_deliveries") == 1
    for status in ("due", "leased", "retrying"):
        assert value(found, "skypanel_hubspot_queue_depth", status=status) == 0
    assert value(found, "skypanel_hubspot_oldest_queued_age_seconds") == 0
    assert value(found, "skypanel_hubspot_daily_limit_paused") == 0


def test_the_metrics_route_is_for_admins_only(client: TestClient) -> None:
    assert client.get(METRICS).status_code == 403
    assert client.get(METRICS, headers={"X-Role": "customer"}).status_code == 403
