"""Polling does not trust HubSpot's answers: dates far in the future, dates that do not parse,
values of the wrong type, pages larger than asked for and paging that never ends cost one
bounded poll, are skipped and logged once, and the next good answer is handled."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session
from test_polling import open_tickets, poller, recorded
from test_polling import panel as panel

from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FakeHubSpot
from skypanel_hubspot_plugin.webhooks.polling import SKEW_S
from skypanel_hubspot_plugin.webhooks.table import PollCursor

MAX_PAGES = 3

dates = st.sampled_from(
    ["9999-12-31T23:59:59.999Z", "2100-01-01T00:00:00Z", "not a date", "", "99999999999999999"]
) | st.one_of(st.integers(), st.none(), st.lists(st.integers(), max_size=2), st.booleans())
values = st.one_of(
    st.text(max_size=5),
    st.integers(),
    st.none(),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)


def result(ids: list[str]) -> st.SearchStrategy[Any]:
    good_id = st.sampled_from(ids)
    return st.one_of(
        st.fixed_dictionaries(
            {
                "id": good_id | st.sampled_from(["¹²", "-1", "x"]) | st.integers(),
                "properties": st.fixed_dictionaries(
                    {"hs_lastmodifieddate": dates, "subject": values, "hs_pipeline_stage": values}
                ),
            }
        ),
        st.none(),
        st.integers(),
        st.just({"id": "1"}),
    )


@pytest.fixture
def tickets(pm, panel: Runtime) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return open_tickets(pm, panel, 2)


def cursor_ms(rt: Runtime) -> int:
    with Session(rt.outbox.engine) as session:
        cursor = session.get(PollCursor, "tickets")
        return cursor.modified_ms if cursor else 0


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_hostile_search_answers_cost_one_bounded_poll_and_the_next_good_one_is_handled(
    panel: Runtime,
    fake: FakeHubSpot,
    engine: Engine,
    tickets: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    data: st.DataObject,
) -> None:
    polls = poller(panel, max_pages=MAX_PAGES)
    polls.poll_if_due()  # the cursor exists
    results = data.draw(st.lists(result(list(tickets.values())), max_size=150))
    endless = data.draw(st.booleans())
    answer: dict[str, Any] = {"total": len(results), "results": results}
    if endless:
        answer["paging"] = {"next": {"after": "again"}}
    if data.draw(st.booleans()):
        answer["results"] = data.draw(st.sampled_from([None, "x", 5, {"a": 1}]))
    fake.fail_next(200, body=answer, count=MAX_PAGES + 2)
    before = [r for r in fake.requests if r.path.endswith("/search")]
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        polls.poll_if_due()
    took = time.monotonic() - started
    made = [r for r in fake.requests if r.path.endswith("/search")][len(before) :]
    assert len(made) <= MAX_PAGES
    assert took < 15
    assert cursor_ms(panel) <= (time.time() + SKEW_S) * 1000
    fake.reset_scripted()
    # the next good answer is handled
    handed = len(recorded(engine))
    stage = str(2 + len(recorded(engine)) % 3)
    fake.change_ticket(next(iter(tickets.values())), {"hs_pipeline_stage": stage})
    deadline = time.monotonic() + 10
    while len(recorded(engine)) == handed:
        assert time.monotonic() < deadline, "the good answer after hostile ones was not handled"
        polls.poll_if_due()


def test_one_worker_call_makes_at_most_one_search(
    panel: Runtime, fake: FakeHubSpot, tickets: dict[str, str]
) -> None:
    """Delivery runs between the pages of a poll, never behind a whole poll."""
    polls = poller(panel)
    polls.poll_if_due()
    page = {"total": 1, "results": [], "paging": {"next": {"after": "again"}}}
    fake.fail_next(200, body=page, count=5)
    calls = 0
    before = len([r for r in fake.requests if r.path.endswith("/search")])
    deadline = time.monotonic() + 10
    while True:
        calls += 1
        polls.run_if_due()
        made = len([r for r in fake.requests if r.path.endswith("/search")]) - before
        assert made <= calls
        if made >= 3:
            break
        assert time.monotonic() < deadline, "the poll did not go on between calls"
        time.sleep(0.01)
    fake.reset_scripted()


def test_a_result_that_does_not_parse_is_logged_once(
    panel: Runtime, fake: FakeHubSpot, tickets: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    polls = poller(panel)
    polls.poll_if_due()
    bad = {"id": next(iter(tickets.values())), "properties": {"hs_lastmodifieddate": "9999-01-01"}}
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            fake.fail_next(200, body={"total": 1, "results": [bad]})
            polls.poll_if_due()
    said = [r for r in caplog.records if "in the future" in r.getMessage()]
    assert len(said) == 1


@pytest.fixture(autouse=True)
def _no_script_left(fake: FakeHubSpot) -> Iterator[None]:
    yield
    fake.reset_scripted()
