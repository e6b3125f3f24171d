"""Shared fixtures: a database per test (SQLite, and PostgreSQL where reachable) and a started plugin."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy
from cryptography.fernet import Fernet
from sqlalchemy import Engine, create_engine

from skypanel_hubspot_plugin import HostContext, plugin_manager, runtime
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN

#: Points the PostgreSQL tests at another server or database (each test makes and drops a
#: schema of its own in it); without it they use the local server's database ``test``.
POSTGRES_ENV = "SKYPANEL_TEST_POSTGRES_URL"
POSTGRES_URL = os.environ.get(POSTGRES_ENV, "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def postgres_problem(url: str, exc: sqlalchemy.exc.OperationalError) -> str:
    """Why the test PostgreSQL cannot be used: the server is unreachable, or it answers but
    the database is missing (its maintenance database ``postgres`` lets us tell which)."""
    target = sqlalchemy.engine.make_url(url)
    shown = target.render_as_string(hide_password=True)
    server = create_engine(target.set(database="postgres"))
    try:
        with server.connect():
            pass
    except sqlalchemy.exc.OperationalError:
        return (
            f"PostgreSQL is not reachable at {shown}: {exc.orig}; start it, or set "
            f"{POSTGRES_ENV} to a server that is"
        )
    finally:
        server.dispose()
    return (
        f"PostgreSQL answers at {target.host}:{target.port or 5432}, but the database "
        f"{target.database!r} of {shown} cannot be used ({exc.orig}); create it "
        f"(createdb {target.database}), or set {POSTGRES_ENV} to one that exists"
    )


def postgres_engine() -> Iterator[Engine]:
    """An engine on a fresh schema of the test PostgreSQL, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            conn.execute(sqlalchemy.schema.CreateSchema(schema))
    except sqlalchemy.exc.OperationalError as exc:
        admin.dispose()
        reason = postgres_problem(POSTGRES_URL, exc)
        if IN_CI:
            pytest.fail(reason + " (CI=true requires it)")
        pytest.skip(reason)
    # The schema rides in the URL, so worker processes given this URL land in it too.
    engine = create_engine(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sqlalchemy.schema.DropSchema(schema, cascade=True))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> Iterator[Engine]:
    if request.param == "postgresql":
        yield from postgres_engine()
        return
    engine = create_engine(f"sqlite:///{tmp_path}/panel.sqlite3")
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: os.PathLike[str]) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path}/panel.sqlite3")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def secret_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def fake():  # type: ignore[no-untyped-def]
    from skypanel_hubspot_plugin.testing import FakeHubSpot

    with FakeHubSpot() as hubspot:
        yield hubspot


@pytest.fixture
def pm():  # type: ignore[no-untyped-def]
    return plugin_manager()


def start_plugin(pm, engine: Engine, secret_key: str, base_url: str, **host: object):  # type: ignore[no-untyped-def]
    pm.hook.skypanel_startup(
        host=HostContext(
            engine=engine,
            secret_keys=[secret_key],
            hubspot_base_url=base_url,
            settings_poll_interval=0.1,
            hubspot_timeout=(1.0, 1.0),
            **host,  # type: ignore[arg-type]
        )
    )
    return runtime.current()


@pytest.fixture
def started(pm, engine: Engine, secret_key: str, fake):  # type: ignore[no-untyped-def]
    """The plugin started through its hooks, on the test database, pointed at the fake HubSpot."""
    yield start_plugin(pm, engine, secret_key, fake.base_url)
    pm.hook.skypanel_shutdown()


@pytest.fixture
def started_offline(pm, engine: Engine, secret_key: str):  # type: ignore[no-untyped-def]
    """The plugin started with HubSpot pointed at a closed loopback port."""
    yield start_plugin(pm, engine, secret_key, "http://127.0.0.1:9")
    pm.hook.skypanel_shutdown()


@pytest.fixture(autouse=True)
def _no_leftover_runtime() -> Iterator[None]:
    yield
    runtime.stop()


@pytest.fixture
def plugin_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="skypanel_hubspot_plugin")
    return caplog


@pytest.fixture
def rt(pm, engine: Engine, secret_key: str, fake):  # type: ignore[no-untyped-def]
    """The plugin started on the test database with HubSpot enabled and no worker of its
    own: the test drives workers itself."""
    runtime = start_plugin(pm, engine, secret_key, fake.base_url, run_worker=False)
    runtime.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_ticket_enabled": True,
            "hubspot_rate_limit": "1000",
        }
    )
    yield runtime
    pm.hook.skypanel_shutdown()
