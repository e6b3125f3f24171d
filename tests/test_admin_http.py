"""Every admin route over HTTP in a FastAPI host, as an admin, a customer, a stranger and an attacker.

The host decides who is an admin (a header here) and checks CSRF; the plugin's handlers
must give non-admins nothing, refuse bad input with 422 naming the field, change nothing
when they refuse, and never show the access token in a body or a log line.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import start_plugin
from cryptography.fernet import Fernet
from fastapi import FastAPI, Header, HTTPException
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from panel_users import add_users, users_source
from sqlalchemy import Engine
from sqlmodel import Session, select

from skypanel_hubspot_plugin import HostContext, User
from skypanel_hubspot_plugin.admin.fastapi_adapter import admin_router, public_router
from skypanel_hubspot_plugin.admin.routes import ADMIN_ROUTES
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.settings.secrets import SecretBox
from skypanel_hubspot_plugin.settings.table import Setting
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot

PREFIX = "/api/admin/settings/hubspot"
ADMIN = {"X-Role": "admin", "X-CSRF-Token": "good"}
CUSTOMER = {"X-Role": "customer", "X-CSRF-Token": "good"}
NO_CSRF = {"X-Role": "admin"}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
ROUTES = sorted((method, path) for method, path, _ in ADMIN_ROUTES)
SAMPLE_BODIES: dict[str, Any] = {
    f"{PREFIX}/contacts": {"email": "someone@example.com"},
    f"{PREFIX}/tickets": {"subject": "Help"},
    f"{PREFIX}/settings": {"hubspot_chat_enabled": True},
    f"{PREFIX}/deliveries/replay": {},
    f"{PREFIX}/problems/replay": {"key": "0123456789ab"},
    f"{PREFIX}/property-map": {
        "hubspot_contact_property_map": {"email": "email", "company": "company"},
    },
}
SAMPLE_QUERIES: dict[str, str] = {f"{PREFIX}/properties": "?object=contact"}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4)
    ),
    max_leaves=12,
)
setting_keys = st.sampled_from(
    [
        "hubspot_enabled",
        "hubspot_portal_id",
        "hubspot_api_key",
        "hubspot_region",
        "hubspot_chat_enabled",
        "hubspot_ticket_form_id",
        "hubspot_rate_limit",
        "hubspot_user_deleted_action",
        "hubspot_settings_revision",
    ]
) | st.text(max_size=20)


def admin_only(x_role: str | None = Header(default=None)) -> None:
    if x_role is None:
        raise HTTPException(401, "log in first")
    if x_role != "admin":
        raise HTTPException(403, "admins only")


def csrf_checked(x_csrf_token: str | None = Header(default=None)) -> None:
    if x_csrf_token != "good":
        raise HTTPException(403, "CSRF check failed")


@pytest.fixture
def started_http(
    pm, sqlite_engine: Engine, secret_key: str, fake: FakeHubSpot
) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    add_users(sqlite_engine, [f"user{i}@example.com" for i in range(120)] + ["broken"])
    rt = start_plugin(
        pm, sqlite_engine, secret_key, fake.base_url, list_users=users_source(sqlite_engine)
    )
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
        }
    )
    yield rt
    pm.hook.skypanel_shutdown()


@pytest.fixture
def client(pm, started_http: Runtime) -> TestClient:  # type: ignore[no-untyped-def]
    app = FastAPI()
    app.include_router(admin_router(pm, require_admin=admin_only, require_csrf=csrf_checked))
    app.include_router(public_router(pm))
    return TestClient(app)


def snapshot(rt: Runtime, fake: FakeHubSpot) -> tuple[object, ...]:
    """Everything a route could change: the settings rows, the outbox, backfills, HubSpot."""
    with Session(rt.store.engine) as session:
        rows = sorted((s.key, s.value) for s in session.exec(select(Setting)))
    latest = rt.backfills.latest()
    return (
        rows,
        rt.outbox.counts(),
        latest.id if latest else None,
        len(fake.contacts()),
        len(fake.tickets()),
    )


def call(client: TestClient, method: str, path: str, headers: dict[str, str], body: Any = None):  # type: ignore[no-untyped-def]
    if method in STATE_CHANGING:
        return client.request(method, path, headers=headers, json=body)
    return client.request(method, path, headers=headers)


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_non_admins_get_nothing_and_change_nothing(
    client: TestClient, started_http: Runtime, fake: FakeHubSpot, method: str, path: str
) -> None:
    before = snapshot(started_http, fake)
    requests_before = len(fake.requests)
    body = SAMPLE_BODIES.get(path)
    anonymous = call(client, method, path, {}, body)
    customer = call(client, method, path, CUSTOMER, body)
    assert (anonymous.status_code, customer.status_code) == (401, 403)
    for response in (anonymous, customer):
        assert set(response.json()) == {"detail"}  # the host's refusal, no plugin data
    if method in STATE_CHANGING:
        assert call(client, method, path, NO_CSRF, body).status_code == 403
    assert snapshot(started_http, fake) == before
    assert len(fake.requests) == requests_before


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_an_admin_gets_json_without_the_token(
    client: TestClient, method: str, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    query = SAMPLE_QUERIES.get(path, "")
    response = call(client, method, path + query, ADMIN, SAMPLE_BODIES.get(path))
    assert response.status_code in {200, 201, 202}, response.text
    expected = "text/plain" if path.endswith("/metrics") else "application/json"  # Prometheus'
    assert response.headers["content-type"].split(";")[0] == expected
    assert FAKE_TOKEN not in response.text
    assert all(FAKE_TOKEN not in r.getMessage() for r in caplog.records)


def test_the_public_chat_config_gives_only_the_chat_flag_and_portal(
    client: TestClient, started_http: Runtime
) -> None:
    off = client.get("/api/hubspot/chat-config")
    assert off.status_code == 200
    assert off.json() == {"chatEnabled": False, "portalId": None, "scriptUrl": None}
    started_http.store.save({"hubspot_chat_enabled": True, "hubspot_region": "eu1"})
    on = client.get("/api/hubspot/chat-config").json()
    assert on == {
        "chatEnabled": True,
        "portalId": str(FAKE_PORTAL_ID),
        "scriptUrl": f"https://js-eu1.hs-scripts.com/{FAKE_PORTAL_ID}.js",
    }
    assert FAKE_TOKEN[-4:] not in json.dumps(on)


def test_settings_are_read_from_the_schema_and_the_token_is_write_only(
    client: TestClient, started_http: Runtime
) -> None:
    form = client.get(f"{PREFIX}/settings", headers=ADMIN).json()
    keys = [f["key"] for f in form["fields"]]
    assert "hubspot_api_key" in keys and "hubspot_api_key" not in form["values"]
    secrets = {f["key"] for f in form["fields"] if f["type"] == "secret"}
    assert secrets == {"hubspot_api_key", "hubspot_app_secret"}
    assert set(form["values"]) == set(keys) - secrets
    assert form["secrets"]["hubspot_app_secret"] == {"set": False, "last4": None, "problem": None}
    assert form["values"]["hubspot_enabled"] is True
    assert form["token"] == {
        "set": True,
        "last4": FAKE_TOKEN[-4:],
        "source": "database",
        "problem": None,
    }
    saved = client.post(
        f"{PREFIX}/settings",
        headers=ADMIN,
        json={"hubspot_chat_enabled": "on", "hubspot_region": "EU1", "hubspot_api_key": ""},
    )
    assert saved.status_code == 200
    assert saved.json()["values"]["hubspot_chat_enabled"] is True
    assert saved.json()["values"]["hubspot_region"] == "eu1"
    assert started_http.settings().token.reveal() == FAKE_TOKEN  # an empty token keeps it


def test_bad_settings_are_422_naming_each_field_and_save_nothing(
    client: TestClient, started_http: Runtime, fake: FakeHubSpot
) -> None:
    before = snapshot(started_http, fake)
    response = client.post(
        f"{PREFIX}/settings",
        headers=ADMIN,
        json={
            "hubspot_portal_id": "12ab",
            "hubspot_chat_enabled": True,
            "hubspot_api_key": "pat with spaces",
            "hubspot_colour": "blue",
        },
    )
    assert response.status_code == 422
    body = response.json()
    assert body["success"] is False and body["message"] == "Invalid settings"
    assert set(body["details"]) == {"hubspot_portal_id", "hubspot_api_key", "hubspot_colour"}
    assert "pat with spaces" not in response.text
    assert snapshot(started_http, fake) == before


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(sorted({p for m, p in ROUTES if m == "POST"} - {f"{PREFIX}/backfill"})),
    body=json_values | st.dictionaries(setting_keys, json_values, max_size=5),
)
def test_any_json_body_is_answered_without_a_crash_and_a_refusal_changes_nothing(
    client: TestClient, started_http: Runtime, fake: FakeHubSpot, path: str, body: Any
) -> None:
    before = snapshot(started_http, fake)
    response = client.post(path, headers=ADMIN, json=body)
    assert response.status_code < 500, response.text
    payload = response.json()
    assert FAKE_TOKEN not in response.text
    if response.status_code == 422:
        assert payload["success"] is False and payload["details"]
        assert snapshot(started_http, fake) == before
        if isinstance(body, dict) and payload["details"] != {"body": "must be a JSON object"}:
            assert set(payload["details"]) <= set(body) | {
                "email",
                "subject",
                "key",  # a group replay's one field
                "hubspot_portal_id",
                "hubspot_api_key",
            }


def test_a_body_that_is_not_json_is_422(client: TestClient) -> None:
    response = client.post(
        f"{PREFIX}/settings",
        headers={**ADMIN, "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert response.status_code == 422
    assert response.json() == {
        "success": False,
        "message": "Invalid request",
        "details": {"body": "must be JSON"},
    }


def test_an_admin_opens_and_lists_tickets(client: TestClient, fake: FakeHubSpot) -> None:
    contact = client.post(
        f"{PREFIX}/contacts", headers=ADMIN, json={"email": "ada@example.com"}
    ).json()["contact"]
    created = client.post(
        f"{PREFIX}/tickets",
        headers=ADMIN,
        json={
            "subject": "Server down",
            "content": "Since 9:00",
            "priority": "urgent",
            "category": "technical",
            "contactEmail": "Ada@Example.com",
        },
    )
    assert created.status_code == 201, created.text
    ticket = created.json()["ticket"]
    assert ticket["properties"]["hs_ticket_priority"] == "HIGH"
    assert ticket["properties"]["hs_ticket_category"] == "PRODUCT_ISSUE"
    assert fake.associations("tickets", ticket["id"], "contacts") == [contact["id"]]
    listed = client.get(f"{PREFIX}/tickets", params={"limit": 5}, headers=ADMIN).json()
    assert [t["id"] for t in listed["tickets"]] == [ticket["id"]]
    unknown = client.post(
        f"{PREFIX}/tickets",
        headers=ADMIN,
        json={"subject": "x", "priority": "someday", "contactEmail": "nobody@example.com"},
    )
    assert unknown.status_code == 422 and set(unknown.json()["details"]) == {"priority"}
    nobody = client.post(
        f"{PREFIX}/tickets", headers=ADMIN, json={"subject": "x", "contactEmail": "no@example.com"}
    )
    assert nobody.status_code == 422
    assert nobody.json()["details"] == {"contactEmail": "no HubSpot contact has this email"}
    assert len(fake.tickets()) == 1


def test_deliveries_show_hubspots_error_and_parked_ones_replay(
    pm, client: TestClient, started_http: Runtime, fake: FakeHubSpot
) -> None:  # type: ignore[no-untyped-def]
    fake.fail_next(400, body={"status": "error", "category": "VALIDATION_ERROR", "message": "Nope"})
    pm.hook.skypanel_on_user_created(user=User(id="7", email="grace@example.com"), session=None)

    def listing() -> dict[str, Any]:
        return client.get(f"{PREFIX}/deliveries", headers=ADMIN).json()  # type: ignore[no-any-return]

    fake.wait_for(lambda f: listing()["counts"]["dead"] == 1, timeout=20)
    pm.hook.skypanel_on_user_created(user=User(id="8", email="alan@example.com"), session=None)
    fake.wait_for(lambda f: listing()["counts"]["delivered"] == 1, timeout=20)
    dead = client.get(f"{PREFIX}/deliveries", params={"status": "dead"}, headers=ADMIN).json()
    assert all(d["status"] == "dead" and d["lastError"] for d in dead["deliveries"])
    assert any("Nope" in d["lastError"] for d in dead["deliveries"])
    bad = client.post(f"{PREFIX}/deliveries/replay", headers=ADMIN, json={"ids": ["1"]})
    assert bad.status_code == 422 and "ids" in bad.json()["details"]
    replayed = client.post(
        f"{PREFIX}/deliveries/replay",
        headers=ADMIN,
        json={"ids": [d["id"] for d in dead["deliveries"]]},
    ).json()
    assert replayed == {"success": True, "replayed": len(dead["deliveries"])}
    fake.wait_for(
        lambda f: listing()["counts"] == {"queued": 0, "delivered": 2, "dead": 0}, timeout=20
    )
    bad_query = client.get(f"{PREFIX}/deliveries", params={"status": "lost"}, headers=ADMIN)
    assert bad_query.status_code == 422 and "status" in bad_query.json()["details"]


def test_a_backfill_started_by_an_admin_reports_live_progress(
    client: TestClient, fake: FakeHubSpot
) -> None:
    assert client.get(f"{PREFIX}/backfill", headers=ADMIN).json() == {"backfill": None}
    started = client.post(f"{PREFIX}/backfill", headers=ADMIN)
    assert started.status_code == 202 and started.json()["backfill"]["state"] in {
        "queuing",
        "delivering",
        "done",
    }

    def progress() -> dict[str, Any]:
        return client.get(f"{PREFIX}/backfill", headers=ADMIN).json()["backfill"]  # type: ignore[no-any-return]

    fake.wait_for(lambda f: progress()["state"] == "done", timeout=30)
    final = progress()
    assert (final["queued"], final["delivered"], final["dead"], final["pending"]) == (
        121,
        120,
        1,
        0,
    )
    assert final["finishedAt"] is not None
    assert len(fake.contacts()) == 120


def test_a_backfill_needs_the_hosts_user_list(
    pm, sqlite_engine: Engine, secret_key: str, fake: FakeHubSpot
) -> None:  # type: ignore[no-untyped-def]
    rt = start_plugin(pm, sqlite_engine, secret_key, fake.base_url)
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
        }
    )
    app = FastAPI()
    app.include_router(admin_router(pm, require_admin=admin_only, require_csrf=csrf_checked))
    response = TestClient(app).post(f"{PREFIX}/backfill", headers=ADMIN)
    assert response.status_code == 409
    assert "list its users" in response.json()["message"]
    assert rt.backfills.latest() is None


def test_rotate_key_moves_the_token_to_the_newest_key(
    pm, sqlite_engine: Engine, secret_key: str, fake: FakeHubSpot
) -> None:  # type: ignore[no-untyped-def]
    start_plugin(pm, sqlite_engine, secret_key, fake.base_url).store.save(
        {"hubspot_api_key": FAKE_TOKEN}
    )
    newest = Fernet.generate_key().decode()
    pm.hook.skypanel_startup(
        host=HostContext(
            engine=sqlite_engine, secret_keys=[newest, secret_key], hubspot_base_url=fake.base_url
        )
    )
    app = FastAPI()
    app.include_router(admin_router(pm, require_admin=admin_only, require_csrf=csrf_checked))
    client = TestClient(app)
    first = client.post(f"{PREFIX}/rotate-key", headers=ADMIN).json()
    again = client.post(f"{PREFIX}/rotate-key", headers=ADMIN).json()
    assert (first["rotated"], again["rotated"]) == (True, False)
    assert first["keyId"] == again["keyId"] and newest not in json.dumps(first)
    only_newest = Runtime(sqlite_engine, SecretBox([newest]))
    assert only_newest.settings().token.reveal() == FAKE_TOKEN
    pm.hook.skypanel_shutdown()
