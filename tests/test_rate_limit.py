"""The shared request budget: HubSpot never answers 429 to workers sharing a database.

The promise is HubSpot's view: whatever the number of workers, no rolling window at
HubSpot holds more requests than the limit. The fake HubSpot enforces the limit on
arrival, as HubSpot does, and counts what it refused.
"""

from __future__ import annotations

import threading
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete
from test_fake_hubspot import raw

from skypanel_hubspot_plugin.delivery.outbox_table import RateSlot
from skypanel_hubspot_plugin.delivery.rate_limit import SharedRateLimit
from skypanel_hubspot_plugin.settings.table import ensure_tables
from skypanel_hubspot_plugin.testing import FakeHubSpot

INTERVAL_S = 0.5


def send_through(
    engine: Engine,
    hubspot: FakeHubSpot,
    limit: list[int],
    workers: int,
    each: int,
    on_the_way: list[float] = [0.0],  # noqa: B006 (never changed)
) -> list[float]:
    """``workers`` threads, each with its own limiter on ``engine``, each sending ``each``
    requests to ``hubspot`` once the budget allows, the n-th request of a thread taking
    ``on_the_way[n % len]`` seconds between its slot and HubSpot; returns when each was taken."""
    taken: list[float] = []
    stop = threading.Event()
    failures: list[BaseException] = []

    def work() -> None:
        limiter = SharedRateLimit(engine, lambda: limit[0], interval_s=INTERVAL_S)
        try:
            for n in range(each):
                slot = limiter.acquire(stop)
                assert slot is not None
                taken.append(time.monotonic())
                stop.wait(on_the_way[n % len(on_the_way)])  # a descheduled worker, a slow network
                raw(hubspot, "GET", "/account-info/v3/details")
                limiter.answered(slot)
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures
    assert len(taken) == workers * each
    return sorted(taken)


def refused(hubspot: FakeHubSpot) -> int:
    return sum(1 for r in hubspot.requests if r.status == 429)


def test_workers_sharing_a_database_never_go_over_hubspots_limit(engine: Engine) -> None:
    ensure_tables(engine)
    with FakeHubSpot(rate_limit=4, rate_interval_s=INTERVAL_S) as hubspot:
        send_through(engine, hubspot, [4], workers=4, each=4)
        assert refused(hubspot) == 0
        assert len(hubspot.requests) == 16


#: Each example sends real requests and waits for real windows: a few are enough.
A_FEW_EXAMPLES = settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def empty_budget(engine: Engine) -> None:
    """The budget's table, with no slot used yet (examples share one database)."""
    ensure_tables(engine)
    with engine.begin() as connection:
        connection.execute(delete(RateSlot))


@A_FEW_EXAMPLES
@given(
    limits=st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=3),
    workers=st.integers(min_value=1, max_value=3),
)
def test_a_changed_limit_holds_for_the_next_requests(
    sqlite_engine: Engine, limits: list[int], workers: int
) -> None:
    """The admin raises or lowers the limit between bursts (HubSpot's own limit changing
    with it): the next requests keep to it, on a fresh table or a used one."""
    empty_budget(sqlite_engine)
    current = [limits[0]]
    for limit in limits:
        current[0] = limit
        with FakeHubSpot(rate_limit=limit, rate_interval_s=INTERVAL_S) as hubspot:
            send_through(sqlite_engine, hubspot, current, workers=workers, each=limit + 1)
            assert refused(hubspot) == 0


@A_FEW_EXAMPLES
@given(
    on_the_way=st.lists(st.floats(min_value=0.0, max_value=0.3), min_size=1, max_size=4),
    workers=st.integers(min_value=1, max_value=3),
)
def test_requests_slow_on_their_way_never_push_hubspot_over_its_limit(
    engine: Engine, on_the_way: list[float], workers: int
) -> None:
    """HubSpot counts a request when it arrives: one that arrives late (its worker paused
    after taking the slot) still leaves the next request of that slot a full window after it."""
    empty_budget(engine)
    with FakeHubSpot(rate_limit=3, rate_interval_s=INTERVAL_S) as hubspot:
        send_through(engine, hubspot, [3], workers=workers, each=4, on_the_way=on_the_way)
        assert refused(hubspot) == 0
