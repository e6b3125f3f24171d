"""An idle worker is woken by the commit of a new event, not by polling the database.

The workers here are told to sleep an hour when idle, so an event reaches HubSpot within
the test's deadline only if its commit woke them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import postgres_engine, start_plugin
from convergence import enable
from sqlalchemy import Engine
from sqlalchemy.orm import scoped_session, sessionmaker
from sqlmodel import Session

from skypanel_hubspot_plugin import User
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FakeHubSpot

HOUR = 3600.0


def idle_worker(rt: Runtime) -> Worker:
    worker = Worker(rt, idle_s=HOUR)
    worker.start_thread()
    return worker


def test_an_idle_worker_is_woken_when_the_hosts_transaction_commits(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    worker = idle_worker(rt)
    try:
        with Session(engine) as session:  # the host's ORM session
            pm.hook.skypanel_on_user_created(
                user=User(id="1", email="one@example.com"), session=session
            )
            pm.hook.skypanel_on_user_created(
                user=User(id="2", email="two@example.com"), session=session
            )
            session.commit()
        with engine.begin() as connection:  # or its Core connection
            pm.hook.skypanel_on_user_created(
                user=User(id="3", email="three@example.com"), session=connection
            )
        fake.wait_for(lambda f: len(f.contacts()) == 3, timeout=20)
    finally:
        worker.stop()


@pytest.mark.postgres
def test_a_worker_process_on_postgresql_hears_the_commit(  # type: ignore[no-untyped-def]
    pm, secret_key: str, fake: FakeHubSpot, tmp_path: Path
) -> None:
    engines = postgres_engine()
    engine = next(engines)
    log = tmp_path / "worker.log"
    worker = None
    try:
        rt = start_plugin(pm, engine, secret_key, fake.base_url, run_worker=False)
        enable(rt)
        env = {**os.environ, "SKYPANEL_HUBSPOT_SECRET_KEYS": secret_key}
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "skypanel_hubspot_plugin.worker",
                "--database-url",
                engine.url.render_as_string(hide_password=False),
                "--base-url",
                fake.base_url,
                "--idle",
                str(HOUR),
            ],
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        pm.hook.skypanel_on_user_created(user=User(id="1", email="one@example.com"), session=None)
        fake.wait_for(lambda f: len(f.contacts()) == 1, timeout=30)  # the first, idle or not
        with Session(engine) as session:
            pm.hook.skypanel_on_user_created(
                user=User(id="2", email="two@example.com"), session=session
            )
            session.commit()
        fake.wait_for(lambda f: len(f.contacts()) == 2, timeout=20)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        pm.hook.skypanel_shutdown()
        next(engines, None)


def test_an_idle_worker_is_woken_by_the_commit_of_a_scoped_session(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine
) -> None:
    # A scoped_session (Flask-SQLAlchemy's db.session is one) is a proxy, not a Session: the
    # commit to watch is its thread's Session's. The request is still busy for four seconds
    # after the hook ran, well past the time a worker woken at the hook keeps looking.
    registry = scoped_session(sessionmaker(engine))
    worker = idle_worker(rt)
    try:
        pm.hook.skypanel_on_user_created(
            user=User(id="1", email="one@example.com"), session=registry
        )
        time.sleep(4.0)
        registry.commit()
        fake.wait_for(lambda f: len(f.contacts()) == 1, timeout=20)
    finally:
        registry.remove()
        worker.stop()
