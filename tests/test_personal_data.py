"""Personal data does not stay in the outbox: erased after the retention, at once after a
GDPR delete, and on demand; the rows and their outcomes stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from convergence import outbox
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, update
from sqlmodel import Session

from skypanel_hubspot_plugin import Ticket, User
from skypanel_hubspot_plugin.cli import main
from skypanel_hubspot_plugin.delivery.deliverer import RetryPolicy
from skypanel_hubspot_plugin.delivery.erasure import Purged
from skypanel_hubspot_plugin.delivery.outbox import PURGED
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, DELIVERED, OutboxRow, utcnow
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FakeHubSpot

ADA = User(id="7", email="ada@example.com", first_name="Ada", phone="+44 20 7946 0000")
TICKET = Ticket(id="T-1", subject="My server is down", content="Ada's secret plans")


def holds_ada(engine: Engine) -> list[int]:
    return [
        r.id  # type: ignore[misc]
        for r in outbox(engine)
        if any(s in r.payload for s in ("ada@example.com", "Ada", "7946", "secret plans"))
    ]


def test_a_gdpr_delete_erases_what_the_outbox_held_of_the_user(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    rt.store.save({"hubspot_user_deleted_action": "gdpr_delete"})
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    pm.hook.skypanel_on_ticket_created(ticket=TICKET, user=ADA, session=None)
    Worker(rt).run_once()
    assert holds_ada(engine)
    pm.hook.skypanel_on_user_deleted(user=ADA, session=None)
    Worker(rt).run_once()
    assert fake.contact_by_email("ada@example.com") is None
    assert holds_ada(engine) == []
    assert [r.status for r in outbox(engine)] == [DELIVERED] * 3  # outcomes stay


def test_delivered_rows_lose_their_personal_data_after_the_retention(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    Worker(rt).run_once()
    assert rt.outbox.purge(timedelta(days=rt.settings().retention_days)) == Purged(0, 0)
    assert holds_ada(engine)  # delivered today, kept 30 days by default
    with Session(engine) as session:  # 31 days go by
        session.exec(
            update(OutboxRow).values(delivered_at=utcnow() - timedelta(days=31))  # type: ignore[call-overload]
        )
        session.commit()
    worker = Worker(rt)
    worker.start_thread()  # a worker erases what is past the retention when it starts
    try:
        deadline_rounds = 200
        while holds_ada(engine) and deadline_rounds:
            worker.stop_event.wait(0.05)
            deadline_rounds -= 1
        assert holds_ada(engine) == []
    finally:
        worker.stop()
    assert [(r.status, r.payload) for r in outbox(engine)] == [(DELIVERED, PURGED)]


def park_ada(pm, rt: Runtime, fake: FakeHubSpot) -> None:  # type: ignore[no-untyped-def]
    """Ada's contact refused by HubSpot with an error quoting her address: parked."""
    fake.fail_next(
        400,
        body={
            "status": "error",
            "category": "VALIDATION_ERROR",
            "message": "Property values were not valid: ada@example.com",
        },
    )
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    Worker(rt, policy=RetryPolicy(max_attempts=1)).run_once()


def parked_days_ago(engine: Engine, days: float) -> None:
    with Session(engine) as session:
        session.exec(
            update(OutboxRow)  # type: ignore[call-overload]
            .where(OutboxRow.status == DEAD)
            .values(next_attempt_at=utcnow() - timedelta(days=days))
        )
        session.commit()


def holds_any_of_ada(engine: Engine) -> list[int]:
    return [r.id for r in outbox(engine) if "ada" in f"{r.payload} {r.last_error}".lower()]  # type: ignore[misc]


def test_purge_on_demand_erases_parked_rows_too(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    park_ada(pm, rt, fake)
    assert [(r.status, "ada@example.com" in (r.last_error or "")) for r in outbox(engine)] == [
        (DEAD, True)
    ]
    other = User(id="8", email="bob@example.com", first_name="Bob")
    pm.hook.skypanel_on_user_created(user=other, session=None)
    Worker(rt).run_once()
    url = engine.url.render_as_string(hide_password=False)
    assert main(["purge", "--database-url", url]) == 0  # the retention: parked today, kept
    assert "deleted 0 parked" in capsys.readouterr().out
    assert holds_any_of_ada(engine)
    assert main(["purge", "--older-than", "0", "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert "Erased the personal data of 1 deliveries" in out
    assert "deleted 1 parked" in out
    assert holds_any_of_ada(engine) == []
    assert [(r.status, r.payload, r.last_error) for r in outbox(engine)] == [
        (DELIVERED, PURGED, None)
    ]


def test_a_retention_of_0_keeps_no_parked_row(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    rt.store.save({"hubspot_retention_days": "0"})
    park_ada(pm, rt, fake)  # parked by a worker, which then applies the retention
    assert fake.contact_by_email("ada@example.com") is None  # it was refused
    assert outbox(engine) == []


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(retention=st.integers(0, 3650), age=st.floats(0, 4000))
def test_a_parked_row_is_kept_for_the_retention_counted_from_when_it_parked(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, engine: Engine, retention: int, age: float
) -> None:
    rt.outbox.record(
        "contact.upsert",
        "user:7",
        {"rejected": {"email": "ada@example.com"}},
        dead_reason="email: must be an email address like name@example.com",
    )
    parked_days_ago(engine, age)
    rt.outbox.purge(timedelta(days=retention))
    kept = outbox(engine)
    assume(abs(age - retention) > 1e-3)  # not on the boundary, a clock tick either way
    assert bool(kept) == (age < retention)
    if kept:  # replayable while kept
        assert rt.outbox.replay() == 1
    with Session(engine) as session:
        session.exec(delete(OutboxRow))  # type: ignore[call-overload]
        session.commit()
