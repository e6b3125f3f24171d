"""After a GDPR delete of a user, none of their personal values remain in any of the
plugin's tables, whatever email they had when a row was written and in whatever case;
other users' rows are untouched.

Every table of the plugin's metadata is planted through the plugin's own write paths, and
a table the planting left empty fails the test: a table added later must be planted here.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from conftest import start_plugin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, String, Text, func, select
from sqlalchemy.types import TypeDecorator

from skypanel_hubspot_plugin import (
    HubSpotBornTicket,
    Ticket,
    TicketMessage,
    User,
    Visitor,
    hookimpl,
)
from skypanel_hubspot_plugin import plugin_manager as new_plugin_manager
from skypanel_hubspot_plugin.delivery.backfill import Backfills
from skypanel_hubspot_plugin.delivery.deliverer import RetryPolicy
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.hubspot.service import CrmObject
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.settings.table import PluginTable
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot
from skypanel_hubspot_plugin.webhooks import born_tickets, replies
from skypanel_hubspot_plugin.webhooks.events import handle_event, parse_events
from skypanel_hubspot_plugin.webhooks.polling import TicketPoller
from skypanel_hubspot_plugin.webhooks.receiver import record_problem
from skypanel_hubspot_plugin.webhooks.replies import Reply

RUN = itertools.count()
FORM = "0b8f8a9c-7f64-4d52-9b5a-3f5e1c2d4a01"
#: Letters and digits of any script, upper and lower case: what names and addresses hold.
#: Letters whose case forms do not round-trip (dotless and dotted i, sharp s, long s, the
#: Kelvin sign) come first: an address typed with one and the same one in capitals must match.
WORD = st.one_of(
    st.sampled_from(["\u0131", "\u0130", "\u00df", "\u017f", "\u212a"]),
    st.text(st.characters(categories=("Lu", "Ll", "Nd")), min_size=1, max_size=6),
)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.fixture
def panel(pm, engine: Engine, secret_key: str, fake: FakeHubSpot) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    """A started plugin with everything that writes a table switched on: contacts, tickets
    polled back, forms, and the GDPR delete for deleted users."""
    fake.add_form(FORM, ["email", "firstname", "message"], required=["email"])
    pm.register(TicketChanges())
    rt = start_plugin(pm, engine, secret_key, fake.base_url, plugin_manager=pm, run_worker=False)
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_ticket_enabled": True,
            "hubspot_ticket_sync": "polling",
            "hubspot_contact_form_id": FORM,
            "hubspot_user_deleted_action": "gdpr_delete",
            "hubspot_rate_limit": "1000",
        }
    )
    yield rt
    pm.hook.skypanel_shutdown()


class TicketChanges:
    """The host's side of two-way ticket sync: it takes every change it is handed."""

    @hookimpl
    def skypanel_on_hubspot_ticket_changed(self, change: object, session: object) -> None:
        return None


@dataclass
class Person:
    """One panel user's personal values, each carrying a tag of its own so that finding it
    in a table can only mean that this value was kept."""

    user_id: str
    ticket_id: str
    emails: list[str]  # the one they signed up with, then the one they changed to
    first_name: str
    last_name: str
    company: str
    phone: str
    subjects: list[str]
    texts: list[str]
    form_value: str
    messages: list[str]

    def user(self, email: str) -> User:
        return User(
            id=self.user_id,
            email=email,
            first_name=self.first_name,
            last_name=self.last_name,
            company=self.company,
            phone=self.phone,
        )

    def values(self) -> list[str]:
        return [
            *self.emails,
            self.first_name,
            self.last_name,
            self.company,
            self.phone,
            *self.subjects,
            *self.texts,
            self.form_value,
            *self.messages,
        ]


@st.composite
def people(draw: st.DrawFn, who: str) -> Person:
    n = next(RUN)

    def value(field: str) -> str:
        return f"{draw(WORD)}-{who}{n}{field}"

    def email(k: int) -> str:
        return f"{draw(WORD)}.{who}{n}m{k}@{draw(WORD)}{n}.example"

    return Person(
        user_id=f"{who}{n}",
        ticket_id=f"T-{who}{n}",
        emails=[email(1), email(2)],
        first_name=value("fn"),
        last_name=value("ln"),
        company=value("co"),
        phone=value("ph"),
        subjects=[value("s1"), value("s2"), value("s3")],
        texts=[value("c1"), value("c2")],
        form_value=value("fv"),
        messages=[value("m1"), value("m2")],
    )


def plant(pm, rt: Runtime, fake: FakeHubSpot, p: Person, *, refused: bool) -> str:  # type: ignore[no-untyped-def]
    """Writes ``p``'s values through every path the plugin has; returns their ticket's
    HubSpot id."""
    worker = Worker(rt, policy=RetryPolicy(max_attempts=1))
    first, second = p.emails
    pm.hook.skypanel_on_user_created(user=p.user(first), session=None)
    for email in (first.upper(), first.swapcase()):  # forms sent under the first email
        pm.hook.skypanel_on_form_submitted(
            form="contact",
            fields={"email": email, "firstname": p.first_name, "message": p.form_value},
            visitor=Visitor(page_name=p.company, ip_address="192.0.2.7"),
            session=None,
        )
    worker.run_once()
    pm.hook.skypanel_on_user_updated(
        user=p.user(second), changed=frozenset({"email"}), session=None
    )
    ticket = Ticket(id=p.ticket_id, subject=p.subjects[0], content=p.texts[0])
    pm.hook.skypanel_on_ticket_created(ticket=ticket, user=p.user(second), session=None)
    wait_until(
        lambda: worker.run_once() >= 0 and rt.outbox.link("ticket", p.ticket_id) is not None,
        "the ticket delivered",
    )
    changed = Ticket(id=p.ticket_id, subject=p.subjects[1], content=p.texts[1])
    pm.hook.skypanel_on_ticket_updated(
        ticket=changed, changed=frozenset({"subject", "content"}), session=None
    )
    worker.run_once()
    # The ticket's conversation: the customer's message delivered, the staff's answer queued.
    for n, (kind, body) in enumerate(zip(("customer", "staff"), p.messages, strict=True)):
        pm.hook.skypanel_on_ticket_message_added(
            message=TicketMessage(
                id=f"{p.ticket_id}-m{n}",
                ticket_id=p.ticket_id,
                author_kind=kind,  # type: ignore[arg-type]
                body=body,
                sent_at=datetime(2026, 11, 25, 9, n, tzinfo=UTC),
                author_name=f"{p.first_name} {p.last_name}" if kind == "customer" else "Sam",
                author_email=second if kind == "customer" else "sam@panel.example.com",
            ),
            session=None,
        )
        if kind == "customer":
            worker.run_once()
    # A second ticket HubSpot could never take: parked as it came, whole.
    too_long = Ticket(id=f"{p.ticket_id}-2", subject=p.subjects[2] * 200, content=p.texts[1])
    pm.hook.skypanel_on_ticket_created(ticket=too_long, user=p.user(second), session=None)
    if refused:  # HubSpot refuses a change, quoting the address in its error
        fake.fail_next(
            400,
            body={
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": f"Property values were not valid: {second.upper()}",
            },
        )
        pm.hook.skypanel_on_user_updated(
            user=p.user(second), changed=frozenset({"phone"}), session=None
        )
        worker.run_once()
    return str(rt.outbox.link("ticket", p.ticket_id))


class ConversationHost:
    """Takes agents' replies and tickets opened in HubSpot, as a host does."""

    @hookimpl
    def skypanel_on_hubspot_ticket_message(self, message: object, session: object) -> None:
        pass

    @hookimpl
    def skypanel_on_hubspot_ticket_created(self, ticket: HubSpotBornTicket, session: object) -> str:
        return f"born-{ticket.hubspot_ticket_id}"


def plant_conversation(rt: Runtime, p: Person, hubspot_ticket: str) -> None:
    """An agent's reply on the user's ticket, and a ticket an agent opened for them, came
    back to the panel."""
    host = new_plugin_manager(load_entrypoints=False)
    host.register(ConversationHost())
    n = next(RUN)
    reply = Reply(str(700_000_000 + n), 1, "Answer", "Re: it", "Alex Agent", "agent@example.com")
    assert replies.hand_on(rt.outbox.engine, host, reply, p.ticket_id, hubspot_ticket)
    contact = rt.outbox.link("contact", p.user_id)
    born = CrmObject(str(800_000_000 + n), {"hs_pipeline": "0", "hs_pipeline_stage": "1"})
    assert born_tickets.offer(rt.outbox, host, rt.settings(), born, [str(contact)], lambda c: "")


def merge(rt: Runtime, pm, hubspot_id: str, merged_id: int) -> None:  # type: ignore[no-untyped-def]
    """HubSpot reports a merge into the ticket (a webhook event, handled in process)."""
    body = [
        {
            "eventId": merged_id,
            "subscriptionId": 1,
            "portalId": FAKE_PORTAL_ID,
            "appId": 1,
            "occurredAt": int(time.time() * 1000),
            "subscriptionType": "ticket.merge",
            "attemptNumber": 0,
            "objectId": int(hubspot_id),
            "primaryObjectId": int(hubspot_id),
            "mergedObjectIds": [merged_id],
            "changeSource": "CRM_UI",
        }
    ]
    (event,) = parse_events(json.dumps(body).encode())
    assert handle_event(rt.outbox, pm, rt.settings(), event)


def texts(engine: Engine) -> dict[str, list[str]]:
    """Every text each plugin table holds, JSON decoded where it is JSON."""
    found: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for table in PluginTable.metadata.sorted_tables:
            columns = [
                c
                for c in table.columns
                if isinstance(c.type, String | Text)
                or (isinstance(c.type, TypeDecorator) and isinstance(c.type.impl, String | Text))
            ]
            cells = found.setdefault(table.name, [])
            if not columns:
                continue
            for row in connection.execute(select(*columns)):
                for cell in row:
                    if cell is None:
                        continue
                    cells.append(cell)
                    with contextlib.suppress(ValueError):
                        cells.extend(_strings(json.loads(cell)))
    return found


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def kept(engine: Engine, values: list[str]) -> dict[str, list[str]]:
    """Where each of ``values`` is still found, in any letter case."""
    where: dict[str, list[str]] = {}
    for table, cells in texts(engine).items():
        folded = [c.casefold() for c in cells]
        for value in values:
            variants = {value.casefold(), value.upper().casefold()}
            if any(v in c for v in variants for c in folded):
                where.setdefault(value, []).append(table)
    return where


def empty_tables(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [
            t.name
            for t in PluginTable.metadata.sorted_tables
            if not connection.execute(select(func.count()).select_from(t)).scalar()
        ]


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ada=people("ada"), bob=people("bob"))
def test_a_gdpr_delete_leaves_nothing_of_the_user_in_any_table(  # type: ignore[no-untyped-def]
    pm, panel: Runtime, fake: FakeHubSpot, engine: Engine, ada: Person, bob: Person
) -> None:
    rt = panel
    ada_ticket = plant(pm, rt, fake, ada, refused=True)
    plant(pm, rt, fake, bob, refused=False)
    merge(rt, pm, ada_ticket, 900_000_000 + next(RUN))
    plant_conversation(rt, ada, ada_ticket)
    TicketPoller(rt, interval_s=0, overlap_s=30, lease_s=5).poll_if_due()
    job = Backfills(engine).start_or_resume()
    Backfills(engine).queue_all(
        job,
        lambda after, limit: [] if after else [ada.user(ada.emails[1]), bob.user(bob.emails[1])],
    )
    Worker(rt).run_once()
    # A process of this panel that once had no host hook left its reason (no personal data).
    record_problem(engine, "no implementation of skypanel_on_hubspot_ticket_changed")
    assert empty_tables(engine) == [], "a table the planting left empty: plant it here"
    assert set(kept(engine, ada.values())) == set(ada.values())  # all of it was there
    assert [
        r.last_error for r in rt.outbox.rows(DEAD) if ada.emails[1].upper() in (r.last_error or "")
    ]

    pm.hook.skypanel_on_user_deleted(user=ada.user(ada.emails[1]), session=None)
    Worker(rt).run_once()

    assert fake.contact_by_email(ada.emails[1]) is None
    assert kept(engine, ada.values()) == {}
    assert set(kept(engine, bob.values())) == set(bob.values())  # the other user's stay
    assert rt.outbox.link("contact", bob.user_id) is not None
    assert rt.outbox.link("ticket", bob.ticket_id) is not None
