"""Settings that go wrong: hostile JSON values, values written by hand, a key rotated
elsewhere, a token HubSpot refuses, and what an idle process pays to notice a change."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import reduce
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, event
from sqlmodel import Session, select

from skypanel_hubspot_plugin import AdminRequest, AdminResponse, User
from skypanel_hubspot_plugin.common.listen import notify
from skypanel_hubspot_plugin.mapping.property_cache import CACHE
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.settings import schema as keys
from skypanel_hubspot_plugin.settings.secrets import KEYS_ENV, SecretBox, key_id
from skypanel_hubspot_plugin.settings.store import CHANNEL, SettingsStore
from skypanel_hubspot_plugin.settings.table import Setting
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot

PREFIX = "/api/admin/settings/hubspot"
JSON_KEYS = (keys.TICKET_STATUS_STAGES, keys.CONTACT_PROPERTY_MAP, keys.TICKET_PROPERTY_MAP)
STAGES = '{"open": "11", "waiting": "12", "in_progress": "13", "closed": "14"}'
#: Well-formed, but not a token the fake HubSpot (or any portal) knows.
WRONG_TOKEN = "pat-na1-99999999-2222-4333-8444-555555555555"
WATCH_THREAD = "hubspot-settings-watch"


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def nested_text(depth: int) -> str:
    return '{"open": ' * depth + '"1"' + "}" * depth


def nested_object(depth: int) -> object:
    return reduce(lambda inner, _: {"open": inner}, range(depth), "1")


hostile_values = st.one_of(
    st.integers(50, 5000).map(lambda n: "[" * n + "]" * n),  # 2 kB of [ is 1000 levels
    st.integers(4, 3000).map(nested_text),
    st.integers(4, 900).map(nested_object),
    st.integers(16_400, 300_000).map(lambda n: '{"open": "' + "1" * n + '"}'),
    st.integers(20_000, 100_000).map(lambda n: {"open": "1" * n}),
    st.sampled_from(["[]", '"text"', "12", "null", "true", "{", "{'open': '1'}", "\x00"]),
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.none(),
    st.lists(st.integers(), max_size=3),
)


def table(engine: Engine) -> dict[str, str | None]:
    with Session(engine) as session:
        return {row.key: row.value for row in session.exec(select(Setting))}


def write_by_hand(engine: Engine, key: str, value: str) -> None:
    """What an operator's UPDATE does, with the revision bump the README asks for."""
    with Session(engine) as session:
        for name, text in ((key, value), (keys.REVISION, os.urandom(8).hex())):
            row = session.get(Setting, name) or Setting(key=name)
            row.value = text
            session.add(row)
        if engine.dialect.name == "postgresql":
            session.execute(notify(CHANNEL))
        session.commit()


@pytest.fixture
def routes(pm, started: Runtime) -> dict[tuple[str, str], Any]:  # type: ignore[no-untyped-def]
    found: dict[tuple[str, str], Any] = {}
    pm.hook.skypanel_register_admin_routes(
        register=lambda method, path, handler: found.__setitem__((method, path), handler)
    )
    return found


def call(
    routes: dict[tuple[str, str], Any], method: str, path: str, body: Any = None
) -> AdminResponse:
    answer = routes[(method, PREFIX + path)](AdminRequest(body=body))
    assert isinstance(answer, AdminResponse)
    return answer


def configure(rt: Runtime, **extra: object) -> None:
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            **extra,
        }
    )


def watcher() -> threading.Thread:
    (thread,) = [t for t in threading.enumerate() if t.name == WATCH_THREAD]
    return thread


# -- 3: JSON-valued settings -------------------------------------------------------------------


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=st.sampled_from(JSON_KEYS), value=hostile_values)
def test_a_hostile_json_setting_is_422_naming_it_and_saves_nothing(
    routes: dict[tuple[str, str], Any], started: Runtime, key: str, value: object
) -> None:
    before = table(started.store.engine)
    answer = call(routes, "POST", "/settings", {key: value, keys.PORTAL_ID: "4242"})
    assert answer.status == 422, answer.body
    assert key in answer.body["details"] and keys.PORTAL_ID not in answer.body["details"]
    assert len(str(answer.body)) < 2000  # the refusal names the field; it does not echo it
    assert table(started.store.engine) == before


@pytest.mark.parametrize(
    "stored",
    [
        "[" * 1000 + "]" * 1000,  # 2 kB, 1000 levels
        nested_text(800),
        '{"open": "' + "1" * 100_000 + '"}',
        "12",
    ],
    ids=["deep-array", "deep-object", "huge", "wrong-type"],
)
def test_a_bad_json_value_written_by_hand_is_reported_once_and_changes_nothing_in_force(
    routes: dict[tuple[str, str], Any],
    started: Runtime,
    secret_key: str,
    plugin_log: pytest.LogCaptureFixture,
    stored: str,
) -> None:
    """The page still opens and says what is wrong; the stages saved last stay in use; the
    watcher lives on and still picks up the next good change, made by another process."""
    engine = started.store.engine
    assert call(routes, "POST", "/settings", {keys.TICKET_STATUS_STAGES: STAGES}).status == 200
    write_by_hand(engine, keys.TICKET_STATUS_STAGES, stored)
    wait_until(lambda: keys.TICKET_STATUS_STAGES in started.store.current().problems)
    for _ in range(3):
        page = call(routes, "GET", "/settings")
        assert page.status == 200
        assert (
            "stored value must be a JSON object" in page.body["problems"][keys.TICKET_STATUS_STAGES]
        )
        assert page.body["values"][keys.TICKET_STATUS_STAGES] == STAGES
    assert dict(started.settings().ticket_status_stages)["open"] == "11"

    def logged() -> list[logging.LogRecord]:
        return [r for r in plugin_log.records if keys.TICKET_STATUS_STAGES in r.getMessage()]

    # The reload that found it may be the watcher's, which logs just after it decides to.
    wait_until(lambda: len(logged()) > 0)
    assert len(logged()) == 1 and logged()[0].levelno == logging.ERROR
    assert "Traceback" not in plugin_log.text

    elsewhere = create_engine(engine.url)  # another process saves a good change
    try:
        other = SettingsStore(elsewhere, SecretBox([secret_key]))
        other.save({keys.PORTAL_ID: "777"})
    finally:
        elsewhere.dispose()
    wait_until(lambda: started.store.current().portal_id == "777")
    assert watcher().is_alive()


@pytest.mark.parametrize("command", [["status"], ["purge"]])
def test_status_and_purge_exit_cleanly_with_one_line_about_a_bad_stored_value(
    tmp_path: Path, secret_key: str, command: list[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'panel.sqlite3'}"
    engine = create_engine(url)
    store = SettingsStore(engine, SecretBox([secret_key]))
    store.setup()
    write_by_hand(engine, keys.TICKET_STATUS_STAGES, "[" * 1000 + "]" * 1000)
    write_by_hand(engine, keys.CONTACT_PROPERTY_MAP, nested_text(900))
    engine.dispose()
    ran = subprocess.run(
        [sys.executable, "-m", "skypanel_hubspot_plugin.cli", *command, "--database-url", url],
        env={**os.environ, KEYS_ENV: secret_key},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    assert "Traceback" not in ran.stderr
    (line,) = ran.stderr.strip().splitlines()
    assert keys.TICKET_STATUS_STAGES in line and keys.CONTACT_PROPERTY_MAP in line


# -- 10: a key rotated before this process has it ---------------------------------------------


def test_a_rotation_elsewhere_before_this_process_has_the_key_keeps_it_working_and_names_the_key(
    pm,  # type: ignore[no-untyped-def]
    routes: dict[tuple[str, str], Any],
    started: Runtime,
    secret_key: str,
    fake: FakeHubSpot,
) -> None:
    configure(started)
    new_key = Fernet.generate_key().decode()
    rotating = SettingsStore(started.store.engine, SecretBox([new_key, secret_key]))
    assert rotating.rotate_key() is True  # run as the README said, before this panel had it

    fingerprint = key_id(new_key)
    wait_until(lambda: keys.API_KEY in started.store.current().problems)
    page = call(routes, "GET", "/settings").body
    assert page["token"]["set"] is True
    problem = page["token"]["problem"]
    assert f"encrypted with key {fingerprint}, which this process does not have" in problem
    assert new_key not in str(page) and FAKE_TOKEN not in str(page)
    # The token read before the rotation is the same token: this panel keeps delivering.
    pm.hook.skypanel_on_user_created(user=User(id="1", email="ada@example.com"), session=None)
    fake.wait_for(lambda f: f.contact_by_email("ada@example.com") is not None, timeout=20)


def test_a_process_started_without_the_new_key_says_which_key_it_lacks(
    engine: Engine, secret_key: str
) -> None:
    old = SettingsStore(engine, SecretBox([secret_key]))
    old.setup()
    old.save({keys.API_KEY: FAKE_TOKEN, keys.APP_SECRET: "0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"})
    new_key = Fernet.generate_key().decode()
    SettingsStore(engine, SecretBox([new_key, secret_key])).rotate_key()
    fresh = SettingsStore(engine, SecretBox([secret_key])).current()
    assert fresh.token is None and fresh.app_secret is None
    for name, key in (("access token", keys.API_KEY), ("app client secret", keys.APP_SECRET)):
        assert f"The stored {name} is encrypted with key {key_id(new_key)}" in fresh.problems[key]


# -- 11: what HubSpot says of a saved token, and the map's notes -------------------------------


def test_a_token_hubspot_refuses_is_saved_with_a_warning_and_its_parked_deliveries_say_what_to_do(
    pm,  # type: ignore[no-untyped-def]
    routes: dict[tuple[str, str], Any],
    started: Runtime,
    fake: FakeHubSpot,
) -> None:
    answer = call(
        routes,
        "POST",
        "/settings",
        {
            keys.ENABLED: True,
            keys.PORTAL_ID: str(FAKE_PORTAL_ID),
            keys.API_KEY: WRONG_TOKEN,
        },
    )
    assert answer.status == 200
    assert answer.body["tokenCheck"]["success"] is False
    assert answer.body["warnings"][0] == (
        "Saved, but the token did not pass the connection test: "
        + answer.body["tokenCheck"]["message"]
    )
    assert WRONG_TOKEN not in str(answer.body)
    assert started.settings().token is not None  # saved: its shape is right

    pm.hook.skypanel_on_user_created(user=User(id="1", email="ada@example.com"), session=None)

    def parked() -> list[dict[str, Any]]:
        listing = call(routes, "GET", "/deliveries").body
        return [d for d in listing["deliveries"] if d["status"] == "dead"]

    wait_until(lambda: bool(parked()), timeout=20)
    error = parked()[0]["lastError"]
    assert error.startswith("HTTP 401")
    assert "fix the token in the HubSpot settings" in error and "then Replay" in error


def test_a_good_token_is_saved_with_hubspots_verdict(
    routes: dict[tuple[str, str], Any], started: Runtime
) -> None:
    answer = call(
        routes,
        "POST",
        "/settings",
        {keys.PORTAL_ID: str(FAKE_PORTAL_ID), keys.API_KEY: FAKE_TOKEN},
    )
    assert answer.status == 200
    assert answer.body["tokenCheck"]["success"] is True
    assert answer.body["warnings"] == []
    # No new token: HubSpot is not asked again.
    again = call(routes, "POST", "/settings", {keys.PORTAL_ID: str(FAKE_PORTAL_ID)})
    assert "tokenCheck" not in again.body and again.body["warnings"] == []


def test_the_notes_on_a_saved_property_map_reach_the_admin(
    routes: dict[tuple[str, str], Any], started: Runtime, fake: FakeHubSpot
) -> None:
    CACHE.clear()  # the portal's properties as this test's fake has them
    fake.add_property("contacts", "num_servers", type="number", field_type="number")
    configure(started)
    mapped = {
        "email": "email",
        "first_name": "firstname",
        "server_count": "num_servers",
    }
    answer = call(routes, "POST", "/settings", {keys.CONTACT_PROPERTY_MAP: mapped})
    assert answer.status == 200, answer.body
    (warning,) = answer.body["warnings"]
    assert warning.startswith("Panel user fields → HubSpot contact properties, server_count:")
    assert "is a number, not text" in warning


# -- 13: what an idle process pays to notice a change on SQLite --------------------------------


@pytest.fixture
def watched(sqlite_engine: Engine, secret_key: str) -> Iterator[SettingsStore]:
    store = SettingsStore(sqlite_engine, SecretBox([secret_key]), poll_interval=0.02)
    store.setup()
    store.current()
    store.start_watching()
    yield store
    store.stop_watching()


def test_an_idle_process_on_sqlite_asks_nothing_yet_sees_every_save(
    sqlite_engine: Engine, secret_key: str, watched: SettingsStore
) -> None:
    asked: list[str] = []
    event.listen(
        sqlite_engine,
        "before_cursor_execute",
        lambda *a: asked.append(a[2]) if threading.current_thread().name == WATCH_THREAD else None,
    )
    wait_until(lambda: watched.data_version is not None and watched.data_version.looks >= 2)
    quiet = len(asked)
    looks = watched.data_version.looks  # type: ignore[union-attr]
    wait_until(lambda: watched.data_version.looks >= looks + 50)  # type: ignore[union-attr]
    assert asked[quiet:] == []  # polling the revision row would have asked 50 times

    # Another process's save, and another store's in this process: both seen.
    elsewhere = create_engine(sqlite_engine.url)
    try:
        SettingsStore(elsewhere, SecretBox([secret_key])).save({keys.PORTAL_ID: "111"})
    finally:
        elsewhere.dispose()
    wait_until(lambda: watched.current().portal_id == "111", timeout=5)
    SettingsStore(sqlite_engine, SecretBox([secret_key])).save({keys.PORTAL_ID: "222"})
    wait_until(lambda: watched.current().portal_id == "222", timeout=5)
