"""Property: whatever the panel does and whatever fails, HubSpot ends as the panel is.

Hypothesis draws a schedule: users and tickets created and changed in any order, workers
(up to three, sharing the database) running with HubSpot answering each request ok, 500,
429, or doing the work and losing the answer (504, or the connection dropped), workers
dying at any write to the outbox and restarting, two workers racing (one claims a few
rows and delivers them after the other has begun delivering its own claim, before its
first request), HubSpot's users editing (or clearing) mapped properties between the
panel's changes, and time passing. Each mapped property gets a mode drawn for the example.

The tickets' conversations run through the same schedule: the panel's customers and staff
write messages, HubSpot's agents reply and write internal notes, the agents' replies come
back by polls (HubSpot answering each request as drawn, the poller dying at any write or
commit and restarting) and, when the example takes ticket changes by webhooks, by HubSpot's
association webhooks, delivered late, out of order, twice or never, and retried while the
panel fails to take them (its handler dying at any write, or HubSpot failing the read).

When the schedule ends, the workers drain the queue with HubSpot healthy, HubSpot delivers
what it still retries and one poll runs, and then every contact and ticket is in HubSpot
once, with nothing parked, and every property holds what its mode promises
(:meth:`convergence.Panel.judge_by_modes`): the panel's last value for ``overwrite``, a
HubSpot user's value kept for ``fill_if_empty`` and ``on_create``; every panel message is on
its HubSpot ticket once, in the order written, with its direction; every agent's reply
reached the panel's hook once (by polling, in the order written; webhooks, which HubSpot
sends in any order, may bring them in another); no internal note and none of the panel's
own messages reached the panel.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import start_plugin
from convergence import (
    TICKET_EXTRA_PROPERTIES,
    USER_PROPERTIES,
    Killed,
    Panel,
    before_first_request,
    dies_at_write,
    differences,
    parked,
    pending,
    time_passes,
)
from conversation_convergence import (
    WEBHOOK_URL,
    Conversations,
    PanelInbox,
    Webhooks,
    dies_at_conversation_write,
    forget_conversations,
    poll_now,
)
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete
from sqlmodel import Session

from skypanel_hubspot_plugin.common import clock
from skypanel_hubspot_plugin.delivery.deliverer import RetryPolicy
from skypanel_hubspot_plugin.delivery.outbox_table import ObjectLink, OutboxRow, RateSlot
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.settings.property_map import MODES
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot
from skypanel_hubspot_plugin.testing.fake_search import SEARCH_PER_SECOND
from skypanel_hubspot_plugin.testing.fake_webhooks import FAKE_APP_SECRET
from skypanel_hubspot_plugin.webhooks import conversation_poll
from skypanel_hubspot_plugin.webhooks.conversation_poll import ConversationPoller

USER_IDS = ("1", "2", "3")
TICKET_OWNERS = {"T-1": "1", "T-2": "1", "T-3": "2"}
FAULTS = ("ok", "ok", "500", "429", "lost-504", "lost-drop")
POLICY = RetryPolicy(max_attempts=10_000, base_s=30.0, cap_s=60.0)

words = st.text(alphabet="abcdefghijklmnop", min_size=1, max_size=6)
user_changes = st.fixed_dictionaries(
    {},
    optional={
        "first_name": words,
        "last_name": words,
        "company": words,
        "phone": st.from_regex(r"\+1 555 0[0-9]{3}", fullmatch=True),
        "email": words,
    },
)
ticket_changes = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["open", "waiting", "in_progress", "closed"]),
        "priority": st.sampled_from(["low", "medium", "high"]),
        "subject": words,
        "server": words,
    },
)
#: A mode for each mapped property but email (always overwrite).
modes = st.fixed_dictionaries(
    {p: st.sampled_from(MODES) for p in (*USER_PROPERTIES.values(), "panel_server")}
)
#: What a HubSpot user types into a property ("" clears it).
typed = st.one_of(st.just(""), st.text(alphabet="qrstuvwxyz", min_size=1, max_size=6))
#: The panel's customer or staff writes on a ticket.
message_step = st.tuples(
    st.just("message"),
    st.sampled_from(sorted(TICKET_OWNERS)),
    st.sampled_from(["customer", "staff"]),
)
#: An agent replies to the customer, or notes for colleagues, on the ticket in HubSpot.
agent_step = st.tuples(
    st.just("agent"),
    st.sampled_from(sorted(TICKET_OWNERS)),
    st.sampled_from(["reply", "reply", "note"]),
)
#: A poll for replies, HubSpot answering as drawn, the poller dying at its nth write or not.
poll_step = st.tuples(
    st.just("poll"),
    st.lists(st.sampled_from(FAULTS), max_size=3),
    st.one_of(st.none(), st.integers(1, 10)),
)
#: HubSpot delivers one of the webhooks in flight (the index, modulo), once, twice or never;
#: HubSpot answering the handler's reads as drawn, the handler dying at its nth write or not.
webhook_step = st.tuples(
    st.just("webhook"),
    st.integers(0, 3),
    st.sampled_from(["ok", "ok", "twice", "lost"]),
    st.lists(st.sampled_from(FAULTS), max_size=2),
    st.one_of(st.none(), st.integers(1, 4)),
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("user"), st.sampled_from(USER_IDS), user_changes),
        st.tuples(st.just("ticket"), st.sampled_from(sorted(TICKET_OWNERS)), ticket_changes),
        st.tuples(
            st.just("run"),
            st.integers(0, 2),
            st.lists(st.sampled_from(FAULTS), max_size=4),
            st.one_of(st.none(), st.integers(1, 6)),
        ),
        st.tuples(
            st.just("race"),
            st.integers(0, 2),
            st.integers(1, 4),
            st.lists(st.sampled_from(FAULTS), max_size=4),
        ),
        st.tuples(st.just("time passes")),
        st.tuples(
            st.just("hubspot"),
            st.just("user"),
            st.sampled_from(USER_IDS),
            st.sampled_from(sorted(USER_PROPERTIES.values())),
            typed,
        ),
        st.tuples(
            st.just("hubspot"),
            st.just("ticket"),
            st.sampled_from(sorted(TICKET_OWNERS)),
            st.just("panel_server"),
            typed,
        ),
    ),
    min_size=1,
    max_size=25,
)


@st.composite
def schedules(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    """The panel's and HubSpot users' steps, with a conversation's steps mixed in."""
    schedule = list(draw(steps))
    talk = draw(
        st.lists(
            st.one_of(message_step, agent_step, poll_step, webhook_step), min_size=2, max_size=6
        )
    )
    for step in talk:
        schedule.insert(draw(st.integers(0, len(schedule))), step)
    return schedule


@pytest.fixture
def rt(pm, engine: Engine, secret_key: str, fake: FakeHubSpot) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    """The plugin started with the panel's reply hook registered, no worker of its own."""
    pm.register(PanelInbox())
    runtime = start_plugin(
        pm, engine, secret_key, fake.base_url, run_worker=False, plugin_manager=pm
    )
    runtime.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_ticket_enabled": True,
            "hubspot_rate_limit": "1000",
            "hubspot_app_secret": FAKE_APP_SECRET,
            "hubspot_webhook_url": WEBHOOK_URL,
        }
    )
    try:
        yield runtime
    finally:
        pm.hook.skypanel_shutdown()
        clock.reset()


@pytest.fixture(autouse=True)
def _polls_unspaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """Polls run back to back here: HubSpot's spacing between searches is not what is tested."""
    monkeypatch.setattr(conversation_poll, "SEARCH_SPACING_S", 0.0)


def fresh_start(
    rt: Runtime, engine: Engine, fake: FakeHubSpot, chosen: dict[str, str], sync: str
) -> None:
    """An empty HubSpot, outbox and panel inbox, maps whose rows have the ``chosen`` modes,
    and ticket changes taken by ``sync``."""
    fake.reset()
    fake.search_rate_limit = SEARCH_PER_SECOND
    forget_conversations(engine)
    fake.add_property("tickets", "panel_server")
    with Session(engine) as session:
        for table in (OutboxRow, ObjectLink, RateSlot):
            session.exec(delete(table))  # type: ignore[call-overload]
        session.commit()

    def row(prop: str) -> str | dict[str, str]:
        mode = chosen.get(prop, "overwrite")
        return prop if mode == "overwrite" else {"property": prop, "mode": mode}

    contact_map = {"email": "email", **{f: row(p) for f, p in USER_PROPERTIES.items()}}
    ticket_map = {f: row(p) for f, p in TICKET_EXTRA_PROPERTIES.items()}
    rt.store.save(
        {
            "hubspot_contact_property_map": json.dumps(contact_map),
            "hubspot_ticket_property_map": json.dumps(ticket_map),
            "hubspot_ticket_sync": sync,
        }
    )


def race(rt: Runtime, first: Worker, second: Worker, rows: int) -> None:
    """``second`` claims up to ``rows`` rows; ``first`` claims and begins delivering, and
    ``second`` delivers what it holds just before ``first``'s first HubSpot request."""
    held = rt.outbox.claim(second.worker_id, rows)
    done: list[bool] = []

    def second_delivers() -> None:
        done.append(True)
        if held:
            second.deliver(held)

    with before_first_request(first, second_delivers):
        first.run_once()
    if not done:  # the first worker made no request
        second_delivers()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(schedule=schedules(), chosen=modes, sync=st.sampled_from(["polling", "webhooks"]))
# A new ticket racing its user's email change: worker 1 holds the user's rows, worker 0
# claims the ticket, and the user's contact is created and linked while worker 0 delivers.
@example(
    schedule=[
        ("user", "1", {}),
        ("ticket", "T-1", {}),
        ("user", "2", {}),
        ("user", "1", {"email": "new"}),
        ("race", 0, 1, []),
    ],
    chosen={},
    sync="polling",
)
# A HubSpot user's value kept, cleared and filled again, and one the panel never overwrites.
@example(
    schedule=[
        ("user", "1", {"company": "a"}),
        ("ticket", "T-1", {"server": "b"}),
        ("run", 0, [], None),
        ("hubspot", "user", "1", "company", "sales"),
        ("hubspot", "user", "1", "phone", "typed"),
        ("hubspot", "ticket", "T-1", "panel_server", ""),
        ("user", "1", {"company": "c", "phone": "+1 555 0123"}),
        ("ticket", "T-1", {"server": "d"}),
        ("run", 1, ["lost-504"], None),
    ],
    chosen={"company": "fill_if_empty", "phone": "on_create", "panel_server": "fill_if_empty"},
    sync="polling",
)
# A contact created by an upsert whose answer was lost, then changed: on_create is not sent again.
@example(
    schedule=[
        ("user", "2", {"phone": "+1 555 0001", "company": "a"}),
        ("run", 0, ["ok", "lost-504"], None),
        ("user", "2", {"phone": "+1 555 0002", "company": "b"}),
    ],
    chosen={"phone": "on_create", "company": "fill_if_empty"},
    sync="polling",
)
# A conversation both ways: a reply whose webhook comes late and twice, one the poll finds
# after a poller died handing it on (at the commit of the reply and the panel's row), a
# note, and messages sent while HubSpot loses answers.
@example(
    schedule=[
        ("message", "T-1", "customer"),
        ("run", 0, ["ok", "ok", "lost-504"], None),
        ("agent", "T-1", "reply"),
        ("agent", "T-1", "note"),
        ("message", "T-1", "staff"),
        ("agent", "T-1", "reply"),
        ("webhook", 1, "twice", [], None),
        ("poll", [], 9),
        ("webhook", 0, "ok", ["500"], None),
        ("message", "T-1", "customer"),
        ("run", 1, ["lost-drop"], 2),
        ("poll", [], None),
    ],
    chosen={},
    sync="webhooks",
)
# The panel's web process dies committing a reply a webhook brought (with the panel's row):
# HubSpot saw no answer and delivers it again.
@example(
    schedule=[
        ("ticket", "T-2", {}),
        ("run", 0, [], None),
        ("agent", "T-2", "reply"),
        ("webhook", 0, "ok", [], 3),
        ("agent", "T-2", "reply"),
        ("webhook", 0, "ok", [], None),
    ],
    chosen={},
    sync="webhooks",
)
def test_hubspot_ends_as_the_panel_is(  # type: ignore[no-untyped-def]
    pm,
    rt: Runtime,
    fake: FakeHubSpot,
    engine: Engine,
    schedule: list[tuple[Any, ...]],
    chosen: dict[str, str],
    sync: str,
) -> None:
    fresh_start(rt, engine, fake, chosen, sync)
    panel = Panel(pm)
    talk = Conversations()
    hubspot_webhooks = Webhooks(fake)
    if sync == "webhooks":
        hubspot_webhooks.subscribe()
    else:
        fake.unsubscribe_webhooks()
    poller = ConversationPoller(rt)
    workers = [Worker(rt, policy=POLICY) for _ in range(3)]
    for step in schedule:
        talk.agents_act(rt, fake)
        if step[0] == "user":
            panel.user(step[1], step[2])
        elif step[0] == "ticket":
            panel.ticket(step[1], TICKET_OWNERS[step[1]], step[2])
        elif step[0] == "time passes":
            time_passes(engine)
        elif step[0] == "hubspot":
            _, kind, key, prop, value = step
            panel.hubspot_user_edits(rt, fake, kind, key, prop, value)
        elif step[0] == "race":
            _, index, rows, faults = step
            fake.script_faults(faults)
            race(rt, workers[index], workers[(index + 1) % len(workers)], rows)
        elif step[0] == "message":
            _, ticket_id, kind = step
            owner = TICKET_OWNERS[ticket_id]
            if ticket_id not in panel.tickets:
                panel.ticket(ticket_id, owner, {})
            talk.message(pm, ticket_id, panel.users[owner].email, kind)
        elif step[0] == "agent":
            _, ticket_id, what = step
            if ticket_id not in panel.tickets:
                panel.ticket(ticket_id, TICKET_OWNERS[ticket_id], {})
            talk.agent(ticket_id, what)
        elif step[0] == "poll":
            _, faults, dies_at = step
            fake.script_faults(faults)
            try:
                with dies_at_conversation_write(engine, dies_at):
                    poll_now(rt, poller)
            except Killed:
                poller = ConversationPoller(rt)  # the worker process restarts
        elif step[0] == "webhook":
            _, index, outcome, faults, dies_at = step
            fake.script_faults(faults)
            try:
                with dies_at_conversation_write(engine, dies_at):
                    hubspot_webhooks.deliver(index, outcome)
            except Killed:
                pass  # the web process restarts; HubSpot retries what it saw no answer to
        else:
            _, index, faults, dies_at = step
            fake.script_faults(faults)
            if dies_at is None:
                workers[index].run_once()
                continue
            try:
                with dies_at_write(engine, dies_at):
                    workers[index].run_once()
            except Killed:
                workers[index] = Worker(rt, policy=POLICY)  # the process restarts
    for _ in range(60):  # HubSpot healthy again: drain, letting time pass between rounds
        if not pending(engine):
            break
        time_passes(engine)
        Worker(rt, policy=POLICY).run_once()
    assert not pending(engine), "the queue did not drain"
    assert not parked(engine), [r.last_error for r in parked(engine)]
    with fake._lock:  # HubSpot healthy: no fault left, no search refused for its rate
        fake._fault_script.clear()
        fake.search_rate_limit = None
    talk.agents_act(rt, fake)
    assert not talk.waiting
    hubspot_webhooks.deliver_all()
    poll_now(rt, poller)
    judge = panel.judge_by_modes(rt, fake)
    assert differences(rt, fake, panel.users, panel.tickets, judge) == []
    assert talk.differences(rt, fake, engine, arrival_order=sync == "polling") == []
    replies = sum(len(r) for r in talk.replies.values())
    event(f"agents' replies: {min(replies, 3)}{'+' if replies >= 3 else ''}")
    event(f"panel messages: {min(sum(len(m) for m in talk.panel.values()), 3)}")
