"""The HubSpot service: a thin wrapper over ``hubspot-api-client`` that speaks our types.

Why a wrapper: the client has no global timeout (we pass one on every call), retries
nothing we want retried (the delivery worker owns retries, so ``retry=False`` here),
builds a new connection pool on every ``client.crm.…`` attribute access (we build each
API once), and raises a different ``ApiException`` class per module (we map by status
into :mod:`skypanel_hubspot_plugin.hubspot.errors`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

import hubspot
import urllib3
from hubspot.conversations.visitor_identification import IdentificationTokenGenerationRequest
from hubspot.crm.associations.v4 import AssociationSpec
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputUpsert,
    PublicGdprDeleteInput,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputUpsert,
)
from hubspot.crm.contacts import SimplePublicObjectInput as ContactInput
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactCreate
from hubspot.crm.properties import PropertyCreate
from hubspot.crm.tickets import AssociationSpec as TicketAssociationSpec
from hubspot.crm.tickets import BatchInputSimplePublicObjectBatchInputUpsert as TicketUpsertBatch
from hubspot.crm.tickets import PublicAssociationsForObject, PublicObjectId
from hubspot.crm.tickets import SimplePublicObjectBatchInputUpsert as TicketUpsert
from hubspot.crm.tickets import SimplePublicObjectInput as TicketInput
from hubspot.crm.tickets import SimplePublicObjectInputForCreate as TicketCreate

from skypanel_hubspot_plugin.common.secret import Secret
from skypanel_hubspot_plugin.hubspot import api as api
from skypanel_hubspot_plugin.hubspot import forms_api
from skypanel_hubspot_plugin.hubspot.errors import (
    BadRequest,
    HubSpotError,
    NotFound,
    Unreachable,
    error_from_response,
)
from skypanel_hubspot_plugin.hubspot.properties import PropertyInfo, property_info

T = TypeVar("T")

#: (connect, read) seconds; HubSpot answers in well under a second when it is healthy.
DEFAULT_TIMEOUT = (3.05, 10.0)


@dataclass(frozen=True)
class CrmObject:
    """A contact or ticket as HubSpot returned it."""

    id: str
    properties: dict[str, str | None]
    new: bool | None = None


@dataclass(frozen=True)
class BatchError:
    """One input of a batch that HubSpot refused, with its message and the ids it names."""

    message: str
    category: str | None
    ids: tuple[str, ...]


@dataclass(frozen=True)
class BatchResult:
    results: list[CrmObject] = field(default_factory=list)
    errors: list[BatchError] = field(default_factory=list)


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


class HubSpotService:
    """Calls HubSpot on behalf of one portal's token. Thread-safe; build one per token."""

    def __init__(
        self,
        token: Secret,
        *,
        base_url: str | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self._token = token
        self.base_url = (base_url or api.DEFAULT_BASE_URL).rstrip("/")
        self.timeout = timeout
        self._client = hubspot.Client(access_token=token.reveal(), host=self.base_url, retry=False)

    def __repr__(self) -> str:
        return f"HubSpotService(base_url={self.base_url!r})"

    # Each attribute access on the client builds a new ApiClient and pool: build once.
    @cached_property
    def _contacts_basic(self) -> Any:
        return self._client.crm.contacts.basic_api

    @cached_property
    def _contacts_batch(self) -> Any:
        return self._client.crm.contacts.batch_api

    @cached_property
    def _tickets_basic(self) -> Any:
        return self._client.crm.tickets.basic_api

    @cached_property
    def _tickets_batch(self) -> Any:
        return self._client.crm.tickets.batch_api

    @cached_property
    def _associations(self) -> Any:
        return self._client.crm.associations.v4.basic_api

    @cached_property
    def _properties(self) -> Any:
        return self._client.crm.properties.core_api

    @cached_property
    def _visitor_identification(self) -> Any:
        return self._client.conversations.visitor_identification.generate_api

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Runs one client call with our timeout, turning every failure into a HubSpotError."""
        try:
            return fn(*args, _request_timeout=self.timeout, **kwargs)
        except urllib3.exceptions.HTTPError as exc:
            raise Unreachable(f"HubSpot could not be reached ({type(exc).__name__})") from None
        except HubSpotError:
            raise
        except Exception as exc:
            status = getattr(exc, "status", None)
            if not isinstance(status, int) or not hasattr(exc, "body"):
                raise
            if status == 0:  # the client's wrapper for TLS failures
                raise Unreachable("HubSpot could not be reached (TLS error)") from None
            raise error_from_response(status, exc.body, getattr(exc, "headers", None)) from None

    # -- contacts --------------------------------------------------------------------------

    def create_contact(self, properties: Mapping[str, str]) -> CrmObject:
        created = self._call(
            self._contacts_basic.create, ContactCreate(properties=dict(properties), associations=[])
        )
        return _crm_object(created)

    def get_contact_by_email(self, email: str) -> CrmObject | None:
        """A consistent read by the unique email property (search is only eventually consistent)."""
        try:
            found = self._call(
                self._contacts_basic.get_by_id,
                email,
                id_property="email",
                properties=list(api.CONTACT_PROPERTIES),
            )
        except NotFound:
            return None
        return _crm_object(found)

    def update_contact(self, contact_id: str, properties: Mapping[str, str]) -> CrmObject:
        updated = self._call(
            self._contacts_basic.update, contact_id, ContactInput(properties=dict(properties))
        )
        return _crm_object(updated)

    def archive_contact(self, contact_id: str) -> None:
        self._call(self._contacts_basic.archive, contact_id)

    def gdpr_delete_contact(self, contact_id: str) -> None:
        """HubSpot's permanent, GDPR-compliant erasure of a contact."""
        self._call(self._contacts_basic.purge, PublicGdprDeleteInput(object_id=contact_id))

    def list_contacts(self, *, limit: int = 50, after: str | None = None) -> Page:
        return self._page(self._contacts_basic, api.CONTACT_PROPERTIES, limit, after)

    def upsert_contacts(self, contacts: Sequence[Mapping[str, str]]) -> BatchResult:
        """Creates or updates contacts by email, in batches of at most 100.

        HubSpot applies the valid inputs of a batch and reports the others (HTTP 207);
        both come back here, so one bad record never holds back the rest.
        """
        results: list[CrmObject] = []
        errors: list[BatchError] = []
        for chunk in _chunks(contacts, api.BATCH_LIMIT):
            inputs = [
                SimplePublicObjectBatchInputUpsert(
                    id=c["email"], id_property="email", properties=dict(c)
                )
                for c in chunk
            ]
            answer = self._call(
                self._contacts_batch.upsert,
                BatchInputSimplePublicObjectBatchInputUpsert(inputs=inputs),
            )
            results.extend(_crm_object(r) for r in answer.results or [])
            errors.extend(_batch_error(e) for e in getattr(answer, "errors", None) or [])
        return BatchResult(results=results, errors=errors)

    def update_contacts(self, updates: Sequence[tuple[str, Mapping[str, str]]]) -> BatchResult:
        """Updates contacts by id, ``(id, properties)`` each, in batches of at most 100.

        As with upserts, HubSpot applies the valid inputs and reports the others (an id
        that no longer exists, a refused value) by id.
        """
        results: list[CrmObject] = []
        errors: list[BatchError] = []
        for chunk in _chunks(updates, api.BATCH_LIMIT):
            inputs = [
                SimplePublicObjectBatchInput(id=contact_id, properties=dict(props))
                for contact_id, props in chunk
            ]
            answer = self._call(
                self._contacts_batch.update, BatchInputSimplePublicObjectBatchInput(inputs=inputs)
            )
            results.extend(_crm_object(r) for r in answer.results or [])
            errors.extend(_batch_error(e) for e in getattr(answer, "errors", None) or [])
        return BatchResult(results=results, errors=errors)

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
        created = self._call(
            self._tickets_basic.create, TicketCreate(properties=props, associations=associations)
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
        answer = self._call(self._tickets_batch.upsert, TicketUpsertBatch(inputs=inputs))
        errors = getattr(answer, "errors", None) or []
        if errors or not answer.results:
            message = errors[0].message if errors else "HubSpot returned no ticket"
            raise BadRequest(str(message), status=400)
        return _crm_object(answer.results[0])

    def ensure_ticket_id_property(self) -> None:
        """Creates the unique ``skypanel_ticket_id`` ticket property if the portal lacks it."""
        try:
            self._call(self._properties.get_by_name, api.TICKETS, api.TICKET_ID_PROPERTY)
        except NotFound:
            self._call(
                self._properties.create,
                api.TICKETS,
                PropertyCreate(
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
        updated = self._call(
            self._tickets_basic.update, ticket_id, TicketInput(properties=dict(properties))
        )
        return _crm_object(updated)

    def get_ticket(self, ticket_id: str) -> CrmObject | None:
        try:
            return _crm_object(self._call(self._tickets_basic.get_by_id, ticket_id))
        except NotFound:
            return None

    def list_tickets(self, *, limit: int = 50, after: str | None = None) -> Page:
        return self._page(self._tickets_basic, api.TICKET_PROPERTIES, limit, after)

    def _page(
        self, basic_api: Any, properties: Sequence[str], limit: int, after: str | None
    ) -> Page:
        kwargs: dict[str, Any] = {
            "limit": max(1, min(limit, api.BATCH_LIMIT)),
            "properties": list(properties),
        }
        if after:
            kwargs["after"] = after
        page = self._call(basic_api.get_page, **kwargs)
        nxt = page.paging.next.after if page.paging and page.paging.next else None
        return Page(results=[_crm_object(c) for c in page.results], after=nxt)

    def associate_ticket_with_contact(self, ticket_id: str, contact_id: str) -> None:
        spec = AssociationSpec(
            association_category="HUBSPOT_DEFINED", association_type_id=api.TICKET_TO_CONTACT
        )
        self._call(
            self._associations.create, api.TICKETS, ticket_id, api.CONTACTS, contact_id, [spec]
        )

    def property_options(self, object_type: str, name: str) -> list[tuple[str, str]]:
        """The (value, label) options of an enumeration property, as this portal has them."""
        prop = self._call(self._properties.get_by_name, object_type, name)
        return [(o.value, o.label) for o in prop.options or [] if not o.hidden]

    def properties(self, object_type: str) -> list[PropertyInfo]:
        """Every property ``object_type`` has in this portal: names, types, options, read-only."""
        answer = self._call(self._properties.get_all, object_type)
        return [property_info(p) for p in answer.results or []]

    # -- chat ------------------------------------------------------------------------------

    def visitor_token(self, email: str, first_name: str = "", last_name: str = "") -> str:
        """A chat identification token for a logged-in visitor (Professional/Enterprise;
        other portals answer 403). HubSpot keeps it valid for 12 hours."""
        request = IdentificationTokenGenerationRequest(
            email=email, first_name=first_name or None, last_name=last_name or None
        )
        answer = self._call(self._visitor_identification.generate_token, request)
        return str(answer.token)

    # -- account ---------------------------------------------------------------------------

    def account_details(self) -> AccountDetails:
        """The portal the token belongs to and where its data lives (``dataHostingLocation``)."""
        data = self._raw("GET", api.ACCOUNT_DETAILS_PATH)
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
        api_client = self._properties.api_client
        try:
            data = self._call(
                api_client.call_api,
                forms_api.submit_path(portal_id, form_guid),
                "POST",
                body=dict(body),
                header_params={"Accept": "application/json", "Content-Type": "application/json"},
                auth_settings=[],
                response_types_map={200: "object"},
                _return_http_data_only=True,
                _host=forms_api.forms_base_url(self.base_url),
            )
        except HubSpotError as exc:
            raise forms_api.name_the_reasons(exc) from None
        return str(data.get("inlineMessage") or "") if isinstance(data, dict) else ""

    def _raw(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """Calls a path the generated APIs lack, through a generated ApiClient.

        ``client.api_request`` would also reach it, but it reads ``base_url`` rather than
        ``host``, takes no timeout, and prints errors to stdout.
        """
        api_client = self._properties.api_client
        data = self._call(
            api_client.call_api,
            path,
            method,
            body=body,
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            auth_settings=["oauth2"],
            response_types_map={200: "object"},
            _return_http_data_only=True,
        )
        return data if isinstance(data, dict) else {}


def _crm_object(obj: Any) -> CrmObject:
    return CrmObject(
        id=str(obj.id), properties=dict(obj.properties or {}), new=getattr(obj, "new", None)
    )


def _batch_error(err: Any) -> BatchError:
    context = getattr(err, "context", None) or {}
    ids = (
        tuple(str(i) for i in context.get("ids", []) if i is not None)
        if isinstance(context, dict)
        else ()
    )
    return BatchError(
        message=str(getattr(err, "message", "")), category=getattr(err, "category", None), ids=ids
    )


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
