"""A support ticket's messages reach the HubSpot ticket: the customer's as incoming emails,
the staff's as outgoing ones, each exactly once, in the order written, after the ticket.

The property test sends messages for tickets while HubSpot fails (500, 429, and work done
with the answer lost: a 504 or a dropped connection) and workers die mid-delivery; once
HubSpot is healthy again and the queue drained, each HubSpot ticket's thread must be the
panel's conversation: every message once, in order, with its direction and text.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from convergence import Killed, dies_at_write, parked, pending, time_passes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete
from sqlmodel import Session

from skypanel_hubspot_plugin import Ticket, TicketMessage, User
from skypanel_hubspot_plugin.delivery.deliverer import RetryPolicy
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, ObjectLink, OutboxRow, RateSlot
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FakeHubSpot

POLICY = RetryPolicy(max_attempts=10_000, base_s=30.0, cap_s=60.0)
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
OWNERS = {"T-1": "1", "T-2": "2"}
FAULTS = ("ok", "ok", "500", "429", "lost-504", "lost-drop")


def user(user_id: str) -> User:
    return User(id=user_id, email=f"u{user_id}@example.com", first_name="Ada", last_name="Byron")


def message(n: int, ticket_id: str, kind: str, body: str) -> TicketMessage:
    return TicketMessage(
        id=f"M-{n}",
        ticket_id=ticket_id,
        author_kind=kind,  # type: ignore[arg-type]
        body=body,
        sent_at=START + timedelta(minutes=n),
        author_name="Ada Byron" if kind == "customer" else "Sam Staff",
        author_email="u1@example.com" if kind == "customer" else "sam@panel.example.com",
    )


def drain(rt: Runtime, engine: Engine, rounds: int = 30) -> None:
    for _ in range(rounds):
        if not pending(engine):
            return
        time_passes(engine)
        Worker(rt, policy=POLICY).run_once()
    assert not pending(engine), "the queue did not drain"


def hubspot_ticket(fake: FakeHubSpot, panel_id: str) -> str:
    (found,) = [t for t in fake.tickets() if t["properties"]["skypanel_ticket_id"] == panel_id]
    return str(found["id"])


def conversation(fake: FakeHubSpot, panel_id: str) -> list[tuple[str, str]]:
    return [(e["kind"], e["text"]) for e in fake.thread(hubspot_ticket(fake, panel_id))]


def open_ticket(pm: Any, ticket_id: str, owner: str) -> None:
    pm.hook.skypanel_on_ticket_created(
        ticket=Ticket(id=ticket_id, subject=f"Server {ticket_id} down", priority="high"),
        user=user(owner),
        session=None,
    )


def test_a_conversation_reaches_the_hubspot_ticket_as_emails(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    open_ticket(pm, "T-1", "1")
    pm.hook.skypanel_on_ticket_message_added(
        message=message(1, "T-1", "customer", "It is down since 9."), session=None
    )
    pm.hook.skypanel_on_ticket_message_added(
        message=message(2, "T-1", "staff", "Restarting it now."), session=None
    )
    drain(rt, engine)

    ticket_id = hubspot_ticket(fake, "T-1")
    thread = fake.thread(ticket_id)
    assert [(e["kind"], e["text"]) for e in thread] == [
        ("incoming", "It is down since 9."),
        ("outgoing", "Restarting it now."),
    ]
    first, second = (e["properties"] for e in thread)
    assert first["hs_email_subject"] == "Re: Server T-1 down"
    assert first["hs_email_from_email"] == "u1@example.com"
    assert second["hs_email_from_email"] == "sam@panel.example.com"
    assert second["hs_email_to_email"] == "u1@example.com"
    assert thread[0]["time"] == int((START + timedelta(minutes=1)).timestamp() * 1000)
    (contact,) = fake.associations("tickets", ticket_id, "contacts")
    assert fake.associations("contacts", contact, "emails") == sorted(
        (e["id"] for e in thread), key=int
    )
    # The agent answers in HubSpot: the thread shows it after the panel's messages.
    fake.reply_as_agent(ticket_id, "Fixed.", at_ms=thread[-1]["time"] + 1)
    assert conversation(fake, "T-1")[-1] == ("outgoing", "Fixed.")


def test_a_message_recorded_twice_is_one_email(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    open_ticket(pm, "T-1", "1")
    drain(rt, engine)
    once = message(1, "T-1", "customer", "Hello?")
    pm.hook.skypanel_on_ticket_message_added(message=once, session=None)
    pm.hook.skypanel_on_ticket_message_added(message=once, session=None)
    drain(rt, engine)
    pm.hook.skypanel_on_ticket_message_added(message=once, session=None)
    drain(rt, engine)
    assert conversation(fake, "T-1") == [("incoming", "Hello?")]


def test_messages_wait_for_a_parked_ticket_without_spending_attempts(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    open_ticket(pm, "T-1", "1")
    fake.fail_next(400, count=3)  # the contact and the ticket refused: the creation is parked
    Worker(rt, policy=POLICY).run_once()
    assert parked(engine)
    pm.hook.skypanel_on_ticket_message_added(
        message=message(1, "T-1", "customer", "Anyone?"), session=None
    )
    fake.reset_scripted()
    for _ in range(3):
        time_passes(engine)
        Worker(rt, policy=POLICY).run_once()
    (waiting,) = [r for r in pending(engine) if r.kind == "ticket.message"]
    assert waiting.attempts == 0
    rt.outbox.replay()
    drain(rt, engine)
    assert conversation(fake, "T-1") == [("incoming", "Anyone?")]


def test_a_message_for_a_ticket_hubspot_never_had_is_parked_saying_why(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    pm.hook.skypanel_on_ticket_message_added(
        message=message(1, "OLD-7", "customer", "Hi"), session=None
    )
    Worker(rt, policy=POLICY).run_once()
    (row,) = parked(engine)
    assert "opened before HubSpot was enabled" in (row.last_error or "")
    assert fake.emails() == []


def test_a_message_that_can_never_be_sent_is_parked_naming_the_field(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    pm.hook.skypanel_on_ticket_message_added(
        message=dataclasses.replace(message(1, "T-1", "customer", "x"), body="  "), session=None
    )
    (row,) = parked(engine)
    assert row.status == DEAD and "body" in (row.last_error or "")


def fresh_start(engine: Engine, fake: FakeHubSpot) -> None:
    fake.reset()
    with Session(engine) as session:
        for table in (OutboxRow, ObjectLink, RateSlot):
            session.exec(delete(table))  # type: ignore[call-overload]
        session.commit()


steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("message"),
            st.sampled_from(sorted(OWNERS)),
            st.sampled_from(["customer", "staff"]),
        ),
        st.tuples(
            st.just("run"),
            st.lists(st.sampled_from(FAULTS), max_size=5),
            st.one_of(st.none(), st.integers(1, 6)),
        ),
        st.tuples(st.just("time passes")),
    ),
    min_size=1,
    max_size=20,
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(schedule=steps, faults=st.lists(st.sampled_from(FAULTS), max_size=6))
def test_every_message_reaches_its_ticket_once_in_order_under_faults(  # type: ignore[no-untyped-def]
    pm,
    rt: Runtime,
    fake: FakeHubSpot,
    engine: Engine,
    schedule: list[tuple[Any, ...]],
    faults: list[str],
) -> None:
    fresh_start(engine, fake)
    sent: dict[str, list[tuple[str, str]]] = {t: [] for t in OWNERS}
    worker = Worker(rt, policy=POLICY)
    fake.script_faults(faults)
    for ticket_id, owner in OWNERS.items():
        open_ticket(pm, ticket_id, owner)
    for n, step in enumerate(schedule):
        if step[0] == "message":
            _, ticket_id, kind = step
            text = f"message {n} on {ticket_id}"
            pm.hook.skypanel_on_ticket_message_added(
                message=message(n, ticket_id, kind, text), session=None
            )
            sent[ticket_id].append(("incoming" if kind == "customer" else "outgoing", text))
        elif step[0] == "time passes":
            time_passes(engine)
        else:
            _, scripted, dies_at = step
            fake.script_faults(scripted)
            if dies_at is None:
                worker.run_once()
                continue
            try:
                with dies_at_write(engine, dies_at):
                    worker.run_once()
            except Killed:
                worker = Worker(rt, policy=POLICY)  # the process restarts
    fake.set_faults()
    with fake._lock:
        fake._fault_script.clear()
    drain(rt, engine, rounds=60)
    assert not parked(engine), [r.last_error for r in parked(engine)]
    for ticket_id, expected in sent.items():
        assert conversation(fake, ticket_id) == expected
    assert len(fake.emails()) == sum(len(v) for v in sent.values())


def test_random_faults_still_give_each_message_once(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    """The fake's random faults (as set_faults plays them) over a longer conversation."""
    fake.set_faults(error_rate=0.4, kinds=["429", "500", "lost-504", "lost-drop"])
    sent: list[tuple[str, str]] = []
    open_ticket(pm, "T-1", "1")
    for n in range(12):
        kind = "customer" if n % 3 else "staff"
        pm.hook.skypanel_on_ticket_message_added(
            message=message(n, "T-1", kind, f"m{n}"), session=None
        )
        sent.append(("incoming" if kind == "customer" else "outgoing", f"m{n}"))
        if n % 4 == 3:
            Worker(rt, policy=POLICY).run_once()
    drain(rt, engine, rounds=200)
    fake.set_faults()
    assert not parked(engine), [r.last_error for r in parked(engine)]
    assert conversation(fake, "T-1") == sent
