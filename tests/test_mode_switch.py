"""Each ticket change made in HubSpot reaches the host once, whatever the interleaving of
webhook deliveries (HubSpot's retries included), switches between webhooks and polling,
and polls."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import start_plugin
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from test_polling import open_tickets, wait_until
from test_webhooks import BASE, SECRET, PanelTickets, post
from test_webhooks import panel_tickets as panel_tickets

from skypanel_hubspot_plugin.admin.fastapi_adapter import public_router
from skypanel_hubspot_plugin.common import clock
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot
from skypanel_hubspot_plugin.webhooks.polling import TicketPoller, modified_ms

_subjects = itertools.count(1)
_event_ids = itertools.count(50_000_001)


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(search_rate_limit=None) as hubspot:
        yield hubspot


@pytest.fixture
def rt(
    pm, engine: Engine, secret_key: str, fake: FakeHubSpot, panel_tickets: PanelTickets
) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    runtime = start_plugin(
        pm,
        engine,
        secret_key,
        fake.base_url,
        plugin_manager=pm,
        public_base_url=BASE,
        run_worker=False,
    )
    runtime.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_ticket_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_app_secret": SECRET,
            "hubspot_ticket_sync": "webhooks",
        }
    )
    yield runtime
    pm.hook.skypanel_shutdown()


def change_event(hubspot_id: str, name: str, value: str, occurred_at_ms: int) -> dict[str, Any]:
    return {
        "eventId": next(_event_ids),
        "subscriptionId": 9,
        "portalId": FAKE_PORTAL_ID,
        "appId": 1,
        "occurredAt": occurred_at_ms,
        "subscriptionType": "ticket.propertyChange",
        "attemptNumber": 0,
        "objectId": int(hubspot_id),
        "propertyName": name,
        "propertyValue": value,
        "changeSource": "CRM_UI",
    }


def agent_changes(fake: FakeHubSpot, hubspot_id: str, name: str, value: str) -> dict[str, Any]:
    """An agent's change in HubSpot (the fake has no subscription: nothing is delivered) and
    the webhook event HubSpot keeps for it, occurred at the ticket's new modification time.
    Returns once HubSpot's clock has passed that millisecond, so no two changes share one."""
    fake.change_ticket(hubspot_id, {name: value})
    [ticket] = [t for t in fake.tickets() if t["id"] == hubspot_id]
    at = modified_ms(ticket["properties"]["hs_lastmodifieddate"])
    assert at is not None
    wait_until(lambda: clock.now() * 1000 >= at + 1, what="the next millisecond")
    return change_event(hubspot_id, name, value, at)


steps = st.lists(
    st.one_of(
        st.tuples(st.just("change"), st.integers(0, 1)),
        st.tuples(st.just("deliver"), st.integers(0, 3)),  # the next one, or a retry
        st.tuples(st.just("switch"), st.sampled_from(["webhooks", "polling"])),
        st.tuples(st.just("poll"), st.just(0)),
    ),
    min_size=1,
    max_size=10,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=steps)
def test_each_change_reaches_the_host_once_across_mode_switches(
    pm, rt: Runtime, fake: FakeHubSpot, panel_tickets: PanelTickets, steps: list[tuple[str, Any]]
) -> None:  # type: ignore[no-untyped-def]
    if not hasattr(rt, "_tickets_for_test"):
        rt._tickets_for_test = list(open_tickets(pm, rt, 2).values())  # type: ignore[attr-defined]
    tickets: list[str] = rt._tickets_for_test  # type: ignore[attr-defined]
    app = FastAPI()
    app.include_router(public_router(pm))
    client = TestClient(app)
    polls = TicketPoller(rt, interval_s=0, overlap_s=600, lease_s=5, search_per_second=1000)
    pending: list[dict[str, Any]] = []  # HubSpot's events in order, not yet acknowledged
    sent: list[dict[str, Any]] = []  # acknowledged: HubSpot may still send one again
    before = len(panel_tickets.calls)

    def deliver(events: list[dict[str, Any]]) -> None:
        assert post(client, events).status_code == 200

    for kind, arg in steps:
        if kind == "change":
            # numbered in the order HubSpot's changes are made, on every ticket
            pending.append(
                agent_changes(fake, tickets[arg], "subject", f"subject {next(_subjects)}")
            )
        elif kind == "deliver" and (pending or sent):
            if arg and sent:
                deliver([sent[arg % len(sent)]])  # HubSpot delivers an event again
            elif pending:
                sent.append(pending.pop(0))
                deliver([sent[-1]])
        elif kind == "switch":
            rt.store.save({"hubspot_ticket_sync": arg})
        elif kind == "poll":
            polls.poll_if_due()
    # HubSpot delivers what it has left; a last poll finds anything else
    rt.store.save({"hubspot_ticket_sync": "webhooks"})
    for pending_event in pending:
        deliver([pending_event])
    rt.store.save({"hubspot_ticket_sync": "polling"})
    polls.poll_if_due()
    rt.store.save({"hubspot_ticket_sync": "webhooks"})

    told = [c.changes.get("subject") for c in panel_tickets.calls[before:]]
    twice = [s for s, n in Counter(told).items() if s is not None and n > 1]
    assert not twice, f"handed to the host twice: {twice} after {json.dumps(steps)}"
    # The host never goes back: each ticket's subjects reach it in HubSpot's order.
    heard: dict[str, list[int]] = {}
    for call in panel_tickets.calls:
        if "subject" in call.changes:
            number = int(call.changes["subject"].removeprefix("subject "))
            heard.setdefault(call.hubspot_ticket_id, []).append(number)
    for ticket_id, numbers in heard.items():
        assert numbers == sorted(set(numbers)), (
            f"ticket {ticket_id} heard subjects {numbers} after {json.dumps(steps)}"
        )
    last: dict[str, str] = {}
    for change in panel_tickets.calls:
        if "subject" in change.changes:
            last[change.hubspot_ticket_id] = change.changes["subject"]
    for ticket in fake.tickets():
        if ticket["id"] in tickets and ticket["id"] in last:
            assert last[ticket["id"]] == ticket["properties"]["subject"]


def _client(pm) -> TestClient:  # type: ignore[no-untyped-def]
    app = FastAPI()
    app.include_router(public_router(pm))
    return TestClient(app)


def _heard(panel_tickets: PanelTickets) -> list[dict[str, str]]:
    return [dict(c.changes) for c in panel_tickets.calls]


def test_webhooks_older_than_what_a_poll_told_are_not_handed_on(
    pm, rt: Runtime, fake: FakeHubSpot, panel_tickets: PanelTickets
) -> None:  # type: ignore[no-untyped-def]
    """An agent changes the subject twice; a poll tells the host the latest; then HubSpot's
    webhooks for both changes arrive, in order: the host hears neither again."""
    [hubspot_id] = open_tickets(pm, rt, 1).values()
    client = _client(pm)
    first = agent_changes(fake, hubspot_id, "subject", "subject 3")
    second = agent_changes(fake, hubspot_id, "subject", "subject 4")
    rt.store.save({"hubspot_ticket_sync": "polling"})
    polls = TicketPoller(rt, interval_s=0, overlap_s=600, lease_s=5, search_per_second=1000)
    assert polls.poll_if_due() == 1
    assert _heard(panel_tickets) == [{"subject": "subject 4"}]
    rt.store.save({"hubspot_ticket_sync": "webhooks"})

    for event in (first, second, first):  # the first one twice: HubSpot retries
        assert post(client, [event]).status_code == 200  # acknowledged, so not sent again

    assert _heard(panel_tickets) == [{"subject": "subject 4"}]


def test_an_older_change_of_another_property_is_still_handed_on(
    pm, rt: Runtime, fake: FakeHubSpot, panel_tickets: PanelTickets
) -> None:  # type: ignore[no-untyped-def]
    """The priority changed before the subject; HubSpot delivers the subject's event first.
    The priority's event is older than what the host was told of the subject, but says
    something new about the priority."""
    [hubspot_id] = open_tickets(pm, rt, 1).values()
    client = _client(pm)
    priority = agent_changes(fake, hubspot_id, "hs_ticket_priority", "HIGH")
    subject = agent_changes(fake, hubspot_id, "subject", "Printer on fire")

    assert post(client, [subject]).status_code == 200
    assert post(client, [priority]).status_code == 200

    assert _heard(panel_tickets) == [
        {"subject": "Printer on fire"},
        {"hs_ticket_priority": "HIGH"},
    ]


def test_a_change_undone_in_hubspot_leaves_the_host_on_the_latest_value(
    pm, rt: Runtime, fake: FakeHubSpot, panel_tickets: PanelTickets
) -> None:  # type: ignore[no-untyped-def]
    """An agent sets the subject to A, then B, then back to A; HubSpot delivers A, the
    second A, then B. B is older than the second A: the host stays on A, as HubSpot is."""
    [hubspot_id] = open_tickets(pm, rt, 1).values()
    client = _client(pm)
    a = agent_changes(fake, hubspot_id, "subject", "A")
    b = agent_changes(fake, hubspot_id, "subject", "B")
    a_again = agent_changes(fake, hubspot_id, "subject", "A")

    for event in (a, a_again, b):
        assert post(client, [event]).status_code == 200

    assert _heard(panel_tickets) == [{"subject": "A"}]
    [ticket] = [t for t in fake.tickets() if t["id"] == hubspot_id]
    assert ticket["properties"]["subject"] == "A"
