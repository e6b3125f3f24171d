"""A fake HubSpot: a real HTTP server on 127.0.0.1 speaking the slice of the API we use.

Tests (ours and a host's) point the plugin's ``hubspot_base_url`` at
:attr:`FakeHubSpot.base_url`. It serves the paths of every API version the plugin speaks
(``/crm/objects/2026-09/…``, ``/crm/objects/2026-03/…`` and the numbered ``/crm/v3/…``,
``/crm/v4/…``) over one state, answers in the shapes of HubSpot's published specs (the
conformance suite checks every 2xx answer against them), and fails the way HubSpot fails:
401 for an unknown or expired token, 403 naming the missing scopes, 409 for a duplicate
email or property, 400 for a stage outside its pipeline or a foreign paging cursor, 429
with rate-limit headers (rolling or daily), 5xx, and slow answers (the work done, the
answer late), so retries and idempotency can be tested without HubSpot.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import random
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from skypanel_hubspot_plugin.webhooks.polling import modified_ms

from .fake_store import (
    ASSOCIATION_TYPES,
    NUMBER_RE,
    CrmError,
    CrmStore,
    _prop,
    not_found,
    now_iso,
    pipeline_body,
)
from .fake_webhooks import (
    Subscription,
    Transport,
    deliver,
    lifecycle_event,
    merge_event,
    property_change_events,
)

#: HubSpot's CRM search: requests a second per account, and results one query pages through.
SEARCH_PER_SECOND = 5
SEARCH_MAX_RESULTS = 10_000
FAKE_TOKEN = "pat-na1-11111111-2222-4333-8444-555555555555"
FAKE_PORTAL_ID = 12345678
VISITOR_SCOPE = "conversations.visitor_identification.tokens.create"
ALL_SCOPES = frozenset(
    {"crm.objects.contacts.read", "crm.objects.contacts.write", "tickets", "oauth", VISITOR_SCOPE}
)
OBJECT_TYPE_IDS = {"contacts": "0-1", "tickets": "0-5"}
BATCH_LIMIT = 100
#: What a batch read returns besides the properties asked for.
READ_ALWAYS = ("hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate")
#: Version segments the fake serves, as they appear in paths.
DATED = r"(?:2026-03|2026-09)"
#: Burst limit reported in the rate-limit headers when no limit is enforced (a private app's).
NOMINAL_RATE_LIMIT = 190


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


@dataclass
class _Token:
    scopes: frozenset[str]
    portal_id: int
    expired: bool


@dataclass(frozen=True)
class _Form:
    portal_id: int
    fields: frozenset[str]
    required: frozenset[str]


@dataclass
class _Faults:
    error_rate: float = 0.0
    kinds: tuple[str, ...] = ("429", "500", "slow")
    slow_seconds: float = 0.0
    latency_s: float = 0.0


Answer = tuple[int, Any]
#: A status meaning "close the connection without answering".
DROP = 0
Route = tuple[str, re.Pattern[str], Callable[..., Answer], Callable[[dict[str, str]], set[str]]]


def _read_scope(t: str) -> str:
    return "tickets" if t == "tickets" else f"crm.objects.{t}.read"


def _write_scope(t: str) -> str:
    return "tickets" if t == "tickets" else f"crm.objects.{t}.write"


class FakeHubSpot:
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
        self.requests: list[RecordedRequest] = []
        #: CPU seconds the fake spent handling requests (its own work, not the sockets').
        self.cpu_seconds = 0.0
        self.base_url = ""
        self._lock = threading.RLock()
        self._store = CrmStore()
        self._tokens: dict[str, _Token] = {}
        self._faults = _Faults()
        self._scripted: deque[tuple[int, dict[str, Any] | None, dict[str, str]]] = deque()
        self._fault_script: deque[str] = deque()
        self._hits: deque[float] = deque()
        self._rng = random.Random(seed)
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.add_token(FAKE_TOKEN)
        self._forms: dict[str, _Form] = {}
        self._form_submissions: list[dict[str, Any]] = []
        self._webhooks: Subscription | None = None
        #: False plays a portal without Professional/Enterprise: token requests get 403.
        self.visitor_identification = True
        self.visitor_tokens: list[tuple[str, str]] = []
        self._routes = self._build_routes()

    # -- life cycle ----------------------------------------------------------------------------

    def start(self, *, host: str = "127.0.0.1", port: int = 0) -> FakeHubSpot:
        """Serves on ``host``:``port`` (loopback and a free port unless told otherwise)."""
        fake = self

        class Handler(_Handler):
            owner = fake

        self._stopping.clear()
        self._server = ThreadingHTTPServer((host, port), Handler)
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
    ) -> None:
        """Makes ``token`` known, with these scopes, for this portal (or another one)."""
        with self._lock:
            self._tokens[token] = _Token(frozenset(scopes), portal_id or self.portal_id, expired)

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

    def add_property(
        self,
        object_type: str,
        name: str,
        *,
        type: str = "string",
        field_type: str = "text",
        options: Sequence[str | tuple[str, str]] = (),
        label: str | None = None,
        read_only: bool = False,
    ) -> None:
        """Creates a custom property (``type`` as HubSpot names it: string, number, enumeration,
        date, datetime, bool), as a portal admin does in HubSpot's settings."""
        pairs = [(o, o) if isinstance(o, str) else o for o in options]
        definition = _prop(
            name,
            label or name.replace("_", " ").capitalize(),
            type_=type,
            field_type=field_type,
            options=pairs,
            group="custom",
            read_only=read_only,
        )
        with self._lock:
            self._store.properties[object_type][name] = definition

    def set_property_options(
        self, object_type: str, name: str, options: Sequence[dict[str, Any]]
    ) -> None:
        """Changes an enumeration property's options, as a portal admin can."""
        with self._lock:
            self._store.properties[object_type][name]["options"] = [
                {
                    "label": o["label"],
                    "value": o["value"],
                    "displayOrder": i,
                    "hidden": bool(o.get("hidden", False)),
                }
                for i, o in enumerate(options)
            ]

    def add_form(
        self,
        guid: str,
        fields: Iterable[str] = ("email", "firstname", "lastname"),
        *,
        required: Iterable[str] = (),
        portal_id: int | None = None,
    ) -> None:
        """Defines a form, as a portal admin does in HubSpot's form editor: submissions to it
        may carry only these contact properties, and must carry the required ones."""
        with self._lock:
            self._forms[guid.lower()] = _Form(
                portal_id or self.portal_id, frozenset(fields), frozenset(required)
            )

    def reset(self) -> None:
        with self._lock:
            self._form_submissions.clear()
            self._store = CrmStore()
            self._search_hits.clear()
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

    def add_pipeline(
        self,
        pipeline_id: str,
        label: str,
        stages: Sequence[tuple[str, str]],
        *,
        closed: Sequence[str] = (),
    ) -> None:
        """Creates a ticket pipeline with (id, label) stages, as a portal admin can; the
        stages in ``closed`` (and any labelled "Closed") have ticket state CLOSED."""
        with self._lock:
            self._store.pipelines["tickets"][pipeline_id] = pipeline_body(
                pipeline_id, label, list(stages), closed=closed
            )
            for name, values in (
                ("hs_pipeline", [(p["id"], p["label"]) for p in self._pipeline_list()]),
                (
                    "hs_pipeline_stage",
                    [(s["id"], s["label"]) for p in self._pipeline_list() for s in p["stages"]],
                ),
            ):
                self._store.properties["tickets"][name]["options"] = [
                    {"label": label_, "value": value, "displayOrder": i, "hidden": False}
                    for i, (value, label_) in enumerate(dict(values).items())
                ]

    def remove_pipeline_stage(self, pipeline_id: str, stage_id: str) -> None:
        """Deletes a stage of a ticket pipeline, as a portal admin can."""
        with self._lock:
            pipeline = self._store.pipelines["tickets"][pipeline_id]
            pipeline["stages"] = [s for s in pipeline["stages"] if s["id"] != stage_id]

    def ticket_pipelines(self) -> dict[str, list[tuple[str, str]]]:
        """Each ticket pipeline's id → its (stage id, stage label) pairs, in display order."""
        with self._lock:
            return {
                p["id"]: [(s["id"], s["label"]) for s in p["stages"]] for p in self._pipeline_list()
            }

    def _pipeline_list(self) -> list[dict[str, Any]]:
        return list(self._store.pipelines["tickets"].values())

    def has_property(self, object_type: str, name: str) -> bool:
        with self._lock:
            return name in self._store.properties[object_type]

    # -- webhooks ------------------------------------------------------------------------------

    def subscribe_webhooks(
        self,
        target_url: str,
        client_secret: str,
        *,
        app_id: int = 1,
        format: str = "legacy",
        transport: Transport | None = None,
    ) -> None:
        """Sends ticket change events to ``target_url``, signed with ``client_secret``, in
        the ``legacy`` format (``ticket.propertyChange``) or the ``generic`` one
        (``object.propertyChange`` with ``objectTypeId`` 0-5); through ``transport`` (in
        process, see :mod:`.in_process`) instead of over HTTP when given."""
        if format not in ("legacy", "generic"):
            raise ValueError("format must be legacy or generic")
        with self._lock:
            self._webhooks = Subscription(target_url, client_secret, app_id, format, transport)

    def unsubscribe_webhooks(self) -> None:
        """Stops sending webhooks, as for a Service Key or a panel HubSpot cannot reach."""
        with self._lock:
            self._webhooks = None

    def delete_ticket(self, ticket_id: str, *, deliveries: int = 1) -> list[int]:
        """Deletes (archives) a ticket as an agent would and sends the deletion event."""
        with self._lock:
            self._store.archive("tickets", ticket_id)
            sub = self._webhooks
        if sub is None:
            return []
        event = lifecycle_event(sub, self.portal_id, "ticket", ticket_id, "deletion")
        return [deliver(sub, [event]) for _ in range(deliveries)]

    def merge_tickets(self, primary_id: str, merged_id: str, *, deliveries: int = 1) -> list[int]:
        """Merges ``merged_id`` into ``primary_id`` as an agent would: the merged ticket is
        gone, the primary survives; then sends the merge event."""
        with self._lock:
            self._store.get("tickets", primary_id)
            self._store.archive("tickets", merged_id)
            sub = self._webhooks
        if sub is None:
            return []
        event = merge_event(sub, self.portal_id, "ticket", primary_id, [merged_id], None)
        return [deliver(sub, [event]) for _ in range(deliveries)]

    def change_ticket(
        self, ticket_id: str, properties: dict[str, str], *, deliveries: int = 1
    ) -> list[int]:
        """Changes a ticket as an agent in HubSpot would, then delivers the change events
        (``deliveries`` times, as HubSpot's retries can); returns the receiver's statuses."""
        with self._lock:
            ticket = self._store.update("tickets", ticket_id, dict(properties), None)
            occurred = modified_ms(ticket["properties"]["hs_lastmodifieddate"])
            sub = self._webhooks
        if sub is None:
            return []
        events = property_change_events(
            sub, self.portal_id, "ticket", ticket_id, properties, occurred
        )
        return [deliver(sub, events) for _ in range(deliveries)]

    def change_contact(self, contact_id: str, properties: dict[str, str]) -> dict[str, Any]:
        """Changes a contact as a user in HubSpot would (``""`` clears a property); returns
        the contact as it is then. No webhook: the plugin subscribes to ticket events only."""
        with self._lock:
            return self._store.snapshot(
                self._store.update("contacts", contact_id, dict(properties), None)
            )

    def created_properties(self, object_type: str, object_id: str) -> dict[str, Any]:
        """The properties a record had when it was created (its first version), to tell the
        value written at creation from later ones."""
        with self._lock:
            versions = self._store.first_versions.get((object_type, object_id))
            return dict(versions) if versions is not None else {}

    # -- inspection ----------------------------------------------------------------------------

    def contacts(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._store.snapshot(o) for o in self._store.live("contacts")]

    def form_submissions(self, guid: str | None = None) -> list[dict[str, Any]]:
        """The submissions HubSpot accepted (of one form, or all), oldest first: each with
        ``formGuid``, ``fields`` (name → value), ``context``, ``legalConsentOptions`` and
        ``submittedAt`` as they arrived."""
        with self._lock:
            return [
                json.loads(json.dumps(s))
                for s in self._form_submissions
                if guid is None or s["formGuid"] == guid.lower()
            ]

    def tickets(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._store.snapshot(o) for o in self._store.live("tickets")]

    def contact_by_email(self, email: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._store.find_by("contacts", "email", email)
            return self._store.snapshot(found) if found else None

    def associations(self, from_type: str, from_id: str, to_type: str) -> list[str]:
        with self._lock:
            return self._store.associated(from_type, from_id, to_type)

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
                _error("Invalid input JSON", "VALIDATION_ERROR"),
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
            extra.update(self._rate_headers())
        return status, answer, extra, delay + self._faults.latency_s

    def _dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: Any,
    ) -> tuple[int, Any, dict[str, str], float]:
        route = self._match(method, path)
        # Token info and form submissions are public endpoints: HubSpot asks them for no token.
        public = route is not None and (route[0] == "token-info" or route[2] == self._submit_form)
        token = None
        if not public:
            auth = headers.get("authorization", "")
            token = self._tokens.get(auth[7:]) if auth.lower().startswith("bearer ") else None
            if token is None:
                return (
                    401,
                    _error(
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
                    _error(
                        "The OAuth token used to make this call expired.", "EXPIRED_AUTHENTICATION"
                    ),
                    {},
                    0.0,
                )
        with self._lock:
            if not public:
                if self.daily_limit is not None and self._daily_used >= self.daily_limit:
                    return 429, _daily_limit_body(), {}, 0.0
                self._daily_used += 1
            limited = self._take_rate_slot()
            if limited is not None:
                return 429, _rate_limit_body(), {"Retry-After": str(limited)}, 0.0
            if self._scripted:
                status, scripted, extra = self._scripted.popleft()
                return status, scripted or _status_body(status), extra, 0.0
            fault = None
            if self._fault_script:
                fault = self._fault_script.popleft()
            elif self._faults.error_rate and self._rng.random() < self._faults.error_rate:
                fault = self._rng.choice(self._faults.kinds)
        if fault == "429":
            return 429, _rate_limit_body(), {"Retry-After": "1"}, 0.0
        if fault in ("500", "502", "503"):
            return int(fault), _status_body(int(fault)), {}, 0.0
        if fault == "timeout-before":
            return 504, _status_body(504), {}, self._faults.slow_seconds
        delay = self._faults.slow_seconds if fault == "slow" else 0.0
        if route is None:
            return 404, _error(f"Unable to route {method} {path}", "OBJECT_NOT_FOUND"), {}, delay
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
        with self._lock:
            try:
                status, answer = handler(token=token, query=query, body=body, **params)
            except CrmError as exc:
                status, answer = exc.status, dict(exc.body)
        if fault == "lost-504":  # HubSpot did the work; its answer never came back
            return 504, _status_body(504), {}, delay
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

    def _rate_headers(self) -> dict[str, str]:
        """HubSpot's rate-limit headers, on every answer: the rolling window and the day."""
        limit = self.rate_limit if self.rate_limit is not None else NOMINAL_RATE_LIMIT
        daily = self.daily_limit if self.daily_limit is not None else 1_000_000
        return {
            "X-HubSpot-RateLimit-Max": str(limit),
            "X-HubSpot-RateLimit-Remaining": str(max(0, limit - len(self._hits))),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.rate_interval_s * 1000)),
            "X-HubSpot-RateLimit-Daily": str(daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, daily - self._daily_used)),
        }

    # -- routes --------------------------------------------------------------------------------

    def _build_routes(self) -> list[Route]:
        obj = r"(?P<object_type>contacts|tickets)"
        to = r"(?P<to_type>contacts|tickets)"

        def read(p: dict[str, str]) -> set[str]:
            return {_read_scope(p["object_type"])}

        def write(p: dict[str, str]) -> set[str]:
            return {_write_scope(p["object_type"])}

        def both(p: dict[str, str]) -> set[str]:
            return {_write_scope(p["object_type"]), _read_scope(p["to_type"])}

        def write_schema(p: dict[str, str]) -> set[str]:
            # Ticket properties need the tickets scope; contact properties their schema scope.
            if p["object_type"] == "tickets":
                return {"tickets"}
            return {f"crm.schemas.{p['object_type']}.write"}

        # Each version's prefix; the rest of a path is the same in every version.
        objects = rf"/crm/(?:v3/objects|objects/(?P<api_version>{DATED}))"
        associations = rf"/crm/(?:v4/objects|objects/{DATED})"
        properties = rf"/crm/(?:v3/properties|properties/{DATED})"
        pipelines = rf"/crm/(?:v3/pipelines|pipelines/{DATED})"
        version = rf"(?P<api_version>v3|{DATED})"

        table: list[
            tuple[str, str, Callable[..., Answer], Callable[[dict[str, str]], set[str]]]
        ] = [
            ("GET", rf"/account-info/{version}/details", self._account, lambda p: {"oauth"}),
            (
                "POST",
                rf"/visitor-identification/{version}/tokens/create",
                self._visitor_token,
                lambda p: {VISITOR_SCOPE},
            ),
            (
                "token-info",
                r"/oauth/v2/private-apps/get/access-token-info",
                self._token_info,
                lambda p: set(),
            ),
            (
                "POST",
                r"/submissions/v3/integration/submit/(?P<portal_id>[^/]+)/(?P<form_guid>[^/]+)",
                self._submit_form,
                lambda p: set(),
            ),
            (
                "POST",
                rf"{objects}/contacts/gdpr-delete",
                self._gdpr_delete,
                lambda p: {"crm.objects.contacts.write"},
            ),
            (
                "POST",
                rf"{objects}/{obj}/batch/(?P<action>create|read|update|upsert|archive)",
                self._batch,
                lambda p: read(p) if p["action"] == "read" else write(p),
            ),
            ("POST", rf"{objects}/{obj}/search", self._search, read),
            ("GET", rf"{objects}/{obj}", self._page, read),
            ("POST", rf"{objects}/{obj}", self._create, write),
            ("GET", rf"{objects}/{obj}/(?P<object_id>[^/]+)", self._get, read),
            ("PATCH", rf"{objects}/{obj}/(?P<object_id>[^/]+)", self._update, write),
            ("DELETE", rf"{objects}/{obj}/(?P<object_id>[^/]+)", self._archive, write),
            (
                "PUT",
                rf"{associations}/{obj}/(?P<object_id>\d+)/associations/default/{to}/(?P<to_id>\d+)",
                self._associate_default,
                both,
            ),
            (
                "PUT",
                rf"{associations}/{obj}/(?P<object_id>\d+)/associations/{to}/(?P<to_id>\d+)",
                self._associate,
                both,
            ),
            (
                "GET",
                rf"{associations}/{obj}/(?P<object_id>\d+)/associations/{to}",
                self._associations_page,
                read,
            ),
            ("GET", rf"{properties}/{obj}", self._properties, read),
            ("POST", rf"{properties}/{obj}", self._create_property, write_schema),
            ("GET", rf"{properties}/{obj}/(?P<name>[^/]+)", self._property, read),
            ("GET", rf"{pipelines}/{obj}", self._pipelines, read),
        ]
        return [(m, re.compile(p), h, s) for m, p, h, s in table]

    def _account(self, *, token: _Token, **_: Any) -> Answer:
        return 200, {
            "portalId": token.portal_id,
            "accountType": "STANDARD",
            "timeZone": "US/Eastern",
            "companyCurrency": "USD",
            "additionalCurrencies": [],
            "utcOffset": "-05:00",
            "utcOffsetMilliseconds": -18000000,
            "uiDomain": "app.hubspot.com",
            "dataHostingLocation": self.region,
        }

    def _submit_form(self, *, portal_id: str, form_guid: str, body: Any, **_: Any) -> Answer:
        form = self._forms.get(form_guid.lower())
        if form is None or str(form.portal_id) != portal_id:
            return 404, {
                "status": "error",
                "message": f"Form {form_guid} not found for portal {portal_id}",
                "errors": [],
            }
        body = body if isinstance(body, dict) else {}
        errors = _submission_errors(form, body)
        if errors:
            return 400, {"status": "error", "message": "The request is not valid", "errors": errors}
        self._form_submissions.append(
            {
                "portalId": form.portal_id,
                "formGuid": form_guid.lower(),
                "fields": {f["name"]: f["value"] for f in body["fields"]},
                "context": body.get("context") or {},
                "legalConsentOptions": body.get("legalConsentOptions"),
                "submittedAt": body.get("submittedAt"),
            }
        )
        return 200, {"inlineMessage": "Thanks for submitting the form."}

    def _token_info(self, *, body: Any, **_: Any) -> Answer:
        key = body.get("tokenKey") if isinstance(body, dict) else None
        token = self._tokens.get(key) if isinstance(key, str) else None
        if token is None:
            return 400, _error("The access token is not valid", "VALIDATION_ERROR")
        return 200, {
            "userId": 1,
            "hubId": token.portal_id,
            "appId": 4242,
            "scopes": sorted(token.scopes),
        }

    def _shape(self, obj: dict[str, Any], new: bool | None = None) -> dict[str, Any]:
        out = self._store.snapshot(obj)
        if new is not None:
            out["new"] = new
        return out

    def _create(self, *, object_type: str, body: Any, **_: Any) -> Answer:
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            return 400, _error("properties is required", "VALIDATION_ERROR")
        obj = self._store.create(object_type, body["properties"])
        for association in body.get("associations") or []:
            to_id = str((association.get("to") or {}).get("id", ""))
            for spec in association.get("types") or []:
                to_type = {16: "contacts", 15: "tickets"}.get(spec.get("associationTypeId"))
                if to_type:
                    self._store.associate(object_type, obj["id"], to_type, to_id)
        return 201, self._shape(obj)

    def _get(
        self, *, object_type: str, object_id: str, query: dict[str, list[str]], **_: Any
    ) -> Answer:
        id_property = _first(query, "idProperty")
        return 200, self._shape(self._store.get(object_type, object_id, id_property))

    def _visitor_token(self, *, body: Any, api_version: str, **_: Any) -> Answer:
        if not isinstance(body, dict) or not isinstance(body.get("email"), str):
            return 400, _error("email is required", "VALIDATION_ERROR")
        # The v3 and 2026-03 specs require hsCustomerAgentContext; 2026-09 dropped it.
        if api_version != "2026-09" and not isinstance(body.get("hsCustomerAgentContext"), dict):
            return 400, _error("hsCustomerAgentContext is required", "VALIDATION_ERROR")
        if not self.visitor_identification:
            return 403, _error(
                "This portal's subscription does not include visitor identification", "FORBIDDEN"
            )
        token = f"vid.{uuid.uuid4().hex}"
        self.visitor_tokens.append((body["email"], token))
        return 200, {"token": token}

    def _update(
        self, *, object_type: str, object_id: str, query: dict[str, list[str]], body: Any, **_: Any
    ) -> Answer:
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            return 400, _error("properties is required", "VALIDATION_ERROR")
        id_property = _first(query, "idProperty")
        return 200, self._shape(
            self._store.update(object_type, object_id, body["properties"], id_property)
        )

    def _archive(self, *, object_type: str, object_id: str, **_: Any) -> Answer:
        self._store.archive(object_type, object_id)
        return 204, None

    def _gdpr_delete(self, *, body: Any, **_: Any) -> Answer:
        if not isinstance(body, dict) or not body.get("objectId"):
            return 400, _error("objectId is required", "VALIDATION_ERROR")
        self._store.purge("contacts", str(body["objectId"]), body.get("idProperty"))
        return 204, None

    def _page(self, *, object_type: str, query: dict[str, list[str]], **_: Any) -> Answer:
        limit = min(int((query.get("limit") or ["10"])[0]), BATCH_LIMIT)
        start = _read_cursor(_first(query, "after"))
        live = sorted(self._store.live(object_type), key=lambda o: int(o["id"]))
        chunk = live[start : start + limit]
        answer: dict[str, Any] = {"results": [self._shape(o) for o in chunk]}
        if start + limit < len(live):
            after = _cursor(start + limit)
            answer["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
        return 200, answer

    def _search(self, *, object_type: str, body: Any, **_: Any) -> Answer:
        """HubSpot's CRM search: filter groups (OR of ANDs), sorts, paging up to 10,000
        results, its own per-second limit, and an index that lags writes by
        ``search_lag_s`` (a record shows its last version written before then)."""
        now = time.monotonic()
        self._search_hits.append(now)
        recent = [t for t in self._search_hits if t > now - 1.0]
        if self.search_rate_limit is not None and len(recent) > self.search_rate_limit:
            return 429, _search_limit_body()
        body = body if isinstance(body, dict) else {}
        groups = body.get("filterGroups") or []

        def matches(obj: dict[str, Any]) -> bool:
            if not groups:
                return True
            return any(
                all(_filter_matches(obj, f) for f in group.get("filters") or []) for group in groups
            )

        found = [
            o
            for o in sorted(
                self._store.indexed(object_type, now - self.search_lag_s),
                key=lambda o: int(o["id"]),
            )
            if matches(o)
        ]
        for sort in reversed(body.get("sorts") or []):
            name, descending = _sort_spec(sort)
            found.sort(key=lambda o: _comparable(o["properties"].get(name)), reverse=descending)
        limit = min(int(body.get("limit") or 10), 200)
        start = _read_cursor(body.get("after"))
        if start >= SEARCH_MAX_RESULTS:
            return 400, _error(
                f"Search can page through at most {SEARCH_MAX_RESULTS} results", "VALIDATION_ERROR"
            )
        answer: dict[str, Any] = {
            "total": len(found),
            "results": [self._shape(o) for o in found[start : start + limit]],
        }
        if start + limit < len(found):
            answer["paging"] = {"next": {"after": _cursor(start + limit)}}
        return 200, answer

    def search_requests(self) -> list[float]:
        """When each search request arrived (monotonic seconds), oldest first."""
        with self._lock:
            return list(self._search_hits)

    def fix_modification_time(self, stamp: str | None) -> None:
        """Stamps every write with ``stamp`` (HubSpot's ISO format) until called with None,
        to play changes that share one modification time."""
        with self._lock:
            self._store.clock = (lambda: stamp) if stamp is not None else now_iso

    def _batch(
        self,
        *,
        object_type: str,
        action: str,
        body: Any,
        api_version: str | None = None,
        **_: Any,
    ) -> Answer:
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list):
            return 400, _error("inputs is required", "VALIDATION_ERROR")
        if len(inputs) > BATCH_LIMIT:
            return 400, _error(
                f"Batch size of {len(inputs)} exceeds the limit of {BATCH_LIMIT}",
                "VALIDATION_ERROR",
            )
        started = now_iso()
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for item in inputs:
            item = item if isinstance(item, dict) else {}
            try:
                results.append(self._batch_one(object_type, action, item, body))
            except CrmError as exc:
                errors.append(
                    {
                        "status": "error",
                        "category": exc.body.get("category", "ERROR"),
                        "message": exc.body.get("message", ""),
                        "context": {"ids": [str(item.get("id", ""))]},
                        "errors": exc.body.get("errors", []),
                        "links": {},
                    }
                )
        if action == "archive":
            return 204, None
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": now_iso(),
        }
        if errors:
            answer.update(numErrors=len(errors), errors=errors)
            # From 2026-09 a batch answers 200 and lists the failures; before, 207.
            return (200 if api_version == "2026-09" else 207), answer
        return (201 if action == "create" else 200), answer

    def _batch_one(
        self, object_type: str, action: str, item: dict[str, Any], body: dict[str, Any]
    ) -> dict[str, Any]:
        props: dict[str, Any] = (
            item["properties"] if isinstance(item.get("properties"), dict) else {}
        )
        if action == "create":
            obj = self._store.create(object_type, props)
            return self._shape(obj)
        if action == "read":
            found = self._shape(
                self._store.get(object_type, str(item.get("id", "")), body.get("idProperty"))
            )
            # As HubSpot: the properties asked for (those the record has), and its own three.
            asked = body.get("properties")
            keep = {*(asked if isinstance(asked, list) else []), *READ_ALWAYS}
            found["properties"] = {k: v for k, v in found["properties"].items() if k in keep}
            return found
        if action == "update":
            return self._shape(
                self._store.update(
                    object_type, str(item.get("id", "")), props, item.get("idProperty")
                )
            )
        if action == "archive":
            self._store.archive(object_type, str(item.get("id", "")))
            return {}
        id_property = item.get("idProperty") or "hs_object_id"
        if (
            id_property not in self._store.properties[object_type]
            or not self._store.properties[object_type][id_property]["hasUniqueValue"]
        ):
            raise CrmError(
                400, _error(f"{id_property} is not a unique property", "VALIDATION_ERROR")
            )
        obj, new = self._store.upsert(object_type, str(item.get("id", "")), id_property, props)
        return self._shape(obj, new=new)

    def _associate_default(
        self, *, object_type: str, object_id: str, to_type: str, to_id: str, **_: Any
    ) -> Answer:
        self._store.associate(object_type, object_id, to_type, to_id)
        type_id = ASSOCIATION_TYPES.get((object_type, to_type), 1)
        return 200, {
            "status": "COMPLETE",
            "startedAt": now_iso(),
            "completedAt": now_iso(),
            "results": [
                {
                    "from": {"id": object_id},
                    "to": {"id": to_id},
                    "associationSpec": {
                        "associationCategory": "HUBSPOT_DEFINED",
                        "associationTypeId": type_id,
                    },
                }
            ],
        }

    def _associate(
        self, *, object_type: str, object_id: str, to_type: str, to_id: str, body: Any, **_: Any
    ) -> Answer:
        specs = body if isinstance(body, list) else []
        expected = ASSOCIATION_TYPES.get((object_type, to_type))
        if not specs or any(
            s.get("associationTypeId") != expected for s in specs if isinstance(s, dict)
        ):
            return 400, _error(
                f"associationTypeId must be {expected} for {object_type} to {to_type}",
                "VALIDATION_ERROR",
            )
        self._store.associate(object_type, object_id, to_type, to_id)
        return 201, {
            "fromObjectTypeId": OBJECT_TYPE_IDS[object_type],
            "fromObjectId": object_id,
            "toObjectTypeId": OBJECT_TYPE_IDS[to_type],
            "toObjectId": to_id,
            "labels": [],
        }

    def _associations_page(
        self, *, object_type: str, object_id: str, to_type: str, **_: Any
    ) -> Answer:
        if object_id not in self._store.objects[object_type]:
            raise not_found(object_type, object_id)
        type_id = ASSOCIATION_TYPES.get((object_type, to_type), 1)
        return 200, {
            "results": [
                {
                    "toObjectId": int(i),
                    "associationTypes": [
                        {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}
                    ],
                }
                for i in self._store.associated(object_type, object_id, to_type)
            ]
        }

    def _properties(self, *, object_type: str, **_: Any) -> Answer:
        return 200, {"results": [dict(p) for p in self._store.properties[object_type].values()]}

    def _create_property(self, *, object_type: str, body: Any, **_: Any) -> Answer:
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) and body.get(k)
            for k in ("name", "label", "type", "fieldType", "groupName")
        ):
            return 400, _error(
                "name, label, type, fieldType and groupName are required", "VALIDATION_ERROR"
            )
        name = body["name"]
        if name in self._store.properties[object_type]:
            return 409, _error(f"Property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
        definition = _prop(
            name,
            body["label"],
            type_=body["type"],
            field_type=body["fieldType"],
            unique=bool(body.get("hasUniqueValue")),
            group=body["groupName"],
        )
        definition["description"] = str(body.get("description") or "")
        definition["createdAt"] = definition["updatedAt"] = now_iso()
        self._store.properties[object_type][name] = definition
        return 201, dict(definition)

    def _pipelines(self, *, object_type: str, **_: Any) -> Answer:
        found = self._store.pipelines.get(object_type, {})
        return 200, {"results": [json.loads(json.dumps(p)) for p in found.values()]}

    def _property(self, *, object_type: str, name: str, **_: Any) -> Answer:
        prop = self._store.properties[object_type].get(name)
        if prop is None:
            return 404, _error(f"Unable to find property {name}", "OBJECT_NOT_FOUND")
        return 200, dict(prop)


def _cursor(offset: int) -> str:
    """An opaque paging cursor in HubSpot's style (``NTI1Cg%3D%3D`` is 525)."""
    return quote(base64.b64encode(f"{offset}\n".encode()).decode(), safe="")


def _read_cursor(after: Any) -> int:
    """The offset a cursor of ours stands for; 400 for anything else, as HubSpot answers."""
    if after in (None, ""):
        return 0
    try:
        text = base64.b64decode(unquote(str(after)), validate=True).decode()
        if not text.endswith("\n") or not text[:-1].isdigit():
            raise ValueError(text)
        return int(text[:-1])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise CrmError(
            400, _error(f"Invalid paging cursor: {str(after)[:64]}", "VALIDATION_ERROR")
        ) from None


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _filter_matches(obj: dict[str, Any], spec: Any) -> bool:
    if not isinstance(spec, dict):
        return False
    have = obj["properties"].get(spec.get("propertyName"))
    value = spec.get("value")
    operator = spec.get("operator", "EQ")
    if operator == "EQ":
        return have is not None and str(have).lower() == str(value).lower()
    if operator == "NEQ":
        return have is None or str(have).lower() != str(value).lower()
    if operator == "HAS_PROPERTY":
        return have not in (None, "")
    if operator == "NOT_HAS_PROPERTY":
        return have in (None, "")
    if operator in ("GT", "GTE", "LT", "LTE"):
        if have in (None, "") or value in (None, ""):
            return False
        left, right = _comparable(have), _comparable(value)
        if type(left) is not type(right):
            return False
        return {
            "GT": left > right,
            "GTE": left >= right,
            "LT": left < right,
            "LTE": left <= right,
        }[operator]
    return False


def _comparable(value: Any) -> tuple[int, Any]:
    """A property or filter value as HubSpot compares it: numbers and datetimes (ISO text or
    epoch milliseconds) as numbers, the rest as text; missing values sort first."""
    if value in (None, ""):
        return (0, 0)
    text = str(value)
    if NUMBER_RE.fullmatch(text):
        return (1, float(text))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return (2, text.lower())
    return (1, moment.timestamp() * 1000)


def _sort_spec(sort: Any) -> tuple[str, bool]:
    """A sort as HubSpot takes it: ``"name"``/``"-name"`` or ``{"propertyName", "direction"}``."""
    if isinstance(sort, dict):
        return str(sort.get("propertyName")), sort.get("direction") == "DESCENDING"
    text = str(sort)
    return text.lstrip("-"), text.startswith("-")


def _search_limit_body() -> dict[str, Any]:
    return {
        "status": "error",
        "message": "You have reached your secondly limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": "SECONDLY",
        "groupName": "publicapi:search",
    }


def _error(message: str, category: str) -> dict[str, Any]:
    return {"status": "error", "message": message, "category": category}


_HUTK_RE = re.compile(r"[0-9a-f]{32}")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_FORM_FIELDS = 1000
MAX_FIELD_VALUE = 65_536


def _submission_errors(form: _Form, body: dict[str, Any]) -> list[dict[str, str]]:
    """What HubSpot's forms API finds wrong with a submission, in its ``errors`` shape."""
    errors: list[dict[str, str]] = []

    def refuse(where: str, message: str, error_type: str) -> None:
        errors.append({"message": f"Error in '{where}'. {message}", "errorType": error_type})

    fields = body.get("fields")
    if not isinstance(fields, list) or not all(
        isinstance(f, dict) and isinstance(f.get("name"), str) and isinstance(f.get("value"), str)
        for f in fields
    ):
        refuse("fields", "Fields must be a list of names and text values", "INVALID_METADATA")
        return errors
    if len(fields) > MAX_FORM_FIELDS:
        refuse(
            "fields",
            f"More than {MAX_FORM_FIELDS} values",
            "MAX_NUMBER_OF_SUBMITTED_VALUES_EXCEEDED",
        )
    for f in fields:
        name, value = f["name"], f["value"]
        if name not in form.fields:
            refuse(
                f"fields.{name}",
                "This field is not in the form definition",
                "FIELD_NOT_IN_FORM_DEFINITION",
            )
        elif len(value) > MAX_FIELD_VALUE:
            refuse(f"fields.{name}", "Value is too large", "INPUT_TOO_LARGE")
        elif name == "email" and not _EMAIL_RE.fullmatch(value):
            refuse("fields.email", "Invalid email address", "INVALID_EMAIL")
    for name in sorted(form.required - {f["name"] for f in fields if f["value"]}):
        refuse(f"fields.{name}", f"Required field '{name}' is missing", "REQUIRED_FIELD")
    context = body.get("context") or {}
    if "hutk" in context and not _HUTK_RE.fullmatch(str(context["hutk"])):
        refuse("context.hutk", "hutk is invalid", "INVALID_HUTK")
    if "ipAddress" in context:
        try:
            ipaddress.ip_address(str(context["ipAddress"]))
        except ValueError:
            refuse("context.ipAddress", "Invalid IP address", "INVALID_IP_ADDRESS")
    if "pageUri" in context:
        parts = urlsplit(str(context["pageUri"]))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            refuse("context.pageUri", "Invalid page URI", "INVALID_PAGE_URI")
    legal = body.get("legalConsentOptions")
    if legal is not None:
        consent = legal.get("consent") if isinstance(legal, dict) else None
        if not isinstance(consent, dict) or not isinstance(consent.get("consentToProcess"), bool):
            refuse(
                "legalConsentOptions",
                "Invalid legal consent options",
                "INVALID_LEGAL_OPTION_FORMAT",
            )
            return errors
        if not consent.get("text"):
            refuse(
                "legalConsentOptions.consent.text",
                "Missing processing consent text",
                "MISSING_PROCESSING_CONSENT_TEXT",
            )
        seen: set[Any] = set()
        for item in consent.get("communications") or []:
            if not isinstance(item, dict) or not item.get("text"):
                refuse(
                    "legalConsentOptions.consent.communications",
                    "Missing communication consent text",
                    "MISSING_COMMUNICATION_CONSENT_TEXT",
                )
                continue
            type_id = item.get("subscriptionTypeId")
            if type_id in seen:
                refuse(
                    "legalConsentOptions.consent.communications",
                    f"Duplicate subscription type {type_id}",
                    "DUPLICATE_SUBSCRIPTION_TYPE_ID",
                )
            seen.add(type_id)
    return errors


def _rate_limit_body() -> dict[str, Any]:
    return {
        "status": "error",
        "message": "You have reached your ten_secondly_rolling limit.",
        "errorType": "RATE_LIMIT",
        "policyName": "TEN_SECONDLY_ROLLING",
        "groupName": "publicapi:private-app",
    }


def _daily_limit_body() -> dict[str, Any]:
    return {
        "status": "error",
        "message": "You have reached your daily limit.",
        "errorType": "RATE_LIMIT",
        "policyName": "DAILY",
        "groupName": "publicapi:private-app",
    }


def _status_body(status: int) -> dict[str, Any]:
    if status == 429:
        return _rate_limit_body()
    if status == 401:
        return _error("Authentication credentials not found.", "INVALID_AUTHENTICATION")
    return _error(f"HubSpot answered {status}", "INTERNAL_ERROR" if status >= 500 else "ERROR")


class _Handler(BaseHTTPRequestHandler):
    owner: FakeHubSpot
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
