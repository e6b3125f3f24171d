"""The Starlette panel and HubSpot, tested with the plugin's test kit."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from skypanel_hubspot_plugin.testing import HubSpotKit

SETTINGS = "/api/admin/settings/hubspot/settings"


def sign_up(panel: TestClient, email: str = "ann@example.com") -> str:
    response = panel.post("/signup", json={"email": email, "name": "Ann Lee"})
    assert response.status_code == 201, response.text
    return str(response.json()["csrf"])


def test_a_sign_up_becomes_a_contact(panel: TestClient, hubspot: HubSpotKit) -> None:
    sign_up(panel, "ann@example.com")

    [sent] = hubspot.drain()

    assert sent.record == "user:1"
    assert hubspot.contact("ann@example.com")["properties"]["firstname"] == "Ann"


def test_a_ticket_closed_in_hubspot_closes_the_panel_ticket(
    panel: TestClient, hubspot: HubSpotKit
) -> None:
    csrf = sign_up(panel)
    opened = panel.post("/tickets", json={"subject": "Disk full"}, headers={"X-CSRF-Token": csrf})
    assert opened.status_code == 201, opened.text
    ticket_id = opened.json()["id"]
    hubspot.drain()
    assert hubspot.ticket(str(ticket_id))["properties"]["subject"] == "Disk full"

    hubspot.close_ticket_in_hubspot(str(ticket_id))

    assert panel.get(f"/tickets/{ticket_id}").json()["status"] == "closed"


@pytest.mark.usefixtures("staff")
def test_only_staff_reach_the_hubspot_admin_api(panel: TestClient, hubspot: HubSpotKit) -> None:
    assert panel.get(SETTINGS).status_code == 401
    sign_up(panel)
    assert panel.get(SETTINGS).status_code == 403

    login = panel.post("/login", json={"email": "staff@example.com"})
    csrf = login.json()["csrf"]
    assert panel.get(SETTINGS).status_code == 200
    assert panel.post(SETTINGS, json={"hubspot_enabled": False}).status_code == 403
    saved = panel.post(SETTINGS, json={"hubspot_enabled": False}, headers={"X-CSRF-Token": csrf})
    assert saved.status_code == 200
    assert not hubspot.settings.enabled
