"""HubSpot's webhooks delivered in process: no server, no socket, no thread to wait for.

The fake HubSpot signs each webhook as HubSpot does and hands the request to a
:data:`~.fake_webhooks.Transport`. :func:`to_app` makes one that calls the host's own
application (ASGI: FastAPI, Starlette, Django's ASGI handler; or WSGI: Flask, Django),
through its routing, middleware and the plugin's routes as mounted by the host;
:func:`to_handler` one that calls the plugin's webhook handler directly, for a test with
no application at all. Both answer ``(status, body text)`` to the caller.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from skypanel_hubspot_plugin.admin.webhook_route import post_webhook, refuse_before_body
from skypanel_hubspot_plugin.payloads import AdminRequest

#: ``send(url, body, headers)`` → the receiver's status and body text.
Send = Callable[[str, bytes, dict[str, str]], tuple[int, str]]

NEEDS_HTTPX2 = (
    "Delivering webhooks into an application needs httpx2 (pip install httpx2, or the "
    "package's [testing] extra); kit.deliver_webhooks_to(None) calls the plugin's handler "
    "without it."
)


def to_handler() -> Send:
    """Calls the plugin's webhook handler, with the same checks its route makes."""

    def send(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        request = AdminRequest(
            query=dict(parse_qsl(urlsplit(url).query)),
            method="POST",
            url=url,
            headers={k.lower(): v for k, v in headers.items()},
            raw_body=body,
        )
        answer = refuse_before_body(request) or post_webhook(request)
        return answer.status, json.dumps(answer.body)

    return send


def is_asgi(app: object) -> bool:
    """An ASGI application is called with ``(scope, receive, send)`` and awaited."""
    call = app if inspect.isfunction(app) or inspect.ismethod(app) else type(app).__call__
    return inspect.iscoroutinefunction(call)


def to_app(app: Any) -> Send:
    """POSTs to ``app`` (ASGI or WSGI) in process, at the URL's path and query."""
    try:
        import httpx2
    except ImportError:  # pragma: no cover - the test extra installs it
        raise RuntimeError(NEEDS_HTTPX2) from None

    if not is_asgi(app):

        def send_wsgi(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
            origin, target = _split(url)
            transport = httpx2.WSGITransport(app=app)
            with httpx2.Client(transport=transport, base_url=origin) as client:
                response = client.post(target, content=body, headers=headers)
                return response.status_code, response.text

        return send_wsgi

    async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        origin, target = _split(url)
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url=origin) as client:
            response = await client.post(target, content=body, headers=headers)
            return response.status_code, response.text

    def send_asgi(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        answer: tuple[int, str] = _run(lambda: post(url, body, headers))
        return answer

    return send_asgi


def _split(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}", parts.path + (
        f"?{parts.query}" if parts.query else ""
    )


def _run(make: Callable[[], Any]) -> Any:
    """Runs a coroutine to its end from synchronous code: on this thread when no event loop
    runs here, else on a short-lived thread of its own (an async test calling the kit)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    result: list[Any] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(asyncio.run(make()))
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name="hubspot-kit-webhook")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]
