"""HubSpot's two webhook formats for tickets (legacy ``ticket.*`` and generic ``object.*``
with objectTypeId 0-5), merges, deletions, restores, duplicates and the plugin's own writes."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_webhooks import SECRET, PanelTickets, post
from test_webhooks import client as client
from test_webhooks import hooked as hooked
from test_webhooks import panel_tickets as panel_tickets
from webhook_server import served_webhooks

from skypanel_hubspot_plugin import Ticket, User
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FakeHubSpot

FORMATS = ("legacy", "generic")


def settled(rt: Runtime, timeout: float = 20.0) -> None:
    """Waits until no outbox row is queued or being delivered."""
    deadline = time.monotonic() + timeout
    while rt.outbox.counts().get("queued", 0):
        assert time.monotonic() < deadline, "the outbox did not drain"
        time.sleep(0.02)


def ticket_event(
    fmt: str, hubspot_id: str, event_id: int, action: str = "propertyChange", **extra: Any
) -> dict[str, Any]:
    """One ticket event as HubSpot sends it in ``fmt``."""
    event: dict[str, Any] = {
        "eventId": event_id,
        "subscriptionId": 9,
        "portalId": FAKE_PORTAL_ID,
        "appId": 1,
        "occurredAt": int(time.time() * 1000),
        "attemptNumber": 0,
        "objectId": int(hubspot_id),
        "changeSource": "CRM_UI",
    }
    if fmt == "generic":
        event |= {"subscriptionType": f"object.{action}", "objectTypeId": "0-5"}
    else:
        event["subscriptionType"] = f"ticket.{action}"
    if action == "propertyChange":
        event |= {"propertyName": "hs_pipeline_stage", "propertyValue": "4"}
    return event | extra


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_stage_change_in_either_format_reaches_the_host_once(
    fmt: str, client: TestClient, hooked: tuple[Runtime, str], panel_tickets: PanelTickets
) -> None:
    _, hubspot_id = hooked
    event = ticket_event(fmt, hubspot_id, 601)
    first, again = post(client, [event]), post(client, [event | {"attemptNumber": 1}])
    assert first.json() == {"success": True, "handled": 1, "ignored": 0}
    assert again.json() == {"success": True, "handled": 0, "ignored": 1}
    [change] = panel_tickets.calls
    assert (change.ticket_id, change.status, change.kind, change.deleted) == (
        "T-1",
        "closed",
        "propertyChange",
        False,
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_deletion_and_restore_reach_the_host(
    fmt: str, client: TestClient, hooked: tuple[Runtime, str], panel_tickets: PanelTickets
) -> None:
    _, hubspot_id = hooked
    response = post(
        client,
        [
            ticket_event(fmt, hubspot_id, 701, "deletion"),
            ticket_event(fmt, hubspot_id, 702, "restore"),
        ],
    )
    assert response.json()["handled"] == 2
    assert [(c.kind, c.deleted) for c in panel_tickets.calls] == [
        ("deletion", True),
        ("restore", False),
    ]


def test_other_object_types_and_creations_are_acknowledged_and_ignored(
    client: TestClient, hooked: tuple[Runtime, str], panel_tickets: PanelTickets
) -> None:
    _, hubspot_id = hooked
    response = post(
        client,
        [
            ticket_event("generic", hubspot_id, 801, objectTypeId="0-1"),  # a contact
            ticket_event("generic", hubspot_id, 802, objectTypeId="2-12345"),  # custom object
            ticket_event("generic", hubspot_id, 803, "creation"),  # the plugin's own creation
            ticket_event("legacy", hubspot_id, 804, subscriptionType="deal.propertyChange"),
            ticket_event("generic", "424242", 805),  # a ticket the panel did not create
        ],
    )
    assert response.status_code == 200
    assert response.json() == {"success": True, "handled": 0, "ignored": 5}
    assert panel_tickets.calls == []


def test_a_generic_event_without_its_object_type_is_refused_naming_the_field(
    client: TestClient, hooked: tuple[Runtime, str], panel_tickets: PanelTickets
) -> None:
    _, hubspot_id = hooked
    event = ticket_event("generic", hubspot_id, 901)
    del event["objectTypeId"]
    response = post(client, [event])
    assert response.status_code == 400
    assert response.json()["details"] == {"[0].objectTypeId": "is required for object.* events"}
    assert panel_tickets.calls == []


def test_the_plugins_own_write_coming_back_is_not_echoed(
    pm,
    client: TestClient,
    hooked: tuple[Runtime, str],
    panel_tickets: PanelTickets,
    fake: FakeHubSpot,
) -> None:  # type: ignore[no-untyped-def]
    _rt, hubspot_id = hooked
    pm.hook.skypanel_on_ticket_updated(
        ticket=Ticket(id="T-1", subject="Disk full", status="in_progress"),
        changed=frozenset({"status"}),
        session=None,
    )
    fake.wait_for(
        lambda f: any(t["properties"].get("hs_pipeline_stage") == "3" for t in f.tickets())
    )
    echo = ticket_event("generic", hubspot_id, 1001, propertyValue="3", changeSource="INTEGRATION")
    real = ticket_event("generic", hubspot_id, 1002, propertyValue="2")
    assert post(client, [echo, real]).json() == {"success": True, "handled": 1, "ignored": 1}
    assert [c.status for c in panel_tickets.calls] == ["waiting"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_merged_ticket_keeps_reporting_to_its_panel_ticket(
    pm, fmt: str, client: TestClient, hooked: tuple[Runtime, str], panel_tickets: PanelTickets
) -> None:  # type: ignore[no-untyped-def]
    """The panel ticket's HubSpot ticket is merged into another: later events about the
    surviving ticket, and late ones about the merged-away id, reach the same panel ticket."""
    rt, hubspot_id = hooked
    settled(rt)  # the creation's delivery has finished writing its link
    survivor = "77001"
    merge = ticket_event(
        fmt,
        survivor,
        1101,
        "merge",
        primaryObjectId=int(survivor),
        mergedObjectIds=[int(hubspot_id)],
        numberOfPropertiesMoved=3,
    )
    assert post(client, [merge]).json()["handled"] == 1
    assert post(client, [merge]).json()["handled"] == 0  # delivered twice, handled once
    [merged] = panel_tickets.calls
    assert (merged.ticket_id, merged.kind, merged.hubspot_ticket_id, merged.merged_ids) == (
        "T-1",
        "merge",
        survivor,
        (hubspot_id,),
    )
    later = post(
        client,
        [
            ticket_event(fmt, survivor, 1102, propertyValue="2"),
            ticket_event(fmt, hubspot_id, 1103, propertyValue="3"),
        ],
    )
    assert later.json()["handled"] == 2
    assert [(c.ticket_id, c.status) for c in panel_tickets.calls[1:]] == [
        ("T-1", "waiting"),
        ("T-1", "in_progress"),
    ]
    assert rt.outbox.link("ticket", "T-1") == survivor  # the panel's next changes go there


def test_a_merge_that_made_a_new_ticket_reports_to_the_new_id(
    client: TestClient, hooked: tuple[Runtime, str], panel_tickets: PanelTickets
) -> None:
    rt, hubspot_id = hooked
    settled(rt)
    merge = ticket_event(
        "generic",
        hubspot_id,
        1201,
        "merge",
        primaryObjectId=int(hubspot_id),
        mergedObjectIds=[55501],
        newObjectId=88001,
    )
    assert post(client, [merge]).json()["handled"] == 1
    assert panel_tickets.calls[0].hubspot_ticket_id == "88001"
    assert post(client, [ticket_event("generic", "88001", 1202)]).json()["handled"] == 1
    assert panel_tickets.calls[1].ticket_id == "T-1"


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_fake_sends_changes_deletions_and_merges_in_either_format(
    pm, fmt: str, hooked: tuple[Runtime, str], fake: FakeHubSpot, panel_tickets: PanelTickets
) -> None:  # type: ignore[no-untyped-def]
    """Over real HTTP, signed by the fake as HubSpot signs."""

    rt, hubspot_id = hooked
    pm.hook.skypanel_on_ticket_created(
        ticket=Ticket(id="T-2", subject="Second"),
        user=User(id="1", email="ada@example.com"),
        session=None,
    )
    fake.wait_for(lambda f: rt.outbox.link("ticket", "T-2") is not None, timeout=20)
    other = str(rt.outbox.link("ticket", "T-2"))
    with served_webhooks(pm) as url:
        rt.store.save({"hubspot_webhook_url": url})
        fake.subscribe_webhooks(url, SECRET, format=fmt)
        assert fake.change_ticket(hubspot_id, {"hs_pipeline_stage": "2"}, deliveries=2) == [
            200,
            200,
        ]
        assert fake.merge_tickets(other, hubspot_id) == [200]
        assert fake.delete_ticket(other) == [200]
    assert [(c.ticket_id, c.kind) for c in panel_tickets.calls] == [
        ("T-1", "propertyChange"),
        ("T-2", "merge"),
        ("T-2", "deletion"),
    ]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fields=st.dictionaries(
        st.sampled_from(
            [
                "subscriptionType",
                "objectTypeId",
                "objectId",
                "eventId",
                "primaryObjectId",
                "mergedObjectIds",
                "newObjectId",
                "propertyName",
                "propertyValue",
                "occurredAt",
            ]
        ),
        json_values,
        max_size=4,
    ),
    fmt=st.sampled_from(FORMATS),
    action=st.sampled_from(["propertyChange", "merge", "deletion", "restore", "creation"]),
)
def test_any_signed_body_is_answered_200_or_400_and_a_400_changes_nothing(
    client: TestClient,
    hooked: tuple[Runtime, str],
    panel_tickets: PanelTickets,
    fields: dict[str, Any],
    fmt: str,
    action: str,
) -> None:
    _, hubspot_id = hooked
    before = len(panel_tickets.calls)
    event = ticket_event(fmt, hubspot_id, 2_000_000, action) | fields
    response = post(client, None, raw=json.dumps([event]).encode())
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert len(panel_tickets.calls) == before
        assert all(k.startswith("[0]") for k in response.json()["details"])
    else:
        assert len(panel_tickets.calls) - before == response.json()["handled"] <= 1


@pytest.mark.parametrize("mode", ["polling", "off"])
def test_with_polling_or_sync_off_webhooks_are_acknowledged_and_ignored(
    mode: str, client: TestClient, hooked: tuple[Runtime, str], panel_tickets: PanelTickets
) -> None:
    """Taking both webhooks and polling would hand one change on twice."""
    rt, hubspot_id = hooked
    rt.store.save({"hubspot_ticket_sync": mode})
    response = post(client, [ticket_event("generic", hubspot_id, 3001)])
    assert response.json() == {"success": True, "handled": 0, "ignored": 1}
    assert panel_tickets.calls == []
    rt.store.save({"hubspot_ticket_sync": "webhooks"})
    assert post(client, [ticket_event("generic", hubspot_id, 3001)]).json()["handled"] == 1
