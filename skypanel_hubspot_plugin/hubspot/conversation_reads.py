"""The HubSpot reads that bring a support conversation back to the panel: agents' emails on
tickets, the tickets they are associated with, and tickets opened in HubSpot.

An agent's reply to a ticket is an email engagement (``/crm/objects/<version>/emails``)
with ``hs_email_direction`` ``EMAIL`` associated with the ticket. HubSpot's CRM search
filters engagements by their own properties, not by "associated with any ticket", so a
poll searches the outgoing emails changed since a cursor and asks which tickets each page
of them is associated with in one batch read of associations (two requests per page of
up to 100 emails, whatever the number of tickets). Each call goes through the service's
client, paths and error mapping, on the dated paths of the version in force.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from skypanel_hubspot_plugin.hubspot import api as api
from skypanel_hubspot_plugin.hubspot.errors import NotFound
from skypanel_hubspot_plugin.hubspot.records import CrmObject, SearchPage, search_result
from skypanel_hubspot_plugin.hubspot.service import HubSpotService

EMAILS = "emails"
#: ``hs_email_direction`` of an email someone on the support side sent.
OUTGOING = "EMAIL"
#: The email property the panel's own messages carry (set when the plugin logs them).
PANEL_MESSAGE_PROPERTY = "skypanel_message_id"
EMAIL_PROPERTIES = (
    "hs_timestamp",
    "hs_email_direction",
    "hs_email_subject",
    "hs_email_text",
    "hs_email_html",
    "hs_email_from_email",
    "hs_email_from_firstname",
    "hs_email_from_lastname",
    api.TICKET_MODIFIED,
    PANEL_MESSAGE_PROPERTY,
)
#: A ticket's properties a panel needs to open its own ticket from it.
BORN_TICKET_PROPERTIES = (
    "subject",
    "content",
    "hs_pipeline",
    "hs_pipeline_stage",
    "hs_ticket_priority",
    "createdate",
    api.TICKET_MODIFIED,
    api.TICKET_ID_PROPERTY,
)


def _page(answer: dict[str, Any], limit: int) -> SearchPage:
    results = answer.get("results")
    results = results if isinstance(results, list) else []
    paging = answer.get("paging")
    nxt = paging.get("next") if isinstance(paging, dict) else None
    after = nxt.get("after") if isinstance(nxt, dict) else None
    total = answer.get("total")
    return SearchPage(
        results=[search_result(r) for r in results[:limit]],
        after=str(after) if isinstance(after, str | int) and str(after) else None,
        total=total if isinstance(total, int) and not isinstance(total, bool) else 0,
    )


def _search(
    service: HubSpotService,
    object_type: str,
    filters: list[dict[str, Any]],
    properties: Sequence[str],
    limit: int,
    after: str | None,
) -> SearchPage:
    limit = max(1, min(limit, api.SEARCH_LIMIT))
    body: dict[str, Any] = {
        "filterGroups": [{"filters": filters}],
        "sorts": [api.TICKET_MODIFIED],  # ascending; the specs take a sort as a name
        "properties": list(properties),
        "limit": limit,
        "after": after or "",
    }
    answer = service._bounded_json(service._tickets, service.version.search(object_type), body)
    return _page(answer, limit)


def search_outgoing_emails(
    service: HubSpotService, since_ms: int, *, limit: int = 100, after: str | None = None
) -> SearchPage:
    """One page of the outgoing emails (``EMAIL``) changed at or after ``since_ms``, oldest
    change first, with the properties a reply needs."""
    filters = [
        {"propertyName": "hs_email_direction", "operator": "EQ", "value": OUTGOING},
        {"propertyName": api.TICKET_MODIFIED, "operator": "GTE", "value": str(since_ms)},
    ]
    return _search(service, EMAILS, filters, EMAIL_PROPERTIES, limit, after)


def search_tickets_without_panel_id(
    service: HubSpotService,
    since_ms: int,
    pipelines: Sequence[str],
    *,
    limit: int = 100,
    after: str | None = None,
) -> SearchPage:
    """One page of the tickets of ``pipelines`` that the panel did not open (no
    ``skypanel_ticket_id``) changed at or after ``since_ms``, oldest change first."""
    filters: list[dict[str, Any]] = [
        {"propertyName": api.TICKET_ID_PROPERTY, "operator": "NOT_HAS_PROPERTY"},
        {"propertyName": "hs_pipeline", "operator": "IN", "values": list(pipelines)},
        {"propertyName": api.TICKET_MODIFIED, "operator": "GTE", "value": str(since_ms)},
    ]
    return _search(service, api.TICKETS, filters, BORN_TICKET_PROPERTIES, limit, after)


def associated_ids(
    service: HubSpotService, object_type: str, to_type: str, ids: Sequence[str]
) -> dict[str, list[str]]:
    """The records of ``to_type`` each of ``ids`` is associated with (a record with none is
    left out), up to 100 ids a request. Only the first page of each record's associations
    is read: an email or a ticket has a handful, never hundreds."""
    found: dict[str, list[str]] = {}
    for start in range(0, len(ids), api.BATCH_LIMIT):
        part = ids[start : start + api.BATCH_LIMIT]
        answer = service._bounded_json(
            service._associations,
            service.version.associations_batch_read(object_type, to_type),
            {"inputs": [{"id": i} for i in part]},
        )
        results = answer.get("results")
        for result in results if isinstance(results, list) else []:
            if not isinstance(result, dict):
                continue
            source = result.get("from")
            from_id = source.get("id") if isinstance(source, dict) else None
            targets = result.get("to")
            if not isinstance(from_id, str | int) or not isinstance(targets, list):
                continue
            to_ids = [
                str(t["toObjectId"])
                for t in targets
                if isinstance(t, dict) and isinstance(t.get("toObjectId"), str | int)
            ]
            if to_ids:
                found.setdefault(str(from_id), []).extend(to_ids)
    return found


def get_record(
    service: HubSpotService, object_type: str, object_id: str, properties: Sequence[str]
) -> CrmObject | None:
    """One email or ticket with ``properties``; None when HubSpot has none by that id."""
    try:
        found = service._send(
            service._tickets,
            "GET",
            service.version.object(object_type, object_id),
            {200: "object"},
            query=[("properties", list(properties))],
        )
    except NotFound:
        return None
    result = search_result(found)
    return result if result.id else None
