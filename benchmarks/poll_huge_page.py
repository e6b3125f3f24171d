"""One poll that HubSpot (or anything posing as it) answers with a 100,000-result page.

Prints the poll's wall time, the process's peak memory growth, and the search requests it
made. Run: .venv/bin/python benchmarks/poll_huge_page.py [results]
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from skypanel_hubspot_plugin import HostContext, TicketChange, hookimpl, plugin_manager
from skypanel_hubspot_plugin.runtime import current
from skypanel_hubspot_plugin.settings.secrets import generate_key
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot
from skypanel_hubspot_plugin.webhooks.polling import TicketPoller


class Host:
    @hookimpl
    def skypanel_on_hubspot_ticket_changed(self, change: TicketChange, session: Any) -> None:
        pass


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    page = {
        "total": count,
        "results": [
            {
                "id": str(10_000_000 + i),
                "properties": {"hs_lastmodifieddate": stamp, "subject": f"s{i}"},
                "createdAt": stamp,
                "updatedAt": stamp,
                "archived": False,
            }
            for i in range(count)
        ],
        "paging": {"next": {"after": "1"}},
    }
    with tempfile.TemporaryDirectory() as tmp, FakeHubSpot(search_rate_limit=None) as fake:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        pm = plugin_manager()
        pm.register(Host())
        pm.hook.skypanel_startup(
            host=HostContext(
                engine=engine,
                secret_keys=[generate_key()],
                hubspot_base_url=fake.base_url,
                run_worker=False,
                plugin_manager=pm,
            )
        )
        rt = current()
        rt.store.save(
            {
                "hubspot_enabled": True,
                "hubspot_ticket_enabled": True,
                "hubspot_portal_id": str(FAKE_PORTAL_ID),
                "hubspot_api_key": FAKE_TOKEN,
                "hubspot_ticket_sync": "polling",
            }
        )
        polls = TicketPoller(rt, interval_s=0)
        polls.poll_if_due()  # the cursor exists
        fake.fail_next(200, body=page)
        before = len(fake.requests)
        base = peak_mb()
        started = time.perf_counter()
        polls.poll_if_due()
        took = time.perf_counter() - started
        made = len(fake.requests) - before
        print(
            f"poll of a {count:,}-result page: {took:.2f} s, peak memory +{peak_mb() - base:.0f} MB "
            f"(the fake's copy of the page included), {made} search requests"
        )
        pm.hook.skypanel_shutdown()


if __name__ == "__main__":
    main()
