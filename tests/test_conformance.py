"""Every request the plugin makes, and every 2xx answer of the fake, match HubSpot's specs.

For each API version the plugin speaks, the plugin runs every flow against the fake HubSpot
(test connection, contacts, event delivery one by one and in batches, tickets with their
contact, updates, a ticket's messages as emails on it, deletes, GDPR erasure, properties, pipelines, visitor identification,
the ticket search that polling uses);
then each recorded exchange is validated against that version's vendored OpenAPI specs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from conformance import check, violations
from conftest import start_plugin
from sqlalchemy import Engine
from sqlmodel import Session, select

from skypanel_hubspot_plugin import HubSpotBornTicket, Ticket, TicketMessage, User, hookimpl
from skypanel_hubspot_plugin.admin.connection_test import check_connection
from skypanel_hubspot_plugin.delivery.outbox_table import DELIVERED, OutboxRow
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.hubspot import conversation_reads as reads
from skypanel_hubspot_plugin.hubspot.versions import DEFAULT_VERSION, SUPPORTED
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot
from skypanel_hubspot_plugin.testing.fake_hubspot import RecordedRequest
from skypanel_hubspot_plugin.webhooks.conversation_poll import ConversationPoller, contact_email
from skypanel_hubspot_plugin.webhooks.polling import TicketPoller

#: openapi-core cannot check OAuth 2 flows (it says so once per spec); the bearer is sent.
pytestmark = pytest.mark.filterwarnings("ignore:Unsupported scheme type:UserWarning")

NUMBERED_CRM = re.compile(r"^/crm/v\d+/")


def user(n: int) -> User:
    return User(id=str(n), email=f"user{n}@example.com", first_name=f"User{n}", last_name="Test")


@pytest.fixture
def plugin(pm, sqlite_engine: Engine, secret_key: str, fake: FakeHubSpot) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    """The plugin through its hooks, with no worker thread: the test runs the worker's steps."""
    yield start_plugin(pm, sqlite_engine, secret_key, fake.base_url, run_worker=False)
    pm.hook.skypanel_shutdown()


def deliver_all(rt: Runtime, engine: Engine) -> None:
    """Runs the worker until the outbox is drained, and checks every row was delivered."""
    worker = Worker(rt)
    for _ in range(50):
        if worker.run_once() == 0:
            break
    with Session(engine) as session:
        statuses = {r.kind: r.status for r in session.exec(select(OutboxRow))}
    assert set(statuses.values()) <= {DELIVERED}, statuses


def drive_every_flow(
    pm,  # type: ignore[no-untyped-def]
    rt: Runtime,
    engine: Engine,
    fake: FakeHubSpot,
    settings: dict[str, object],
) -> None:
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_ticket_enabled": True,
            "hubspot_user_deleted_action": "gdpr_delete",
            **settings,
        }
    )
    service = rt.service()
    result = check_connection(rt.settings(), service, today=date(2026, 11, 25))
    assert result.success, result.message

    # Contacts, one at a time and as a batch, then changed and erased.
    pm.hook.skypanel_on_user_created(user=user(1), session=None)
    deliver_all(rt, engine)
    for n in range(2, 6):
        pm.hook.skypanel_on_user_created(user=user(n), session=None)
    deliver_all(rt, engine)
    pm.hook.skypanel_on_user_updated(
        user=User(id="2", email="user2@example.com", first_name="Renamed"),
        changed=frozenset({"first_name"}),
        session=None,
    )
    deliver_all(rt, engine)

    # A ticket (whose property the first ticket creates), tied to its contact, then updated.
    pm.hook.skypanel_on_ticket_created(
        ticket=Ticket(id="T-1", subject="Server down", priority="high", status="open"),
        user=user(1),
        session=None,
    )
    deliver_all(rt, engine)
    pm.hook.skypanel_on_ticket_updated(
        ticket=Ticket(id="T-1", subject="Server down", status="closed", priority="low"),
        changed=frozenset({"status", "priority"}),
        session=None,
    )
    deliver_all(rt, engine)

    # The ticket's conversation: emails on it (whose property the first message creates).
    for n, kind in enumerate(("customer", "staff")):
        pm.hook.skypanel_on_ticket_message_added(
            message=TicketMessage(
                id=f"M-{n}",
                ticket_id="T-1",
                author_kind=kind,  # type: ignore[arg-type]
                body=f"Message {n}",
                sent_at=datetime(2026, 11, 25, 9, n, tzinfo=UTC),
                author_name="Ada Lovelace",
                author_email="user1@example.com",
            ),
            session=None,
        )
    deliver_all(rt, engine)
    assert [e["kind"] for e in fake.thread(fake.tickets()[0]["id"])] == ["incoming", "outgoing"]
    pm.hook.skypanel_on_user_deleted(user=user(5), session=None)
    deliver_all(rt, engine)
    assert fake.contact_by_email("user5@example.com") is None

    # What the admin pages and the chat call directly.
    ticket_id = fake.tickets()[0]["id"]
    assert fake.associations("tickets", ticket_id, "contacts")
    first = service.list_contacts(limit=2)
    assert first.after is not None
    assert len(service.list_contacts(limit=2, after=first.after).results) == 2
    assert service.list_tickets(limit=1).results
    assert service.get_ticket(ticket_id) is not None
    assert service.get_contact_by_email("user1@example.com") is not None
    assert service.get_contact_by_email("nobody@example.com") is None
    created = service.create_contact({"email": "direct@example.com", "firstname": "Direct"})
    service.update_contact(created.id, {"lastname": "Changed"})
    service.archive_contact(created.id)
    service.associate_ticket_with_contact(
        ticket_id, fake.contact_by_email("user2@example.com")["id"]
    )
    assert {p.name for p in service.properties("tickets")} >= {"subject", "skypanel_ticket_id"}
    assert ("HIGH", "High") in service.property_options("tickets", "hs_ticket_priority")
    assert service.pipelines("tickets")[0].stage_ids[0] == "1"
    service.ensure_ticket_id_property()  # there already: one read, nothing created
    assert service.visitor_token("user1@example.com", "User1", "Test")
    contact_id = fake.contact_by_email("user3@example.com")["id"]  # type: ignore[index]
    admin_ticket = service.create_ticket({"subject": "Opened by an admin"}, contact_id=contact_id)
    assert fake.associations("tickets", admin_ticket.id, "contacts") == [contact_id]

    # Properties HubSpot's users own: batch reads by email, by id and by the panel ticket id.
    fake.add_property("tickets", "panel_server")
    rt.store.save(
        {
            "hubspot_contact_property_map": json.dumps(
                {
                    "email": "email",
                    "first_name": "firstname",
                    "company": {"property": "company", "mode": "fill_if_empty"},
                    "phone": {"property": "phone", "mode": "on_create"},
                }
            ),
            "hubspot_ticket_property_map": json.dumps(
                {"server": {"property": "panel_server", "mode": "fill_if_empty"}}
            ),
        }
    )
    owner = User(id="6", email="user6@example.com", company="Six Co", phone="+1 555 0106")
    pm.hook.skypanel_on_user_created(user=owner, session=None)
    deliver_all(rt, engine)
    pm.hook.skypanel_on_user_updated(
        user=User(id="6", email="user6@example.com", company="Later Co", phone="+1 555 0107"),
        changed=frozenset({"company", "phone"}),
        session=None,
    )
    server = Ticket(id="T-2", subject="Slow disk", extra={"server": "vps-2"})
    pm.hook.skypanel_on_ticket_created(ticket=server, user=owner, session=None)
    deliver_all(rt, engine)
    pm.hook.skypanel_on_ticket_updated(
        ticket=Ticket(id="T-2", subject="Slow disk", extra={"server": "vps-3"}),
        changed=frozenset({"extra"}),
        session=None,
    )
    deliver_all(rt, engine)
    assert not service.read_contacts(
        ["nobody@example.com"], ["company"], id_property="email"
    ).results
    assert sum(r.path.endswith("/batch/read") for r in fake.requests) >= 4

    # Polling for ticket changes: the worker's search, paged.
    fake.change_ticket(ticket_id, {"hs_pipeline_stage": "2"})
    rt.store.save({"hubspot_ticket_sync": "polling"})
    poller = TicketPoller(rt, interval_s=0, page_size=1)
    poller.poll_if_due()
    page = service.search_tickets_modified_since(
        0, ["hs_pipeline_stage"], has_property="skypanel_ticket_id", limit=1
    )
    assert page.results and page.total >= 1

    # The conversation coming back: an agent's reply and a ticket opened in HubSpot, found
    # by polling (search, batch reads of associations) and read as a webhook would.
    pm.register(ConversationHost())
    rt.plugin_manager = pm
    rt.store.save({"hubspot_import_hubspot_tickets": True})
    email_id = fake.reply_as_agent(ticket_id, "An agent's answer")
    fake.open_ticket_as_agent("user2@example.com", "Opened by an agent")
    assert ConversationPoller(rt, interval_s=0).poll_if_due() >= 2
    assert reads.get_record(service, "emails", email_id, reads.EMAIL_PROPERTIES) is not None
    assert contact_email(service, contact_id) == "user3@example.com"


class ConversationHost:
    """Takes agents' replies and tickets opened in HubSpot."""

    @hookimpl
    def skypanel_on_hubspot_ticket_message(self, message: object, session: object) -> None:
        pass

    @hookimpl
    def skypanel_on_hubspot_ticket_created(self, ticket: HubSpotBornTicket, session: object) -> str:
        return f"born-{ticket.hubspot_ticket_id}"


def exchanges(fake: FakeHubSpot) -> list[RecordedRequest]:
    return [r for r in fake.requests if not r.path.startswith("/submissions/")]


@pytest.mark.parametrize("version", SUPPORTED)
def test_every_request_and_answer_matches_hubspots_spec(  # type: ignore[no-untyped-def]
    version: str, pm, plugin: Runtime, sqlite_engine: Engine, fake: FakeHubSpot
) -> None:
    drive_every_flow(pm, plugin, sqlite_engine, fake, {"hubspot_api_version": version})
    recorded = exchanges(fake)

    assert len(recorded) > 20
    assert any(r.status == 201 and "/associations/" in r.path for r in recorded)
    found = violations(version, recorded)
    assert not found, "\n".join(str(v) for v in found)


def test_by_default_no_request_is_on_a_numbered_crm_path(  # type: ignore[no-untyped-def]
    pm, plugin: Runtime, sqlite_engine: Engine, fake: FakeHubSpot
) -> None:
    drive_every_flow(pm, plugin, sqlite_engine, fake, {})
    assert plugin.api_version() == DEFAULT_VERSION
    paths = {r.path for r in fake.requests}
    assert any(p.startswith(f"/crm/objects/{DEFAULT_VERSION}/") for p in paths)
    assert not [p for p in paths if NUMBERED_CRM.match(p)]
    assert not [p for p in paths if "/v3/" in p and not p.startswith("/submissions/")]


def test_the_suite_catches_a_request_hubspot_would_not_accept(fake: FakeHubSpot) -> None:
    """The checker itself: a body missing a required field, and a wrong answer, are caught."""
    no_context = RecordedRequest(
        "POST",
        "/visitor-identification/2026-03/tokens/create",
        {},
        {"email": "a@example.com"},
        200,
        {"token": "t"},
        authorized=True,
    )
    assert check("2026-03", no_context)
    assert not check(
        "2026-09",
        RecordedRequest(
            **{**no_context.__dict__, "path": "/visitor-identification/2026-09/tokens/create"}
        ),
    )
    integer_ids = RecordedRequest(
        "PUT",
        "/crm/objects/2026-09/tickets/1/associations/contacts/2",
        {},
        [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 16}],
        201,
        {
            "fromObjectTypeId": "0-5",
            "fromObjectId": 1,
            "toObjectTypeId": "0-1",
            "toObjectId": 2,
            "labels": [],
        },
        authorized=True,
    )
    assert check("2026-09", integer_ids)
    unknown = RecordedRequest(
        "GET", "/crm/objects/2026-09/contacts/1/nowhere", {}, None, 200, {}, True
    )
    assert check("2026-09", unknown)
