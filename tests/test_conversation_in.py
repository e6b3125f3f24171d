"""A support conversation coming back from HubSpot: agents' replies reach the panel's
``skypanel_on_hubspot_ticket_message`` once, in order, notes and the panel's own messages
never; tickets opened in HubSpot for panel users reach ``skypanel_on_hubspot_ticket_created``
once and are linked both ways. By polling and by webhooks, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from skypanel_hubspot_plugin import (
    HubSpotBornTicket,
    HubSpotTicketMessage,
    Ticket,
    TicketChange,
    User,
    hookimpl,
    runtime,
)
from skypanel_hubspot_plugin import plugin_manager as new_plugin_manager
from skypanel_hubspot_plugin.testing import HubSpotKit, hubspot_kit
from skypanel_hubspot_plugin.webhooks.events import parse_events
from skypanel_hubspot_plugin.webhooks.replies import html_to_text

ANN = User(id="1", email="ann@example.com", first_name="Ann")
T0 = 1_800_000_000_000


class Panel:
    """A host's side of the conversation: what each hook was handed, and its answers."""

    def __init__(self) -> None:
        self.changes: list[TicketChange] = []
        self.messages: list[HubSpotTicketMessage] = []
        self.born: list[HubSpotBornTicket] = []
        self.fail_messages = 0
        self.take_tickets = True

    @hookimpl
    def skypanel_on_hubspot_ticket_changed(self, change: TicketChange, session: Any) -> None:
        self.changes.append(change)

    @hookimpl
    def skypanel_on_hubspot_ticket_message(
        self, message: HubSpotTicketMessage, session: Any
    ) -> None:
        if self.fail_messages:
            self.fail_messages -= 1
            raise RuntimeError("the panel's database is away")
        self.messages.append(message)

    @hookimpl
    def skypanel_on_hubspot_ticket_created(
        self, ticket: HubSpotBornTicket, session: Any
    ) -> str | None:
        self.born.append(ticket)
        return f"hs-{ticket.hubspot_ticket_id}" if self.take_tickets else None


@pytest.fixture
def panel() -> Panel:
    return Panel()


@pytest.fixture
def kit(engine: Engine, panel: Panel) -> Iterator[HubSpotKit]:
    pm = new_plugin_manager()
    pm.register(panel)
    with hubspot_kit(engine=engine, plugin_manager=pm) as started:
        yield started


def open_ticket(kit: HubSpotKit, ticket_id: str = "7") -> str:
    """ANN signs up and opens a panel ticket; both reach HubSpot. Returns HubSpot's id."""
    kit.plugin_manager.hook.skypanel_on_user_created(user=ANN, session=None)
    ticket = Ticket(id=ticket_id, subject="Server down")
    kit.plugin_manager.hook.skypanel_on_ticket_created(ticket=ticket, user=ANN, session=None)
    kit.drain()
    return kit.hubspot_ticket_id(ticket_id)


def panel_message_in_hubspot(kit: HubSpotKit, hubspot_ticket_id: str, text: str) -> str:
    """A panel staff message as the plugin logs it: an outgoing email carrying its
    ``skypanel_message_id``."""
    fake = kit.fake
    if not fake.has_property("emails", "skypanel_message_id"):
        fake.add_property("emails", "skypanel_message_id")
    with fake._lock:
        email = fake._store.create(
            "emails",
            {
                "hs_timestamp": str(T0 + 5),
                "hs_email_direction": "EMAIL",
                "hs_email_text": text,
                "skypanel_message_id": "m-1",
                "hs_email_headers": json.dumps({"from": {"email": "staff@panel.example"}}),
            },
        )
        fake._store.associate("emails", email["id"], "tickets", hubspot_ticket_id)
    return str(email["id"])


# -- replies by polling ------------------------------------------------------------------------


def test_polled_replies_arrive_once_in_timeline_order_and_notes_never(
    kit: HubSpotKit, panel: Panel
) -> None:
    kit.configure(hubspot_ticket_sync="polling")
    hubspot_id = open_ticket(kit)
    later = kit.reply_as_agent("7", "Rebooted it for you.", at_ms=T0 + 2000)
    kit.add_internal_note("7", "Customer is on the legacy plan; do not refund.")
    earlier = kit.reply_as_agent("7", "Looking into it.", at_ms=T0 + 1000)

    assert kit.poll_conversations() == 2
    assert [m.hubspot_email_id for m in panel.messages] == [earlier, later]
    first = panel.messages[0]
    assert (first.ticket_id, first.hubspot_ticket_id, first.text) == (
        "7",
        hubspot_id,
        "Looking into it.",
    )
    assert first.author_email == "agent@support.example.com"
    assert first.author_name == "Alex Agent"
    assert int(first.sent_at.timestamp() * 1000) == T0 + 1000
    assert all("refund" not in m.text for m in panel.messages)

    assert kit.poll_conversations() == 0  # the overlap window reads them again: once each
    assert len(panel.messages) == 2


def test_the_panels_own_messages_and_the_customers_emails_never_come_back(
    kit: HubSpotKit, panel: Panel
) -> None:
    kit.configure(hubspot_ticket_sync="polling")
    hubspot_id = open_ticket(kit)
    panel_message_in_hubspot(kit, hubspot_id, "Staff answer written in the panel")
    with kit.fake._lock:
        incoming = kit.fake._store.create(
            "emails",
            {
                "hs_timestamp": str(T0),
                "hs_email_direction": "INCOMING_EMAIL",
                "hs_email_text": "Customer writing by mail",
            },
        )
        kit.fake._store.associate("emails", incoming["id"], "tickets", hubspot_id)
    kit.reply_as_agent("7", "An agent's answer")

    assert kit.poll_conversations() == 1
    assert [m.text for m in panel.messages] == ["An agent's answer"]


def test_a_reply_whose_hook_raises_comes_again_and_keeps_its_order(
    kit: HubSpotKit, panel: Panel
) -> None:
    kit.configure(hubspot_ticket_sync="polling")
    open_ticket(kit)
    first = kit.reply_as_agent("7", "one", at_ms=T0 + 1)
    second = kit.reply_as_agent("7", "two", at_ms=T0 + 2)
    panel.fail_messages = 1

    assert kit.poll_conversations() == 0
    assert panel.messages == []
    assert kit.poll_conversations() == 2
    assert [m.hubspot_email_id for m in panel.messages] == [first, second]


def test_replies_on_tickets_the_panel_does_not_know_are_left_alone(
    kit: HubSpotKit, panel: Panel
) -> None:
    kit.configure(hubspot_ticket_sync="polling")
    open_ticket(kit)
    stranger = kit.fake.open_ticket_as_agent("someone@example.com", "Not a panel ticket")
    kit.fake.reply_as_agent(stranger, "Hello stranger")

    assert kit.poll_conversations() == 0
    assert panel.messages == []


# -- replies by webhooks -----------------------------------------------------------------------


def test_generic_webhooks_bring_a_reply_at_once_and_once(kit: HubSpotKit, panel: Panel) -> None:
    kit.use_webhook_format("generic")
    hubspot_id = open_ticket(kit)
    email_id = kit.reply_as_agent("7", "Fixed.")

    assert [m.hubspot_email_id for m in panel.messages] == [email_id]
    kit.fake._send_association(hubspot_id, "emails", email_id, generic_only=True)  # redelivered
    kit.add_internal_note("7", "internal only")
    assert kit.poll_conversations() == 0  # the safety-net poll finds it handed on already
    assert [m.text for m in panel.messages] == ["Fixed."]


def test_legacy_webhooks_have_no_reply_events_and_the_poll_brings_replies(
    kit: HubSpotKit, panel: Panel
) -> None:
    open_ticket(kit)
    kit.reply_as_agent("7", "Fixed.")
    assert panel.messages == []
    assert kit.poll_conversations() == 1
    assert [m.text for m in panel.messages] == ["Fixed."]


def test_a_panel_message_tied_to_the_ticket_by_webhook_is_not_echoed(
    kit: HubSpotKit, panel: Panel
) -> None:
    kit.use_webhook_format("generic")
    hubspot_id = open_ticket(kit)
    email_id = panel_message_in_hubspot(kit, hubspot_id, "from the panel")
    kit.fake._send_association(hubspot_id, "emails", email_id, generic_only=True)
    assert panel.messages == []


# -- tickets opened in HubSpot -----------------------------------------------------------------


@pytest.mark.parametrize("sync", ["polling", "webhooks"])
def test_a_ticket_opened_in_hubspot_for_a_panel_user_is_imported_once_and_linked(
    kit: HubSpotKit, panel: Panel, sync: str
) -> None:
    kit.fake.add_pipeline("77", "Sales", [("s1", "New"), ("s2", "Done")])
    kit.configure(
        hubspot_ticket_sync=sync,
        hubspot_import_hubspot_tickets=True,
        hubspot_import_pipelines="0",
    )
    open_ticket(kit)  # ANN is a HubSpot contact linked to panel user 1
    hubspot_id = kit.open_ticket_in_hubspot("ann@example.com", "Chat: cannot log in", "Help")
    kit.fake.open_ticket_as_agent("ann@example.com", "Sales question", pipeline="77", stage="s1")
    kit.fake.open_ticket_as_agent("nobody@example.com", "Not a panel user")
    kit.poll_conversations()
    kit.poll_conversations()

    assert [t.hubspot_ticket_id for t in panel.born] == [hubspot_id]
    born = panel.born[0]
    assert (born.user_id, born.contact_email, born.subject, born.content) == (
        "1",
        "ann@example.com",
        "Chat: cannot log in",
        "Help",
    )
    assert born.status == "open"
    assert kit.hubspot_ticket_id(f"hs-{hubspot_id}") == hubspot_id

    # Linked both ways: the panel's update goes to that ticket and marks it as the panel's,
    kit.plugin_manager.hook.skypanel_on_ticket_updated(
        ticket=Ticket(id=f"hs-{hubspot_id}", subject="Cannot log in", status="closed"),
        changed=frozenset({"subject"}),
        session=None,
    )
    kit.drain()
    ticket = kit.ticket(f"hs-{hubspot_id}")["properties"]
    assert ticket["subject"] == "Cannot log in"
    assert ticket["skypanel_ticket_id"] == f"hs-{hubspot_id}"
    # and an agent's change and reply reach the panel ticket.
    kit.change_ticket_in_hubspot(f"hs-{hubspot_id}", {"hs_ticket_priority": "HIGH"})
    if sync == "polling":
        kit.poll()
    assert [c.changes for c in panel.changes if c.ticket_id == f"hs-{hubspot_id}"] == [
        {"hs_ticket_priority": "HIGH"}
    ]
    kit.reply_as_agent(f"hs-{hubspot_id}", "We reset your password.")
    kit.poll_conversations()
    assert [(m.ticket_id, m.text) for m in panel.messages] == [
        (f"hs-{hubspot_id}", "We reset your password.")
    ]
    assert len(panel.born) == 1


def test_a_ticket_the_panel_declines_is_not_offered_again(kit: HubSpotKit, panel: Panel) -> None:
    kit.configure(hubspot_ticket_sync="polling", hubspot_import_hubspot_tickets=True)
    open_ticket(kit)
    panel.take_tickets = False
    kit.open_ticket_in_hubspot("ann@example.com", "Chat transcript")
    kit.poll_conversations()
    panel.take_tickets = True
    kit.poll_conversations()
    assert len(panel.born) == 1


def test_tickets_stay_in_hubspot_while_import_is_off(kit: HubSpotKit, panel: Panel) -> None:
    kit.configure(hubspot_ticket_sync="polling")
    open_ticket(kit)
    kit.open_ticket_in_hubspot("ann@example.com", "Chat transcript")
    kit.poll_conversations()
    assert panel.born == []


def test_the_import_pipelines_setting_is_checked() -> None:
    from skypanel_hubspot_plugin.settings.model import parse_pipeline_list

    assert parse_pipeline_list(" 0, 12345,0 ") == "0,12345"
    assert parse_pipeline_list("") == ""
    with pytest.raises(ValueError, match="pipeline ids"):
        parse_pipeline_list("0; drop")


# -- what comes from outside -------------------------------------------------------------------


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(min_size=1, max_size=300).filter(lambda t: t.strip() == t and t))
def test_any_reply_text_reaches_the_panel_as_written(
    kit: HubSpotKit, panel: Panel, text: str
) -> None:
    if kit.settings.ticket_sync != "polling":
        kit.configure(hubspot_ticket_sync="polling")
        open_ticket(kit)
    kit.reply_as_agent("7", text)
    kit.poll_conversations()
    assert panel.messages[-1].text == text


@given(markup=st.text(max_size=200))
def test_any_html_body_reads_as_text_without_markup(markup: str) -> None:
    text = html_to_text(markup)
    assert "<script" not in text.lower() or "<script" in markup.lower()
    assert isinstance(text, str)


@given(
    removed=st.booleans(),
    to_type=st.sampled_from(["0-49", "0-1", "0-46", "TICKET_TO_CONTACT"]),
    ids=st.tuples(st.integers(1, 10**12), st.integers(1, 10**12)),
)
def test_association_change_events_parse_in_both_formats(
    removed: bool, to_type: str, ids: tuple[int, int]
) -> None:
    generic = not to_type.startswith("TICKET")
    raw = {
        "eventId": 1,
        "portalId": 2,
        "occurredAt": T0,
        "subscriptionType": "object.associationChange" if generic else "ticket.associationChange",
        "fromObjectId": ids[0],
        "toObjectId": ids[1],
        "associationRemoved": removed,
        **(
            {"fromObjectTypeId": "0-5", "toObjectTypeId": to_type}
            if generic
            else {"associationType": to_type}
        ),
    }
    [event] = parse_events(json.dumps([raw]).encode())
    assert event.is_ticket
    assert (event.object_id, event.to_object_id) == (str(ids[0]), str(ids[1]))
    assert event.to_object_type == to_type
    assert event.association_removed is removed


# -- test connection ---------------------------------------------------------------------------


def test_test_connection_says_the_conversation_needs_the_email_scope(kit: HubSpotKit) -> None:
    from skypanel_hubspot_plugin.admin.connection_test import check_connection
    from skypanel_hubspot_plugin.testing import ALL_SCOPES, FAKE_TOKEN

    kit.configure(hubspot_ticket_sync="polling")
    kit.fake.add_token("pat-na1-noemail", scopes=ALL_SCOPES - {"sales-email-read"})
    settings = kit.configure(hubspot_api_key="pat-na1-noemail")
    rt = runtime.current()
    result = check_connection(settings, rt.service())
    assert result.success  # the rest works: only the conversation is unavailable
    assert any("sales-email-read" in w and "replies" in w for w in result.warnings)
    assert any("sales-email-read" in w and "messages" in w for w in result.warnings)

    full = kit.configure(hubspot_api_key=FAKE_TOKEN)
    assert not any("sales-email-read" in w for w in check_connection(full, rt.service()).warnings)
