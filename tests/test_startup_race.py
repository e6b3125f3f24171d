"""Several processes initialising one fresh database at once, while the panel holds a write
transaction: every one succeeds once it ends, and the database has one schema version.

The processes are real: two ``skypanel-hubspot init-db`` and a host firing
``skypanel_startup``. The panel's transaction ends once every process is seen waiting
for it (on SQLite each says so; on PostgreSQL each is seen waiting on a lock).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, MetaData, String, Table, Text, column, func, select, table
from sqlalchemy.orm import Session

from skypanel_hubspot_plugin import migrations
from skypanel_hubspot_plugin.settings import schema as keys
from skypanel_hubspot_plugin.settings.table import Setting

pytestmark = pytest.mark.slow

WAITING = "waiting up to"

HOST_START = textwrap.dedent("""
    import sys
    from sqlalchemy import create_engine
    from skypanel_hubspot_plugin import HostContext, plugin_manager, runtime
    pm = plugin_manager()
    pm.hook.skypanel_startup(host=HostContext(
        engine=create_engine(sys.argv[1]), secret_keys=[sys.argv[2]],
        hubspot_base_url="http://127.0.0.1:9", run_worker=False))
    runtime.current()  # raises when the start failed
    print("plugin started")
    pm.hook.skypanel_shutdown()
""")


def start_processes(url: str, secret_key: str, logs: Path) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "SKYPANEL_HUBSPOT_SECRET_KEYS": secret_key}
    init_db = [
        sys.executable,
        "-m",
        "skypanel_hubspot_plugin.cli",
        "init-db",
        "--database-url",
        url,
    ]
    commands = [init_db, init_db, [sys.executable, "-c", HOST_START, url, secret_key]]
    return [
        subprocess.Popen(
            command,
            env=env,
            stdout=(logs / f"{i}.out").open("wb"),
            stderr=(logs / f"{i}.err").open("wb"),
        )
        for i, command in enumerate(commands)
    ]


def wait_for(condition: Callable[[], bool], processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert all(p.poll() is None for p in processes), "a process ended while the panel wrote"
        assert time.monotonic() < deadline, "the processes never waited for the panel"
        time.sleep(0.05)


def assert_all_succeeded(
    processes: list[subprocess.Popen[bytes]], logs: Path, engine: Engine
) -> None:
    for i, process in enumerate(processes):
        assert process.wait(timeout=120) == 0, (logs / f"{i}.err").read_text()
    assert "schema version" in (logs / "0.out").read_text()
    assert "plugin started" in (logs / "2.out").read_text()
    versions = table(migrations.VERSION_TABLE, column("version_num"))
    with engine.connect() as conn:
        assert list(conn.execute(select(versions.c.version_num)).scalars()) == [
            migrations.head_revision()
        ]
    with Session(engine) as session:
        enabled = session.execute(select(Setting.value).where(Setting.key == keys.ENABLED))
        assert list(enabled.scalars()) == ["false"]


def test_processes_starting_on_sqlite_wait_for_the_panels_write_then_all_succeed(
    sqlite_engine: Engine, secret_key: str, tmp_path: Path
) -> None:
    panel = MetaData()
    orders = Table("orders", panel, Column("id", String(10), primary_key=True))
    panel.create_all(sqlite_engine)
    with Session(sqlite_engine) as host:
        host.execute(orders.insert().values(id="1"))
        host.flush()  # the panel now holds SQLite's write lock, until it commits
        processes = start_processes(
            sqlite_engine.url.render_as_string(hide_password=False), secret_key, tmp_path
        )
        wait_for(
            lambda: all(WAITING in (tmp_path / f"{i}.err").read_text() for i in range(3)),
            processes,
        )
        host.commit()
    assert_all_succeeded(processes, tmp_path, sqlite_engine)


@pytest.mark.postgres
def test_processes_starting_on_postgresql_while_the_panel_creates_settings_all_succeed(
    secret_key: str, tmp_path: Path
) -> None:
    """The panel creates its own ``settings`` table in a transaction still open: the
    process creating the plugin's waits on it, then finds it made, the others wait on that
    process."""
    from tests.conftest import postgres_engine

    engine_iter = postgres_engine()
    engine = next(engine_iter)
    try:
        name = f"race_{uuid.uuid4().hex[:8]}"
        url = engine.url.render_as_string(hide_password=False) + f"&application_name={name}"
        activity = table("pg_stat_activity", column("application_name"), column("wait_event_type"))
        waiting = select(func.count()).where(
            activity.c.application_name == name, activity.c.wait_event_type == "Lock"
        )
        panel = MetaData()
        Table(
            "settings",
            panel,
            Column("key", String(255), primary_key=True),
            Column("value", Text),
            Column("description", Text),
        )
        with engine.connect() as host, engine.connect() as observer:
            panel.create_all(host)  # inside the panel's open transaction
            processes = start_processes(url, secret_key, tmp_path)

            def all_waiting() -> bool:
                count = observer.execute(waiting).scalar()
                observer.rollback()  # a fresh snapshot of pg_stat_activity each time
                return count == 3

            wait_for(all_waiting, processes)
            host.commit()
        assert_all_succeeded(processes, tmp_path, engine)
    finally:
        engine_iter.close()
