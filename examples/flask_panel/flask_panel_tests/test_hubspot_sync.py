"""The Flask panel and HubSpot, tested with the plugin's test kit and Flask's test client."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from skypanel_hubspot_plugin.testing import HubSpotKit

from .helpers import log_in, open_ticket, sign_up

SETTINGS = "/api/admin/settings/hubspot/settings"


def test_a_sign_up_becomes_a_contact(panel: FlaskClient, hubspot: HubSpotKit) -> None:
    sign_up(panel, "ann@example.com", "Ann Lee")

    [sent] = hubspot.drain()

    assert (sent.kind, sent.record) == ("contact.upsert", "user:1")
    contact = hubspot.contact("ann@example.com")["properties"]
    assert (contact["firstname"], contact["lastname"]) == ("Ann", "Lee")


def test_a_rolled_back_sign_up_sends_nothing(panel: FlaskClient, hubspot: HubSpotKit) -> None:
    refused = panel.post(
        "/signup", json={"email": "bob@example.com", "name": "Bob", "promo_code": "FREE"}
    )
    assert refused.status_code == 400  # the hook ran, then the panel rolled back

    assert hubspot.drain() == []
    assert hubspot.outbox() == []
    assert hubspot.fake.contacts() == []


def test_a_ticket_becomes_a_hubspot_ticket_on_that_contact(
    panel: FlaskClient, hubspot: HubSpotKit
) -> None:
    ticket_id = open_ticket(panel, "Server down")

    hubspot.drain()

    ticket = hubspot.ticket(str(ticket_id))
    assert ticket["properties"]["subject"] == "Server down"
    contact = hubspot.contact("ann@example.com")
    assert hubspot.fake.associations("tickets", ticket["id"], "contacts") == [contact["id"]]


def test_a_ticket_closed_in_hubspot_closes_the_panel_ticket(
    panel: FlaskClient, hubspot: HubSpotKit
) -> None:
    ticket_id = open_ticket(panel)
    hubspot.drain()

    hubspot.close_ticket_in_hubspot(str(ticket_id))  # HubSpot's signed webhook reaches the app

    assert panel.get(f"/tickets/{ticket_id}").get_json()["status"] == "closed"


@pytest.mark.usefixtures("staff")
def test_only_staff_reach_the_hubspot_admin_api(panel: FlaskClient, hubspot: HubSpotKit) -> None:
    assert panel.get(SETTINGS).status_code == 401  # nobody logged in

    customer_csrf = sign_up(panel, "ann@example.com")
    assert panel.get(SETTINGS).status_code == 403
    refused = panel.post(
        SETTINGS, json={"hubspot_enabled": False}, headers={"X-CSRF-Token": customer_csrf}
    )
    assert refused.status_code == 403

    staff_csrf = log_in(panel, "staff@example.com")
    assert panel.get(SETTINGS).status_code == 200
    assert panel.post(SETTINGS, json={"hubspot_enabled": False}).status_code == 403  # no token
    assert hubspot.settings.enabled
    saved = panel.post(
        SETTINGS, json={"hubspot_enabled": False}, headers={"X-CSRF-Token": staff_csrf}
    )
    assert saved.status_code == 200
    assert not hubspot.settings.enabled


def test_the_chat_loader_carries_the_pages_csp_nonce(
    panel: FlaskClient, hubspot: HubSpotKit
) -> None:
    hubspot.configure(hubspot_chat_enabled=True)

    page = panel.get("/")

    nonce = re.search(r"'nonce-([^']+)'", page.headers["Content-Security-Policy"])
    assert nonce is not None
    html = page.get_data(as_text=True)
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts and all(f'nonce="{nonce.group(1)}"' in s for s in scripts), scripts


def test_flask_hubspot_sync_contacts_sends_every_customer(
    app: Flask, panel: FlaskClient, hubspot: HubSpotKit
) -> None:
    hubspot.configure(hubspot_enabled=False)  # customers who signed up before HubSpot was on
    sign_up(panel, "ann@example.com")
    sign_up(panel, "bob@example.com")
    hubspot.configure(hubspot_enabled=True)

    result = app.test_cli_runner().invoke(args=["hubspot", "sync-contacts"])

    assert result.exit_code == 0, result.output
    assert sorted(c["properties"]["email"] for c in hubspot.fake.contacts()) == [
        "ann@example.com",
        "bob@example.com",
    ]
