"""The fake HubSpot's webhook sender: signed POSTs of HubSpot-shaped event arrays.

HubSpot sends a JSON array of events to the app's target URL, signed (v3) with the app's
client secret, and may deliver one event more than once; :func:`deliver` does the same,
on loopback, or in process through a subscription's ``transport`` (the test kit hands the
signed request straight to the host's app or to the plugin's handler, with no server).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import urllib3

from skypanel_hubspot_plugin.common import clock
from skypanel_hubspot_plugin.webhooks.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_v3

#: The client secret of the fake's app; paste it as the webhook secret in a sandbox panel.
FAKE_APP_SECRET = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"

_event_ids = itertools.count(100_000_001)
_event_ids_lock = threading.Lock()


def next_event_id() -> int:
    with _event_ids_lock:
        return next(_event_ids)


#: The generic format's object type ids, for the types the fake holds.
OBJECT_TYPE_IDS = {"contact": "0-1", "ticket": "0-5", "email": "0-49", "note": "0-46"}
#: The legacy format's names of a ticket's association types (it has none for engagements).
LEGACY_ASSOCIATION_NAMES = {"contacts": "TICKET_TO_CONTACT"}


#: ``transport(url, body, headers)`` → the receiver's status: a signed POST made in process.
Transport = Callable[[str, bytes, dict[str, str]], int]


@dataclass(frozen=True)
class Subscription:
    """Where an app's webhooks go, the client secret that signs them, and their format:
    ``legacy`` (``ticket.propertyChange``) or ``generic`` (``object.propertyChange`` with
    ``objectTypeId``), as apps on HubSpot's current developer platform receive. With a
    ``transport`` the signed requests go through it instead of over HTTP."""

    target_url: str
    client_secret: str
    app_id: int = 1
    format: str = "legacy"
    transport: Transport | None = None


def _base(sub: Subscription, portal_id: int, object_type: str, action: str) -> dict[str, Any]:
    """The fields every event has, in the subscription's format."""
    event: dict[str, Any] = {
        "eventId": next_event_id(),
        "subscriptionId": 1,
        "portalId": portal_id,
        "appId": sub.app_id,
        "occurredAt": int(clock.now() * 1000),  # the clock the fake's modification times read
        "attemptNumber": 0,
        "changeSource": "CRM_UI",
    }
    if sub.format == "generic":
        event["subscriptionType"] = f"object.{action}"
        event["objectTypeId"] = OBJECT_TYPE_IDS[object_type]
    else:
        event["subscriptionType"] = f"{object_type}.{action}"
    return event


def lifecycle_event(
    sub: Subscription, portal_id: int, object_type: str, object_id: str, action: str
) -> dict[str, Any]:
    """A ``creation``, ``deletion`` or ``restore`` event about one record."""
    return {**_base(sub, portal_id, object_type, action), "objectId": int(object_id)}


def merge_event(
    sub: Subscription,
    portal_id: int,
    object_type: str,
    primary_id: str,
    merged_ids: list[str],
    new_id: str | None,
) -> dict[str, Any]:
    """A ``merge`` event: ``merged_ids`` went into ``primary_id`` (HubSpot may also name a
    ``newObjectId`` when the merge made a new record)."""
    event = {
        **_base(sub, portal_id, object_type, "merge"),
        "objectId": int(primary_id),
        "primaryObjectId": int(primary_id),
        "mergedObjectIds": [int(i) for i in merged_ids],
        "numberOfPropertiesMoved": 0,
    }
    if new_id is not None:
        event["newObjectId"] = int(new_id)
    return event


def property_change_events(
    sub: Subscription,
    portal_id: int,
    object_type: str,
    object_id: str,
    changes: dict[str, str],
    occurred_at_ms: int | None = None,
) -> list[dict[str, Any]]:
    """One property change event per changed property, as HubSpot's UI causes; they occurred
    at ``occurred_at_ms`` (the record's new modification time) when given, else now."""
    occurred = {} if occurred_at_ms is None else {"occurredAt": occurred_at_ms}
    return [
        {
            **_base(sub, portal_id, object_type, "propertyChange"),
            **occurred,
            "objectId": int(object_id),
            "propertyName": name,
            "propertyValue": value,
        }
        for name, value in changes.items()
    ]


def association_change_event(
    sub: Subscription,
    portal_id: int,
    ticket_id: str,
    to_type: str,
    to_id: str,
    type_id: int,
    *,
    removed: bool = False,
) -> dict[str, Any]:
    """A ticket's association with another record added (or ``removed``): the generic
    format names both object types and HubSpot's association type id, the legacy one an
    association type name."""
    base = _base(sub, portal_id, "ticket", "associationChange")
    base.pop("objectTypeId", None)
    event = {
        **base,
        "fromObjectId": int(ticket_id),
        "toObjectId": int(to_id),
        "associationRemoved": removed,
        "isPrimaryAssociation": False,
    }
    if sub.format == "generic":
        event |= {
            "fromObjectTypeId": OBJECT_TYPE_IDS["ticket"],
            "toObjectTypeId": OBJECT_TYPE_IDS[to_type.rstrip("s")],
            "associationTypeId": type_id,
            "associationCategory": "HUBSPOT_DEFINED",
        }
    else:
        event["associationType"] = LEGACY_ASSOCIATION_NAMES[to_type]
    return event


def deliver(sub: Subscription, events: list[dict[str, Any]]) -> int:
    """POSTs ``events`` signed like HubSpot does; returns the receiver's status."""
    body = json.dumps(events).encode()
    timestamp = int(time.time() * 1000)
    signature = sign_v3(sub.client_secret, "POST", sub.target_url, body, timestamp)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature,
        TIMESTAMP_HEADER: str(timestamp),
    }
    if sub.transport is not None:
        return sub.transport(sub.target_url, body, headers)
    response = urllib3.request(
        "POST",
        sub.target_url,
        body=body,
        headers=headers,
        timeout=urllib3.Timeout(connect=2.0, read=10.0),
        retries=False,
    )
    return int(response.status)
