"""A plugin that failed to start tries again by itself: once the database is free, its
routes answer normally, without restarting the panel."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Column, Connection, Engine, MetaData, String, Table, Text
from sqlalchemy.orm import Session

from skypanel_hubspot_plugin import HostContext, runtime
from skypanel_hubspot_plugin.admin.fastapi_adapter import admin_router
from skypanel_hubspot_plugin.migrations import runner

CONFIG = "/api/admin/settings/hubspot/config"


def client(pm) -> TestClient:  # type: ignore[no-untyped-def]
    app = FastAPI()
    app.include_router(admin_router(pm, require_admin=lambda: None, require_csrf=lambda: None))
    return TestClient(app)


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start-up waits 1 s for the database instead of a minute, and retries sooner."""
    monkeypatch.setattr(runner, "DEFAULT_WAIT_S", 1.0)
    monkeypatch.setattr(runtime, "RETRY_FIRST_S", 0.2)


def hold_the_database(engine: Engine) -> Iterator[Connection | Session]:
    """The panel in the middle of a write: on SQLite any write holds the whole file; on
    PostgreSQL, creating its own ``settings`` table (the plugin must wait to see it)."""
    if engine.dialect.name == "sqlite":
        panel = MetaData()
        orders = Table("orders", panel, Column("id", String(10), primary_key=True))
        panel.create_all(engine)
        with Session(engine) as session:
            session.execute(orders.insert().values(id="1"))
            session.flush()
            yield session
        return
    panel = MetaData()
    Table(
        "settings",
        panel,
        Column("key", String(255), primary_key=True),
        Column("value", Text),
        Column("description", Text),
    )
    with engine.connect() as conn:
        panel.create_all(conn)
        yield conn


def test_a_start_that_found_the_database_held_succeeds_once_it_is_free(  # type: ignore[no-untyped-def]
    pm, engine: Engine, secret_key: str, quick: None
) -> None:
    holder = hold_the_database(engine)
    transaction = next(holder)
    pm.hook.skypanel_startup(host=HostContext(engine=engine, secret_keys=[secret_key]))

    refused = client(pm).get(CONFIG)
    assert refused.status_code == 503
    assert "held by another transaction" in refused.json()["details"]["plugin"]

    transaction.commit()
    holder.close()
    deadline = time.monotonic() + 30
    while (answer := client(pm).get(CONFIG)).status_code != 200:
        assert time.monotonic() < deadline, answer.json()
        time.sleep(0.05)
    assert answer.json()["enabled"] is False
    pm.hook.skypanel_shutdown()


def test_shutting_down_stops_the_retries(pm, sqlite_engine: Engine, quick: None) -> None:  # type: ignore[no-untyped-def]
    pm.hook.skypanel_startup(
        host=HostContext(engine=sqlite_engine, secret_keys=["not-a-fernet-key"])
    )
    retry = runtime._retry
    assert retry is not None and retry.thread.is_alive()
    pm.hook.skypanel_shutdown()
    retry.thread.join(timeout=10)
    assert not retry.thread.is_alive()
    assert client(pm).get(CONFIG).status_code == 503
