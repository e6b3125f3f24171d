"""The HubSpot service: a thin wrapper over ``hubspot-api-client`` that speaks our types.

Why a wrapper: the client has no global timeout (we pass one on every call), retries
nothing we want retried (the delivery worker owns retries, so ``retry=False`` here),
builds a new connection pool on every ``client.crm.…`` attribute access (we build each
API once), and raises a different ``ApiException`` class per module (we map by status
into :mod:`skypanel_hubspot_plugin.hubspot.errors`).

Why every call goes through ``ApiClient.call_api`` with a path from
:mod:`skypanel_hubspot_plugin.hubspot.versions`: the generated API methods build only
``/crm/v3`` and ``/crm/v4`` paths, and HubSpot's dated versions (``/crm/objects/2026-09/…``)
replace them. The client still does the rest: request models, answer models, auth,
transport and errors.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta, timezone
from functools import cached_property
from typing import Any, TypeVar

import hubspot
import urllib3
from hubspot.conversations.visitor_identification import IdentificationTokenGenerationRequest

from skypanel_hubspot_plugin.common.secret import Secret
from skypanel_hubspot_plugin.hubspot import api as api
from skypanel_hubspot_plugin.hubspot import forms_api
from skypanel_hubspot_plugin.hubspot.api_areas import area_of, status_of
from skypanel_hubspot_plugin.hubspot.contact_calls import ContactCalls
from skypanel_hubspot_plugin.hubspot.engagements import EngagementCalls
from skypanel_hubspot_plugin.hubspot.errors import (
    DailyLimitReached,
    HubSpotError,
    ServerError,
    Unreachable,
    error_from_response,
)
from skypanel_hubspot_plugin.hubspot.properties import PropertyInfo, property_info
from skypanel_hubspot_plugin.hubspot.records import Answers, crm_object
from skypanel_hubspot_plugin.hubspot.records import BatchError as BatchError
from skypanel_hubspot_plugin.hubspot.records import BatchResult as BatchResult
from skypanel_hubspot_plugin.hubspot.records import CrmObject as CrmObject
from skypanel_hubspot_plugin.hubspot.records import Page as Page
from skypanel_hubspot_plugin.hubspot.records import SearchPage as SearchPage
from skypanel_hubspot_plugin.hubspot.ticket_calls import TicketCalls
from skypanel_hubspot_plugin.hubspot.versions import ApiVersion, version_named

T = TypeVar("T")

#: (connect, read) seconds; HubSpot answers in well under a second when it is healthy.
DEFAULT_TIMEOUT = (3.05, 10.0)
#: The most a search answer may weigh; a full page of 200 tickets with a few properties
#: each is well under 1 MB.
MAX_ANSWER_BYTES = 4_000_000


@dataclass(frozen=True)
class AccountDetails:
    portal_id: str
    region: str
    account_type: str
    ui_domain: str


@dataclass(frozen=True)
class Stage:
    """A stage of a pipeline; ``ticket_state`` is HubSpot's OPEN or CLOSED for ticket stages."""

    id: str
    label: str
    ticket_state: str = ""


@dataclass(frozen=True)
class Pipeline:
    """A pipeline of an object type and its stages, in display order."""

    id: str
    label: str
    stages: tuple[Stage, ...] = ()

    @property
    def stage_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.stages)


#: A successful answer's status → the client model it is read into ("object" = plain JSON).


_JSON = {"Accept": "application/json", "Content-Type": "application/json"}


#: Hears of each HubSpot request as it ends: (API area, status label, seconds taken).
RequestObserver = Callable[[str, str, float], None]


class HubSpotService(ContactCalls, TicketCalls, EngagementCalls):
    """Calls HubSpot on behalf of one portal's token, in one API version.

    Thread-safe; build one per token. ``api_version`` is a name from
    :data:`skypanel_hubspot_plugin.hubspot.versions.SUPPORTED` (the default when None).
    """

    def __init__(
        self,
        token: Secret,
        *,
        base_url: str | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        api_version: str | ApiVersion | None = None,
        on_request: RequestObserver | None = None,
    ) -> None:
        self._token = token
        #: Told of each request as it ends (its path's API area, status and seconds): metrics.
        self.on_request = on_request
        self.base_url = (base_url or api.DEFAULT_BASE_URL).rstrip("/")
        self.timeout = timeout
        self.version = (
            api_version if isinstance(api_version, ApiVersion) else version_named(api_version)
        )
        self._client = hubspot.Client(access_token=token.reveal(), host=self.base_url, retry=False)
        #: The portal's UTC offset, once account details told it: daily limits reset at its midnight.
        self._utc_offset_ms: int | None = None

    def __repr__(self) -> str:
        return f"HubSpotService(base_url={self.base_url!r}, api_version={self.version.name!r})"

    # Each attribute access on the client builds a new ApiClient and pool: build once. Each
    # module's ApiClient reads answers into that module's models, so each is kept.
    @cached_property
    def _contacts(self) -> Any:
        return self._client.crm.contacts.basic_api.api_client

    @cached_property
    def _tickets(self) -> Any:
        return self._client.crm.tickets.basic_api.api_client

    @cached_property
    def _associations(self) -> Any:
        return self._client.crm.associations.v4.basic_api.api_client

    @cached_property
    def _properties(self) -> Any:
        return self._client.crm.properties.core_api.api_client

    @cached_property
    def _pipelines(self) -> Any:
        return self._client.crm.pipelines.pipelines_api.api_client

    @cached_property
    def _visitor_identification(self) -> Any:
        return self._client.conversations.visitor_identification.generate_api.api_client

    def _call(self, fn: Callable[..., T], path: str, *args: Any, **kwargs: Any) -> T:
        """Runs one client call on ``path`` with our timeout, turning every failure into a
        HubSpotError; ``on_request`` hears of it, success or failure."""
        if self.on_request is None:
            return self._call_unobserved(fn, path, *args, **kwargs)
        started = time.perf_counter()
        status = "2xx"
        try:
            return self._call_unobserved(fn, path, *args, **kwargs)
        except HubSpotError as exc:
            status = status_of(exc.status)
            raise
        except Exception:
            status = "other"
            raise
        finally:
            self.on_request(area_of(path), status, time.perf_counter() - started)

    def _call_unobserved(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, _request_timeout=self.timeout, **kwargs)
        except urllib3.exceptions.HTTPError as exc:
            raise Unreachable(
                f"HubSpot could not be reached ({type(exc).__name__})", url=self.base_url
            ) from None
        except HubSpotError:
            raise
        except Exception as exc:
            status = getattr(exc, "status", None)
            if not isinstance(status, int) or not hasattr(exc, "body"):
                raise
            if status == 0:  # the client's wrapper for TLS failures
                raise Unreachable(
                    "HubSpot could not be reached (TLS error)", url=self.base_url
                ) from None
            error = error_from_response(status, exc.body, getattr(exc, "headers", None))
            if isinstance(error, DailyLimitReached) and self._utc_offset_ms is not None:
                error.reset_in(timezone(timedelta(milliseconds=self._utc_offset_ms)))
            raise error from None

    def _send(
        self,
        api_client: Any,
        method: str,
        path: str,
        answers: Answers,
        *,
        body: Any = None,
        query: Sequence[tuple[str, Any]] = (),
    ) -> Any:
        """One call on ``path`` through a generated ApiClient: its auth, models and transport."""
        return self._call(
            api_client.call_api,
            path,
            method,
            query_params=list(query),
            header_params=dict(_JSON),
            body=body,
            auth_settings=["oauth2"],
            response_types_map=dict(answers),
            collection_formats={"properties": "multi"},
            _return_http_data_only=True,
        )

    def _page(
        self,
        api_client: Any,
        object_type: str,
        properties: Sequence[str],
        limit: int,
        after: str | None,
    ) -> Page:
        """One page of records; ``after`` is HubSpot's opaque cursor, passed on untouched."""
        query: list[tuple[str, Any]] = [
            ("limit", max(1, min(limit, api.BATCH_LIMIT))),
            ("properties", list(properties)),
        ]
        if after:
            query.append(("after", after))
        page = self._send(
            api_client,
            "GET",
            self.version.objects(object_type),
            {200: "CollectionResponseSimplePublicObjectWithAssociationsForwardPaging"},
            query=query,
        )
        nxt = page.paging.next.after if page.paging and page.paging.next else None
        return Page(results=[crm_object(c) for c in page.results], after=nxt)

    def _bounded_json(self, api_client: Any, path: str, body: Any) -> dict[str, Any]:
        """POSTs ``body`` and reads the answer as plain JSON of at most MAX_ANSWER_BYTES:
        a search answer is read whole before anything looks at it, and HubSpot (or anything
        posing as it) could otherwise make the worker hold any amount of memory."""
        response = self._call(
            api_client.call_api,
            path,
            "POST",
            header_params=dict(_JSON),
            body=body,
            auth_settings=["oauth2"],
            response_types_map={200: "object"},
            _return_http_data_only=True,
            _preload_content=False,
        )
        try:
            raw = response.read(MAX_ANSWER_BYTES + 1)
        except urllib3.exceptions.HTTPError as exc:
            response.close()
            raise Unreachable(f"HubSpot could not be reached ({type(exc).__name__})") from None
        if len(raw) > MAX_ANSWER_BYTES:
            response.close()  # the rest is never read
            raise ServerError(
                f"HubSpot's answer is larger than {MAX_ANSWER_BYTES // 1_000_000} MB; not read",
                status=int(response.status),
            )
        response.release_conn()
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise ServerError("HubSpot's answer is not JSON", status=int(response.status)) from None
        return data if isinstance(data, dict) else {}

    # -- properties and pipelines ----------------------------------------------------------

    def property_options(self, object_type: str, name: str) -> list[tuple[str, str]]:
        """The (value, label) options of an enumeration property, as this portal has them."""
        prop = self._send(
            self._properties,
            "GET",
            self.version.property(object_type, name),
            {200: "ModelProperty"},
        )
        return [(o.value, o.label) for o in prop.options or [] if not o.hidden]

    def properties(self, object_type: str) -> list[PropertyInfo]:
        """Every property ``object_type`` has in this portal: names, types, options, read-only."""
        answer = self._send(
            self._properties,
            "GET",
            self.version.properties(object_type),
            {200: "CollectionResponsePropertyNoPaging"},
        )
        return [property_info(p) for p in answer.results or []]

    def pipelines(self, object_type: str) -> list[Pipeline]:
        """The portal's pipelines of ``object_type`` (tickets) and their stages."""
        answer = self._send(
            self._pipelines,
            "GET",
            self.version.pipelines(object_type),
            {200: "CollectionResponsePipelineNoPaging"},
        )
        return [
            Pipeline(
                id=str(p.id),
                label=str(p.label),
                stages=tuple(
                    Stage(
                        id=str(s.id),
                        label=str(s.label),
                        ticket_state=str((s.metadata or {}).get("ticketState") or "").upper(),
                    )
                    for s in sorted(p.stages or [], key=lambda s: s.display_order)
                    if not s.archived
                ),
            )
            for p in answer.results or []
            if not p.archived
        ]

    # -- chat ------------------------------------------------------------------------------

    def visitor_token(self, email: str, first_name: str = "", last_name: str = "") -> str:
        """A chat identification token for a logged-in visitor (Professional/Enterprise;
        other portals answer 403). HubSpot keeps it valid for 12 hours."""
        request = IdentificationTokenGenerationRequest(
            email=email, first_name=first_name or None, last_name=last_name or None
        )
        wire: dict[str, Any] = self._visitor_identification.sanitize_for_serialization(request)
        if self.version.visitor_context_required:
            # v3 and 2026-03 require the object (the generated model predates it); empty
            # means no extra context for HubSpot's customer agent.
            wire["hsCustomerAgentContext"] = {}
        answer = self._send(
            self._visitor_identification,
            "POST",
            self.version.visitor_token(),
            {200: "IdentificationTokenResponse"},
            body=wire,
        )
        return str(answer.token)

    # -- account ---------------------------------------------------------------------------

    def account_details(self) -> AccountDetails:
        """The portal the token belongs to and where its data lives (``dataHostingLocation``)."""
        data = self._raw("GET", self.version.account_details())
        offset = data.get("utcOffsetMilliseconds")
        if isinstance(offset, int):
            self._utc_offset_ms = offset
        return AccountDetails(
            portal_id=str(data.get("portalId", "")),
            region=str(data.get("dataHostingLocation") or "na1"),
            account_type=str(data.get("accountType", "")),
            ui_domain=str(data.get("uiDomain", "")),
        )

    def private_app_scopes(self) -> list[str]:
        """The scopes granted to a private-app token (HubSpot's token-info endpoint)."""
        data = self._raw(
            "POST", api.PRIVATE_APP_TOKEN_INFO_PATH, body={"tokenKey": self._token.reveal()}
        )
        return [s for s in data.get("scopes") or [] if isinstance(s, str)]

    # -- forms -----------------------------------------------------------------------------

    def submit_form(self, portal_id: str, form_guid: str, body: Mapping[str, Any]) -> str:
        """Files one submission of a HubSpot form; returns HubSpot's thank-you message.

        Goes to the forms host (:func:`forms_api.forms_base_url`) through the same
        ApiClient, without the token: the public endpoint needs none. A refusal names
        HubSpot's per-field reasons (INVALID_EMAIL, FIELD_NOT_IN_FORM_DEFINITION, …).
        """
        try:
            data = self._call(
                self._properties.call_api,
                forms_api.submit_path(portal_id, form_guid),
                "POST",
                body=dict(body),
                header_params=dict(_JSON),
                auth_settings=[],
                response_types_map={200: "object"},
                _return_http_data_only=True,
                _host=forms_api.forms_base_url(self.base_url),
            )
        except HubSpotError as exc:
            raise forms_api.name_the_reasons(exc) from None
        return str(data.get("inlineMessage") or "") if isinstance(data, dict) else ""

    def _raw(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """Calls a path whose answer has no model the plugin needs: the answer as plain JSON.

        ``client.api_request`` would also reach it, but it reads ``base_url`` rather than
        ``host``, takes no timeout, and prints errors to stdout.
        """
        data = self._send(self._properties, method, path, {200: "object"}, body=body)
        return data if isinstance(data, dict) else {}
