"""Personal data does not stay in the outbox: erased after the retention, at once after a
GDPR delete, and on demand; the rows and their outcomes stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from convergence import outbox
from sqlalchemy import Engine, update
from sqlmodel import Session

from skypanel_hubspot_plugin import Ticket, User
from skypanel_hubspot_plugin.cli import main
from skypanel_hubspot_plugin.delivery.deliverer import RetryPolicy
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
    assert rt.outbox.purge(timedelta(days=rt.settings().retention_days)) == 0
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


def test_purge_on_demand_keeps_parked_rows_replayable(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    Worker(rt).run_once()
    other = User(id="8", email="bob@example.com", first_name="Bob")
    pm.hook.skypanel_on_user_created(user=other, session=None)
    fake.fail_next(500)
    Worker(rt, policy=RetryPolicy(max_attempts=1)).run_once()
    url = engine.url.render_as_string(hide_password=False)
    assert main(["purge", "--older-than", "0", "--database-url", url]) == 0
    assert "Erased the personal data of 1 deliveries" in capsys.readouterr().out
    rows = outbox(engine)
    assert [(r.status, r.payload == PURGED) for r in rows] == [(DELIVERED, True), (DEAD, False)]
    assert rt.outbox.replay() == 1
    Worker(rt).run_once()
    assert fake.contact_by_email("bob@example.com") is not None
