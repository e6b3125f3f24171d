"""``skypanel-hubspot sync-contacts`` on a panel of N users: wall time and requests per contact.

Builds a SQLite panel with N users, then runs the real command (a separate process)
against a fake HubSpot that enforces HubSpot's default limit (100 requests per 10 s).
Prints how long reading and delivering took and HubSpot requests per contact (goal: at
most 0.011, i.e. batches of 100).

    python benchmarks/sync_contacts.py [--users 10000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    args = parser.parse_args()
    key = generate_key()
    with tempfile.TemporaryDirectory() as folder, FakeHubSpot(rate_limit=100) as hubspot:
        url = f"sqlite:///{Path(folder) / 'panel.sqlite3'}"
        engine = create_engine(url)
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                insert(accounts),
                [
                    {"email": f"user{i}@example.com", "first_name": f"U{i}"}
                    for i in range(args.users)
                ],
            )
        rt = Runtime(engine, SecretBox([key]))
        rt.store.setup()
        rt.store.save(
            {
                "hubspot_enabled": True,
                "hubspot_portal_id": str(FAKE_PORTAL_ID),
                "hubspot_api_key": FAKE_TOKEN,
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
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - started
        contacts = len(hubspot.contacts())
        requests = len(hubspot.requests)
        throttled = sum(1 for r in hubspot.requests if r.status == 429)
        engine.dispose()
    print(done.stdout.strip())
    print(f"users: {args.users}   contacts in HubSpot: {contacts}   wall time: {wall:.1f} s")
    print(
        f"HubSpot requests: {requests} ({throttled} answered 429)   "
        f"requests per contact: {requests / args.users:.4f}"
    )


if __name__ == "__main__":
    main()
