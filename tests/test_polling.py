"""Ticket changes made in HubSpot found by polling its search: each once, none of the
plugin's own, through index lag, ties, restarts, SIGKILLs and several workers, within the
search endpoint's own rate limit."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import start_plugin
from poll_host import Recorder, metadata, recorded
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from worker_process import spawn_worker

from skypanel_hubspot_plugin import Ticket, User
from skypanel_hubspot_plugin.delivery.outbox_table import RateSlot
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot
from skypanel_hubspot_plugin.webhooks.polling import TicketPoller, modified_ms


def wait_until(condition: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.02)


@pytest.fixture
def panel(pm, engine: Engine, secret_key: str, fake: FakeHubSpot) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    """A started plugin (no background worker) with polling chosen and the host's hook."""
    metadata.create_all(engine)
    pm.register(Recorder())
    rt = start_plugin(pm, engine, secret_key, fake.base_url, plugin_manager=pm, run_worker=False)
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_ticket_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_ticket_sync": "polling",
        }
    )
    yield rt
    pm.hook.skypanel_shutdown()


def open_tickets(pm, rt: Runtime, count: int) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """``count`` panel tickets delivered to HubSpot: panel id → HubSpot id."""
    for i in range(count):
        pm.hook.skypanel_on_ticket_created(
            ticket=Ticket(id=f"T-{i}", subject=f"Ticket {i}"),
            user=User(id=str(i), email=f"user{i}@example.com"),
            session=None,
        )
    worker = Worker(rt)

    def linked() -> bool:
        worker.run_once()
        return all(rt.outbox.link("ticket", f"T-{i}") for i in range(count))

    wait_until(linked, what="tickets delivered")
    return {f"T-{i}": str(rt.outbox.link("ticket", f"T-{i}")) for i in range(count)}


def stamp(epoch_s: float) -> str:
    """A moment in HubSpot's ISO format."""
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def poller(rt: Runtime, **options: object) -> TicketPoller:
    return TicketPoller(rt, interval_s=0, overlap_s=30, lease_s=5, **options)  # type: ignore[arg-type]


def test_each_change_reaches_the_host_once_and_the_plugins_own_writes_not_at_all(
    pm, panel: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    tickets = open_tickets(pm, panel, 3)
    polls = poller(panel)
    assert polls.poll_if_due() == 0  # the plugin's own creations are not changes
    fake.change_ticket(tickets["T-1"], {"hs_pipeline_stage": "3"})
    assert polls.poll_if_due() == 1
    assert polls.poll_if_due() == 0  # read again in the overlap window, handed on once
    [(ticket_id, hubspot_id, _, stage, status)] = recorded(engine)
    assert (ticket_id, hubspot_id, stage, status) == ("T-1", tickets["T-1"], "3", "in_progress")
    # the panel changes a ticket: HubSpot reports it back, and the host hears nothing
    pm.hook.skypanel_on_ticket_updated(
        ticket=Ticket(id="T-2", subject="Ticket 2", status="closed"),
        changed=frozenset({"status"}),
        session=None,
    )
    worker = Worker(panel)
    wait_until(
        lambda: (
            worker.run_once() >= 0
            and any(
                t["id"] == tickets["T-2"] and t["properties"]["hs_pipeline_stage"] == "4"
                for t in fake.tickets()
            )
        ),
        what="the panel's change delivered",
    )
    assert polls.poll_if_due() == 0
    assert len(recorded(engine)) == 1


def test_changes_sharing_one_modification_time_are_each_handed_on_once(
    pm, panel: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    tickets = open_tickets(pm, panel, 5)
    polls = poller(panel, page_size=2)  # the ties straddle pages
    polls.poll_if_due()
    fake.fix_modification_time(stamp(time.time() + 1))  # ahead of the clock, within the skew
    for hubspot_id in tickets.values():
        fake.change_ticket(hubspot_id, {"hs_pipeline_stage": "2"})
    assert polls.poll_if_due() == 5
    fake.change_ticket(tickets["T-3"], {"hs_pipeline_stage": "3"})  # same time, new value
    assert polls.poll_if_due() == 1
    fake.fix_modification_time(None)
    assert polls.poll_if_due() == 0
    seen = [(r[0], r[3]) for r in recorded(engine)]
    assert sorted(seen) == sorted([(t, "2") for t in tickets] + [("T-3", "3")])


def test_a_change_the_search_index_shows_late_is_found_and_not_repeated(
    pm, panel: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    tickets = open_tickets(pm, panel, 2)
    polls = poller(panel)
    polls.poll_if_due()
    fake.search_lag_s = 0.6
    fake.change_ticket(tickets["T-0"], {"hs_pipeline_stage": "2"})
    assert polls.poll_if_due() == 0  # not in the index yet
    wait_until(lambda: polls.poll_if_due() == 1, what="the lagging change found")
    # a change indexed late, stamped earlier than the newest one already handled (the
    # cursor has passed it): between T-1's last version and T-0's change
    newest = recorded(engine)[0][2]
    [t1] = [t for t in fake.tickets() if t["id"] == tickets["T-1"]]
    previous = modified_ms(t1["properties"]["hs_lastmodifieddate"])
    assert previous is not None and previous < newest - 1
    stamp = datetime.fromtimestamp((previous + newest) / 2000, UTC)
    fake.search_lag_s = 0.0
    fake.fix_modification_time(stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    fake.change_ticket(tickets["T-1"], {"hs_pipeline_stage": "3"})
    fake.fix_modification_time(None)
    assert polls.poll_if_due() == 1
    assert polls.poll_if_due() == 0
    assert [(r[0], r[3]) for r in recorded(engine)] == [("T-0", "2"), ("T-1", "3")]


def test_the_cursor_survives_a_restart(
    pm, panel: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    tickets = open_tickets(pm, panel, 2)
    poller(panel).poll_if_due()
    fake.change_ticket(tickets["T-0"], {"hs_pipeline_stage": "2"})
    assert poller(panel).poll_if_due() == 1
    restarted = poller(panel)  # a new process: nothing in memory
    assert restarted.poll_if_due() == 0
    fake.change_ticket(tickets["T-1"], {"hs_pipeline_stage": "4"})
    assert restarted.poll_if_due() == 1
    assert [r[0] for r in recorded(engine)] == ["T-0", "T-1"]


def test_search_requests_stay_within_the_search_limit_and_the_shared_budget(
    pm, panel: Runtime, fake: FakeHubSpot
) -> None:  # type: ignore[no-untyped-def]
    tickets = open_tickets(pm, panel, 24)
    polls = poller(panel, page_size=2)
    polls.poll_if_due()
    for hubspot_id in tickets.values():
        fake.change_ticket(hubspot_id, {"hs_pipeline_stage": "2"})
    before = len(fake.search_requests())
    started = time.time()
    assert polls.poll_if_due() == 24
    hits = fake.search_requests()[before:]
    with Session(panel.outbox.engine) as session:  # each took a slot of the shared budget
        slots = session.exec(
            select(func.count()).select_from(RateSlot).where(col(RateSlot.at) >= started)
        ).one()
    assert slots == len(hits)
    assert len(hits) >= 12
    # spaced for 3 a second; arrival jitter may squeeze a fourth into one second, never more
    busiest = max(sum(1 for t in hits if start <= t < start + 1.0) for start in hits)
    assert busiest <= 4, f"{busiest} search requests in one second (HubSpot allows 4)"
    assert not [r for r in fake.requests if r.path.endswith("/search") and r.status == 429]


def test_several_pollers_hand_each_change_on_once(
    pm, panel: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    tickets = open_tickets(pm, panel, 6)
    pollers = [poller(panel) for _ in range(3)]
    stop = threading.Event()

    def run(p: TicketPoller) -> None:
        while not stop.is_set():
            p.poll_if_due()
            time.sleep(0.01)

    threads = [threading.Thread(target=run, args=(p,)) for p in pollers]
    for thread in threads:
        thread.start()
    try:
        for round_ in range(3):
            for hubspot_id in tickets.values():
                fake.change_ticket(hubspot_id, {"hs_pipeline_stage": str(2 + round_)})
            wait_until(
                lambda r=round_: sum(1 for row in recorded(engine) if row[3] == str(2 + r)) == 6,
                what=f"round {round_} handed on",
            )
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    rows = recorded(engine)
    assert len(rows) == 18
    assert not [k for k, n in Counter((r[1], r[2]) for r in rows).items() if n > 1]


POLLING_WORKER = (
    "--lease",
    "2",
    "--idle",
    "0.05",
    "--timeout",
    "2",
    "--poll-interval",
    "0.2",
    "--plugin",
    "poll_host:recorder",
)


def test_worker_processes_killed_mid_poll_hand_each_change_on_once(
    pm, panel: Runtime, fake: FakeHubSpot, engine: Engine, secret_key: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Worker processes poll (one on SQLite, three on PostgreSQL) and are SIGKILLed while
    agents keep moving tickets; the host ends with every ticket's last stage (a change
    undone before a poll saw it is no change), and no version is handed on twice."""
    tickets = open_tickets(pm, panel, 8)
    url = engine.url.render_as_string(hide_password=False)
    count = 3 if engine.dialect.name == "postgresql" else 1
    log = tmp_path / "workers.log"
    workers = [spawn_worker(url, fake, secret_key, log, *POLLING_WORKER) for _ in range(count)]
    last: dict[str, str] = {}
    try:
        for round_ in range(6):
            for panel_id, hubspot_id in tickets.items():
                stage = str(1 + (round_ + int(panel_id[2:])) % 4)
                fake.change_ticket(hubspot_id, {"hs_pipeline_stage": stage})
                last[panel_id] = stage
            searched = len(fake.search_requests())
            wait_until(
                lambda n=searched: len(fake.search_requests()) > n,
                timeout=30,
                what="a worker polling",
            )  # kill it mid-poll or just after
            victim = workers[round_ % count]
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            workers[round_ % count] = spawn_worker(url, fake, secret_key, log, *POLLING_WORKER)

        def final() -> dict[str, str]:
            latest = dict.fromkeys(tickets, "1")  # the stage the panel created them in
            for ticket_id, _, _, stage, _ in recorded(engine):
                if stage is not None:
                    latest[ticket_id] = stage
            return latest

        wait_until(lambda: final() == last, timeout=60, what="every ticket's last stage")
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(20)
    rows = recorded(engine)
    assert not [k for k, n in Counter((r[1], r[2], r[3]) for r in rows).items() if n > 1], rows


def test_a_poll_past_the_search_paging_limit_starts_a_new_query_and_misses_nothing(
    pm, panel: Runtime, fake: FakeHubSpot, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """HubSpot pages one query through 10,000 results; here the limit is 4, with 10 changes."""
    from skypanel_hubspot_plugin.webhooks import polling

    monkeypatch.setattr(polling, "MAX_RESULTS_PER_QUERY", 4)
    tickets = open_tickets(pm, panel, 10)
    polls = poller(panel, page_size=2)
    polls.poll_if_due()
    for n, hubspot_id in enumerate(tickets.values()):
        fake.fix_modification_time(stamp(time.time() + 1 + n))
        fake.change_ticket(hubspot_id, {"hs_pipeline_stage": "2"})
    fake.fix_modification_time(None)
    assert polls.poll_if_due() == 10
    searches = [r for r in fake.requests if r.path.endswith("/search")]
    restarts = [r for r in searches if not r.body["after"]]
    assert len(restarts) >= 3  # the first poll's, then this poll's first query and a new one
    assert sorted(r[0] for r in recorded(engine)) == sorted(tickets)
