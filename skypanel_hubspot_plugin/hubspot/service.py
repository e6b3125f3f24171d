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

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta, timezone
from functools import cached_property
from typing import Any, TypeVar

import hubspot
import urllib3
from hubspot.conversations.visitor_identification import IdentificationTokenGenerationRequest
from hubspot.crm.associations.v4 import AssociationSpec
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    PublicGdprDeleteInput,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
)
from hubspot.crm.contacts import Configuration as ModelConfiguration
from hubspot.crm.contacts import SimplePublicObjectInput as PropertiesInput
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactCreate
from hubspot.crm.properties import PropertyCreate
from hubspot.crm.tickets import AssociationSpec as TicketAssociationSpec
from hubspot.crm.tickets import BatchInputSimplePublicObjectBatchInputUpsert as TicketUpsertBatch
from hubspot.crm.tickets import (
    Filter,
    FilterGroup,
    PublicAssociationsForObject,
    PublicObjectId,
    PublicObjectSearchRequest,
)
from hubspot.crm.tickets import SimplePublicObjectBatchInputUpsert as TicketUpsert
from hubspot.crm.tickets import SimplePublicObjectInputForCreate as TicketCreate

from skypanel_hubspot_plugin.common.secret import Secret
from skypanel_hubspot_plugin.hubspot import api as api
from skypanel_hubspot_plugin.hubspot import forms_api
from skypanel_hubspot_plugin.hubspot.api_areas import area_of, status_of
from skypanel_hubspot_plugin.hubspot.engagements import EngagementCalls
from skypanel_hubspot_plugin.hubspot.errors import (
    BadRequest,
    Conflict,
    DailyLimitReached,
    HubSpotError,
    NotFound,
    ServerError,
    Unreachable,
    error_from_response,
)
from skypanel_hubspot_plugin.hubspot.properties import PropertyInfo, property_info
from skypanel_hubspot_plugin.hubspot.records import Answers
from skypanel_hubspot_plugin.hubspot.records import BatchError as BatchError
from skypanel_hubspot_plugin.hubspot.records import BatchResult as BatchResult
from skypanel_hubspot_plugin.hubspot.records import CrmObject as CrmObject
from skypanel_hubspot_plugin.hubspot.records import batch_error as _batch_error
from skypanel_hubspot_plugin.hubspot.records import crm_object_json as _crm_object_json
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
class Page:
    results: list[CrmObject]
    after: str | None


@dataclass(frozen=True)
class SearchPage:
    """One page of a CRM search: the records, the cursor of the next page, the match count."""

    results: list[CrmObject]
    after: str | None
    total: int


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


#: Batch answers are read as JSON, not as the client's models: the models parse every
#: result's timestamps (which nothing here reads), most of a batch's cost on our side.
#: HubSpot refuses a batch update or upsert whole (an error status, raised); the 207 and
#: the errors of a 2026-09 answer are read all the same, should HubSpot ever send them.
BATCH_ANSWERS: Answers = {200: "object", 207: "object"}
#: A batch create whose inputs all carry an objectWriteTraceId answers each input: 201,
#: or 207 with the refused ones listed (2026-09 lists them in the 201).
CREATE_ANSWERS: Answers = {201: "object", 200: "object", 207: "object"}
#: Given to the batch inputs' models, which otherwise each deep-copy a configuration of
#: their own (a hundred copies per request); they read only its validation switch.
MODELS = ModelConfiguration()
_JSON = {"Accept": "application/json", "Content-Type": "application/json"}


#: Hears of each HubSpot request as it ends: (API area, status label, seconds taken).
RequestObserver = Callable[[str, str, float], None]


class HubSpotService(EngagementCalls):
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

    # -- contacts --------------------------------------------------------------------------

    def create_contact(self, properties: Mapping[str, str]) -> CrmObject:
        created = self._send(
            self._contacts,
            "POST",
            self.version.objects(api.CONTACTS),
            {201: "SimplePublicObject", 200: "SimplePublicObject"},
            body=ContactCreate(properties=dict(properties), associations=[]),
        )
        return _crm_object(created)

    def get_contact_by_email(self, email: str) -> CrmObject | None:
        """A consistent read by the unique email property (search is only eventually consistent)."""
        try:
            found = self._send(
                self._contacts,
                "GET",
                self.version.object(api.CONTACTS, email),
                {200: "SimplePublicObjectWithAssociations"},
                query=[("idProperty", "email"), ("properties", list(api.CONTACT_PROPERTIES))],
            )
        except NotFound:
            return None
        return _crm_object(found)

    def update_contact(self, contact_id: str, properties: Mapping[str, str]) -> CrmObject:
        return self._update(self._contacts, api.CONTACTS, contact_id, properties)

    def archive_contact(self, contact_id: str) -> None:
        self._send(
            self._contacts, "DELETE", self.version.object(api.CONTACTS, contact_id), {204: None}
        )

    def gdpr_delete_contact(self, contact_id: str) -> None:
        """HubSpot's permanent, GDPR-compliant erasure of a contact."""
        self._send(
            self._contacts,
            "POST",
            self.version.gdpr_delete(),
            {204: None},
            body=PublicGdprDeleteInput(object_id=contact_id),
        )

    def list_contacts(self, *, limit: int = 50, after: str | None = None) -> Page:
        return self._page(self._contacts, api.CONTACTS, api.CONTACT_PROPERTIES, limit, after)

    def upsert_contacts(self, contacts: Sequence[Mapping[str, str]]) -> BatchResult:
        """Creates or updates contacts by email, in batches of at most 100.

        HubSpot applies a batch upsert whole or refuses it whole: one bad record raises
        that record's error (BadRequest, Conflict) and nothing of its batch is applied.
        """
        results: list[CrmObject] = []
        errors: list[BatchError] = []
        for chunk in _chunks(contacts, api.BATCH_LIMIT):
            inputs = [
                SimplePublicObjectBatchInputUpsert(
                    id=c["email"],
                    id_property="email",
                    properties=dict(c),
                    local_vars_configuration=MODELS,
                )
                for c in chunk
            ]
            answer = self._batch_upsert(
                self._contacts,
                api.CONTACTS,
                BatchInputSimplePublicObjectBatchInputUpsert(inputs=inputs),
            )
            results.extend(_crm_object_json(r) for r in answer.get("results") or [])
            errors.extend(_batch_error(e) for e in answer.get("errors") or [])
        return BatchResult(results=results, errors=errors)

    def create_contacts(
        self, contacts: Sequence[Mapping[str, str]]
    ) -> list[CrmObject | BatchError]:
        """Creates contacts in batches of at most 100; each input's outcome, in input order.

        Every input carries an ``objectWriteTraceId`` (its place in the batch), which is
        what makes HubSpot answer each input (its multi-status batch create) instead of
        refusing the batch for one bad record: a refused input comes back as a BatchError
        naming it, the others are created. An email that exists already is a refusal
        whose :attr:`BatchError.existing_id` names the contact holding it.
        """
        outcomes: list[CrmObject | BatchError] = []
        for chunk in _chunks(contacts, api.BATCH_LIMIT):
            inputs = [
                SimplePublicObjectBatchInputForCreate(
                    properties=dict(c),
                    associations=[],
                    object_write_trace_id=str(i),
                    local_vars_configuration=MODELS,
                )
                for i, c in enumerate(chunk)
            ]
            answer = self._send(
                self._contacts,
                "POST",
                self.version.batch(api.CONTACTS, "create"),
                CREATE_ANSWERS,
                body=BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs),
            )
            answered: dict[str, CrmObject | BatchError] = {}
            for result in answer.get("results") or []:
                if isinstance(result, dict) and result.get("id"):
                    answered[str(result.get("objectWriteTraceId"))] = _crm_object_json(result)
            for err in answer.get("errors") or []:
                if isinstance(err, dict):
                    refusal = _batch_error(err)
                    for trace in refusal.trace_ids:
                        answered[trace] = refusal
            missing = BatchError("HubSpot's answer did not include this contact", None, ())
            outcomes.extend(answered.get(str(i), missing) for i in range(len(chunk)))
        return outcomes

    def update_contacts(self, updates: Sequence[tuple[str, Mapping[str, str]]]) -> BatchResult:
        """Updates contacts by id, ``(id, properties)`` each, in batches of at most 100.

        As with upserts, HubSpot refuses the batch whole for one bad input (a refused value,
        an id that no longer exists) and raises its error; nothing of it is applied.
        """
        results: list[CrmObject] = []
        errors: list[BatchError] = []
        for chunk in _chunks(updates, api.BATCH_LIMIT):
            inputs = [
                SimplePublicObjectBatchInput(
                    id=contact_id, properties=dict(props), local_vars_configuration=MODELS
                )
                for contact_id, props in chunk
            ]
            answer = self._send(
                self._contacts,
                "POST",
                self.version.batch(api.CONTACTS, "update"),
                BATCH_ANSWERS,
                body=BatchInputSimplePublicObjectBatchInput(inputs=inputs),
            )
            results.extend(_crm_object_json(r) for r in answer.get("results") or [])
            errors.extend(_batch_error(e) for e in answer.get("errors") or [])
        return BatchResult(results=results, errors=errors)

    def read_contacts(
        self, ids: Sequence[str], properties: Sequence[str], *, id_property: str | None = None
    ) -> BatchResult:
        """The current ``properties`` of the contacts ``ids`` (by record id, or by the unique
        ``id_property`` such as ``email``), 100 to a request. A contact that does not exist
        is an error of category OBJECT_NOT_FOUND naming its id, not a failure."""
        return self._batch_read(self._contacts, api.CONTACTS, ids, properties, id_property)

    def read_tickets(
        self, ids: Sequence[str], properties: Sequence[str], *, id_property: str | None = None
    ) -> BatchResult:
        """As :meth:`read_contacts`, for tickets (``skypanel_ticket_id`` as ``id_property``
        reads them by the panel's ticket id)."""
        return self._batch_read(self._tickets, api.TICKETS, ids, properties, id_property)

    def _batch_read(
        self,
        api_client: Any,
        object_type: str,
        ids: Sequence[str],
        properties: Sequence[str],
        id_property: str | None,
    ) -> BatchResult:
        results: list[CrmObject] = []
        errors: list[BatchError] = []
        wanted = list(dict.fromkeys([*([id_property] if id_property else []), *properties]))
        for chunk in _chunks(ids, api.BATCH_LIMIT):
            body = BatchReadInputSimplePublicObjectId(
                inputs=[SimplePublicObjectId(id=i, local_vars_configuration=MODELS) for i in chunk],
                properties=wanted,
                properties_with_history=[],
                id_property=id_property,
                local_vars_configuration=MODELS,
            )
            answer = self._send(
                api_client,
                "POST",
                self.version.batch(object_type, "read"),
                # Records that are not there come back in a 207, or (2026-09) in the 200.
                BATCH_ANSWERS,
                body=body,
            )
            results.extend(_crm_object_json(r) for r in answer.get("results") or [])
            errors.extend(_batch_error(e) for e in answer.get("errors") or [])
        return BatchResult(results=results, errors=errors)

    def _batch_upsert(self, api_client: Any, object_type: str, body: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self._send(
            api_client,
            "POST",
            self.version.batch(object_type, "upsert"),
            BATCH_ANSWERS,
            body=body,
        )
        return answer

    def _update(
        self, api_client: Any, object_type: str, object_id: str, properties: Mapping[str, str]
    ) -> CrmObject:
        updated = self._send(
            api_client,
            "PATCH",
            self.version.object(object_type, object_id),
            {200: "SimplePublicObject"},
            body=PropertiesInput(properties=dict(properties)),
        )
        return _crm_object(updated)

    # -- tickets ---------------------------------------------------------------------------

    def create_ticket(
        self,
        properties: Mapping[str, str],
        *,
        contact_id: str | None = None,
    ) -> CrmObject:
        """Creates a ticket in the default pipeline unless told otherwise, tied to its contact."""
        props = {
            "hs_pipeline": api.DEFAULT_PIPELINE,
            "hs_pipeline_stage": api.DEFAULT_PIPELINE_STAGE,
            **properties,
        }
        associations = []
        if contact_id:
            associations.append(
                PublicAssociationsForObject(
                    to=PublicObjectId(id=contact_id),
                    types=[
                        TicketAssociationSpec(
                            association_category="HUBSPOT_DEFINED",
                            association_type_id=api.TICKET_TO_CONTACT,
                        )
                    ],
                )
            )
        created = self._send(
            self._tickets,
            "POST",
            self.version.objects(api.TICKETS),
            {201: "SimplePublicObject", 200: "SimplePublicObject"},
            body=TicketCreate(properties=props, associations=associations),
        )
        return _crm_object(created)

    def upsert_ticket(self, panel_ticket_id: str, properties: Mapping[str, str]) -> CrmObject:
        """Creates the ticket once: a retry finds it by the unique ``skypanel_ticket_id``."""
        props = {
            "hs_pipeline": api.DEFAULT_PIPELINE,
            "hs_pipeline_stage": api.DEFAULT_PIPELINE_STAGE,
            **properties,
        }
        inputs = [
            TicketUpsert(id=panel_ticket_id, id_property=api.TICKET_ID_PROPERTY, properties=props)
        ]
        answer = self._batch_upsert(self._tickets, api.TICKETS, TicketUpsertBatch(inputs=inputs))
        errors = answer.get("errors") or []
        if errors or not answer.get("results"):
            if not errors:
                raise BadRequest("HubSpot returned no ticket", status=400)
            raise _batch_refusal(errors[0])
        return _crm_object_json(answer["results"][0])

    def ensure_ticket_id_property(self) -> None:
        """Creates the unique ``skypanel_ticket_id`` ticket property if the portal lacks it.

        Two workers may both find it missing and both create it: HubSpot answers the second
        with 409, which means the property exists, which is what was wanted.
        """
        try:
            self._send(
                self._properties,
                "GET",
                self.version.property(api.TICKETS, api.TICKET_ID_PROPERTY),
                {200: "ModelProperty"},
            )
        except NotFound:
            # A concurrent creator's 409 means the property is there, as wanted.
            with contextlib.suppress(Conflict):
                self._send(
                    self._properties,
                    "POST",
                    self.version.properties(api.TICKETS),
                    {201: "ModelProperty", 200: "ModelProperty"},
                    body=PropertyCreate(
                        name=api.TICKET_ID_PROPERTY,
                        label="Panel ticket id",
                        type="string",
                        field_type="text",
                        group_name="ticketinformation",
                        has_unique_value=True,
                        description="Set by the hosting panel; makes ticket creation idempotent.",
                    ),
                )

    def update_ticket(self, ticket_id: str, properties: Mapping[str, str]) -> CrmObject:
        return self._update(self._tickets, api.TICKETS, ticket_id, properties)

    def get_ticket(self, ticket_id: str) -> CrmObject | None:
        try:
            found = self._send(
                self._tickets,
                "GET",
                self.version.object(api.TICKETS, ticket_id),
                {200: "SimplePublicObjectWithAssociations"},
                query=[("properties", list(api.TICKET_PROPERTIES))],
            )
        except NotFound:
            return None
        return _crm_object(found)

    def list_tickets(self, *, limit: int = 50, after: str | None = None) -> Page:
        return self._page(self._tickets, api.TICKETS, api.TICKET_PROPERTIES, limit, after)

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
        return Page(results=[_crm_object(c) for c in page.results], after=nxt)

    def search_tickets_modified_since(
        self,
        since_ms: int,
        properties: Sequence[str],
        *,
        has_property: str,
        limit: int = api.BATCH_LIMIT,
        after: str | None = None,
    ) -> SearchPage:
        """One page of the tickets holding ``has_property`` whose ``hs_lastmodifieddate`` is
        at or after ``since_ms``, oldest change first (HubSpot's CRM search; it lags writes
        by a few seconds, and pages through at most 10,000 results per query)."""
        request = PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(
                    filters=[
                        Filter(property_name=has_property, operator="HAS_PROPERTY"),
                        Filter(
                            property_name=api.TICKET_MODIFIED, operator="GTE", value=str(since_ms)
                        ),
                    ]
                )
            ],
            sorts=[api.TICKET_MODIFIED],
            properties=list(properties),
            limit=max(1, min(limit, api.SEARCH_LIMIT)),
            after=after or "",
        )
        answer = self._bounded_json(self._tickets, self.version.search(api.TICKETS), request)
        results = answer.get("results")
        results = results if isinstance(results, list) else []
        paging = answer.get("paging")
        nxt = paging.get("next") if isinstance(paging, dict) else None
        after = nxt.get("after") if isinstance(nxt, dict) else None
        total = answer.get("total")
        return SearchPage(
            # More than asked for is not HubSpot's paging: the rest is left for the next page.
            results=[_search_result(r) for r in results[: request.limit]],
            after=str(after) if isinstance(after, str | int) and str(after) else None,
            total=total if isinstance(total, int) and not isinstance(total, bool) else 0,
        )

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

    def associate_ticket_with_contact(self, ticket_id: str, contact_id: str) -> None:
        spec = AssociationSpec(
            association_category="HUBSPOT_DEFINED", association_type_id=api.TICKET_TO_CONTACT
        )
        self._send(
            self._associations,
            "PUT",
            self.version.association(api.TICKETS, ticket_id, api.CONTACTS, contact_id),
            {201: "object", 200: "object"},
            body=[spec],
        )

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


def _crm_object(obj: Any) -> CrmObject:
    return CrmObject(
        id=str(obj.id), properties=dict(obj.properties or {}), new=getattr(obj, "new", None)
    )


def _search_result(obj: Any) -> CrmObject:
    """A search result as HubSpot sent it; what does not have the expected shape gets an
    empty id and no properties, for the caller to skip (values are not checked here)."""
    if not isinstance(obj, dict):
        return CrmObject(id="", properties={})
    properties = obj.get("properties")
    object_id = obj.get("id")
    return CrmObject(
        id=object_id if isinstance(object_id, str) else "",
        properties=dict(properties) if isinstance(properties, dict) else {},
    )


def _batch_refusal(err: Mapping[str, Any]) -> HubSpotError:
    """The refusal of a one-input batch as the error a single write would have raised."""
    return error_from_response(
        400,
        json.dumps(
            {
                "message": str(err.get("message") or "HubSpot refused the ticket"),
                "category": err.get("category"),
                "errors": [d for d in err.get("errors") or [] if d is not None],
            }
        ),
        None,
    )


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
