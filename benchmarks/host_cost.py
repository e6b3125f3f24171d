"""What the plugin adds to the panel's "create user" request while HubSpot is slow.

The host path: insert a user row and fire ``skypanel_on_user_created`` inside the same
transaction, then commit. Measured with the plugin (recording an outbox row; its worker
delivering in the background to a fake HubSpot that answers every call after 2 s) and
without it, interleaved in one run, on SQLite and on PostgreSQL (when reachable). Prints
median and p99 of each and their ratio.

    python benchmarks/host_cost.py [--requests 400] [--databases sqlite postgresql]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pluggy
from harness import postgres_url
from sqlalchemy import Engine, create_engine
from sqlmodel import Field, Session, SQLModel

from skypanel_hubspot_plugin import HostContext, User, hookspecs, plugin_manager
from skypanel_hubspot_plugin.runtime import current
from skypanel_hubspot_plugin.settings.secrets import generate_key
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot


class PanelUser(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str


def create_user(engine, hook, n: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    with Session(engine) as session:
        row = PanelUser(email=f"user{n}@example.com")
        session.add(row)
        session.flush()
        hook(user=User(id=str(row.id), email=row.email, first_name="Bench"), session=session)
        session.commit()
    return time.perf_counter() - start


def p99(samples: list[float]) -> float:
    return sorted(samples)[int(len(samples) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument(
        "--databases", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"]
    )
    args = parser.parse_args()
    for database in args.databases:
        if database == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                measure(
                    "SQLite", create_engine(f"sqlite:///{Path(folder) / 'panel.sqlite3'}"), args
                )
        else:
            with postgres_url() as url:
                if url is not None:
                    measure("PostgreSQL", create_engine(url), args)


def measure(name: str, engine: Engine, args: argparse.Namespace) -> None:
    with FakeHubSpot() as hubspot:
        hubspot.set_faults(latency_s=2.0)
        SQLModel.metadata.create_all(engine)
        with_plugin = plugin_manager()
        with_plugin.hook.skypanel_startup(
            host=HostContext(
                engine=engine, secret_keys=[generate_key()], hubspot_base_url=hubspot.base_url
            )
        )
        current().store.save(
            {
                "hubspot_enabled": True,
                "hubspot_portal_id": str(FAKE_PORTAL_ID),
                "hubspot_api_key": FAKE_TOKEN,
            }
        )
        without = pluggy.PluginManager("skypanel")
        without.add_hookspecs(hookspecs)
        plugin_times: list[float] = []
        bare_times: list[float] = []
        for n in range(args.requests):
            plugin_times.append(
                create_user(engine, with_plugin.hook.skypanel_on_user_created, 2 * n)
            )
            bare_times.append(create_user(engine, without.hook.skypanel_on_user_created, 2 * n + 1))
        sent = len(hubspot.requests)
        with_plugin.hook.skypanel_shutdown()
        engine.dispose()
    pm_med, pm_p99 = statistics.median(plugin_times), p99(plugin_times)
    b_med, b_p99 = statistics.median(bare_times), p99(bare_times)
    print(f"{name}:")
    print(
        f"  create user, without plugin: median {b_med * 1000:7.2f} ms   p99 {b_p99 * 1000:7.2f} ms"
    )
    print(
        f"  create user, with plugin:    median {pm_med * 1000:7.2f} ms   p99 {pm_p99 * 1000:7.2f} ms"
    )
    print(f"  added to the panel's transaction: {(pm_med - b_med) * 1e6:.0f} µs (median)")
    print(
        f"  ratio: median {pm_med / b_med:.2f} (goal: at most 1.10)   p99 {pm_p99 / b_p99:.2f}   "
        f"({args.requests} requests each; fake HubSpot answering after 2 s; "
        f"{sent} HubSpot requests made meanwhile)"
    )


if __name__ == "__main__":
    main()
