"""Each ticket change made in HubSpot reaches the host once, whatever the interleaving of
webhook deliveries (HubSpot's retries included), switches between webhooks and polling,
and polls."""

from __future__ import annotations

import itertools
import json
import time
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
from test_polling import open_tickets
from test_webhooks import BASE, SECRET, PanelTickets, post
from test_webhooks import panel_tickets as panel_tickets

from skypanel_hubspot_plugin.admin.fastapi_adapter import public_router
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot
from skypanel_hubspot_plugin.webhooks.polling import TicketPoller

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


def change_event(hubspot_id: str, subject: str) -> dict[str, Any]:
    return {
        "eventId": next(_event_ids),
        "subscriptionId": 9,
        "portalId": FAKE_PORTAL_ID,
        "appId": 1,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": "ticket.propertyChange",
        "attemptNumber": 0,
        "objectId": int(hubspot_id),
        "propertyName": "subject",
        "propertyValue": subject,
        "changeSource": "CRM_UI",
    }


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
            subject = f"subject {next(_subjects)}"
            fake.change_ticket(tickets[arg], {"subject": subject})  # no subscription: queued here
            pending.append(change_event(tickets[arg], subject))
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
    last: dict[str, str] = {}
    for change in panel_tickets.calls:
        if "subject" in change.changes:
            last[change.hubspot_ticket_id] = change.changes["subject"]
    for ticket in fake.tickets():
        if ticket["id"] in tickets and ticket["id"] in last:
            assert last[ticket["id"]] == ticket["properties"]["subject"]
