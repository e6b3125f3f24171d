"""A plugin that failed to start: 503 saying why on admin routes, a generic 503 on public
ones, and the panel's pages unharmed (nothing in the page head)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from skypanel_hubspot_plugin import HostContext, PageContext, User
from skypanel_hubspot_plugin.admin.fastapi_adapter import admin_router, public_router
from skypanel_hubspot_plugin.admin.public_routes import PUBLIC_ROUTES
from skypanel_hubspot_plugin.admin.routes import ADMIN_ROUTES

PREFIX = "/api/admin/settings/hubspot"


def client(pm) -> TestClient:  # type: ignore[no-untyped-def]
    app = FastAPI()
    app.include_router(admin_router(pm, require_admin=lambda: None, require_csrf=lambda: None))
    app.include_router(public_router(pm))
    return TestClient(app, raise_server_exceptions=True)


@pytest.fixture
def failed(pm, sqlite_engine: Engine) -> Iterator[None]:  # type: ignore[no-untyped-def]
    pm.hook.skypanel_startup(
        host=HostContext(engine=sqlite_engine, secret_keys=["not-a-fernet-key"])
    )
    yield
    pm.hook.skypanel_shutdown()


def every_route() -> list[tuple[str, str, bool]]:
    return [(m, p, False) for m, p, _ in ADMIN_ROUTES] + [(m, p, True) for m, p, _ in PUBLIC_ROUTES]


@pytest.mark.parametrize(("method", "path", "public"), every_route())
def test_every_route_of_a_plugin_that_failed_to_start_is_503(
    pm, failed: None, method: str, path: str, public: bool
) -> None:  # type: ignore[no-untyped-def]
    response = client(pm).request(method, path, json={} if method == "POST" else None)
    assert response.status_code == 503
    body = response.json()
    assert body["success"] is False and body["message"] == "HubSpot is unavailable"
    if public:
        assert body["details"] is None  # the reason is for admins only
    else:
        assert "failed to start" in body["details"]["plugin"]
        assert "key" in body["details"]["plugin"].lower()
        assert "not-a-fernet-key" not in response.text


def test_without_startup_admins_are_told_to_fire_it(pm) -> None:  # type: ignore[no-untyped-def]
    response = client(pm).get(f"{PREFIX}/config")
    assert response.status_code == 503
    assert "skypanel_startup" in response.json()["details"]["plugin"]


def test_pages_keep_working_with_nothing_in_the_head(pm, failed: None) -> None:  # type: ignore[no-untyped-def]
    user = User(id="1", email="ada@example.com", email_verified=True)
    page = PageContext(csp_nonce="n", user=user)
    assert "".join(pm.hook.skypanel_page_head(page=page)) == ""
    assert "".join(pm.hook.skypanel_form_embed(form="contact", page=page)) == ""
    pm.hook.skypanel_on_user_created(user=user, session=None)  # does not raise into the panel
