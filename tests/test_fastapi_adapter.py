"""The admin routes over HTTP in a FastAPI host: who may call them, and what bad input gets."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Header, HTTPException
from fastapi.testclient import TestClient

from skypanel_hubspot_plugin.fastapi_adapter import admin_router
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot

PREFIX = "/api/admin/settings/hubspot"
ADMIN = {"X-Role": "admin", "X-CSRF-Token": "good"}


def admin_only(x_role: str | None = Header(default=None)) -> None:
    if x_role is None:
        raise HTTPException(401, "log in first")
    if x_role != "admin":
        raise HTTPException(403, "admins only")


def csrf_checked(x_csrf_token: str | None = Header(default=None)) -> None:
    if x_csrf_token != "good":
        raise HTTPException(403, "CSRF check failed")


@pytest.fixture
def client(pm, started):  # type: ignore[no-untyped-def]
    started.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
        }
    )
    app = FastAPI()
    app.include_router(admin_router(pm, require_admin=admin_only, require_csrf=csrf_checked))
    return TestClient(app)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/config"), ("GET", "/contacts"), ("POST", "/contacts"), ("POST", "/test-connection")],
)
def test_only_admins_get_anything(
    client: TestClient,
    fake: FakeHubSpot,
    method: str,  # type: ignore[no-untyped-def]
    path: str,
) -> None:
    body = {"email": "a@example.com"} if method == "POST" else None
    anonymous = client.request(method, PREFIX + path, json=body)
    customer = client.request(
        method, PREFIX + path, json=body, headers={"X-Role": "customer", "X-CSRF-Token": "good"}
    )
    assert (anonymous.status_code, customer.status_code) == (401, 403)
    assert fake.requests == [] and fake.contacts() == []


def test_state_changes_need_the_hosts_csrf_check(client: TestClient, fake: FakeHubSpot) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        f"{PREFIX}/contacts", json={"email": "a@example.com"}, headers={"X-Role": "admin"}
    )
    assert response.status_code == 403 and fake.contacts() == []
    assert client.get(f"{PREFIX}/config", headers={"X-Role": "admin"}).status_code == 200


def test_an_admin_uses_the_routes_over_http(client: TestClient, fake: FakeHubSpot) -> None:  # type: ignore[no-untyped-def]
    created = client.post(
        f"{PREFIX}/contacts", headers=ADMIN, json={"email": "ada@example.com", "firstname": "Ada"}
    )
    assert created.status_code == 201 and created.json()["success"] is True
    listed = client.get(f"{PREFIX}/contacts", params={"limit": 10}, headers=ADMIN).json()
    assert [c["properties"]["email"] for c in listed["contacts"]] == ["ada@example.com"]
    tested = client.post(f"{PREFIX}/test-connection", headers=ADMIN).json()
    assert tested["success"] is True
    config = client.get(f"{PREFIX}/config", headers=ADMIN)
    assert config.json()["apiKeyLast4"] == FAKE_TOKEN[-4:]
    for response in (created, config):
        assert FAKE_TOKEN not in response.text


def test_bad_bodies_are_422_naming_the_field(client: TestClient, fake: FakeHubSpot) -> None:  # type: ignore[no-untyped-def]
    not_json = client.post(
        f"{PREFIX}/contacts",
        headers={**ADMIN, "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert not_json.status_code == 422 and not_json.json()["details"] == {"body": "must be JSON"}
    bad = client.post(f"{PREFIX}/contacts", headers=ADMIN, json={"email": "nope"})
    assert bad.status_code == 422 and "email" in bad.json()["details"]
    assert client.get(f"{PREFIX}/contacts", params={"limit": "x"}, headers=ADMIN).status_code == 422
    assert fake.contacts() == []
