"""What anyone on the internet can send the plugin's routes: bodies far over the limit,
unsigned webhook floods, JSON nested past Python's recursion limit, absurd ``?limit=``.

The adapter is driven over ASGI with a body generator that counts what the adapter pulled
from it, so "stops reading" is measured, not assumed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import urllib3
import uvicorn
from conftest import start_plugin
from fastapi import FastAPI, Header, HTTPException
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from skypanel_hubspot_plugin.admin.fastapi_adapter import MAX_BODY, admin_router, public_router
from skypanel_hubspot_plugin.admin.responses import query_limit
from skypanel_hubspot_plugin.admin.routes import ADMIN_ROUTES
from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.common.json_body import parse_json
from skypanel_hubspot_plugin.payloads import AdminRequest
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot
from skypanel_hubspot_plugin.webhooks.signature import sign_v3

SECRET = "7c1d2f0e-8a4b-4c3d-9e2f-0a1b2c3d4e5f"
WEBHOOKS = "/api/hubspot/webhooks"
BASE = "http://testserver"
PREFIX = "/api/admin/settings/hubspot"
CHUNK = 64 * 1024
HUGE = 300 * 1024 * 1024
ADMIN = {"X-Role": "admin", "X-CSRF-Token": "good"}


def admin_only(x_role: str | None = Header(default=None)) -> None:
    if x_role != "admin":
        raise HTTPException(403, "admins only")


def csrf_checked(x_csrf_token: str | None = Header(default=None)) -> None:
    if x_csrf_token != "good":
        raise HTTPException(403, "CSRF check failed")


@pytest.fixture
def app(pm, sqlite_engine: Engine, secret_key: str, fake: FakeHubSpot) -> Iterator[FastAPI]:  # type: ignore[no-untyped-def]
    rt: Runtime = start_plugin(pm, sqlite_engine, secret_key, fake.base_url, public_base_url=BASE)
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_app_secret": SECRET,
        }
    )
    app = FastAPI()
    app.include_router(admin_router(pm, require_admin=admin_only, require_csrf=csrf_checked))
    app.include_router(public_router(pm))
    yield app
    pm.hook.skypanel_shutdown()


class CountingBody:
    """A chunked request body of ``total`` bytes, handed out one chunk per ASGI receive."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.consumed = 0

    async def receive(self) -> dict[str, Any]:
        size = min(CHUNK, self.total - self.consumed)
        self.consumed += size
        return {
            "type": "http.request",
            "body": b"[" * size,
            "more_body": self.consumed < self.total,
        }


def call(
    app: FastAPI, path: str, headers: dict[str, str], body: CountingBody
) -> tuple[int, dict[str, Any]]:
    """One POST over ASGI, as uvicorn would make it for a chunked request."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, body.receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    raw = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(raw)


def signed_headers(age_ms: int = 0) -> dict[str, str]:
    timestamp = int(time.time() * 1000) - age_ms
    return {
        "content-type": "application/json",
        "transfer-encoding": "chunked",
        "x-hubspot-request-timestamp": str(timestamp),
        # signed over an empty body: the headers pass, the body can never match
        "x-hubspot-signature-v3": sign_v3(
            SECRET, "POST", f"http://testserver{WEBHOOKS}", b"", timestamp
        ),
    }


def test_a_huge_webhook_body_is_413_after_reading_at_most_the_limit(app: FastAPI) -> None:
    body = CountingBody(HUGE)
    status, answer = call(app, WEBHOOKS, signed_headers(), body)
    assert status == 413
    assert answer["details"] == {"body": f"must be at most {MAX_BODY} bytes"}
    assert body.consumed <= MAX_BODY + CHUNK  # not 300 MB


@pytest.mark.parametrize(
    "make_headers",
    [
        lambda: {"transfer-encoding": "chunked"},
        lambda: {**signed_headers(), "x-hubspot-signature-v3": ""},
        lambda: signed_headers(age_ms=6 * 60 * 1000),
        lambda: signed_headers(age_ms=-2 * 60 * 1000),
        lambda: {**signed_headers(), "x-hubspot-request-timestamp": "9" * 5000},
    ],
    ids=["unsigned", "empty-signature", "stale", "future", "absurd-timestamp"],
)
def test_an_unsigned_or_stale_webhook_is_401_before_its_body_is_read(
    app: FastAPI, make_headers: Callable[[], dict[str, str]]
) -> None:
    headers = make_headers()  # now, not when the tests were collected: the clock matters
    body = CountingBody(HUGE)
    status, answer = call(app, WEBHOOKS, headers, body)
    assert status == 401 and answer["success"] is False
    assert body.consumed == 0


def test_a_declared_length_over_the_limit_is_413_unread(app: FastAPI) -> None:
    body = CountingBody(HUGE)
    headers = {**signed_headers(), "content-length": str(HUGE)}
    del headers["transfer-encoding"]
    status, _ = call(app, WEBHOOKS, headers, body)
    assert status == 413 and body.consumed == 0


def test_a_huge_admin_body_is_413_after_reading_at_most_the_limit(app: FastAPI) -> None:
    body = CountingBody(HUGE)
    status, answer = call(
        app, f"{PREFIX}/contacts", {**ADMIN, "transfer-encoding": "chunked"}, body
    )
    assert status == 413 and answer["details"] == {"body": f"must be at most {MAX_BODY} bytes"}
    assert body.consumed <= MAX_BODY + CHUNK


# -- nested JSON and absurd limits: 4xx naming the field, never a 500 --------------------------

NESTED = b"[" * 50_000 + b"]" * 50_000


@pytest.mark.parametrize(
    "path",
    sorted({p for m, p, _ in ADMIN_ROUTES if m == "POST"}),
    ids=lambda p: p.rsplit("/", 1)[-1],
)
def test_deeply_nested_json_on_an_admin_post_is_422_naming_the_body(
    app: FastAPI, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = TestClient(app, raise_server_exceptions=True)
    with caplog.at_level(logging.INFO):
        response = client.post(path, content=NESTED, headers=ADMIN)
    assert response.status_code == 422
    assert "nests too deeply" in response.json()["details"]["body"]
    assert not any(r.exc_info for r in caplog.records)


def test_deeply_nested_json_on_the_webhook_is_400_naming_the_body(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    client = TestClient(app, raise_server_exceptions=True)
    timestamp = int(time.time() * 1000)
    url = f"http://testserver{WEBHOOKS}"
    with caplog.at_level(logging.INFO):
        response = client.post(
            WEBHOOKS,
            content=NESTED,
            headers={
                "x-hubspot-request-timestamp": str(timestamp),
                "x-hubspot-signature-v3": sign_v3(SECRET, "POST", url, NESTED, timestamp),
            },
        )
    assert response.status_code == 400
    assert "nests too deeply" in response.json()["details"]["body"]
    [logged] = [r for r in caplog.records if "webhook refused" in r.getMessage()]
    assert "body" in logged.getMessage() and logged.exc_info is None


@pytest.mark.parametrize("route", ["contacts", "tickets", "deliveries"])
def test_a_limit_with_thousands_of_digits_is_422_naming_limit(
    app: FastAPI, route: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = TestClient(app, raise_server_exceptions=True)
    with caplog.at_level(logging.INFO):
        response = client.get(f"{PREFIX}/{route}", params={"limit": "9" * 5000}, headers=ADMIN)
    assert response.status_code == 422
    assert set(response.json()["details"]) == {"limit"}
    assert not any(r.exc_info for r in caplog.records)


# -- the parsers, on anything ------------------------------------------------------------------

json_texts = st.text(alphabet='[]{}":,0123456789abtrufnl \\', max_size=3000) | st.builds(
    lambda depth, inner: "[" * depth + inner + "]" * depth, st.integers(0, 60_000), st.text()
)


@settings(max_examples=200, deadline=None)
@given(raw=json_texts | st.binary(max_size=200))
def test_parse_json_raises_nothing_but_a_body_error(raw: str | bytes) -> None:
    try:
        parse_json(raw)
    except InvalidInput as exc:
        assert set(exc.errors) == {"body"}


@settings(max_examples=300, deadline=None)
@given(raw=st.text(max_size=30) | st.text(alphabet="0123456789", min_size=1, max_size=6000))
def test_query_limit_is_in_range_or_none_for_any_text(raw: str) -> None:
    limit = query_limit(AdminRequest(query={"limit": raw}), 50, 100)
    assert limit is None or (1 <= limit <= 100 and int(raw) == limit)


def test_a_300_mb_chunked_post_over_loopback_is_413_and_the_app_reads_at_most_the_limit(
    app: FastAPI,
) -> None:
    """A real server and a real chunked upload: what the adapter pulls from uvicorn is
    counted between the two, so buffering the body would show."""
    pulled = 0

    async def counting(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def counted() -> dict[str, Any]:
            nonlocal pulled
            message: dict[str, Any] = await receive()
            pulled += len(message.get("body", b""))
            return message

        await app(scope, counted, send)

    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(counting, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    url = f"http://127.0.0.1:{port}{WEBHOOKS}"
    timestamp = int(time.time() * 1000)
    headers = {
        "x-hubspot-request-timestamp": str(timestamp),
        "x-hubspot-signature-v3": sign_v3(SECRET, "POST", url, b"", timestamp),
    }
    body = (b"[" * CHUNK for _ in range(HUGE // CHUNK))
    try:
        response = urllib3.PoolManager().request(
            "POST", url, body=body, headers=headers, chunked=True, retries=False
        )
    finally:
        server.should_exit = True
        thread.join(10)
    assert response.status == 413
    # uvicorn hands the body over in messages of its own size: the limit plus one of them
    assert MAX_BODY < pulled < 2 * MAX_BODY  # of 300 MB sent
