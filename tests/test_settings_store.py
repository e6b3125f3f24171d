"""Settings as an admin and a host see them: defaults, validation, the encrypted token, caching."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from conftest import postgres_engine
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, event, text
from sqlmodel import Field, Session, SQLModel, select
from test_events import wait_until

from skypanel_hubspot_plugin.hubspot.api import KNOWN_REGIONS
from skypanel_hubspot_plugin.settings import schema as keys
from skypanel_hubspot_plugin.settings.model import InvalidSettings, parse_region
from skypanel_hubspot_plugin.settings.schema import REGIONS
from skypanel_hubspot_plugin.settings.secrets import KEYS_ENV, SecretBox
from skypanel_hubspot_plugin.settings.store import TOKEN_ENV, SettingsStore
from skypanel_hubspot_plugin.settings.table import Setting, SettingsTableMismatch

TOKEN = "pat-eu1-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
SERVICE_KEY = "sk-live_AbCdEf0123456789.xyz~token+/=="


def rows(engine: Engine) -> dict[str, str | None]:
    with Session(engine) as session:
        return {r.key: r.value for r in session.exec(select(Setting))}


@pytest.fixture
def store(engine: Engine, secret_key: str) -> SettingsStore:
    store = SettingsStore(engine, SecretBox([secret_key]), poll_interval=0.05)
    store.setup()
    return store


def test_initial_setup_inserts_the_seed_defaults_once(engine: Engine, store: SettingsStore) -> None:
    stored = rows(engine)
    for key in (
        "hubspot_enabled",
        "hubspot_portal_id",
        "hubspot_api_key",
        "hubspot_chat_enabled",
        "hubspot_ticket_enabled",
        "hubspot_ticket_form_id",
        "hubspot_contact_form_id",
        "hubspot_region",
    ):
        assert key in stored
    assert stored["hubspot_enabled"] == "false"
    store.save({"hubspot_portal_id": "12345678"})
    store.setup()  # again: must not overwrite the admin's value
    assert rows(engine)["hubspot_portal_id"] == "12345678"
    with Session(engine) as session:
        assert session.get(Setting, "hubspot_enabled").description == "Enable HubSpot integration"


class HostSetting(SQLModel, table=True):
    """The host's own model of the seed's ``settings`` table, on SQLModel's default metadata."""

    __tablename__ = "settings"
    key: str = Field(primary_key=True)
    value: str | None = None
    description: str | None = None


def test_a_hosts_existing_settings_table_is_used(engine: Engine, secret_key: str) -> None:
    SQLModel.metadata.create_all(engine, tables=[HostSetting.__table__])
    with Session(engine) as session:
        session.add(HostSetting(key="site_name", value="My Panel", description="Name"))
        session.commit()
    SettingsStore(engine, SecretBox([secret_key])).setup()
    stored = rows(engine)
    assert stored["site_name"] == "My Panel"
    assert stored["hubspot_enabled"] == "false"
    with Session(engine) as session:  # the host's model reads the plugin's rows too
        assert session.get(HostSetting, "hubspot_enabled").value == "false"


def test_a_settings_table_of_another_shape_is_refused_clearly(
    engine: Engine, secret_key: str
) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE settings (name VARCHAR(50) PRIMARY KEY, data TEXT)"))
    with pytest.raises(SettingsTableMismatch, match="key, value and description"):
        SettingsStore(engine, SecretBox([secret_key])).setup()


def test_saved_settings_come_back_typed(store: SettingsStore) -> None:
    saved = store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": " 12345678 ",
            "hubspot_api_key": TOKEN,
            "hubspot_chat_enabled": "on",
            "hubspot_region": "EU1",
            "hubspot_ticket_form_id": "1B2C3D4E-5F60-4718-9A0B-C1D2E3F4A5B6",
        }
    )
    assert saved.enabled and saved.chat_enabled and not saved.ticket_enabled
    assert saved.portal_id == "12345678"
    assert saved.region == "eu1"
    assert saved.ticket_form_id == "1b2c3d4e-5f60-4718-9a0b-c1d2e3f4a5b6"
    assert saved.token is not None and saved.token.reveal() == TOKEN
    assert saved.token_kind == "private-app"


def test_the_token_is_encrypted_at_rest_and_shown_only_as_last_four(
    engine: Engine, store: SettingsStore, secret_key: str
) -> None:
    store.save({"hubspot_api_key": TOKEN})
    raw = rows(engine)["hubspot_api_key"]
    assert raw is not None and TOKEN not in raw
    assert raw.startswith(f"fernet:{SecretBox([secret_key]).primary_key_id}:")
    status = store.token_status()
    assert (status.is_set, status.source, status.last4, status.encrypted) == (
        True,
        "database",
        TOKEN[-4:],
        True,
    )
    assert TOKEN not in repr(store.current()) and TOKEN not in repr(store)
    assert TOKEN not in repr(status)


def test_service_keys_and_unknown_formats_are_accepted(store: SettingsStore) -> None:
    saved = store.save({"hubspot_api_key": SERVICE_KEY})
    assert saved.token is not None and saved.token.reveal() == SERVICE_KEY
    assert saved.token_kind == "other"


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"hubspot_portal_id": "12ab"}, "hubspot_portal_id", "digits only"),
        ({"hubspot_portal_id": "<script>"}, "hubspot_portal_id", "digits only"),
        ({"hubspot_api_key": "pat-na1 with spaces"}, "hubspot_api_key", "spaces"),
        ({"hubspot_api_key": 'tok"en<'}, "hubspot_api_key", "characters"),
        ({"hubspot_enabled": "maybe"}, "hubspot_enabled", "true or false"),
        ({"hubspot_ticket_form_id": "not-a-guid"}, "hubspot_ticket_form_id", "GUID"),
        ({"hubspot_region": "europe"}, "hubspot_region", "region code"),
        ({"hubspot_region": "xx9"}, "hubspot_region", "na1, na2, na3, eu1, ap1"),
        ({"hubspot_region": "eu2"}, "hubspot_region", "region code"),
        ({"hubspot_colour": "blue"}, "hubspot_colour", "not a HubSpot setting"),
        ({"hubspot_enabled": True}, "hubspot_portal_id", "required when HubSpot is enabled"),
        (
            {"hubspot_enabled": True, "hubspot_portal_id": "1"},
            "hubspot_api_key",
            "required when HubSpot is enabled",
        ),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(
    engine: Engine, store: SettingsStore, changes: dict[str, object], field: str, words: str
) -> None:
    before = rows(engine)
    with pytest.raises(InvalidSettings) as raised:
        store.save({**changes, "hubspot_chat_enabled": True})
    assert words in raised.value.errors[field]
    assert rows(engine) == before


def test_no_encryption_key_means_no_token_is_stored(engine: Engine) -> None:
    store = SettingsStore(engine, SecretBox([]))
    store.setup()
    with pytest.raises(InvalidSettings) as raised:
        store.save({"hubspot_api_key": TOKEN, "hubspot_portal_id": "42"})
    assert KEYS_ENV in raised.value.errors["hubspot_api_key"]
    assert TOKEN not in str(raised.value)
    assert rows(engine)["hubspot_api_key"] == "" and rows(engine)["hubspot_portal_id"] == ""


def test_a_plaintext_token_from_an_old_install_is_encrypted_at_setup(
    engine: Engine, secret_key: str
) -> None:
    SettingsStore(engine, SecretBox([])).setup()
    with Session(engine) as session:
        row = session.get(Setting, "hubspot_api_key")
        row.value = TOKEN
        session.add(row)
        session.commit()
    store = SettingsStore(engine, SecretBox([secret_key]))
    store.setup()
    assert rows(engine)["hubspot_api_key"].startswith("fernet:")
    assert store.current().token.reveal() == TOKEN


def test_rotation_reencrypts_with_the_newest_key(engine: Engine, secret_key: str) -> None:
    old = SettingsStore(engine, SecretBox([secret_key]))
    old.setup()
    old.save({"hubspot_api_key": TOKEN})
    new_key = Fernet.generate_key().decode()
    rotating = SettingsStore(engine, SecretBox([new_key, secret_key]))
    assert rotating.rotate_key() is True
    assert rotating.rotate_key() is False  # nothing left to do
    only_new = SettingsStore(engine, SecretBox([new_key]))
    assert only_new.current().token.reveal() == TOKEN
    assert only_new.token_status().key_id == SecretBox([new_key]).primary_key_id
    # With only the retired key, the token is unreadable and the settings say why.
    stale = SettingsStore(engine, SecretBox([secret_key])).current()
    assert stale.token is None
    problem = stale.problems["hubspot_api_key"]
    assert (
        f"encrypted with key {SecretBox([new_key]).primary_key_id}, which this process" in problem
    )


def test_an_environment_token_overrides_the_stored_one(
    store: SettingsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.save({"hubspot_api_key": TOKEN})
    monkeypatch.setenv(TOKEN_ENV, SERVICE_KEY)
    store.invalidate()
    status = store.token_status()
    assert (status.source, status.last4) == ("environment", SERVICE_KEY[-4:])


def test_a_save_reaches_other_processes_within_the_poll_interval(
    engine: Engine, secret_key: str, store: SettingsStore
) -> None:
    other = SettingsStore(engine, SecretBox([secret_key]), poll_interval=0.05)
    assert other.current().portal_id == ""
    other.start_watching()
    try:
        store.save({"hubspot_portal_id": "777"})
        deadline = time.monotonic() + 5
        while other.current().portal_id != "777":
            assert time.monotonic() < deadline, "the other process never saw the save"
            time.sleep(0.01)
    finally:
        other.stop_watching()


@pytest.mark.postgres
def test_on_postgresql_another_process_asks_nothing_until_a_save_then_sees_it(
    secret_key: str,
) -> None:
    """An idle worker process keeps its settings fresh without asking the panel's database:
    the save's NOTIFY tells it. Polling at this interval would ask a dozen times meanwhile."""
    engines = postgres_engine()
    engine = next(engines)
    store = SettingsStore(engine, SecretBox([secret_key]))
    store.setup()
    elsewhere = create_engine(engine.url)  # another process: its own connections
    other = SettingsStore(elsewhere, SecretBox([secret_key]), poll_interval=0.05)
    asked: list[str] = []
    event.listen(elsewhere, "before_cursor_execute", lambda *a: asked.append(a[2]))
    try:
        assert other.current().portal_id == ""
        loaded = len(asked)
        other.start_watching()
        wait_until(lambda: len(asked) > loaded)  # listening, then one look for earlier saves
        store.save({"hubspot_portal_id": "111"})  # a save first, to see the silence after
        wait_until(lambda: other.current().portal_id == "111")
        # The look made on starting to listen may have read this save already; the
        # save's own NOTIFY then asks once more. Wait for that to be over.
        deadline = time.monotonic() + 5
        settled = -1
        while settled != len(asked):  # no query for 0.5 s: ten poll intervals
            assert time.monotonic() < deadline, "the watcher kept asking"
            settled = len(asked)
            time.sleep(0.5)
        quiet = len(asked)
        time.sleep(0.6)  # twelve poll intervals of nothing happening
        assert asked[quiet:] == []
        store.save({"hubspot_portal_id": "777"})
        wait_until(lambda: other.current().portal_id == "777")
    finally:
        other.stop_watching()
        elsewhere.dispose()
        engines.close()


field_values = st.one_of(
    st.text(max_size=60),
    st.booleans(),
    st.integers(),
    st.none(),
    st.sampled_from(
        ["true", "false", "12345678", "eu1", TOKEN, "1b2c3d4e-5f60-4718-9a0b-c1d2e3f4a5b6"]
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    changes=st.dictionaries(
        st.sampled_from([f.key for f in keys.FIELDS]), field_values, min_size=1, max_size=4
    )
)
def test_any_input_is_saved_as_valid_or_refused_whole(
    sqlite_engine: Engine, secret_key: str, changes: dict[str, object]
) -> None:
    store = SettingsStore(sqlite_engine, SecretBox([secret_key]))
    store.setup()
    before = rows(sqlite_engine)
    try:
        saved = store.save(changes)
    except InvalidSettings as exc:
        assert exc.errors and set(exc.errors) <= {f.key for f in keys.FIELDS}
        assert rows(sqlite_engine) == before
        return
    assert saved.problems == {}
    assert saved.portal_id == "" or saved.portal_id.isdigit()
    if saved.enabled:
        assert saved.portal_id and saved.token is not None


def test_a_stored_region_hubspot_does_not_have_is_ignored_and_logged_once(
    engine: Engine, store: SettingsStore, caplog: pytest.LogCaptureFixture
) -> None:
    with Session(engine) as session:
        row = session.get(Setting, "hubspot_region")
        row.value = "xx9"
        session.add(row)
        session.commit()
    store.invalidate()
    with caplog.at_level(logging.ERROR):
        for _ in range(5):
            settings = store.current()
    assert settings.region == "na1"
    assert "region code" in settings.problems["hubspot_region"]
    assert [r.getMessage() for r in caplog.records if "hubspot_region" in r.getMessage()] != []
    assert len([r for r in caplog.records if "hubspot_region" in r.getMessage()]) == 1


def test_the_region_choices_are_the_regions_accepted() -> None:
    assert tuple(code for code, _ in REGIONS) == KNOWN_REGIONS
    for code in KNOWN_REGIONS:
        assert parse_region(code.upper()) == code


def test_a_reload_that_read_before_a_save_never_caches_the_old_settings(
    engine: Engine, secret_key: str
) -> None:
    """A watcher or worker thread that read the rows just before a save committed must not
    put those old rows in the cache after the save invalidated it."""
    read_done = threading.Event()
    may_store = threading.Event()

    class SlowStore(SettingsStore):
        def _settings_from(self, rows):  # type: ignore[no-untyped-def]
            settings = super()._settings_from(rows)
            if threading.current_thread().name == "slow-reload":
                read_done.set()
                assert may_store.wait(10)
            return settings

    store = SlowStore(engine, SecretBox([secret_key]))
    store.setup()
    slow = threading.Thread(target=store.reload, name="slow-reload")
    slow.start()
    assert read_done.wait(10)  # it holds the rows as they were before the save
    store.save({"hubspot_portal_id": "4242", "hubspot_chat_enabled": True})
    may_store.set()
    slow.join(10)
    assert store.current().portal_id == "4242" and store.current().chat_enabled
