"""The fake HubSpot's HTTP layer: the request record, the route table's types, the paths of
every API version it serves, HubSpot's error bodies, and the request handler.

Every part of the fake that serves an API area (objects, search, associations, properties,
forms, account) builds its answers with these, so an error looks the same wherever it
comes from.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol

from .fake_engagement_rules import ENGAGEMENT_READ_SCOPES, ENGAGEMENT_WRITE_SCOPES


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received (never its Authorization header) and its answer.

    ``answer`` is the JSON body the fake sent back (None for an empty one); ``authorized``
    says whether a bearer token came with the request (its value is never kept).
    """

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int
    answer: Any = None
    authorized: bool = False
    at: float = 0.0  # when it was answered (monotonic seconds)


Answer = tuple[int, Any]
#: A status meaning "close the connection without answering".
DROP = 0
Scopes = Callable[[dict[str, str]], set[str]]
#: One entry of the route table: method, path pattern, handler, the scopes it needs.
RouteSpec = tuple[str, str, Callable[..., Answer], Scopes]
Route = tuple[str, re.Pattern[str], Callable[..., Answer], Scopes]

#: Version segments the fake serves, as they appear in paths.
DATED = r"(?:2026-03|2026-09)"
# Each area's prefix in every version; the rest of a path is the same in all of them.
OBJECTS = rf"/crm/(?:v3/objects|objects/(?P<api_version>{DATED}))"
ASSOCIATIONS = rf"/crm/(?:v4/objects|objects/{DATED})"
PROPERTIES = rf"/crm/(?:v3/properties|properties/{DATED})"
PIPELINES = rf"/crm/(?:v3/pipelines|pipelines/{DATED})"
VERSION = rf"(?P<api_version>v3|{DATED})"


def read_scopes(object_type: str) -> set[str]:
    """The scopes reading records of ``object_type`` needs."""
    if object_type in ENGAGEMENT_READ_SCOPES:
        return set(ENGAGEMENT_READ_SCOPES[object_type])
    return {"tickets" if object_type == "tickets" else f"crm.objects.{object_type}.read"}


def write_scopes(object_type: str) -> set[str]:
    """The scopes writing records of ``object_type`` needs."""
    if object_type in ENGAGEMENT_WRITE_SCOPES:
        return set(ENGAGEMENT_WRITE_SCOPES[object_type])
    return {"tickets" if object_type == "tickets" else f"crm.objects.{object_type}.write"}


def first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def error_body(message: str, category: str) -> dict[str, Any]:
    return {"status": "error", "message": message, "category": category}


def search_limit_body() -> dict[str, Any]:
    return {
        "status": "error",
        "message": "You have reached your secondly limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": "SECONDLY",
        "groupName": "publicapi:search",
    }


def rate_limit_body() -> dict[str, Any]:
    return {
        "status": "error",
        "message": "You have reached your ten_secondly_rolling limit.",
        "errorType": "RATE_LIMIT",
        "policyName": "TEN_SECONDLY_ROLLING",
        "groupName": "publicapi:private-app",
    }


def daily_limit_body() -> dict[str, Any]:
    return {
        "status": "error",
        "message": "You have reached your daily limit.",
        "errorType": "RATE_LIMIT",
        "policyName": "DAILY",
        "groupName": "publicapi:private-app",
    }


def status_body(status: int) -> dict[str, Any]:
    if status == 429:
        return rate_limit_body()
    if status == 401:
        return error_body("Authentication credentials not found.", "INVALID_AUTHENTICATION")
    return error_body(f"HubSpot answered {status}", "INTERNAL_ERROR" if status >= 500 else "ERROR")


class Owner(Protocol):
    """What :class:`Handler` needs of the fake it serves."""

    _lock: threading.RLock
    _stopping: threading.Event
    cpu_seconds: float

    def handle(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str], float]: ...


class Handler(BaseHTTPRequestHandler):
    """Reads a request, lets the owning fake answer it, and writes the answer (late, or not
    at all, when the fake says so)."""

    owner: Owner
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        cpu_started = time.thread_time()  # CPU only: waits on the socket do not count
        try:
            self._answer()
        finally:
            with self.owner._lock:
                self.owner.cpu_seconds += time.thread_time() - cpu_started

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, body, extra, delay = self.owner.handle(self.command, self.path, headers, raw)
        if (delay and self.owner._stopping.wait(delay)) or status == DROP:
            self.close_connection = True
            return
        payload = b"" if body is None else json.dumps(body).encode()
        try:
            self.send_response(status)
            if payload:  # a 204 carries no body and so no type, as HubSpot's
                self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting: HubSpot did the work anyway

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read .requests
        return
