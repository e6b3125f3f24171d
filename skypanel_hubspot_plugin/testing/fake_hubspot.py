"""A fake HubSpot: a real HTTP server on 127.0.0.1 speaking the slice of the API we use.

Tests (ours and a host's) point the plugin's ``hubspot_base_url`` at
:attr:`FakeHubSpot.base_url`. It serves the paths of every API version the plugin speaks
(``/crm/objects/2026-09/…``, ``/crm/objects/2026-03/…`` and the numbered ``/crm/v3/…``,
``/crm/v4/…``) over one state, answers in the shapes of HubSpot's published specs (the
conformance suite checks every 2xx answer against them), and fails the way HubSpot fails:
401 for an unknown or expired token, 403 naming the missing scopes, 409
``OBJECT_ALREADY_EXISTS`` for a duplicate email, unique value or property, 400
``VALIDATION_ERROR`` listing every refused value (a stage outside its pipeline, an unknown
option or property) or refusing a foreign paging cursor or a search beyond HubSpot's limits,
429 (rolling, daily, or the search's 4 a second per token), 5xx, and slow answers (the work
done, the answer late), so retries and idempotency can be tested without HubSpot.

Rate-limit headers (``X-HubSpot-RateLimit-*``) come as HubSpot's do: on answers to calls
made with a token, not on search answers nor on answers to calls without a (known) token;
and without the daily pair for an OAuth access token (``add_token(..., kind="oauth")``),
which has no daily limit.

This module holds the server and what every request goes through (tokens, scopes, rate
limits, scripted faults); each API area is a module of its own, mixed in here:
:mod:`.fake_objects`, :mod:`.fake_search`, :mod:`.fake_associations`,
:mod:`.fake_properties`, :mod:`.fake_forms`, :mod:`.fake_account`, :mod:`.fake_engagements`
(emails and notes) and :mod:`.fake_conversation`, with what people do in HubSpot in
:mod:`.fake_people`; over the records of :mod:`.fake_store`, the schema of
:mod:`.fake_schema` and the errors of :mod:`.fake_errors`. A new area is a new mixin with
its ``_<area>_routes``.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .fake_account import VISITOR_SCOPE, AccountApi
from .fake_associations import OBJECT_TYPE_IDS, AssociationsApi
from .fake_conversation import ConversationApi
from .fake_engagements import EngagementsApi
from .fake_errors import CrmError
from .fake_forms import FormsApi
from .fake_http import (
    DATED,
    DROP,
    Handler,
    RecordedRequest,
    Route,
    RouteSpec,
    daily_limit_body,
    error_body,
    rate_limit_body,
    status_body,
)
from .fake_objects import BATCH_LIMIT, ObjectsApi
from .fake_people import PeopleApi
from .fake_properties import PropertiesApi
from .fake_search import SEARCH_MAX_RESULTS, SEARCH_PER_SECOND, SearchApi
from .fake_state import Token
from .fake_store import CrmStore

__all__ = [
    "ALL_SCOPES",
    "BATCH_LIMIT",
    "DATED",
    "FAKE_PORTAL_ID",
    "FAKE_TOKEN",
    "OBJECT_TYPE_IDS",
    "SEARCH_MAX_RESULTS",
    "SEARCH_PER_SECOND",
    "VISITOR_SCOPE",
    "FakeHubSpot",
    "RecordedRequest",
]

FAKE_TOKEN = "pat-na1-11111111-2222-4333-8444-555555555555"
FAKE_PORTAL_ID = 12345678
ALL_SCOPES = frozenset(
    {
        "crm.objects.contacts.read",
        "crm.objects.contacts.write",
        "tickets",
        "oauth",
        "sales-email-read",
        VISITOR_SCOPE,
    }
)
#: Burst limit reported in the rate-limit headers when no limit is enforced (a private app's).
NOMINAL_RATE_LIMIT = 190


@dataclass
class _Faults:
    error_rate: float = 0.0
    kinds: tuple[str, ...] = ("429", "500", "slow")
    slow_seconds: float = 0.0
    latency_s: float = 0.0


class FakeHubSpot(
    ObjectsApi,
    SearchApi,
    AssociationsApi,
    PropertiesApi,
    FormsApi,
    AccountApi,
    ConversationApi,
    EngagementsApi,
    PeopleApi,
):
    """Start with ``with FakeHubSpot() as hubspot:`` (or the ``fake_hubspot`` pytest fixture)."""

    def __init__(
        self,
        *,
        portal_id: int = FAKE_PORTAL_ID,
        region: str = "na1",
        rate_limit: int | None = None,
        rate_interval_s: float = 10.0,
        seed: int | None = None,
        search_lag_s: float = 0.0,
        daily_limit: int | None = None,
        search_rate_limit: int | None = SEARCH_PER_SECOND,
    ) -> None:
        self.portal_id = portal_id
        #: Requests a day before 429 with policyName DAILY; None plays an unlimited portal.
        self.daily_limit = daily_limit
        self._daily_used = 0
        self.region = region
        self.rate_limit = rate_limit
        self.rate_interval_s = rate_interval_s
        self.search_lag_s = search_lag_s
        #: Search requests a second before 429 (HubSpot's search has its own, lower limit).
        self.search_rate_limit = search_rate_limit
        self._search_hits: list[float] = []
        self._search_windows: dict[int, deque[float]] = {}
        self.requests: list[RecordedRequest] = []
        #: CPU seconds the fake spent handling requests (its own work, not the sockets').
        self.cpu_seconds = 0.0
        self.base_url = ""
        self._lock = threading.RLock()
        self._store = CrmStore()
        self._tokens: dict[str, Token] = {}
        self._faults = _Faults()
        self._scripted: deque[tuple[int, dict[str, Any] | None, dict[str, str]]] = deque()
        self._fault_script: deque[str] = deque()
        self._hits: deque[float] = deque()
        self._rng = random.Random(seed)
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.add_token(FAKE_TOKEN)
        self._forms = {}
        self._form_submissions: list[dict[str, Any]] = []
        self._webhooks = None
        #: False plays a portal without Professional/Enterprise: token requests get 403.
        self.visitor_identification = True
        self.visitor_tokens: list[tuple[str, str]] = []
        self._routes = self._build_routes()

    # -- life cycle ----------------------------------------------------------------------------

    def start(self, *, host: str = "127.0.0.1", port: int = 0) -> FakeHubSpot:
        """Serves on ``host``:``port`` (loopback and a free port unless told otherwise)."""
        fake = self

        class OwnHandler(Handler):
            owner = fake

        self._stopping.clear()
        self._server = ThreadingHTTPServer((host, port), OwnHandler)
        self._server.daemon_threads = True
        self.base_url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-hubspot",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes every delayed answer
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeHubSpot:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- configuration -------------------------------------------------------------------------

    def add_token(
        self,
        token: str,
        scopes: Iterable[str] = ALL_SCOPES,
        *,
        portal_id: int | None = None,
        expired: bool = False,
        kind: str = "private-app",
    ) -> None:
        """Makes ``token`` known, with these scopes, for this portal (or another one):
        a private app's access token, or with ``kind="oauth"`` an OAuth access token (no
        daily limit, so no daily rate-limit headers)."""
        if kind not in ("private-app", "oauth"):
            raise ValueError("kind must be private-app or oauth")
        with self._lock:
            self._tokens[token] = Token(
                frozenset(scopes), portal_id or self.portal_id, expired, kind
            )

    def set_faults(
        self,
        *,
        error_rate: float = 0.0,
        kinds: Sequence[str] = ("429", "500", "slow"),
        slow_seconds: float = 0.0,
        latency_s: float = 0.0,
    ) -> None:
        """Fails a share of requests: "429", "500"/"502"/"503", "slow" (done, answered late),
        "timeout-before" (answered late, not done), "lost-504" (done, then answered 504) or
        "lost-drop" (done, then the connection closed without an answer)."""
        with self._lock:
            self._faults = _Faults(error_rate, tuple(kinds), slow_seconds, latency_s)

    def script_faults(self, kinds: Sequence[str]) -> None:
        """The fault of each next request, in order ("ok" for none), before random ones."""
        with self._lock:
            self._fault_script.extend(kinds)

    def fail_next(
        self,
        status: int,
        *,
        count: int = 1,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answers the next ``count`` requests with ``status`` (HubSpot-like body by default)."""
        with self._lock:
            for _ in range(count):
                self._scripted.append((status, body, dict(headers or {})))

    def reset_scripted(self) -> None:
        """Drops the answers :meth:`fail_next` scripted that no request has used yet."""
        with self._lock:
            self._scripted.clear()

    def reset(self) -> None:
        with self._lock:
            self._form_submissions.clear()
            self._store = CrmStore()
            self._search_hits.clear()
            self._search_windows.clear()
            self.requests.clear()
            self.cpu_seconds = 0.0
            self._scripted.clear()
            self._fault_script.clear()
            self._hits.clear()
            self._daily_used = 0
            self._faults = _Faults()

    def set_daily_limit(self, limit: int | None, *, used: int = 0) -> None:
        """Plays a portal allowed ``limit`` requests a day, ``used`` of them spent already."""
        with self._lock:
            self.daily_limit = limit
            self._daily_used = used

    def wait_for(self, predicate: Callable[[FakeHubSpot], bool], timeout: float = 10.0) -> None:
        """Waits until ``predicate(self)`` holds; fails the test with AssertionError at the deadline."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"fake HubSpot: condition not met within {timeout} s "
                    f"({len(self.requests)} requests received)"
                )
            self._stopping.wait(0.01)

    # -- request handling ----------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str], float]:
        """Returns status, JSON body, extra headers and how long to hold the answer back."""
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query)
        extra: dict[str, str]
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
            status, answer, extra, delay = (
                400,
                error_body("Invalid input JSON", "VALIDATION_ERROR"),
                {},
                0.0,
            )
        else:
            status, answer, extra, delay = self._dispatch(method, path, query, headers, body)
        if isinstance(answer, dict) and answer.get("status") == "error":
            answer.setdefault("correlationId", str(uuid.uuid4()))
        with self._lock:
            bearer = headers.get("authorization", "").lower().startswith("bearer ")
            self.requests.append(
                RecordedRequest(method, path, query, body, status, answer, bearer, time.monotonic())
            )
            extra.update(self._rate_headers(self._rated_token(method, path, headers, status)))
        return status, answer, extra, delay + self._faults.latency_s

    def _rated_token(
        self, method: str, path: str, headers: dict[str, str], status: int
    ) -> Token | None:
        """The token whose limits the answer's rate-limit headers report, or None for an
        answer HubSpot sends none with: a search's, a public endpoint's, and one to a call
        without a token it knows (401)."""
        if status == 401:
            return None
        auth = headers.get("authorization", "")
        token = self._tokens.get(auth[7:]) if auth.lower().startswith("bearer ") else None
        route = self._match(method, path)
        if route is not None and (route[2] == self._search or self._is_public(route)):
            return None
        return token

    def _is_public(self, route: Route) -> bool:
        # Token info and form submissions are public endpoints: HubSpot asks them for no token.
        return route[0] == "token-info" or route[2] == self._submit_form

    def _dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: Any,
    ) -> tuple[int, Any, dict[str, str], float]:
        route = self._match(method, path)
        public = route is not None and self._is_public(route)
        token = None
        if not public:
            auth = headers.get("authorization", "")
            token = self._tokens.get(auth[7:]) if auth.lower().startswith("bearer ") else None
            if token is None:
                return (
                    401,
                    error_body(
                        "Authentication credentials not found. This API supports "
                        "OAuth 2.0 authentication.",
                        "INVALID_AUTHENTICATION",
                    ),
                    {},
                    0.0,
                )
            if token.expired:
                return (
                    401,
                    error_body(
                        "The OAuth token used to make this call expired.", "EXPIRED_AUTHENTICATION"
                    ),
                    {},
                    0.0,
                )
        with self._lock:
            if token is not None and token.kind != "oauth":  # OAuth calls have no daily limit
                if self.daily_limit is not None and self._daily_used >= self.daily_limit:
                    return 429, daily_limit_body(), {}, 0.0
                self._daily_used += 1
            limited = self._take_rate_slot()
            if limited is not None:
                return 429, rate_limit_body(), {"Retry-After": str(limited)}, 0.0
            if self._scripted:
                status, scripted, extra = self._scripted.popleft()
                return status, scripted or status_body(status), extra, 0.0
            fault = None
            if self._fault_script:
                fault = self._fault_script.popleft()
            elif self._faults.error_rate and self._rng.random() < self._faults.error_rate:
                fault = self._rng.choice(self._faults.kinds)
        if fault == "429":
            return 429, rate_limit_body(), {"Retry-After": "1"}, 0.0
        if fault in ("500", "502", "503"):
            return int(fault), status_body(int(fault)), {}, 0.0
        if fault == "timeout-before":
            return 504, status_body(504), {}, self._faults.slow_seconds
        delay = self._faults.slow_seconds if fault == "slow" else 0.0
        if route is None:
            return (
                404,
                error_body(f"Unable to route {method} {path}", "OBJECT_NOT_FOUND"),
                {},
                delay,
            )
        _, pattern, handler, scopes_of = route
        match = pattern.fullmatch(path)
        assert match is not None
        params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
        if token is not None:
            missing = sorted(scopes_of(params) - token.scopes)
            if missing:
                return (
                    403,
                    {
                        "status": "error",
                        "message": "This app hasn't been granted all required scopes to make this "
                        "call. Read more about required scopes here: "
                        "https://developers.hubspot.com/scopes.",
                        "errors": [
                            {
                                "message": "One or more of the following scopes are required.",
                                "context": {"requiredGranularScopes": missing},
                            }
                        ],
                        "links": {"scopes": "https://developers.hubspot.com/scopes"},
                        "category": "MISSING_SCOPES",
                    },
                    {},
                    delay,
                )
        with self._lock, self._store.writing_as(params.get("api_version")):
            try:
                status, answer = handler(token=token, query=query, body=body, **params)
            except CrmError as exc:
                status, answer = exc.status, dict(exc.body)
        if fault == "lost-504":  # HubSpot did the work; its answer never came back
            return 504, status_body(504), {}, delay
        if fault == "lost-drop":
            return DROP, None, {}, delay
        return status, answer, {}, delay

    def _match(self, method: str, path: str) -> Route | None:
        for route in self._routes:
            if route[0] in (method, "token-info") and route[1].fullmatch(path):
                if route[0] == "token-info" and method != "POST":
                    continue
                return route
        return None

    def _take_rate_slot(self) -> int | None:
        """Counts this request; returns seconds to wait when the rolling window is full."""
        now = time.monotonic()
        while self._hits and now - self._hits[0] >= self.rate_interval_s:
            self._hits.popleft()
        if self.rate_limit is not None and len(self._hits) >= self.rate_limit:
            return max(1, int(self._hits[0] + self.rate_interval_s - now + 0.999))
        self._hits.append(now)
        return None

    def _rate_headers(self, token: Token | None) -> dict[str, str]:
        """HubSpot's rate-limit headers for an answer to ``token``'s call: the rolling
        window, and the day unless it is an OAuth token; none without a token."""
        if token is None:
            return {}
        limit = self.rate_limit if self.rate_limit is not None else NOMINAL_RATE_LIMIT
        headers = {
            "X-HubSpot-RateLimit-Max": str(limit),
            "X-HubSpot-RateLimit-Remaining": str(max(0, limit - len(self._hits))),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.rate_interval_s * 1000)),
        }
        if token.kind != "oauth":
            daily = self.daily_limit if self.daily_limit is not None else 1_000_000
            headers["X-HubSpot-RateLimit-Daily"] = str(daily)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, daily - self._daily_used))
        return headers

    # -- routes --------------------------------------------------------------------------------

    def _build_routes(self) -> list[Route]:
        table: list[RouteSpec] = [
            *self._account_routes(),
            *self._forms_routes(),
            *self._objects_routes(),
            *self._search_routes(),
            *self._associations_routes(),
            *self._conversation_routes(),
            *self._properties_routes(),
        ]
        return [(m, re.compile(p), h, s) for m, p, h, s in table]
