"""The HubSpot calls on tickets: created (associated with their contact) or upserted by the
panel's unique ticket id, the ticket id property itself, one ticket, pages, the search for
changed tickets that polling reads, and a ticket's association with its contact.

Mixed into :class:`~skypanel_hubspot_plugin.hubspot.service.HubSpotService`, whose
transport, models and error mapping every call here goes through.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from hubspot.crm.associations.v4 import AssociationSpec
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

from skypanel_hubspot_plugin.hubspot import api as api
from skypanel_hubspot_plugin.hubspot.calls import ServiceCalls
from skypanel_hubspot_plugin.hubspot.errors import (
    BadRequest,
    Conflict,
    HubSpotError,
    NotFound,
    error_from_response,
)
from skypanel_hubspot_plugin.hubspot.records import (
    CrmObject,
    Page,
    SearchPage,
    crm_object,
    crm_object_json,
    search_result,
)


class TicketCalls(ServiceCalls):
    """Tickets; part of :class:`HubSpotService`."""

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
        return crm_object(created)

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
        return crm_object_json(answer["results"][0])

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
        return crm_object(found)

    def list_tickets(self, *, limit: int = 50, after: str | None = None) -> Page:
        return self._page(self._tickets, api.TICKETS, api.TICKET_PROPERTIES, limit, after)

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
            results=[search_result(r) for r in results[: request.limit]],
            after=str(after) if isinstance(after, str | int) and str(after) else None,
            total=total if isinstance(total, int) and not isinstance(total, bool) else 0,
        )

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
