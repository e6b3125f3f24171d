"""The Flask extension: events in Flask-SQLAlchemy's transaction, the admin API behind the
host's checks, the page head's nonce, the ``flask hubspot`` commands; SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from convergence import enable
from flask import Flask
from flask.testing import FlaskClient
from flask_host import create_app
from host_kill import kill_mid_delivery_then_deliver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from skypanel_hubspot_plugin import hookimpl, runtime
from skypanel_hubspot_plugin.admin.request_body import MAX_BODY
from skypanel_hubspot_plugin.delivery.outbox_table import DELIVERED
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.flask import HubSpot
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot
from skypanel_hubspot_plugin.webhooks.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_v3

SETTINGS = "/api/admin/settings/hubspot/settings"
ADMIN = {"X-Role": "admin", "X-CSRF": "ok"}


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def panel(engine: Engine, secret_key: str, fake: FakeHubSpot) -> Iterator[tuple[Flask, HubSpot]]:
    app, hubspot = create_app(url_of(engine), secret_key, fake.base_url)
    hubspot.start()
    enable(runtime.current())
    yield app, hubspot
    hubspot.shutdown()
    with app.app_context():
        from flask_host import db

        db.engine.dispose()


def signup(client: FlaskClient, email: str, then: str = "commit", **form: str) -> int:
    return client.post("/signup", data={"email": email, "then": then, **form}).status_code


def drain() -> None:
    worker = Worker(runtime.current())
    while worker.run_once():
        pass


def test_a_rolled_back_signup_sends_nothing_and_a_committed_one_is_sent_once(
    panel: tuple[Flask, HubSpot], fake: FakeHubSpot
) -> None:
    app, _ = panel
    client = app.test_client()
    assert signup(client, "kept@example.com") == 201
    assert signup(client, "undone@example.com", then="rollback") == 200
    app.testing = False  # the panel's own error page, as in production: a 500
    assert signup(client, "failed@example.com", then="raise") == 500
    drain()
    drain()
    assert [c["properties"]["email"] for c in fake.contacts()] == ["kept@example.com"]
    assert runtime.current().outbox.counts() == {DELIVERED: 1}


def test_a_worker_process_killed_mid_delivery_loses_and_duplicates_nothing(
    panel: tuple[Flask, HubSpot],
    engine: Engine,
    fake: FakeHubSpot,
    secret_key: str,
    tmp_path: Path,
) -> None:
    app, _ = panel
    client = app.test_client()
    emails = [f"user{i}@example.com" for i in range(5)]
    for email in emails:
        assert signup(client, email) == 201
    kill_mid_delivery_then_deliver(
        url_of(engine), runtime.current(), fake, secret_key, tmp_path / "worker.log", emails
    )


def test_the_apps_worker_wakes_at_the_commit_not_at_its_idle_poll(
    sqlite_engine: Engine, secret_key: str, fake: FakeHubSpot
) -> None:
    # The request commits four seconds after the hook ran: a worker woken at the hook looks
    # a few times, finds nothing committed and sleeps; only the commit can wake it in time.
    app, hubspot = create_app(
        url_of(sqlite_engine), secret_key, fake.base_url, SKYPANEL_HUBSPOT_RUN_WORKER=True
    )
    try:
        hubspot.start()
        enable(runtime.current())
        worker = runtime.current().worker
        assert worker is not None and worker.idle_s >= 30
        started = time.monotonic()
        assert signup(app.test_client(), "late@example.com", "slow-commit", seconds="4") == 201
        fake.wait_for(lambda f: len(f.contacts()) == 1, timeout=worker.idle_s / 3)
        assert time.monotonic() - started < worker.idle_s / 3
    finally:
        hubspot.shutdown()


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"X-Role": "customer", "X-CSRF": "ok"}, 403), ({"X-Role": "admin"}, 403)],
    ids=["anonymous", "not-an-admin", "admin-without-csrf"],
)
def test_admin_routes_refuse_and_change_nothing(
    panel: tuple[Flask, HubSpot], headers: dict[str, str], status: int
) -> None:
    client = panel[0].test_client()
    answer = client.post(SETTINGS, json={"hubspot_enabled": False}, headers=headers)
    assert answer.status_code == status
    assert answer.get_json()["success"] is False
    assert runtime.current().settings().enabled


def test_an_admin_reads_without_a_csrf_token_and_saves_with_one(
    panel: tuple[Flask, HubSpot],
) -> None:
    client = panel[0].test_client()
    assert client.get(SETTINGS, headers={"X-Role": "customer"}).status_code == 403
    read = client.get(SETTINGS, headers={"X-Role": "admin"})
    assert read.status_code == 200
    assert FAKE_TOKEN not in read.get_data(as_text=True)  # the token is never sent back
    saved = client.post(SETTINGS, json={"hubspot_chat_enabled": True}, headers=ADMIN)
    assert saved.status_code == 200, saved.get_json()
    assert runtime.current().settings().chat_enabled


def test_the_audit_trail_records_the_flask_callers_address(
    panel: tuple[Flask, HubSpot],
) -> None:
    client = panel[0].test_client()
    saved = client.post(SETTINGS, json={"hubspot_chat_enabled": True}, headers=ADMIN)
    assert saved.status_code == 200
    answer = client.get("/api/admin/settings/hubspot/audit?limit=1", headers=ADMIN)
    assert answer.status_code == 200
    [entry] = answer.get_json()["entries"]
    assert entry["address"] == "127.0.0.1" and entry["via"] == "admin"
    assert entry["details"] == {"changed": ["hubspot_chat_enabled"]}
    refused = client.get("/api/admin/settings/hubspot/audit", headers={"X-Role": "customer"})
    assert refused.status_code == 403


def test_bodies_are_bounded_and_parsed_as_the_other_adapters_do(
    panel: tuple[Flask, HubSpot],
) -> None:
    client = panel[0].test_client()
    not_json = client.post(SETTINGS, data=b"{not json", headers=ADMIN)
    assert not_json.status_code == 422
    assert "body" in not_json.get_json()["details"]
    huge = client.post(
        SETTINGS,
        data=b"[" + b"1," * MAX_BODY + b"1]",
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    assert runtime.current().settings().enabled


def signed_webhook(secret: str, url: str, body: bytes) -> dict[str, str]:
    stamp = str(int(time.time() * 1000))
    return {
        SIGNATURE_HEADER: sign_v3(secret, "POST", url, body, stamp),
        TIMESTAMP_HEADER: stamp,
        "Content-Type": "application/json",
    }


def test_with_flask_wtf_admin_posts_need_its_token_and_webhooks_are_exempt(
    engine: Engine, secret_key: str, fake: FakeHubSpot
) -> None:
    app, hubspot = create_app(url_of(engine), secret_key, fake.base_url, csrf="flask-wtf")
    try:
        hubspot.start()
        enable(runtime.current())
        webhook_url = "http://localhost/api/hubspot/webhooks"
        runtime.current().store.save(
            {"hubspot_app_secret": "app-secret-1", "hubspot_webhook_url": webhook_url}
        )
        client = app.test_client()
        admin = {"X-Role": "admin"}
        refused = client.post(SETTINGS, json={"hubspot_enabled": False}, headers=admin)
        assert refused.status_code == 400
        assert "CSRF token is missing" in refused.get_json()["message"]
        assert runtime.current().settings().enabled
        token = client.get("/csrf-token").get_data(as_text=True)
        saved = client.post(
            SETTINGS, json={"hubspot_enabled": False}, headers={**admin, "X-CSRFToken": token}
        )
        assert saved.status_code == 200, saved.get_json()
        assert not runtime.current().settings().enabled
        # HubSpot sends no CSRF token: its signature is what the route checks.
        event = {
            "eventId": 1,
            "subscriptionId": 1,
            "portalId": FAKE_PORTAL_ID,
            "appId": 1,
            "occurredAt": int(time.time() * 1000),
            "attemptNumber": 0,
            "subscriptionType": "ticket.propertyChange",
            "objectId": 424242,  # no panel ticket: accepted and ignored
            "propertyName": "subject",
            "propertyValue": "changed",
        }
        body = json.dumps([event]).encode()
        webhook = client.post(
            "/api/hubspot/webhooks",
            data=body,
            headers=signed_webhook("app-secret-1", webhook_url, body),
        )
        assert webhook.status_code == 200, webhook.get_json()
        forged = client.post(
            "/api/hubspot/webhooks", data=body, headers=signed_webhook("guess", webhook_url, body)
        )
        assert forged.status_code == 401
    finally:
        hubspot.shutdown()


def test_without_any_csrf_check_state_changing_admin_routes_refuse_everyone(
    engine: Engine, secret_key: str, fake: FakeHubSpot
) -> None:
    app, hubspot = create_app(url_of(engine), secret_key, fake.base_url, csrf="none")
    try:
        client = app.test_client()
        answer = client.post(SETTINGS, json={"hubspot_enabled": False}, headers=ADMIN)
        assert answer.status_code == 403
        assert "csrf_check" in answer.get_json()["message"]
        assert client.get(SETTINGS, headers=ADMIN).status_code == 200
    finally:
        hubspot.shutdown()


def test_the_page_head_carries_the_requests_nonce(panel: tuple[Flask, HubSpot]) -> None:
    runtime.current().store.save({"hubspot_chat_enabled": True})
    page = panel[0].test_client().get("/page").get_data(as_text=True)
    nonce = re.search(r"data-nonce='([^']+)'", page)
    assert nonce is not None
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts, page
    assert all(f'nonce="{nonce.group(1)}"' in tag for tag in scripts), scripts
    assert str(FAKE_PORTAL_ID) in page


class StartCounter:
    def __init__(self) -> None:
        self.starts = 0

    @hookimpl
    def skypanel_startup(self, host: Any) -> None:
        self.starts += 1


def test_the_plugin_starts_at_the_first_request_once_and_stops_at_shutdown(
    sqlite_engine: Engine, secret_key: str, fake: FakeHubSpot
) -> None:
    app, hubspot = create_app(url_of(sqlite_engine), secret_key, fake.base_url)
    counter = StartCounter()
    assert hubspot.plugin_manager is not None
    hubspot.plugin_manager.register(counter)
    try:
        # Loading the app (as the reloader's watching process does) starts nothing.
        with pytest.raises(runtime.PluginNotStarted):
            runtime.current()
        client = app.test_client()
        assert client.get(SETTINGS, headers=ADMIN).status_code == 200
        assert client.get(SETTINGS, headers=ADMIN).status_code == 200
        assert signup(client, "one@example.com") == 201
        assert counter.starts == 1
        runtime.current()
    finally:
        hubspot.shutdown()
    with pytest.raises(runtime.PluginNotStarted):
        runtime.current()


def test_flask_hubspot_commands_run_on_the_apps_database(
    panel: tuple[Flask, HubSpot], fake: FakeHubSpot
) -> None:
    app, _ = panel
    assert signup(app.test_client(), "queued@example.com") == 201
    cli = app.test_cli_runner()
    status = cli.invoke(args=["hubspot", "status", "--json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["counts"]["queued"] == 1
    listed = cli.invoke(args=["hubspot", "deliveries", "--status", "queued"])
    assert listed.exit_code == 0, listed.output
    assert "user:1" in listed.output
    drain()
    purged = cli.invoke(args=["hubspot", "purge", "--older-than", "0"])
    assert purged.exit_code == 0, purged.output
    assert "Erased the personal data of 1 deliveries" in purged.output
    bad = cli.invoke(args=["hubspot", "deliveries", "--status", "lost"])
    assert bad.exit_code == 2


def test_flask_hubspot_worker_delivers_until_sigterm(
    panel: tuple[Flask, HubSpot],
    engine: Engine,
    fake: FakeHubSpot,
    secret_key: str,
    tmp_path: Path,
) -> None:
    app, _ = panel
    assert signup(app.test_client(), "worked@example.com") == 201
    env = {
        **os.environ,
        "PANEL_DATABASE_URL": url_of(engine),
        "PANEL_SECRET_KEY": secret_key,
        "PANEL_HUBSPOT_URL": fake.base_url,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]
        ),
    }
    env.pop("SKYPANEL_HUBSPOT_SECRET_KEYS", None)  # the app's config gives them
    log = tmp_path / "worker.log"
    command = [sys.executable, "-m", "flask", "--app", "flask_host_app", "hubspot", "worker"]
    worker = subprocess.Popen(
        [*command, "--idle", "0.2"], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        fake.wait_for(lambda f: len(f.contacts()) == 1, timeout=30)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0, log.read_text()
    finally:
        worker.kill()
        worker.wait(10)
    assert runtime.current().outbox.counts() == {DELIVERED: 1}


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=10), inner, max_size=3)
            ),
            max_leaves=8,
        ).map(lambda value: json.dumps(value).encode()),
    )
)
def test_any_body_is_answered_in_the_plugins_shape_never_a_crash(
    panel: tuple[Flask, HubSpot], body: bytes
) -> None:
    client = panel[0].test_client()
    for path in (
        "/api/admin/settings/hubspot/contacts",
        "/api/admin/settings/hubspot/deliveries/replay",
    ):
        answer = client.post(path, data=body, headers={**ADMIN, "Content-Type": "application/json"})
        assert answer.status_code < 500, answer.get_data(as_text=True)
        assert isinstance(answer.get_json(), dict)
    webhook = client.post("/api/hubspot/webhooks", data=body)
    assert webhook.status_code == 401  # unsigned: refused before the body is read


class Trickle(io.BytesIO):
    """A request body that arrives a few bytes per read, as from a slow socket."""

    def read(self, size: int | None = -1) -> bytes:
        return super().read(7 if size is None or size < 0 else min(size, 7))

    def readinto(self, buffer: Any) -> int:
        return super().readinto(memoryview(buffer)[:7])

    read1 = read


def test_a_body_arriving_in_pieces_is_read_whole(panel: tuple[Flask, HubSpot]) -> None:
    body = json.dumps({"hubspot_chat_enabled": True, "hubspot_region": "eu1"}).encode()
    answer = (
        panel[0]
        .test_client()
        .post(
            SETTINGS,
            input_stream=Trickle(body),
            headers={**ADMIN, "Content-Type": "application/json", "Content-Length": str(len(body))},
        )
    )
    assert answer.status_code == 200, answer.get_json()
    assert runtime.current().settings().chat_enabled


def test_the_metrics_route_answers_admins_in_prometheus_text(
    panel: tuple[Flask, HubSpot],
) -> None:
    client = panel[0].test_client()
    metrics = "/api/admin/settings/hubspot/metrics"
    assert client.get(metrics).status_code == 401
    assert client.get(metrics, headers={"X-Role": "customer"}).status_code == 403
    answer = client.get(metrics, headers={"X-Role": "admin"})
    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain")
    assert "# TYPE skypanel_hubspot_deliveries_total counter" in answer.get_data(as_text=True)
