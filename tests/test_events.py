"""Panel events reach HubSpot through the outbox and the worker, once, without failing the panel."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from skypanel_hubspot_plugin import Ticket, User
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, DELIVERED, OutboxRow
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot

ADA = User(
    id="7",
    email="Ada@Example.com",
    first_name="Ada",
    last_name="Lovelace",
    company="Analytical Engines",
    phone="+44 20 0000 0000",
)


def enable(rt: Runtime, **extra: object) -> None:
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_ticket_enabled": True,
            **extra,
        }
    )


def rows(engine: Engine) -> list[OutboxRow]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxRow).order_by(OutboxRow.id)))


def wait_until(predicate, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_a_new_user_becomes_one_contact(pm, started, fake: FakeHubSpot, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    enable(started)
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    fake.wait_for(lambda f: f.contact_by_email("ada@example.com") is not None)
    contact = fake.contact_by_email("ada@example.com")
    assert contact["properties"]["firstname"] == "Ada"
    assert contact["properties"]["company"] == "Analytical Engines"
    wait_until(lambda: rows(engine)[0].status == DELIVERED)
    assert rows(engine)[0].hubspot_id == contact["id"]
    # The same user again (a replay, a second sign-up event): updated, never duplicated.
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    wait_until(lambda: all(r.status == DELIVERED for r in rows(engine)))
    assert len(fake.contacts()) == 1


def test_an_existing_hubspot_contact_is_updated_not_duplicated(  # type: ignore[no-untyped-def]
    pm, started, fake: FakeHubSpot, engine: Engine
) -> None:
    enable(started)
    started.service().create_contact({"email": "ada@example.com", "firstname": "Old"})
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    wait_until(lambda: rows(engine) and rows(engine)[0].status == DELIVERED)
    assert len(fake.contacts()) == 1
    assert fake.contact_by_email("ada@example.com")["properties"]["firstname"] == "Ada"


def test_a_ticket_arrives_with_hubspots_values_tied_to_its_contact(  # type: ignore[no-untyped-def]
    pm, started, fake: FakeHubSpot, engine: Engine
) -> None:
    enable(started)
    ticket = Ticket(
        id="T-1",
        subject="Server down",
        content="My VPS does not boot",
        priority="high",
        category="Billing",
        status="open",
    )
    pm.hook.skypanel_on_ticket_created(ticket=ticket, user=ADA, session=None)
    fake.wait_for(lambda f: len(f.tickets()) == 1)
    (created,) = fake.tickets()
    props = created["properties"]
    assert (props["hs_ticket_priority"], props["hs_ticket_category"]) == ("HIGH", "BILLING_ISSUE")
    assert (props["hs_pipeline"], props["hs_pipeline_stage"]) == ("0", "1")
    assert props["skypanel_ticket_id"] == "T-1"
    contact = fake.contact_by_email("ada@example.com")  # created first, it did not exist
    fake.wait_for(lambda f: f.associations("tickets", created["id"], "contacts") == [contact["id"]])
    pm.hook.skypanel_on_ticket_updated(
        ticket=Ticket(id="T-1", subject="Server down", status="closed", priority="low"),
        changed=frozenset({"status", "priority"}),
        session=None,
    )
    fake.wait_for(lambda f: f.tickets()[0]["properties"]["hs_pipeline_stage"] == "4")
    assert fake.tickets()[0]["properties"]["hs_ticket_priority"] == "LOW"


def test_an_unknown_category_falls_back_to_the_configured_default(  # type: ignore[no-untyped-def]
    pm, started, fake: FakeHubSpot
) -> None:
    enable(started, hubspot_ticket_default_category="PRODUCT_ISSUE")
    pm.hook.skypanel_on_ticket_created(
        ticket=Ticket(id="T-2", subject="Hi", category="Department of Mysteries"),
        user=ADA,
        session=None,
    )
    fake.wait_for(lambda f: len(f.tickets()) == 1)
    assert fake.tickets()[0]["properties"]["hs_ticket_category"] == "PRODUCT_ISSUE"


def test_a_rolled_back_panel_transaction_sends_nothing(  # type: ignore[no-untyped-def]
    pm, started, fake: FakeHubSpot, engine: Engine
) -> None:
    enable(started)
    with Session(engine) as session:
        pm.hook.skypanel_on_user_created(user=ADA, session=session)
        session.rollback()
    with Session(engine) as session:
        pm.hook.skypanel_on_user_created(
            user=User(id="8", email="grace@example.com"), session=session
        )
        session.commit()
    fake.wait_for(lambda f: f.contact_by_email("grace@example.com") is not None)
    assert [r.entity for r in rows(engine)] == ["user:8"]
    assert fake.contact_by_email("ada@example.com") is None


@pytest.mark.parametrize(
    ("user", "ticket", "field"),
    [
        (User(id="1", email=""), None, "email"),
        (User(id="2", email="not-an-email"), None, "email"),
        (User(id="3", email="ok@example.com", first_name="Bad\x07Name"), None, "firstname"),
        (ADA, Ticket(id="T-9", subject="x" * 10_240), "subject"),
        (ADA, Ticket(id="T-10", subject="   "), "subject"),
    ],
)
def test_a_bad_payload_is_parked_naming_the_field_and_others_flow(  # type: ignore[no-untyped-def]
    pm, started, fake: FakeHubSpot, engine: Engine, user: User, ticket: Ticket | None, field: str
) -> None:
    enable(started)
    if ticket is None:
        pm.hook.skypanel_on_user_created(user=user, session=None)
    else:
        pm.hook.skypanel_on_ticket_created(ticket=ticket, user=user, session=None)
    pm.hook.skypanel_on_user_created(user=User(id="99", email="fine@example.com"), session=None)
    fake.wait_for(lambda f: f.contact_by_email("fine@example.com") is not None)
    parked = [r for r in rows(engine) if r.status == DEAD]
    assert len(parked) == 1 and parked[0].last_error.startswith(f"{field}:")
    assert fake.tickets() == []


def test_nothing_is_recorded_while_hubspot_or_tickets_are_off(  # type: ignore[no-untyped-def]
    pm, started, engine: Engine
) -> None:
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    enable(started, hubspot_ticket_enabled=False)
    pm.hook.skypanel_on_ticket_created(ticket=Ticket(id="T-3", subject="x"), user=ADA, session=None)
    assert rows(engine) == []


def test_transient_failures_are_retried_until_delivered(  # type: ignore[no-untyped-def]
    pm, started, fake: FakeHubSpot, engine: Engine
) -> None:
    fake.fail_next(429, headers={"Retry-After": "1"})
    fake.fail_next(503)
    enable(started)
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    fake.wait_for(lambda f: f.contact_by_email("ada@example.com") is not None, timeout=20)
    wait_until(lambda: rows(engine)[0].status == DELIVERED)
    assert rows(engine)[0].attempts == 2


def test_a_rejected_token_parks_at_once_and_replay_delivers_after_the_fix(  # type: ignore[no-untyped-def]
    pm, started, fake: FakeHubSpot, engine: Engine
) -> None:
    enable(started, hubspot_api_key="pat-na1-00000000-0000-4000-8000-00000000beef")
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    wait_until(lambda: rows(engine)[0].status == DEAD)
    assert rows(engine)[0].attempts == 1 and "401" in rows(engine)[0].last_error
    started.store.save({"hubspot_api_key": FAKE_TOKEN})
    assert started.outbox.replay() == 1
    fake.wait_for(lambda f: f.contact_by_email("ada@example.com") is not None)


def test_a_ticket_retried_after_a_lost_answer_is_created_once(  # type: ignore[no-untyped-def]
    pm, started, fake: FakeHubSpot, engine: Engine
) -> None:
    enable(started)
    pm.hook.skypanel_on_ticket_created(
        ticket=Ticket(id="T-4", subject="First"), user=ADA, session=None
    )
    wait_until(lambda: rows(engine)[0].status == DELIVERED)
    fake.set_faults(error_rate=1.0, kinds=["slow"], slow_seconds=1.5)  # done, answer too late
    pm.hook.skypanel_on_ticket_created(
        ticket=Ticket(id="T-5", subject="Once"), user=ADA, session=None
    )
    fake.wait_for(lambda f: len(f.tickets()) == 2)
    fake.set_faults()
    wait_until(lambda: rows(engine)[-1].status == DELIVERED, timeout=30)
    assert sorted(t["properties"]["skypanel_ticket_id"] for t in fake.tickets()) == ["T-4", "T-5"]
    assert rows(engine)[-1].attempts >= 1


def test_a_deleted_user_is_erased_when_the_admin_chose_gdpr_delete(  # type: ignore[no-untyped-def]
    pm, started, fake: FakeHubSpot, engine: Engine
) -> None:
    enable(started, hubspot_user_deleted_action="gdpr_delete")
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    fake.wait_for(lambda f: f.contact_by_email("ada@example.com") is not None)
    pm.hook.skypanel_on_user_deleted(user=ADA, session=None)
    fake.wait_for(lambda f: f.contact_by_email("ada@example.com") is None)
    purge = [r for r in fake.requests if r.path.endswith("/gdpr-delete")]
    assert len(purge) == 1 and purge[0].body["objectId"]


def test_a_hook_never_raises_into_the_panel(pm, plugin_log) -> None:  # type: ignore[no-untyped-def]
    # Not started: recording is impossible, so the event is logged with what replays it.
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    (record,) = [r for r in plugin_log.records if r.levelname == "ERROR"]
    replay = json.loads(record.getMessage().split("to replay by hand: ", 1)[1])
    assert replay["user"]["email"] == "Ada@Example.com"


def test_a_batch_refused_whole_for_one_record_still_delivers_the_others(  # type: ignore[no-untyped-def]
    pm, started, fake: FakeHubSpot, engine: Engine
) -> None:
    # Real HubSpot may answer a batch with 400 for one bad input; the others must still go.
    fake.fail_next(
        400,
        body={
            "status": "error",
            "message": "Property values were not valid",
            "category": "VALIDATION_ERROR",
        },
    )
    enable(started)
    with Session(engine) as session:  # committed together, so one worker batch holds them
        for i in range(4):
            pm.hook.skypanel_on_user_created(
                user=User(id=str(i), email=f"u{i}@example.com"), session=session
            )
        session.commit()
    fake.wait_for(lambda f: len(f.contacts()) == 4)
    wait_until(lambda: all(r.status == DELIVERED for r in rows(engine)))
    # Nothing of the refused batch was applied: every user went again, none twice after.
    sizes = [len(r.body["inputs"]) for r in fake.requests if r.path.endswith("batch/create")]
    assert sizes[0] == 4 and sum(sizes[1:]) == 4
