"""The panel and HubSpot, tested with the plugin's test kit: no server, no sleep, no loop."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from skypanel_hubspot_plugin.testing import DeliveryParked, HubSpotKit

from .helpers import ADMIN, open_ticket, sign_up

DELIVERIES = "/api/admin/settings/hubspot/deliveries"


def test_a_sign_up_becomes_a_contact(panel: TestClient, hubspot: HubSpotKit) -> None:
    sign_up(panel, "ann@example.com", "Ann Lee")

    [sent] = hubspot.drain()

    assert (sent.kind, sent.record) == ("contact.upsert", "user:1")
    contact = hubspot.contact("ann@example.com")["properties"]
    assert (contact["firstname"], contact["lastname"]) == ("Ann", "Lee")


def test_a_ticket_becomes_a_hubspot_ticket_on_that_contact(
    panel: TestClient, hubspot: HubSpotKit
) -> None:
    ticket_id = open_ticket(panel, "Server down")

    hubspot.drain()

    ticket = hubspot.ticket(ticket_id)
    assert ticket["properties"]["subject"] == "Server down"
    contact = hubspot.contact("ann@example.com")
    assert hubspot.fake.associations("tickets", ticket["id"], "contacts") == [contact["id"]]


def test_a_ticket_closed_in_hubspot_closes_the_panel_ticket_by_webhook(
    panel: TestClient, hubspot: HubSpotKit
) -> None:
    ticket_id = open_ticket(panel)
    hubspot.drain()

    hubspot.close_ticket_in_hubspot(ticket_id)  # HubSpot's signed webhook reaches the app

    assert panel.get(f"/tickets/{ticket_id}").json()["status"] == "closed"


def test_a_ticket_closed_in_hubspot_closes_the_panel_ticket_by_polling(
    panel: TestClient, hubspot: HubSpotKit
) -> None:
    hubspot.configure(hubspot_ticket_sync="polling")
    ticket_id = open_ticket(panel)
    hubspot.drain()

    hubspot.close_ticket_in_hubspot(ticket_id)
    assert panel.get(f"/tickets/{ticket_id}").json()["status"] == "open"  # not polled yet
    changes = hubspot.poll()

    assert changes == 1
    assert panel.get(f"/tickets/{ticket_id}").json()["status"] == "closed"


def test_a_parked_delivery_is_visible_and_replayable(
    panel: TestClient, hubspot: HubSpotKit
) -> None:
    hubspot.fake.fail_next(400)  # HubSpot refuses the contact once, for good
    sign_up(panel, "ann@example.com")

    with pytest.raises(DeliveryParked, match=r"contact\.upsert #1 \(user:1\)") as parked:
        hubspot.drain()
    [entry] = parked.value.entries
    shown = panel.get(DELIVERIES, headers=ADMIN).json()["deliveries"]  # the admin's list
    assert [(d["id"], d["lastError"]) for d in shown] == [(entry.id, entry.last_error)]

    panel.post(f"{DELIVERIES}/replay", json={"ids": [entry.id]}, headers=ADMIN)
    hubspot.drain()
    assert hubspot.contact("ann@example.com")
    assert hubspot.outbox("parked") == []


def test_a_retry_comes_due_when_the_clock_moves(panel: TestClient, hubspot: HubSpotKit) -> None:
    hubspot.fake.fail_next(503)  # HubSpot is down for a moment
    sign_up(panel)

    assert hubspot.drain() == []
    [waiting] = hubspot.outbox("queued")
    assert waiting.attempts == 1 and "next attempt" in (waiting.waiting_for or "")

    hubspot.advance(60)
    assert [d.record for d in hubspot.drain()] == ["user:1"]


def test_every_panel_user_can_be_synced(panel: TestClient, hubspot: HubSpotKit) -> None:
    hubspot.configure(hubspot_enabled=False)  # users who signed up before HubSpot was on
    sign_up(panel, "ann@example.com")
    sign_up(panel, "bob@example.com")

    hubspot.configure(hubspot_enabled=True)
    assert hubspot.sync_contacts() == 2
    hubspot.drain()

    assert sorted(c["properties"]["email"] for c in hubspot.fake.contacts()) == [
        "ann@example.com",
        "bob@example.com",
    ]
