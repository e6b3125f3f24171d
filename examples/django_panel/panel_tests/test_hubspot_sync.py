"""The example Django panel and HubSpot, tested with the plugin's test kit and Django's
test client: no server, no sleep."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client

from skypanel_hubspot_plugin.testing import HubSpotKit

CONFIG = "/api/admin/settings/hubspot/config"


def sign_up(
    panel: Client, email: str = "ann@example.com", name: str = "Ann Lee", **more: str
) -> int:
    answer = panel.post("/signup", {"email": email, "name": name, **more})
    return answer.status_code


def open_ticket(panel: Client, subject: str = "Server down") -> str:
    sign_up(panel)
    answer = panel.post("/tickets", {"subject": subject, "body": "Since 9:00"})
    assert answer.status_code == 302, answer.content
    return answer["Location"].rsplit("/", 1)[1]


def test_a_sign_up_becomes_a_contact(panel: Client, hubspot: HubSpotKit) -> None:
    assert sign_up(panel) == 302

    [sent] = hubspot.drain()

    account = User.objects.get(email="ann@example.com")
    assert (sent.kind, sent.record) == ("contact.upsert", f"user:{account.pk}")
    contact = hubspot.contact("ann@example.com")["properties"]
    assert (contact["firstname"], contact["lastname"]) == ("Ann", "Lee")


def test_a_rolled_back_sign_up_sends_nothing(panel: Client, hubspot: HubSpotKit) -> None:
    assert sign_up(panel, plan="banned") == 422  # refused after the account was created

    assert hubspot.drain() == []
    assert hubspot.outbox() == []
    assert not User.objects.exists()
    assert hubspot.fake.contacts() == []


def test_a_ticket_becomes_a_hubspot_ticket_on_that_contact(
    panel: Client, hubspot: HubSpotKit
) -> None:
    ticket_id = open_ticket(panel, "Server down")

    hubspot.drain()

    ticket = hubspot.ticket(ticket_id)
    assert ticket["properties"]["subject"] == "Server down"
    contact = hubspot.contact("ann@example.com")
    assert hubspot.fake.associations("tickets", ticket["id"], "contacts") == [contact["id"]]


def test_a_ticket_closed_in_hubspot_closes_the_panel_ticket(
    panel: Client, hubspot: HubSpotKit
) -> None:
    ticket_id = open_ticket(panel)
    hubspot.drain()
    assert panel.get(f"/tickets/{ticket_id}").json()["status"] == "open"

    hubspot.close_ticket_in_hubspot(ticket_id)  # HubSpot's signed webhook reaches the app

    assert panel.get(f"/tickets/{ticket_id}").json()["status"] == "closed"


def test_anonymous_and_non_staff_users_are_refused_the_admin_routes(
    panel: Client, hubspot: HubSpotKit, staff: Client
) -> None:
    assert Client().get(CONFIG).status_code == 401
    sign_up(panel)  # signed in, as a customer
    assert panel.get(CONFIG).status_code == 403
    assert staff.get(CONFIG).status_code == 200


def test_the_pages_carry_the_chat_loader_once_the_chat_is_on(
    panel: Client, hubspot: HubSpotKit
) -> None:
    assert "hs-scripts" not in panel.get("/").content.decode()
    hubspot.configure(hubspot_chat_enabled=True)
    assert "hs-scripts" in panel.get("/").content.decode()
