"""``skypanel-hubspot sync-contacts`` on panels of N users: wall time against the rate
limit's minimum, requests per contact, peak memory, and where the time went.

Builds a panel (SQLite, and PostgreSQL when reachable) with N users, then runs the real
command (a separate process) against a fake HubSpot that enforces HubSpot's default
limit (100 requests per 10 s). The minimum is the requests made at that rate; the goal
is a wall time at most 1.15 times it, and a peak memory at 100,000 users at most 50 MB
above the peak at 1,000.

    python benchmarks/sync_contacts.py [--users 1000 10000 100000] [--databases sqlite postgresql]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import postgres_url
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    select,
)

from skypanel_hubspot_plugin import User
from skypanel_hubspot_plugin.payloads import ListUsers
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.settings.secrets import SecretBox, generate_key
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot

LIMIT = 100
WINDOW_S = 10.0

metadata = MetaData()
accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(300)),
    Column("first_name", String(100)),
)


def users_source(engine: Engine) -> ListUsers:
    """The factory ``--users sync_contacts:users_source`` names."""

    def list_users(after: str | None, limit: int) -> list[User]:
        query = select(accounts).order_by(accounts.c.id).limit(limit)
        if after is not None:
            query = query.where(accounts.c.id > int(after))
        with engine.connect() as conn:
            return [
                User(id=str(r.id), email=r.email, first_name=r.first_name)
                for r in conn.execute(query)
            ]

    return list_users


def peak_memory_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MB; 0 once it has exited."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run(users: int, database: str, args: argparse.Namespace) -> dict[str, float] | None:
    with tempfile.TemporaryDirectory() as folder:
        if database == "sqlite":
            return run_on(users, database, f"sqlite:///{Path(folder) / 'panel.sqlite3'}", folder)
        with postgres_url() as url:
            return None if url is None else run_on(users, database, url, folder)


def run_on(users: int, database: str, url: str, folder: str) -> dict[str, float]:
    key = generate_key()
    with FakeHubSpot(rate_limit=LIMIT) as hubspot:
        engine = create_engine(url)
        try:
            metadata.create_all(engine)
            with engine.begin() as conn:
                for start in range(0, users, 10_000):
                    conn.execute(
                        insert(accounts),
                        [
                            {"email": f"user{i}@example.com", "first_name": f"U{i}"}
                            for i in range(start, min(users, start + 10_000))
                        ],
                    )
            rt = Runtime(engine, SecretBox([key]))
            rt.store.setup()
            rt.store.save(
                {
                    "hubspot_enabled": True,
                    "hubspot_portal_id": str(FAKE_PORTAL_ID),
                    "hubspot_api_key": FAKE_TOKEN,
                    "hubspot_rate_limit": str(LIMIT),
                }
            )
            command = [str(Path(sys.executable).parent / "skypanel-hubspot"), "sync-contacts"]
            command += ["--database-url", url, "--base-url", hubspot.base_url]
            command += ["--users", "sync_contacts:users_source"]
            env = {
                **os.environ,
                "SKYPANEL_HUBSPOT_SECRET_KEYS": key,
                "PYTHONPATH": str(Path(__file__).parent),
            }
            started = time.perf_counter()
            out_path, err_path = Path(folder) / "out.txt", Path(folder) / "err.txt"
            with out_path.open("w") as out_file, err_path.open("w") as err_file:
                process = subprocess.Popen(command, env=env, stdout=out_file, stderr=err_file)
                peak = 0.0
                while process.poll() is None:
                    peak = max(peak, peak_memory_mb(process.pid))
                    time.sleep(0.05)
            wall = time.perf_counter() - started
            out, err = out_path.read_text(), err_path.read_text()
            assert process.returncode == 0, err
            requests = len(hubspot.requests)
            throttled = sum(1 for r in hubspot.requests if r.status == 429)
            contacts = len(hubspot.contacts())
        finally:
            engine.dispose()
    minimum = requests * WINDOW_S / LIMIT
    timing = next((line for line in err.splitlines() if line.startswith("Time")), "")
    print(f"{database}, {users} users: {out.strip()}")
    print(
        f"  contacts in HubSpot {contacts}; HubSpot requests {requests} "
        f"({requests / users:.4f} per contact, {throttled} answered 429)"
    )
    goal = "goal: at most 1.15x" if users >= 10_000 else "no goal: the run for peak memory"
    print(
        f"  wall {wall:.1f} s; the limit allows those requests in {minimum:.1f} s "
        f"({LIMIT} per {WINDOW_S:g} s): {wall / minimum:.2f}x ({goal})"
    )
    print(f"  peak memory of the command: {peak:.0f} MB;  {timing}")
    return {"peak": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument(
        "--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"]
    )
    args = parser.parse_args()
    for database in args.databases:
        peaks = {}
        for users in args.users:
            result = run(users, database, args)
            if result is None:
                break
            peaks[users] = result["peak"]
        if len(peaks) > 1:
            low, high = min(peaks), max(peaks)
            print(
                f"{database}: peak memory at {high} users is {peaks[high] - peaks[low]:+.0f} MB "
                f"against {low} users (goal: at most +50 MB)"
            )


if __name__ == "__main__":
    main()
