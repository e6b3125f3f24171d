"""HubSpot ends with the panel's latest values, whatever fails on the way.

Each test replays a schedule that used to leave HubSpot behind the panel: a retry that
lands after a newer change, a creation retried over later updates, a lease that runs out
while a newer change goes ahead, a ticket change waiting for its creation.
"""

from __future__ import annotations

import threading

import pytest
from convergence import (
    Killed,
    Panel,
    before_first_request,
    dies_at_write,
    differences,
    enable,
    outbox,
    parked,
    pending,
    time_passes,
)
from sqlalchemy import Engine, update
from sqlmodel import Session

from skypanel_hubspot_plugin import Ticket, User
from skypanel_hubspot_plugin.admin.delivery_routes import get_deliveries
from skypanel_hubspot_plugin.cli import main
from skypanel_hubspot_plugin.delivery.deliverer import Deliverer, RetryPolicy
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, DELIVERED, DeliveryLock
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.payloads import AdminRequest
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FakeHubSpot

ADA = User(id="1", email="ada@example.com", first_name="Ada", phone="+44 20 7946 0043")
TICKET = Ticket(id="T-1", subject="Server down", priority="high", status="open")


def worker(rt: Runtime) -> Worker:
    return Worker(rt, policy=RetryPolicy(max_attempts=8, base_s=30.0, cap_s=60.0))


def hubspot_requests(fake: FakeHubSpot, needle: str) -> int:
    return sum(needle in r.path for r in fake.requests)


def test_an_older_update_retried_after_a_newer_one_never_wins(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    w = worker(rt)
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    w.run_once()
    a = User(**{**ADA.__dict__, "phone": "+44 20 7946 0044"})
    pm.hook.skypanel_on_user_updated(user=a, changed=frozenset({"phone"}), session=None)
    fake.fail_next(500)
    w.run_once()  # A: HubSpot answers 500, A waits for its retry
    b = User(**{**ADA.__dict__, "phone": "+44 20 7946 0045"})
    pm.hook.skypanel_on_user_updated(user=b, changed=frozenset({"phone"}), session=None)
    before = len(fake.requests)
    w.run_once()  # B may not overtake A
    assert len(fake.requests) == before
    time_passes(engine)
    w.run_once()
    assert differences(rt, fake, {"1": b}, {}) == []
    assert not pending(engine) and not parked(engine)


@pytest.mark.parametrize("fault", ["500", "lost-504", "lost-drop"])
def test_a_creation_retried_after_updates_does_not_undo_them(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine, fault: str
) -> None:
    w = worker(rt)
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    fake.script_faults([fault])
    w.run_once()
    latest = ADA
    for phone in ("+1 555 0101", "+1 555 0102", "+1 555 0103"):
        latest = User(**{**latest.__dict__, "phone": phone, "company": f"Co {phone[-1]}"})
        pm.hook.skypanel_on_user_updated(
            user=latest, changed=frozenset({"phone", "company"}), session=None
        )
    time_passes(engine)
    before = hubspot_requests(fake, "/contacts")
    w.run_once()
    # The creation and its three updates went as one request with the newest values.
    assert hubspot_requests(fake, "/contacts") == before + 1
    assert differences(rt, fake, {"1": latest}, {}) == []
    assert [r.status for r in outbox(engine)] == [DELIVERED] * 4


def test_a_lease_that_runs_out_while_a_newer_change_goes_ahead(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    first, second = worker(rt), worker(rt)
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    first.run_once()
    old = User(**{**ADA.__dict__, "first_name": "Old"})
    pm.hook.skypanel_on_user_updated(user=old, changed=frozenset({"first_name"}), session=None)
    # The first worker claims the update, then stalls (or dies) before settling it.
    stalled = rt.outbox.claim(first.worker_id, 100)
    assert [r.kind for g in stalled for r in g.rows] == ["contact.update"]
    new = User(**{**ADA.__dict__, "first_name": "New"})
    pm.hook.skypanel_on_user_updated(user=new, changed=frozenset({"first_name"}), session=None)
    before = len(fake.requests)
    second.run_once()  # the record is leased: its newer change waits
    assert len(fake.requests) == before
    time_passes(engine, *stalled)  # the stalled worker's lease runs out
    second.run_once()
    assert differences(rt, fake, {"1": new}, {}) == []
    # The stalled worker wakes up and tries to send what it held: it may not.
    requests = len(fake.requests)
    Deliverer(
        rt.outbox, rt.service(), first.limiter, first.worker_id, first.stop_event, first.policy
    ).deliver(stalled)
    assert len(fake.requests) == requests
    assert differences(rt, fake, {"1": new}, {}) == []
    assert [r.status for r in outbox(engine)] == [DELIVERED] * 3


def test_a_ticket_change_waits_for_its_creation_through_worker_kills(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    pm.hook.skypanel_on_ticket_created(ticket=TICKET, user=ADA, session=None)
    latest = TICKET
    for kill in range(12):  # more kills than a row has attempts
        with dies_at_write(engine, 2), pytest.raises(Killed):
            worker(rt).run_once()  # claims, then dies before settling anything
        latest = Ticket(**{**latest.__dict__, "status": "closed" if kill % 2 else "in_progress"})
        pm.hook.skypanel_on_ticket_updated(
            ticket=latest, changed=frozenset({"status"}), session=None
        )
        time_passes(engine)
    assert all(r.attempts == 0 for r in outbox(engine))
    worker(rt).run_once()
    assert differences(rt, fake, {"1": ADA}, {"T-1": (latest, "1")}) == []
    assert not pending(engine) and not parked(engine)


def test_changes_of_a_parked_ticket_wait_for_its_replay_and_say_so(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    w = worker(rt)
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    w.run_once()
    pm.hook.skypanel_on_ticket_created(ticket=TICKET, user=ADA, session=None)
    fake.fail_next(400)  # HubSpot refuses the creation: parked
    w.run_once()
    create = parked(engine)[0]
    closed = Ticket(**{**TICKET.__dict__, "status": "closed"})
    pm.hook.skypanel_on_ticket_updated(ticket=closed, changed=frozenset({"status"}), session=None)
    for _ in range(3):
        time_passes(engine)
        w.run_once()
    update = pending(engine)[0]
    assert update.attempts == 0
    answer = get_deliveries(AdminRequest())
    shown = {d["id"]: d for d in answer.body["deliveries"]}  # type: ignore[index]
    assert (
        shown[update.id]["waitingFor"]
        == f"waiting for ticket.create #{create.id} (parked: replay it)"
    )
    assert shown[update.id]["lastError"] is None
    rt.outbox.replay([create.id])  # type: ignore[list-item]
    w.run_once()
    assert differences(rt, fake, {"1": ADA}, {"T-1": (closed, "1")}) == []
    assert [r.status for r in outbox(engine)] == [DELIVERED] * 3


def test_a_failed_ticket_property_check_costs_only_the_tickets(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    pm.hook.skypanel_on_ticket_created(ticket=TICKET, user=ADA, session=None)
    fake.fail_next(503)  # the property check before the batch
    worker(rt).run_once()
    rows = {r.kind: r for r in outbox(engine)}
    assert rows["contact.upsert"].status == DELIVERED
    assert rows["contact.upsert"].attempts == 0
    assert rows["ticket.create"].attempts == 1
    time_passes(engine)
    worker(rt).run_once()
    assert differences(rt, fake, {"1": ADA}, {"T-1": (TICKET, "1")}) == []


def test_a_burst_of_updates_costs_one_request(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    worker(rt).run_once()
    latest = ADA
    for i in range(5):
        latest = User(**{**latest.__dict__, "last_name": f"Name {i}", "phone": f"+1 555 010{i}"})
        pm.hook.skypanel_on_user_updated(
            user=latest, changed=frozenset({"last_name", "phone"}), session=None
        )
    before = len(fake.requests)
    worker(rt).run_once()
    assert len(fake.requests) == before + 1
    assert differences(rt, fake, {"1": latest}, {}) == []


def test_replaying_an_old_parked_change_keeps_the_newer_values(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    w = Worker(rt, policy=RetryPolicy(max_attempts=1, base_s=0.0, cap_s=0.0))
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    w.run_once()
    old = User(**{**ADA.__dict__, "phone": "+1 555 0001", "company": "Kept"})
    pm.hook.skypanel_on_user_updated(
        user=old, changed=frozenset({"phone", "company"}), session=None
    )
    fake.fail_next(500)
    w.run_once()  # parked after its only attempt
    assert [r.status for r in outbox(engine)] == [DELIVERED, DEAD]
    new = User(**{**old.__dict__, "phone": "+1 555 0002"})
    pm.hook.skypanel_on_user_updated(user=new, changed=frozenset({"phone"}), session=None)
    w.run_once()
    rt.outbox.replay()
    w.run_once()
    # The replayed change brings its company; its older phone does not come back.
    assert differences(rt, fake, {"1": new}, {}) == []


def test_a_spent_daily_limit_pauses_delivery_without_spending_attempts(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(3):
        user = User(id=str(i), email=f"u{i}@example.com", first_name=f"U{i}")
        pm.hook.skypanel_on_user_created(user=user, session=None)
    fake.set_daily_limit(0)  # the portal spent today's requests
    worker(rt).run_once()
    assert rt.outbox.paused_until() is not None
    assert [(r.status, r.attempts) for r in outbox(engine)] == [("queued", 0)] * 3
    answer = get_deliveries(AdminRequest())
    assert "daily API limit is spent" in answer.body["paused"]  # type: ignore[index]
    assert main(["deliveries", "--database-url", str(engine.url.render_as_string(False))]) == 0
    assert "daily API limit is spent" in capsys.readouterr().out
    # Every worker on the database holds off: no request reaches HubSpot before the reset.
    requests = len(fake.requests)
    time_passes(engine)
    assert worker(rt).run_once() == 0
    assert len(fake.requests) == requests
    fake.set_daily_limit(None)  # midnight in the portal's time zone
    with Session(engine) as session:
        session.exec(update(DeliveryLock).values(at=0.0))
        session.commit()
    time_passes(engine)
    worker(rt).run_once()
    assert [(r.status, r.attempts) for r in outbox(engine)] == [(DELIVERED, 0)] * 3
    assert rt.outbox.paused_until() is None


def test_a_new_ticket_waits_for_its_users_contact_and_says_so(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    w = worker(rt)
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    fake.fail_next(500)
    w.run_once()  # the contact waits for its retry
    pm.hook.skypanel_on_ticket_created(ticket=TICKET, user=ADA, session=None)
    w.run_once()  # the ticket may not go ahead of its contact
    contact, ticket = outbox(engine)
    assert ticket.attempts == 0 and not fake.tickets()
    shown = {d["id"]: d for d in get_deliveries(AdminRequest()).body["deliveries"]}  # type: ignore[index]
    assert shown[ticket.id]["waitingFor"] == f"waiting for contact.upsert #{contact.id}"
    time_passes(engine)
    w.run_once()
    time_passes(engine)
    w.run_once()
    assert differences(rt, fake, {"1": ADA}, {"T-1": (TICKET, "1")}) == []


def test_a_new_ticket_takes_the_contact_another_worker_linked_meanwhile(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    a, b = worker(rt), worker(rt)
    panel = Panel(pm)
    panel.user("1", {})
    panel.ticket("T-1", "1", {})  # the ticket keeps its copy of user 1, old email included
    panel.user("2", {})
    panel.user("1", {"email": "new"})  # the email changes after the ticket was opened
    held = rt.outbox.claim(b.worker_id, 1)  # worker B takes user 1's rows
    assert [g.entity for g in held] == ["user:1"]

    # Worker A claims user 2 and the ticket; B creates and links user 1's contact after A
    # has begun its delivery and before A reaches the ticket.
    with before_first_request(a, lambda: b.deliver(held)):
        a.run_once()
    assert not pending(engine) and not parked(engine)
    assert differences(rt, fake, panel.users, panel.tickets) == []
    panel.user("1", {"first_name": "Later"})  # a later change reaches the one contact
    a.run_once()
    assert differences(rt, fake, panel.users, panel.tickets) == []


def test_a_contact_made_from_a_tickets_copy_gives_way_to_the_users_own(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    a, b = worker(rt), worker(rt)
    panel = Panel(pm)
    rt.store.save({"hubspot_enabled": False})
    panel.user("1", {})  # signed up before HubSpot was enabled: no contact, nothing queued
    enable(rt)
    panel.ticket("T-1", "1", {})  # the ticket's copy of user 1 is all there is to go on
    a_creates, b_writes = threading.Event(), threading.Event()

    def email_changes_and_b_claims() -> None:
        panel.user("1", {"email": "new"})
        a_creates.set()
        assert b_writes.wait(30)  # worker A stays just before creating the contact

    def a_delivers() -> None:
        with before_first_request(a, email_changes_and_b_claims):
            a.run_once()

    a_thread = threading.Thread(target=a_delivers)
    a_thread.start()
    try:
        assert a_creates.wait(30)
        # Worker B claims the user's change and finds the user unlinked; before it writes,
        # worker A creates a contact from the ticket's copy (old email) and tries to link it.
        with before_first_request(b, lambda: (b_writes.set(), a_thread.join(30))):
            b.run_once()
    finally:
        b_writes.set()
        a_thread.join(30)
    for _ in range(3):
        time_passes(engine)
        a.run_once()
    assert not pending(engine) and not parked(engine)
    assert differences(rt, fake, panel.users, panel.tickets) == []
