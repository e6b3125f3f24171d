"""HubSpot's webhooks: the v3 signature check, and ticket changes reaching the host once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import start_plugin
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from webhook_server import served_webhooks

from skypanel_hubspot_plugin import Ticket, TicketChange, User, hookimpl
from skypanel_hubspot_plugin.admin.fastapi_adapter import admin_router, public_router
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot
from skypanel_hubspot_plugin.webhooks.signature import sign_v3, signed_uri, verify_v3

SECRET = "7c1d2f0e-8a4b-4c3d-9e2f-0a1b2c3d4e5f"
BASE = "http://testserver"
URL = f"{BASE}/api/hubspot/webhooks"
NOW = 1_764_000_000_000

methods = st.sampled_from(["POST", "GET", "PUT", "DELETE", "PATCH"])
uris = st.builds(
    lambda path, query: f"https://panel.example.com/{path}" + (f"?{query}" if query else ""),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_/%3AFC", max_size=30),
    st.text(alphabet="abc=&%2C3B", max_size=15),
)
bodies = st.binary(max_size=300).filter(lambda b: _utf8(b))
# These properties are pure computation; Hypothesis' default 200 ms deadline per example
# turned a busy machine into a failure ("Unreliable test timings"), so no wall clock here.
NO_WALL_CLOCK = settings(deadline=None)


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# -- the signature check ---------------------------------------------------------------------


@NO_WALL_CLOCK
@given(method=methods, uri=uris, body=bodies, age_ms=st.integers(0, 299_000))
def test_a_valid_signature_passes(method: str, uri: str, body: bytes, age_ms: int) -> None:
    timestamp = NOW - age_ms
    signature = sign_v3(SECRET, method, uri, body, timestamp)
    assert verify_v3(SECRET, method, uri, body, str(timestamp), signature, now_ms=NOW)


@NO_WALL_CLOCK
@given(method=methods, uri=uris, body=bodies, data=st.data())
def test_any_change_to_what_was_signed_fails(
    method: str, uri: str, body: bytes, data: st.DataObject
) -> None:
    timestamp = NOW - 1000
    signature = sign_v3(SECRET, method, uri, body, timestamp)
    part = data.draw(st.sampled_from(["method", "uri", "body", "timestamp", "secret"]))
    args: dict[str, Any] = {
        "secret": SECRET,
        "method": method,
        "uri": uri,
        "body": body,
        "timestamp": str(timestamp),
    }
    if part == "method":
        args["method"] = data.draw(methods.filter(lambda m: m != method))
    elif part == "uri":
        other = data.draw(uris)
        assume(signed_uri(other) != signed_uri(uri))  # %3A and ":" are the same to HubSpot
        args["uri"] = other
    elif part == "body":
        args["body"] = data.draw(bodies.filter(lambda b: b != body))
    elif part == "timestamp":
        args["timestamp"] = str(
            data.draw(st.integers(NOW - 299_000, NOW).filter(lambda t: t != timestamp))
        )
    else:
        args["secret"] = data.draw(st.text(min_size=1, max_size=40).filter(lambda s: s != SECRET))
    assert not verify_v3(signature=signature, now_ms=NOW, **args)


@NO_WALL_CLOCK
@given(
    secret=st.text(max_size=50),
    method=st.text(max_size=10),
    uri=st.text(max_size=60),
    body=st.binary(max_size=200),
    timestamp=st.none() | st.text(max_size=25),
    signature=st.none() | st.text(max_size=80),
)
def test_garbage_never_raises_and_never_passes(
    secret: str, method: str, uri: str, body: bytes, timestamp: str | None, signature: str | None
) -> None:
    assert verify_v3(secret, method, uri, body, timestamp, signature, now_ms=NOW) is False


def test_stale_and_future_timestamps_are_refused() -> None:
    body = b"[]"
    for offset_ms, accepted in [
        (-301_000, False),
        (-299_000, True),
        (30_000, True),
        (61_000, False),
    ]:
        timestamp = NOW + offset_ms
        signature = sign_v3(SECRET, "POST", URL, body, timestamp)
        assert (
            verify_v3(SECRET, "POST", URL, body, str(timestamp), signature, now_ms=NOW) is accepted
        )


def test_the_uri_is_decoded_as_hubspot_asks() -> None:
    # HubSpot signs the URI with these escapes decoded; the request arrives encoded.
    assert signed_uri("https://a.example/x%3Ay%2Fz%3Fq%40%21%24%27%28%29%2A%2C%3B%20") == (
        "https://a.example/x:y/z?q@!$'()*,;%20"
    )
    signature = sign_v3(SECRET, "POST", "https://a.example/hook?a=1:2", b"[]", NOW)
    assert verify_v3(
        SECRET, "POST", "https://a.example/hook?a=1%3A2", b"[]", str(NOW), signature, now_ms=NOW
    )


# -- the route ----------------------------------------------------------------------------------


class PanelTickets:
    """The host's side: its ticket statuses, updated by the hook."""

    def __init__(self) -> None:
        self.calls: list[TicketChange] = []
        self.fail_next = False

    @hookimpl
    def skypanel_on_hubspot_ticket_changed(self, change: TicketChange, session: Any) -> None:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the panel's database is busy")
        self.calls.append(change)


@pytest.fixture
def panel_tickets(pm) -> PanelTickets:  # type: ignore[no-untyped-def]
    host = PanelTickets()
    pm.register(host, name="panel-tickets")
    return host


@pytest.fixture
def hooked(
    pm, engine: Engine, secret_key: str, fake: FakeHubSpot, panel_tickets: PanelTickets
) -> Iterator[tuple[Runtime, str]]:  # type: ignore[no-untyped-def]
    """A started plugin with webhooks configured and one ticket delivered to HubSpot."""
    rt = start_plugin(
        pm, engine, secret_key, fake.base_url, plugin_manager=pm, public_base_url=BASE
    )
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_ticket_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_app_secret": SECRET,
        }
    )
    pm.hook.skypanel_on_ticket_created(
        ticket=Ticket(id="T-1", subject="Disk full"),
        user=User(id="1", email="ada@example.com"),
        session=None,
    )
    fake.wait_for(lambda f: rt.outbox.link("ticket", "T-1") is not None, timeout=20)
    yield rt, str(rt.outbox.link("ticket", "T-1"))
    pm.hook.skypanel_shutdown()


@pytest.fixture
def client(pm, hooked: tuple[Runtime, str]) -> TestClient:  # type: ignore[no-untyped-def]
    app = FastAPI()
    app.include_router(public_router(pm))
    return TestClient(app)


def event(hubspot_id: str, event_id: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 9,
        "portalId": FAKE_PORTAL_ID,
        "appId": 1,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": "ticket.propertyChange",
        "attemptNumber": 0,
        "objectId": int(hubspot_id),
        "propertyName": "hs_pipeline_stage",
        "propertyValue": "4",
        "changeSource": "CRM_UI",
        **extra,
    }


def post(
    client: TestClient,
    events: Any,
    *,
    secret: str = SECRET,
    age_ms: int = 0,
    raw: bytes | None = None,
) -> Any:
    body = raw if raw is not None else json.dumps(events).encode()
    timestamp = int(time.time() * 1000) - age_ms
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": sign_v3(secret, "POST", URL, body, timestamp),
        "X-HubSpot-Request-Timestamp": str(timestamp),
    }
    return client.post("/api/hubspot/webhooks", content=body, headers=headers)


def test_a_stage_change_reaches_the_host_once_even_when_posted_twice(
    client: TestClient, hooked: tuple[Runtime, str], panel_tickets: PanelTickets
) -> None:
    _, hubspot_id = hooked
    first = post(client, [event(hubspot_id, 501)])
    again = post(client, [event(hubspot_id, 501, attemptNumber=1)])
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json() == {"success": True, "handled": 1, "ignored": 0}
    assert again.json() == {"success": True, "handled": 0, "ignored": 1}
    [change] = panel_tickets.calls
    assert (change.ticket_id, change.hubspot_ticket_id, change.status) == (
        "T-1",
        hubspot_id,
        "closed",
    )
    assert change.changes == {"hs_pipeline_stage": "4"} and change.change_source == "CRM_UI"


def test_refused_requests_change_nothing(
    client: TestClient, hooked: tuple[Runtime, str], panel_tickets: PanelTickets
) -> None:
    _, hubspot_id = hooked
    events = [event(hubspot_id, 777)]
    unsigned = client.post("/api/hubspot/webhooks", json=events)
    wrong_secret = post(client, events, secret="0" * 36)
    stale = post(client, events, age_ms=6 * 60 * 1000)
    assert [r.status_code for r in (unsigned, wrong_secret, stale)] == [401, 401, 401]
    assert all(r.json()["success"] is False for r in (unsigned, wrong_secret, stale))
    assert SECRET not in unsigned.text + wrong_secret.text + stale.text
    for malformed in (
        b"not json",
        b"{}",
        b"[]",
        b"[1]",
        json.dumps([event(hubspot_id, 1, objectId="x")]).encode(),
    ):
        response = post(client, None, raw=malformed)
        assert response.status_code == 400, malformed
        assert response.json()["message"] == "Malformed HubSpot webhook"
    assert panel_tickets.calls == []
    assert post(client, events).status_code == 200  # the same event, now signed, still counts once
    assert len(panel_tickets.calls) == 1


def test_events_for_tickets_we_did_not_create_are_acknowledged_and_ignored(
    client: TestClient, hooked: tuple[Runtime, str], panel_tickets: PanelTickets
) -> None:
    _, hubspot_id = hooked
    response = post(
        client,
        [
            event("999999", 1),
            event(hubspot_id, 2, portalId=1),
            event(hubspot_id, 3, subscriptionType="contact.propertyChange"),
        ],
    )
    assert response.status_code == 200 and response.json()["ignored"] == 3
    assert panel_tickets.calls == []


def test_a_failing_host_hook_lets_hubspot_deliver_again(
    client: TestClient, hooked: tuple[Runtime, str], panel_tickets: PanelTickets
) -> None:
    _, hubspot_id = hooked
    panel_tickets.fail_next = True
    with pytest.raises(RuntimeError):
        post(client, [event(hubspot_id, 42)])
    assert post(client, [event(hubspot_id, 42)]).json()["handled"] == 1
    assert len(panel_tickets.calls) == 1


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.binary(max_size=200))
def test_unsigned_garbage_is_401(
    client: TestClient, panel_tickets: PanelTickets, body: bytes
) -> None:
    response = client.post(
        "/api/hubspot/webhooks",
        content=body,
        headers={"X-HubSpot-Signature-v3": "x", "X-HubSpot-Request-Timestamp": "1"},
    )
    assert response.status_code == 401 and panel_tickets.calls == []


def test_a_ticket_changed_in_hubspot_reaches_the_panel_over_http(
    pm, hooked: tuple[Runtime, str], fake: FakeHubSpot, panel_tickets: PanelTickets
) -> None:  # type: ignore[no-untyped-def]
    """The fake HubSpot signs and POSTs like HubSpot, twice, to a real server."""
    rt, hubspot_id = hooked
    with served_webhooks(pm) as url:
        rt.store.save({"hubspot_webhook_url": url})  # as a proxy-fronted panel's admin would
        fake.subscribe_webhooks(url, SECRET)
        assert fake.change_ticket(hubspot_id, {"hs_pipeline_stage": "3"}, deliveries=2) == [
            200,
            200,
        ]
    assert [(c.ticket_id, c.status) for c in panel_tickets.calls] == [("T-1", "in_progress")]


# -- the URI the signature covers -----------------------------------------------------------


def test_a_request_signed_for_another_host_is_refused_whatever_its_host_header(
    client: TestClient, hooked: tuple[Runtime, str], panel_tickets: PanelTickets
) -> None:
    _, hubspot_id = hooked
    body = json.dumps([event(hubspot_id, 901)]).encode()
    timestamp = int(time.time() * 1000)
    evil = "http://evil.example/api/hubspot/webhooks"
    response = client.post(
        "http://evil.example/api/hubspot/webhooks",
        content=body,
        headers={
            "Host": "evil.example",
            "X-HubSpot-Signature-v3": sign_v3(SECRET, "POST", evil, body, timestamp),
            "X-HubSpot-Request-Timestamp": str(timestamp),
        },
    )
    assert response.status_code == 401 and panel_tickets.calls == []
    assert post(client, [event(hubspot_id, 901)]).status_code == 200  # signed for the panel


def test_without_a_webhook_url_or_public_base_url_webhooks_are_refused_and_test_connection_says_so(
    pm, sqlite_engine: Engine, secret_key: str, fake: FakeHubSpot, panel_tickets: PanelTickets
) -> None:  # type: ignore[no-untyped-def]
    rt = start_plugin(pm, sqlite_engine, secret_key, fake.base_url, plugin_manager=pm)
    try:
        rt.store.save(
            {
                "hubspot_enabled": True,
                "hubspot_portal_id": str(FAKE_PORTAL_ID),
                "hubspot_api_key": FAKE_TOKEN,
                "hubspot_app_secret": SECRET,
            }
        )
        app = FastAPI()
        app.include_router(public_router(pm))
        app.include_router(admin_router(pm, require_admin=lambda: None, require_csrf=lambda: None))
        client = TestClient(app)
        response = post(client, [event("1", 5)])  # signed for the Host header it carries
        assert response.status_code == 401
        assert "hubspot_webhook_url" in response.json()["message"]
        checked = client.post("/api/admin/settings/hubspot/test-connection").json()
        assert checked["success"] is True
        assert any("webhook URL" in w for w in checked["warnings"])
        rt.store.save({"hubspot_webhook_url": URL})
        assert post(client, [event("1", 5)]).status_code == 200
        checked = client.post("/api/admin/settings/hubspot/test-connection").json()
        assert not any("webhook" in w for w in checked.get("warnings", []))
    finally:
        pm.hook.skypanel_shutdown()
