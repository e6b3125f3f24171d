"""The fake HubSpot's emails and notes: logged on tickets through HubSpot's paths, played by
an agent through the control methods and the ``/_fake/`` API, read back as a thread.

Every exchange over HubSpot's paths is checked against the vendored specs of its version.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import urllib3
from conformance import violations

from skypanel_hubspot_plugin.hubspot.versions import SUPPORTED, version_named
from skypanel_hubspot_plugin.testing import FAKE_TOKEN, FakeHubSpot
from skypanel_hubspot_plugin.testing.fake_control import ControlApi

pytestmark = pytest.mark.filterwarnings("ignore:Unsupported scheme type:UserWarning")

HTTP = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2.0, read=10.0))


def call(
    fake: FakeHubSpot, method: str, path: str, body: Any = None, token: str = FAKE_TOKEN
) -> tuple[int, Any]:
    response = HTTP.request(
        method,
        fake.base_url + path,
        body=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    return response.status, (json.loads(response.data) if response.data else None)


def ticket_with_contact(fake: FakeHubSpot, version: str) -> tuple[str, str]:
    v = version_named(version)
    status, contact = call(
        fake,
        "POST",
        v.objects("contacts"),
        {"properties": {"email": "ada@example.com"}, "associations": []},
    )
    assert status == 201, contact
    status, ticket = call(
        fake,
        "POST",
        v.objects("tickets"),
        {
            "properties": {"subject": "Server down", "hs_pipeline": "0", "hs_pipeline_stage": "1"},
            "associations": [
                {
                    "to": {"id": contact["id"]},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 16}],
                }
            ],
        },
    )
    assert status == 201, ticket
    return ticket["id"], contact["id"]


@pytest.mark.parametrize("version", SUPPORTED)
def test_an_email_logged_on_a_ticket_is_in_its_thread(fake: FakeHubSpot, version: str) -> None:
    v = version_named(version)
    ticket_id, contact_id = ticket_with_contact(fake, version)
    headers = {
        "from": {"email": "ada@example.com", "firstName": "Ada", "lastName": "L"},
        "to": [{"email": "support@panel.example.com"}],
        "cc": [],
        "bcc": [],
    }
    status, email = call(
        fake,
        "POST",
        v.objects("emails"),
        {
            "properties": {
                "hs_timestamp": "2026-11-25T10:00:00.000Z",
                "hs_email_direction": "INCOMING_EMAIL",
                "hs_email_status": "SENT",
                "hs_email_subject": "Re: Server down",
                "hs_email_text": "It is still down.",
                "hs_email_headers": json.dumps(headers),
            },
            "associations": [
                {
                    "to": {"id": ticket_id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 224}],
                },
                {
                    "to": {"id": contact_id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 198}],
                },
            ],
        },
    )
    assert status == 201, email
    assert email["properties"]["hs_email_from_email"] == "ada@example.com"
    assert fake.associations("tickets", ticket_id, "emails") == [email["id"]]
    fake.reply_as_agent(ticket_id, "We are on it.")
    fake.add_internal_note(ticket_id, "Disk full on node 3.")

    thread = fake.thread(ticket_id)
    assert [(e["kind"], e["text"]) for e in thread] == [
        ("incoming", "It is still down."),
        ("outgoing", "We are on it."),
        ("note", "Disk full on node 3."),
    ]
    assert thread[0]["time"] == 1795600800000
    assert thread[1]["properties"]["hs_email_subject"] == "Re: Server down"
    assert fake.associations("contacts", contact_id, "emails") == sorted(
        [email["id"], thread[1]["id"]], key=int
    )
    found = violations(version, [r for r in fake.requests])
    assert not found, "\n".join(str(v) for v in found)


def test_hubspots_rules_on_engagements(fake: FakeHubSpot) -> None:
    v = version_named("2026-09")
    ticket_id, _ = ticket_with_contact(fake, "2026-09")
    no_time = call(
        fake,
        "POST",
        v.objects("emails"),
        {"properties": {"hs_email_text": "x"}, "associations": []},
    )
    assert no_time[0] == 400 and "hs_timestamp" in no_time[1]["message"]
    bad_direction = call(
        fake,
        "POST",
        v.objects("emails"),
        {"properties": {"hs_timestamp": "1", "hs_email_direction": "outgoing"}, "associations": []},
    )
    assert bad_direction[0] == 400
    wrong_type = call(
        fake,
        "POST",
        v.objects("notes"),
        {
            "properties": {"hs_timestamp": "1", "hs_note_body": "x"},
            "associations": [
                {
                    "to": {"id": ticket_id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 224}],
                }
            ],
        },
    )
    assert wrong_type[0] == 400
    assert fake.notes() == []

    fake.add_token(
        "no-email-scope", {"crm.objects.contacts.read", "crm.objects.contacts.write", "tickets"}
    )
    status, answer = call(fake, "GET", v.objects("emails"), token="no-email-scope")
    assert status == 403 and answer["errors"][0]["context"]["requiredGranularScopes"] == [
        "sales-email-read"
    ]
    assert call(fake, "GET", v.objects("notes"), token="no-email-scope")[0] == 200


def test_the_control_api_plays_the_agent(fake: FakeHubSpot) -> None:
    ticket_id, _ = ticket_with_contact(fake, "2026-09")
    control = ControlApi(fake)
    assert (
        control.handle(
            "POST", f"/_fake/tickets/{ticket_id}/note", b'{"text": "first", "timestamp": 5}'
        )[0]
        == 200
    )
    status, answer = control.handle(
        "POST", f"/_fake/tickets/{ticket_id}/reply", b'{"text": "hello", "timestamp": 9}'
    )
    assert status == 200 and answer["id"]
    status, answer = control.handle("GET", f"/_fake/tickets/{ticket_id}/thread", b"")
    assert status == 200
    assert [(e["kind"], e["text"], e["time"]) for e in answer["thread"]] == [
        ("note", "first", 5),
        ("outgoing", "hello", 9),
    ]
    assert answer["thread"][1]["properties"]["hs_email_to_email"] == "ada@example.com"
    assert control.handle("POST", f"/_fake/tickets/{ticket_id}/reply", b"{}")[0] == 400
    assert control.handle("GET", "/_fake/tickets/999999/thread", b"")[0] == 404
    status, state = control.handle("GET", "/_fake/state", b"")
    assert len(state["emails"]) == 1 and len(state["notes"]) == 1
