"""The plugin in a Starlette app without FastAPI: its routes behind the host's checks, and
events in the host's SQLAlchemy transaction; SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pluggy
import pytest
from convergence import enable
from host_kill import kill_mid_delivery_then_deliver
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from skypanel_hubspot_plugin import HostContext, User, runtime
from skypanel_hubspot_plugin.admin.request_body import MAX_BODY
from skypanel_hubspot_plugin.admin.starlette_adapter import admin_routes, public_routes
from skypanel_hubspot_plugin.delivery.outbox_table import DELIVERED
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.testing import FakeHubSpot

SETTINGS = "/api/admin/settings/hubspot/settings"
ADMIN = {"X-Role": "admin", "X-CSRF": "ok"}


def require_admin(request: Request) -> None:  # a plain function: run in the threadpool
    role = request.headers.get("X-Role")
    if role is None:
        raise HTTPException(401, "Log in first")
    if role != "admin":
        raise HTTPException(403, "Administrators only")


async def require_csrf(request: Request) -> None:  # an async one: awaited
    if request.headers.get("X-CSRF") != "ok":
        raise HTTPException(403, "CSRF token missing or wrong")


def panel_app(
    pm: pluggy.PluginManager, engine: Engine, secret_key: str, fake_url: str
) -> Starlette:
    def signup(request: Request) -> PlainTextResponse:
        email = request.query_params["email"]
        with Session(engine) as session:  # the panel's own transaction
            pm.hook.skypanel_on_user_created(user=User(id=email, email=email), session=session)
            if request.query_params.get("then") == "rollback":
                session.rollback()
                return PlainTextResponse("rolled back")
            session.commit()
        return PlainTextResponse("created", status_code=201)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pm.hook.skypanel_startup(
            host=HostContext(
                engine=engine,
                secret_keys=[secret_key],
                hubspot_base_url=fake_url,
                run_worker=False,
            )
        )
        enable(runtime.current())
        yield
        pm.hook.skypanel_shutdown()

    return Starlette(
        routes=[
            *admin_routes(pm, require_admin=require_admin, require_csrf=require_csrf),
            *public_routes(pm),
            Route("/signup", signup, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


@pytest.fixture
def client(
    pm: pluggy.PluginManager, engine: Engine, secret_key: str, fake: FakeHubSpot
) -> Iterator[TestClient]:
    with TestClient(panel_app(pm, engine, secret_key, fake.base_url)) as test_client:
        yield test_client


def drain() -> None:
    worker = Worker(runtime.current())
    while worker.run_once():
        pass


def test_a_rolled_back_signup_sends_nothing_and_a_committed_one_is_sent_once(
    client: TestClient, fake: FakeHubSpot
) -> None:
    assert client.post("/signup", params={"email": "kept@example.com"}).status_code == 201
    undone = client.post("/signup", params={"email": "undone@example.com", "then": "rollback"})
    assert undone.status_code == 200
    drain()
    drain()
    assert [c["properties"]["email"] for c in fake.contacts()] == ["kept@example.com"]
    assert runtime.current().outbox.counts() == {DELIVERED: 1}


def test_a_worker_process_killed_mid_delivery_loses_and_duplicates_nothing(
    client: TestClient, engine: Engine, fake: FakeHubSpot, secret_key: str, tmp_path: Path
) -> None:
    emails = [f"user{i}@example.com" for i in range(5)]
    for email in emails:
        assert client.post("/signup", params={"email": email}).status_code == 201
    url = engine.url.render_as_string(hide_password=False)
    kill_mid_delivery_then_deliver(
        url, runtime.current(), fake, secret_key, tmp_path / "worker.log", emails
    )


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"X-Role": "customer", "X-CSRF": "ok"}, 403), ({"X-Role": "admin"}, 403)],
    ids=["anonymous", "not-an-admin", "admin-without-csrf"],
)
def test_admin_routes_refuse_and_change_nothing(
    client: TestClient, headers: dict[str, str], status: int
) -> None:
    answer = client.post(SETTINGS, json={"hubspot_enabled": False}, headers=headers)
    assert answer.status_code == status
    assert runtime.current().settings().enabled


def test_an_admin_reads_without_csrf_and_saves_with_it(client: TestClient) -> None:
    assert client.get(SETTINGS, headers={"X-Role": "admin"}).status_code == 200
    saved = client.post(SETTINGS, json={"hubspot_chat_enabled": True}, headers=ADMIN)
    assert saved.status_code == 200, saved.json()
    assert runtime.current().settings().chat_enabled


def test_bodies_are_bounded_and_parsed(client: TestClient) -> None:
    not_json = client.post(SETTINGS, content=b"{not json", headers=ADMIN)
    assert not_json.status_code == 422
    assert "body" in not_json.json()["details"]
    huge = client.post(SETTINGS, content=b"[" + b"1," * MAX_BODY + b"1]", headers=ADMIN)
    assert huge.status_code == 413
    assert runtime.current().settings().enabled


def test_public_routes_need_no_login(client: TestClient) -> None:
    chat = client.get("/api/hubspot/chat-config")
    assert chat.status_code == 200
    assert chat.json() == {"chatEnabled": False, "portalId": None, "scriptUrl": None}
    unsigned = client.post("/api/hubspot/webhooks", content=b"[]")
    assert unsigned.status_code == 401  # refused by the signature check, not by a login
