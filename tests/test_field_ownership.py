"""Who owns a field: each mapped property is written as its mode says, whatever HubSpot's
users do between the panel's changes.

- ``overwrite``: the panel's value on every delivery (what every map did before modes).
- ``fill_if_empty``: written only while HubSpot's value is empty; a value a HubSpot user
  typed is kept, one they cleared is filled again by the panel's next change.
- ``on_create``: written only when the plugin creates the record; later panel changes and
  a record that already existed in HubSpot leave it alone.

A batch costs one extra request (a batch read), never one per record.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from convergence import parked, pending, time_passes
from sqlalchemy import Engine

from skypanel_hubspot_plugin import Ticket, User
from skypanel_hubspot_plugin.delivery.deliverer import RetryPolicy
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.hubspot.service import HubSpotService
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FakeHubSpot

ADA = User(
    id="1",
    email="ada@example.com",
    first_name="Ada",
    company="Panel Co",
    phone="+1 555 0100",
    extra={"plan": "pro"},
)
TICKET = Ticket(
    id="T-1", subject="Disk full", status="open", extra={"server": "vps-1", "plan": "pro"}
)
CONTACT_MAP = {
    "email": "email",
    "first_name": "firstname",
    "company": {"property": "company", "mode": "fill_if_empty"},
    "phone": {"property": "phone", "mode": "on_create"},
    "plan": {"property": "plan_tier", "mode": "on_create"},
}
TICKET_MAP = {
    "server": {"property": "panel_server", "mode": "fill_if_empty"},
    "plan": {"property": "ticket_plan", "mode": "on_create"},
}


@pytest.fixture
def owned(rt: Runtime, fake: FakeHubSpot) -> Runtime:
    """The plugin with maps whose rows have every mode, and the properties in the portal."""
    fake.add_property("contacts", "plan_tier")
    fake.add_property("tickets", "panel_server")
    fake.add_property("tickets", "ticket_plan")
    rt.store.save(
        {
            "hubspot_contact_property_map": json.dumps(CONTACT_MAP),
            "hubspot_ticket_property_map": json.dumps(TICKET_MAP),
        }
    )
    return rt


def drain(rt: Runtime, engine: Engine) -> None:
    worker = Worker(rt, policy=RetryPolicy(max_attempts=8, base_s=30.0, cap_s=60.0))
    for _ in range(20):
        if not pending(engine):
            break
        time_passes(engine)
        worker.run_once()
    assert not pending(engine)
    assert not parked(engine), [r.last_error for r in parked(engine)]


def contact(fake: FakeHubSpot, email: str = "ada@example.com") -> dict[str, Any]:
    found = fake.contact_by_email(email)
    assert found is not None
    return dict(found["properties"])


def ticket(fake: FakeHubSpot) -> tuple[str, dict[str, Any]]:
    [found] = fake.tickets()
    return found["id"], dict(found["properties"])


def update(pm: Any, user: User, **changes: Any) -> User:
    changed = dataclasses.replace(user, **changes)
    pm.hook.skypanel_on_user_updated(user=changed, changed=frozenset(changes), session=None)
    return changed


def requests_to(fake: FakeHubSpot, ending: str) -> int:
    return sum(r.path.endswith(ending) for r in fake.requests)


def test_every_mode_is_written_when_the_plugin_creates_the_contact(  # type: ignore[no-untyped-def]
    pm, owned: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    drain(owned, engine)
    props = contact(fake)
    assert (props["firstname"], props["company"], props["phone"], props["plan_tier"]) == (
        "Ada",
        "Panel Co",
        "+1 555 0100",
        "pro",
    )


def test_fill_if_empty_keeps_what_a_hubspot_user_typed_and_fills_what_they_cleared(  # type: ignore[no-untyped-def]
    pm, owned: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    drain(owned, engine)
    contact_id = fake.contact_by_email(ADA.email)["id"]  # type: ignore[index]

    user = update(pm, ADA, company="Renamed Co", first_name="Ada L.")
    drain(owned, engine)
    assert contact(fake)["company"] == "Panel Co"  # not empty: the panel's newer value waits
    assert contact(fake)["firstname"] == "Ada L."  # overwrite: the panel's, always

    fake.change_contact(contact_id, {"company": ""})  # a HubSpot user clears it
    user = update(pm, user, company="Third Co")
    drain(owned, engine)
    assert contact(fake)["company"] == "Third Co"

    fake.change_contact(contact_id, {"company": "Typed in HubSpot", "firstname": "Typed"})
    user = update(pm, user, company="Fourth Co", first_name="Ada King")
    drain(owned, engine)
    assert contact(fake)["company"] == "Typed in HubSpot"
    assert contact(fake)["firstname"] == "Ada King"


def test_on_create_is_never_written_again(  # type: ignore[no-untyped-def]
    pm, owned: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    drain(owned, engine)
    contact_id = fake.contact_by_email(ADA.email)["id"]  # type: ignore[index]

    user = update(pm, ADA, phone="+1 555 0199", extra={"plan": "business"})
    drain(owned, engine)
    assert (contact(fake)["phone"], contact(fake)["plan_tier"]) == ("+1 555 0100", "pro")

    fake.change_contact(contact_id, {"phone": "+1 555 0142"})
    update(pm, user, phone="+1 555 0200", first_name="Ada B.")
    drain(owned, engine)
    assert (contact(fake)["phone"], contact(fake)["firstname"]) == ("+1 555 0142", "Ada B.")


def test_a_contact_hubspot_already_had_gets_no_on_create_value(  # type: ignore[no-untyped-def]
    pm, owned: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    """Sign-up of someone sales entered by hand: the upsert finds them, so only what the
    panel owns (and what HubSpot has empty) is written."""
    service = owned.service()
    service.create_contact({"email": ADA.email, "phone": "+1 555 0777", "firstname": "A."})
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    drain(owned, engine)
    props = contact(fake)
    assert props["phone"] == "+1 555 0777"  # on_create: HubSpot's record was not ours
    assert "plan_tier" not in props
    assert props["company"] == "Panel Co"  # fill_if_empty: it was empty
    assert props["firstname"] == "Ada"  # overwrite


@pytest.mark.parametrize("fault", ["lost-504", "lost-drop", "500"])
def test_a_creation_retried_keeps_its_value_at_creation(  # type: ignore[no-untyped-def]
    pm, owned: Runtime, fake: FakeHubSpot, engine: Engine, fault: str
) -> None:
    """The creating request's answer is lost (or it failed): the retry finds the contact
    and sends no on_create value over the one it was created with."""
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    fake.script_faults([fault])  # the create does not answer
    Worker(owned, policy=RetryPolicy(max_attempts=8, base_s=30.0, cap_s=60.0)).run_once()
    creates = [r for r in fake.requests if r.path.endswith("/contacts/batch/create")]
    assert [r.status for r in creates] == [{"lost-504": 504, "lost-drop": 0, "500": 500}[fault]]
    update(pm, ADA, phone="+1 555 0299")
    drain(owned, engine)
    created = "+1 555 0100" if fault != "500" else "+1 555 0299"
    assert contact(fake)["phone"] == created
    assert len(fake.contacts()) == 1


def test_a_batch_costs_one_read_whatever_its_size(  # type: ignore[no-untyped-def]
    pm, owned: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    service = owned.service()
    for n in range(0, 40, 4):  # some already in HubSpot, typed in by sales
        service.create_contact({"email": f"user{n}@example.com", "company": "Sales' own"})
    users = [
        User(id=str(n), email=f"user{n}@example.com", company=f"Co {n}", phone="+1 555 0100")
        for n in range(40)
    ]
    for user in users:
        pm.hook.skypanel_on_user_created(user=user, session=None)
    before = len(fake.requests)
    Worker(owned).run_once()
    sent = [r.path.rsplit("/", 2)[-2:] for r in fake.requests[before:]]
    # New contacts are created (HubSpot answers each input); the 10 sales typed in are
    # named by their existing ids, read once and updated with what the panel may write.
    assert sent == [["batch", "create"], ["batch", "read"], ["batch", "update"]]
    for n in range(40):
        props = contact(fake, f"user{n}@example.com")
        assert props["company"] == ("Sales' own" if n % 4 == 0 else f"Co {n}")
        assert ("phone" in props) == (n % 4 != 0)

    for user in users:  # linked now: their changes go by id, one read for the batch
        update(pm, user, company="Later", phone="+1 555 0300", first_name="Renamed")
    before = len(fake.requests)
    Worker(owned).run_once()
    sent = [r.path.rsplit("/", 2)[-2:] for r in fake.requests[before:]]
    assert sent == [["batch", "read"], ["batch", "update"]]
    for user in users:
        props = contact(fake, user.email)
        assert props["company"] != "Later"
        assert props["firstname"] == "Renamed"


def test_changes_only_hubspots_users_own_now_cost_no_write(  # type: ignore[no-untyped-def]
    pm, owned: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    drain(owned, engine)
    before = len(fake.requests)
    update(pm, ADA, phone="+1 555 0401")  # on_create only: nothing to read, nothing to send
    drain(owned, engine)
    assert len(fake.requests) == before


def test_a_contact_gone_between_the_read_and_the_write_gets_what_was_held_back(  # type: ignore[no-untyped-def]
    pm, owned: Runtime, fake: FakeHubSpot, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sales' contact holds the email: the sign-up's create names it, the plugin reads it and
    holds back what HubSpot's users own; a HubSpot user deletes it just before the update,
    so the contact is created again, with everything."""
    service = owned.service()
    existing = service.create_contact({"email": ADA.email, "company": "Sales' own"})
    update_contacts = HubSpotService.update_contacts

    def deleted_first(self: HubSpotService, updates: Any) -> Any:
        self.archive_contact(existing.id)  # a HubSpot user deletes it just then
        monkeypatch.setattr(HubSpotService, "update_contacts", update_contacts)
        return update_contacts(self, updates)

    monkeypatch.setattr(HubSpotService, "update_contacts", deleted_first)
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    drain(owned, engine)
    props = contact(fake)
    assert (props["company"], props["phone"], props["plan_tier"]) == (
        "Panel Co",
        "+1 555 0100",
        "pro",
    )


def test_ticket_properties_follow_their_modes(  # type: ignore[no-untyped-def]
    pm, owned: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    pm.hook.skypanel_on_ticket_created(ticket=TICKET, user=ADA, session=None)
    drain(owned, engine)
    ticket_id, props = ticket(fake)
    assert (props["panel_server"], props["ticket_plan"]) == ("vps-1", "pro")

    def change(current: Ticket, **extra: str) -> Ticket:
        changed = dataclasses.replace(current, extra={**current.extra, **extra})
        pm.hook.skypanel_on_ticket_updated(
            ticket=changed, changed=frozenset({"extra"}), session=None
        )
        return changed

    latest = change(TICKET, server="vps-2", plan="business")
    drain(owned, engine)
    assert ticket(fake)[1]["panel_server"] == "vps-1"
    assert ticket(fake)[1]["ticket_plan"] == "pro"

    fake.change_ticket(ticket_id, {"panel_server": ""})  # an agent clears it
    latest = change(latest, server="vps-3")
    drain(owned, engine)
    assert ticket(fake)[1]["panel_server"] == "vps-3"

    fake.change_ticket(ticket_id, {"panel_server": "agent's pick", "ticket_plan": "agent's"})
    latest = change(latest, server="vps-4", plan="free")
    drain(owned, engine)
    assert (ticket(fake)[1]["panel_server"], ticket(fake)[1]["ticket_plan"]) == (
        "agent's pick",
        "agent's",
    )


@pytest.mark.parametrize("fault", ["lost-504", "lost-drop"])
def test_a_ticket_created_with_its_answer_lost_keeps_its_value_at_creation(  # type: ignore[no-untyped-def]
    pm, owned: Runtime, fake: FakeHubSpot, engine: Engine, fault: str
) -> None:
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    drain(owned, engine)
    pm.hook.skypanel_on_ticket_created(ticket=TICKET, user=ADA, session=None)
    fake.script_faults(["ok", "ok", "ok", fault])  # property look, read, (contact), upsert…
    worker = Worker(owned, policy=RetryPolicy(max_attempts=8, base_s=30.0, cap_s=60.0))
    worker.run_once()
    lost = [r for r in fake.requests if r.path.endswith("/tickets/batch/upsert")]
    assert [r.status for r in lost] == [504 if fault == "lost-504" else 0]
    changed = dataclasses.replace(TICKET, extra={"server": "vps-9", "plan": "free"})
    pm.hook.skypanel_on_ticket_updated(ticket=changed, changed=frozenset({"extra"}), session=None)
    drain(owned, engine)
    [created] = fake.tickets()
    assert created["properties"]["ticket_plan"] == "pro"
    assert created["properties"]["panel_server"] == "vps-1"


def test_a_map_without_modes_writes_every_property_each_time(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    """Maps saved before modes existed: overwrite everywhere, and no read before writing."""
    rt.store.save({"hubspot_contact_property_map": '{"email": "email", "company": "company"}'})
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    drain(rt, engine)
    contact_id = fake.contact_by_email(ADA.email)["id"]  # type: ignore[index]
    fake.change_contact(contact_id, {"company": "Typed in HubSpot"})
    update(pm, ADA, company="Panel's")
    drain(rt, engine)
    assert contact(fake)["company"] == "Panel's"
    assert requests_to(fake, "/batch/read") == 0
