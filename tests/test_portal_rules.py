"""A portal's rules on writes (2026-09): a contact HubSpot refuses for one is parked with a
reason naming the rule and the property, and delivered by a replay once the admin maps a
panel field to that property or the portal's admin removes the rule."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete
from sqlmodel import Session, select

from skypanel_hubspot_plugin import User
from skypanel_hubspot_plugin.delivery.outbox_table import (
    DEAD,
    DELIVERED,
    ObjectLink,
    OutboxRow,
    RateSlot,
)
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.settings import schema as keys
from skypanel_hubspot_plugin.testing import FakeHubSpot

SEED_MAP = {
    "email": "email",
    "first_name": "firstname",
    "last_name": "lastname",
    "company": "company",
    "phone": "phone",
}
#: What the panel's admin maps at first: the seed's fields and the support level.
FIRST_MAP = {**SEED_MAP, "level": "support_level"}
#: The fix: the panel's plan reaches the property the portal requires.
FIXED_MAP = {**FIRST_MAP, "plan": "plan_tier"}
CODES = {
    "required": "MISSING_REQUIRED_PROPERTY",
    "required_by_creation_form": "MISSING_REQUIRED_PROPERTY",
    "conditionally_required": "MISSING_CONDITIONAL_REQUIRED_PROPERTY",
}


def fresh_portal(rt: Runtime, fake: FakeHubSpot, engine: Engine) -> None:
    fake.reset()
    fake.add_property("contacts", "plan_tier", label="Plan tier")
    fake.add_property(
        "contacts",
        "support_level",
        type="enumeration",
        field_type="select",
        options=["basic", "vip"],
    )
    with Session(engine) as session:
        for table in (OutboxRow, ObjectLink, RateSlot):
            session.exec(delete(table))  # type: ignore[call-overload]
        session.commit()
    save_map(rt, FIRST_MAP)


def save_map(rt: Runtime, mapping: dict[str, str]) -> None:
    rt.store.save({keys.CONTACT_PROPERTY_MAP: json.dumps(mapping)})
    assert dict(rt.settings().contact_property_map) == mapping


def drain(rt: Runtime) -> None:
    worker = Worker(rt)
    for _ in range(20):
        if worker.run_once() == 0:
            return
    raise AssertionError("still delivering after 20 rounds")


def rows(engine: Engine) -> list[OutboxRow]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxRow).order_by(OutboxRow.id)))


def only_row(engine: Engine) -> OutboxRow:
    (row,) = rows(engine)
    return row


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kind=st.sampled_from(list(CODES)),
    prop=st.sampled_from(["company", "plan_tier"]),
    company=st.sampled_from(["", "Analytical Engines"]),
    plan=st.sampled_from([None, "pro"]),
    level=st.sampled_from(["basic", "vip"]),
)
def test_a_contact_a_rule_refuses_is_parked_naming_it_and_a_fix_then_replay_delivers(  # type: ignore[no-untyped-def]
    pm,
    rt: Runtime,
    fake: FakeHubSpot,
    engine: Engine,
    kind: str,
    prop: str,
    company: str,
    plan: str | None,
    level: str,
) -> None:
    fresh_portal(rt, fake, engine)
    when = ("support_level", "vip") if kind == "conditionally_required" else None
    fake.add_write_rule("contacts", kind, prop, when=when)
    extra: dict[str, Any] = {"level": level, **({"plan": plan} if plan else {})}
    user = User(id="7", email="ada@example.com", company=company, extra=extra)
    pm.hook.skypanel_on_user_created(user=user, session=None)
    drain(rt)

    sent = {"company": company, "plan_tier": ""}[prop]  # the first map sends no plan
    broken = (when is None or level == "vip") and not sent
    row = only_row(engine)
    if not broken:
        assert row.status == DELIVERED and fake.contact_by_email("ada@example.com")
        return
    assert row.status == DEAD and fake.contact_by_email("ada@example.com") is None
    reason = row.last_error or ""
    assert prop in reason and CODES[kind] in reason, reason
    assert "conditional" in reason if when else "required" in reason
    assert "replay" in reason

    if prop == "plan_tier":  # the panel has the value: the admin maps it
        save_map(rt, FIXED_MAP)
        fixed = plan is not None
    else:  # the panel has no company for this user: the portal's admin drops the rule
        fake.remove_write_rules("contacts", prop)
        fixed = True
    assert rt.outbox.replay(None, rt.settings().contact_property_map) == 1
    drain(rt)
    row = only_row(engine)
    contact = fake.contact_by_email("ada@example.com")
    if fixed:
        assert row.status == DELIVERED and contact is not None
        if prop == "plan_tier":
            assert contact["properties"]["plan_tier"] == plan
    else:
        assert row.status == DEAD and contact is None


def test_a_replay_with_the_rule_still_there_parks_again(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    fresh_portal(rt, fake, engine)
    fake.add_write_rule("contacts", "required_by_creation_form", "phone")
    pm.hook.skypanel_on_user_created(user=User(id="8", email="b@example.com"), session=None)
    drain(rt)
    assert only_row(engine).status == DEAD
    rt.outbox.replay(None, rt.settings().contact_property_map)
    drain(rt)
    row = only_row(engine)
    assert row.status == DEAD and "phone" in (row.last_error or "")


def test_an_older_api_version_ignores_the_rules(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    fresh_portal(rt, fake, engine)
    rt.store.save({"hubspot_api_version": "2026-03"})
    fake.add_write_rule("contacts", "required", "phone")
    pm.hook.skypanel_on_user_created(user=User(id="9", email="c@example.com"), session=None)
    drain(rt)
    assert only_row(engine).status == DELIVERED
