"""The Django adapter records a panel event in the same transaction as the Django write
that caused it, on SQLite and PostgreSQL: each way of sharing Django's connection that
loses data silently is shown not to happen here."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import close_old_connections, connection, transaction
from django_host import DjangoUser, django_database, drain, started
from sqlalchemy import Engine, func, select
from sqlmodel import Session
from worker_process import TESTS

from skypanel_hubspot_plugin import Ticket, User
from skypanel_hubspot_plugin.delivery.outbox_table import DELIVERED, OutboxRow
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.django import database, hubspot
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FakeHubSpot

HOUR = 3600.0


class Boom(Exception):
    pass


@pytest.fixture
def django_db(engine: Engine) -> Iterator[dict[str, Any]]:
    yield from django_database(engine)


@pytest.fixture
def plugin(django_db: dict[str, Any], secret_key: str, fake: FakeHubSpot) -> Iterator[Runtime]:
    yield from started(secret_key, fake.base_url)


def sign_up(email: str) -> DjangoUser:
    """The panel's sign-up: the Django user and its HubSpot event, in one transaction."""
    with transaction.atomic():
        account = DjangoUser.objects.create_user(username=email, email=email)
        hubspot.user_created(User(id=str(account.pk), email=email))
        return account


def outbox_rows(engine: Engine) -> list[OutboxRow]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxRow)).scalars())  # type: ignore[call-overload]


def test_a_raise_inside_atomic_after_the_hook_sends_nothing(
    plugin: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    with pytest.raises(Boom), transaction.atomic():
        DjangoUser.objects.create_user(username="gone", email="gone@example.com")
        hubspot.user_created(User(id="1", email="gone@example.com"))
        raise Boom
    drain(plugin)
    assert not DjangoUser.objects.exists()
    assert outbox_rows(engine) == []
    assert fake.contacts() == []


def test_a_committed_sign_up_is_delivered_once(
    plugin: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    account = sign_up("kept@example.com")
    drain(plugin)
    drain(plugin)  # nothing is left to send a second time
    assert [c["properties"]["email"] for c in fake.contacts()] == ["kept@example.com"]
    rows = outbox_rows(engine)
    assert [(r.entity, r.status) for r in rows] == [(f"user:{account.pk}", DELIVERED)]
    assert DjangoUser.objects.filter(email="kept@example.com").exists()


def test_the_first_connect_inside_atomic_keeps_the_panels_writes(
    plugin: Runtime, engine: Engine
) -> None:
    database.dispose()  # the shared engine's first connect happens inside the block below
    with transaction.atomic():
        DjangoUser.objects.create_user(username="first", email="first@example.com")
        hubspot.user_created(User(id="1", email="first@example.com"))
        DjangoUser.objects.create_user(username="second", email="second@example.com")
        hubspot.user_created(User(id="2", email="second@example.com"))
    assert DjangoUser.objects.count() == 2
    assert sorted(r.entity for r in outbox_rows(engine)) == ["user:1", "user:2"]


def test_recording_survives_django_reconnecting(plugin: Runtime, engine: Engine) -> None:
    sign_up("one@example.com")
    connection.close()  # the end of a request under CONN_MAX_AGE=0
    sign_up("two@example.com")
    close_old_connections()
    connection.close()
    hubspot.user_created(User(id="3", email="three@example.com"))  # autocommit
    assert len(outbox_rows(engine)) == 3
    assert DjangoUser.objects.count() == 2


def test_a_committed_event_wakes_an_idle_worker_at_once(plugin: Runtime, fake: FakeHubSpot) -> None:
    worker = Worker(plugin, idle_s=HOUR)  # without a wake-up it would sleep an hour
    worker.start_thread()
    try:
        sign_up("first@example.com")
        fake.wait_for(lambda f: len(f.contacts()) == 1, timeout=10)
        sign_up("second@example.com")  # the worker is idle again by now
        fake.wait_for(lambda f: len(f.contacts()) == 2, timeout=10)
    finally:
        worker.stop()


def test_an_event_written_in_a_savepoint_rolled_back_is_not_sent(
    plugin: Runtime, engine: Engine
) -> None:
    with transaction.atomic():
        sign_up("kept@example.com")
        with pytest.raises(Boom), transaction.atomic():  # a savepoint
            hubspot.user_created(User(id="9", email="gone@example.com"))
            raise Boom
    assert [r.payload for r in outbox_rows(engine) if "gone" in r.payload] == []
    assert len(outbox_rows(engine)) == 1


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def spawn_django_worker(
    django_db: dict[str, Any], fake: FakeHubSpot, secret_key: str, log: Path
) -> subprocess.Popen[bytes]:
    """``manage.py hubspot_worker`` in its own process, on the test's database."""
    settings = {k: v for k, v in django_db.items() if k in ("ENGINE", "NAME", "USER", "HOST")}
    settings |= {"PORT": django_db.get("PORT", ""), "OPTIONS": django_db.get("OPTIONS", {})}
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "django_settings",
        "SKYPANEL_TEST_DJANGO_DATABASE": json.dumps(settings),
        "SKYPANEL_HUBSPOT_SECRET_KEYS": secret_key,
        "SKYPANEL_HUBSPOT_BASE_URL": fake.base_url,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-m", "django", "hubspot_worker", "--lease", "2", "--idle", "0.5"]
    return subprocess.Popen(command, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


@pytest.mark.slow
def test_a_worker_killed_mid_delivery_loses_and_duplicates_nothing(
    plugin: Runtime,
    django_db: dict[str, Any],
    fake: FakeHubSpot,
    secret_key: str,
    engine: Engine,
    tmp_path: Path,
) -> None:
    with transaction.atomic():
        account = DjangoUser.objects.create_user(username="ann", email="ann@example.com")
        user = User(id=str(account.pk), email="ann@example.com")
        hubspot.user_created(user)
        hubspot.ticket_created(Ticket(id="T-1", subject="Server down", priority="high"), user)
    # Each of the first requests is carried out by HubSpot and answered 3 s late: the
    # worker is killed while it waits for the first answer.
    fake.set_faults(slow_seconds=3.0)
    fake.script_faults(["slow"] * 4)
    log = tmp_path / "worker.log"
    worker = spawn_django_worker(django_db, fake, secret_key, log)
    try:
        wait_until(lambda: len(fake.requests) >= 1, 30, f"a first request ({log.read_text()})")
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        assert not all(r.status == DELIVERED for r in outbox_rows(engine))
        worker = spawn_django_worker(django_db, fake, secret_key, log)

        def all_delivered() -> bool:
            with Session(engine) as session:
                left = session.exec(
                    select(func.count()).where(OutboxRow.status != DELIVERED)  # type: ignore[arg-type]
                ).one()
            return left == (0,) or left == 0

        wait_until(all_delivered, 60, f"every row delivered ({log.read_text()})")
    finally:
        worker.kill()
        worker.wait(10)
    assert [c["properties"]["email"] for c in fake.contacts()] == ["ann@example.com"]
    tickets = fake.tickets()
    assert [t["properties"]["subject"] for t in tickets] == ["Server down"]
    contact_id = fake.contacts()[0]["id"]
    assert fake.associations("tickets", tickets[0]["id"], "contacts") == [contact_id]
