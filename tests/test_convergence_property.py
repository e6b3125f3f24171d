"""Property: whatever the panel does and whatever fails, HubSpot ends as the panel is.

Hypothesis draws a schedule: users and tickets created and changed in any order, workers
(up to three, sharing the database) running with HubSpot answering each request ok, 500,
429, or doing the work and losing the answer (504, or the connection dropped), workers
dying at any write to the outbox and restarting, two workers racing (one claims a few
rows and delivers them after the other has begun delivering its own claim, before its
first request), HubSpot's users editing (or clearing) mapped properties between the
panel's changes, and time passing. Each mapped property gets a mode drawn for the example.
When the schedule ends, the workers drain the queue with HubSpot healthy, and then every
contact and ticket is in HubSpot once, with nothing parked, and every property holds what
its mode promises (:meth:`convergence.Panel.judge_by_modes`): the panel's last value for
``overwrite``, a HubSpot user's value kept for ``fill_if_empty`` and ``on_create``.
"""

from __future__ import annotations

import json
from typing import Any

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
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete
from sqlmodel import Session

from skypanel_hubspot_plugin.delivery.deliverer import RetryPolicy
from skypanel_hubspot_plugin.delivery.outbox_table import ObjectLink, OutboxRow, RateSlot
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.settings.property_map import MODES
from skypanel_hubspot_plugin.testing import FakeHubSpot

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


def fresh_start(rt: Runtime, engine: Engine, fake: FakeHubSpot, chosen: dict[str, str]) -> None:
    """An empty HubSpot and outbox, and maps whose rows have the ``chosen`` modes."""
    fake.reset()
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
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(schedule=steps, chosen=modes)
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
)
# A contact created by an upsert whose answer was lost, then changed: on_create is not sent again.
@example(
    schedule=[
        ("user", "2", {"phone": "+1 555 0001", "company": "a"}),
        ("run", 0, ["ok", "lost-504"], None),
        ("user", "2", {"phone": "+1 555 0002", "company": "b"}),
    ],
    chosen={"phone": "on_create", "company": "fill_if_empty"},
)
def test_hubspot_ends_as_the_panel_is(  # type: ignore[no-untyped-def]
    pm,
    rt: Runtime,
    fake: FakeHubSpot,
    engine: Engine,
    schedule: list[tuple[Any, ...]],
    chosen: dict[str, str],
) -> None:
    fresh_start(rt, engine, fake, chosen)
    panel = Panel(pm)
    workers = [Worker(rt, policy=POLICY) for _ in range(3)]
    for step in schedule:
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
    judge = panel.judge_by_modes(rt, fake)
    assert differences(rt, fake, panel.users, panel.tickets, judge) == []
