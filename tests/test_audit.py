"""The audit trail as an operator reads it: who changed the integration, when, from where.

Every settings save that changes something is one entry naming exactly the keys it
changed (a secret only as changed, never its value); a save that changes nothing, or is
refused, leaves none. Replays, purges, key rotations and backfills are entries with their
counts. The admin route pages through them, the command prints them, and the worker's
housekeeping deletes those past the retention, and only those.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pluggy
import pytest
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from panel_users import add_users, users_source
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from skypanel_hubspot_plugin import save_settings
from skypanel_hubspot_plugin.admin.audit_routes import get_audit
from skypanel_hubspot_plugin.admin.delivery_routes import post_backfill, post_replay
from skypanel_hubspot_plugin.admin.settings_routes import post_rotate_key, post_settings
from skypanel_hubspot_plugin.audit.table import AuditEntry
from skypanel_hubspot_plugin.audit.trail import Actor, entry_json
from skypanel_hubspot_plugin.cli import main
from skypanel_hubspot_plugin.common import clock
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.payloads import AdminRequest, HostContext
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.settings.model import InvalidSettings
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot
from tests.conftest import start_plugin

OTHER_TOKEN = "pat-eu1-aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
APP_SECRET = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
OTHER_SECRET = "f0e1d2c3-b4a5-4968-8776-655443322110"
SECRETS = (FAKE_TOKEN, OTHER_TOKEN, APP_SECRET, OTHER_SECRET)
ADMIN = AdminRequest(method="POST", actor="alice", client_address="203.0.113.7")


def database_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def entries(engine: Engine) -> list[dict[str, Any]]:
    """Every entry, oldest first, as the admin API shows them."""
    with Session(engine) as session:
        return [entry_json(e) for e in session.exec(select(AuditEntry).order_by(AuditEntry.id))]  # type: ignore[arg-type]


def raw_text(engine: Engine) -> str:
    """Everything the table holds, as text."""
    with Session(engine) as session:
        return "\n".join(repr(e.model_dump()) for e in session.exec(select(AuditEntry)))


@pytest.fixture
def plugin(pm: pluggy.PluginManager, engine: Engine, secret_key: str) -> Iterator[Runtime]:
    """Started with no worker; HubSpot is never asked (a closed loopback port)."""
    yield start_plugin(pm, engine, secret_key, "http://127.0.0.1:9", run_worker=False)
    pm.hook.skypanel_shutdown()


# -- settings changes --------------------------------------------------------------------------

#: Per setting: (what an admin may send, what it means), None meaning refused; and how the
#: saved settings show the key's value.
CHOICES: dict[str, list[tuple[object, object]]] = {
    "hubspot_enabled": [
        (True, True),
        ("yes", True),
        (False, False),
        ("off", False),
        ("maybe", None),
    ],
    "hubspot_portal_id": [
        (str(FAKE_PORTAL_ID), str(FAKE_PORTAL_ID)),
        ("456", "456"),
        ("", ""),
        ("x1", None),
    ],
    "hubspot_region": [("na1", "na1"), ("eu1", "eu1"), ("mars", None)],
    "hubspot_rate_limit": [("100", 100), (" 250 ", 250), ("0", None)],
    "hubspot_audit_retention_days": [("365", 365), ("30", 30), ("0", None)],
    "hubspot_api_key": [
        ("", "keep"),
        (FAKE_TOKEN, FAKE_TOKEN),
        (OTHER_TOKEN, OTHER_TOKEN),
        ("not a token", None),
    ],
    "hubspot_app_secret": [
        ("", "keep"),
        (APP_SECRET, APP_SECRET),
        (OTHER_SECRET, OTHER_SECRET),
        ("short", None),
    ],
}
ATTRIBUTE = {
    "hubspot_enabled": "enabled",
    "hubspot_portal_id": "portal_id",
    "hubspot_region": "region",
    "hubspot_rate_limit": "rate_limit",
    "hubspot_audit_retention_days": "audit_retention_days",
    "hubspot_api_key": "token",
    "hubspot_app_secret": "app_secret",
}


@st.composite
def changes(draw: st.DrawFn) -> dict[str, tuple[object, object]]:
    keys = draw(st.sets(st.sampled_from(sorted(CHOICES)), max_size=len(CHOICES)))
    return {key: draw(st.sampled_from(CHOICES[key])) for key in sorted(keys)}


def current_values(rt: Runtime) -> dict[str, object]:
    saved = rt.store.reload()
    values = {}
    for key, attribute in ATTRIBUTE.items():
        value = getattr(saved, attribute)
        values[key] = value.reveal() if hasattr(value, "reveal") else value
    return values


def expected_outcome(
    before: dict[str, object], drawn: dict[str, tuple[object, object]]
) -> list[str] | None:
    """The keys a save of ``drawn`` changes, or None when it must be refused."""
    if any(meaning is None for _, meaning in drawn.values()):
        return None
    after = dict(before)
    for key, (_, meaning) in drawn.items():
        if meaning != "keep":
            after[key] = meaning
    if after["hubspot_enabled"] and (
        not after["hubspot_portal_id"] or after["hubspot_api_key"] is None
    ):
        return None
    return sorted(key for key in drawn if after[key] != before[key])


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=changes(), name=st.sampled_from(["alice", "bob", None]))
def test_a_settings_save_records_exactly_the_keys_it_changed(
    plugin: Runtime, engine: Engine, drawn: dict[str, tuple[object, object]], name: str | None
) -> None:
    before = current_values(plugin)
    expected = expected_outcome(before, drawn)
    recorded = len(entries(engine))
    actor = Actor(name, "198.51.100.4", "admin")
    try:
        plugin.store.save({key: raw for key, (raw, _) in drawn.items()}, actor)
    except InvalidSettings:
        assert expected is None, drawn
        assert entries(engine)[recorded:] == []  # refused: nothing saved, nothing recorded
        assert current_values(plugin) == before
        return
    assert expected is not None, drawn
    new = entries(engine)[recorded:]
    if not expected:
        assert new == []  # the same values again: no entry
        return
    [entry] = new
    assert entry["action"] == "settings_changed"
    assert entry["details"] == {"changed": expected}
    assert (entry["actor"], entry["address"], entry["via"]) == (name, "198.51.100.4", "admin")
    text = raw_text(engine)
    assert not [s for s in SECRETS if s in text], "a secret's value reached the audit table"


def test_the_admin_route_and_save_settings_name_who_saved(plugin: Runtime, engine: Engine) -> None:
    answer = post_settings(
        AdminRequest(
            method="POST",
            body={"hubspot_chat_enabled": True, "hubspot_app_secret": APP_SECRET},
            actor="alice",
            client_address="203.0.113.7",
        )
    )
    assert answer.status == 200
    save_settings({"hubspot_region": "eu1"}, actor="nightly-provisioning")
    refused = post_settings(
        AdminRequest(method="POST", body={"hubspot_rate_limit": "lots"}, actor="mallory")
    )
    assert refused.status == 422
    shown = [(e["actor"], e["address"], e["via"], e["details"]) for e in entries(engine)]
    assert shown == [
        (
            "alice",
            "203.0.113.7",
            "admin",
            {"changed": ["hubspot_app_secret", "hubspot_chat_enabled"]},
        ),
        ("nightly-provisioning", None, "code", {"changed": ["hubspot_region"]}),
    ]
    assert APP_SECRET not in raw_text(engine)


def test_a_control_character_in_a_hosts_admin_name_cannot_forge_a_line(
    plugin: Runtime, engine: Engine
) -> None:
    request = AdminRequest(actor="eve\n2026-01-01 settings_changed admin", client_address="::1")
    plugin.store.save({"hubspot_chat_enabled": True}, Actor.of(request))
    [entry] = entries(engine)
    assert "\n" not in entry["actor"] and entry["actor"].startswith("eve?")


# -- key rotation, replays, purges, backfills ----------------------------------------------------


def test_a_key_rotation_records_which_secrets_moved_to_which_key(
    pm: pluggy.PluginManager, engine: Engine, secret_key: str
) -> None:
    rt = start_plugin(pm, engine, secret_key, "http://127.0.0.1:9", run_worker=False)
    rt.store.save({"hubspot_api_key": FAKE_TOKEN, "hubspot_app_secret": APP_SECRET})
    pm.hook.skypanel_shutdown()
    new_key = Fernet.generate_key().decode()
    pm.hook.skypanel_startup(
        host=HostContext(engine=engine, secret_keys=[new_key, secret_key], run_worker=False)
    )
    try:
        answer = post_rotate_key(ADMIN)
        assert answer.status == 200 and answer.body["rotated"] is True
        assert post_rotate_key(ADMIN).body["rotated"] is False  # nothing left: no entry
        key_id = answer.body["keyId"]
    finally:
        pm.hook.skypanel_shutdown()
    rotations = [e for e in entries(engine) if e["action"] == "key_rotated"]
    assert [(e["actor"], e["address"], e["details"]) for e in rotations] == [
        (
            "alice",
            "203.0.113.7",
            {"reencrypted": ["hubspot_api_key", "hubspot_app_secret"], "keyId": key_id},
        )
    ]


def test_a_replay_records_what_was_asked_and_what_was_queued_again(
    rt: Runtime, engine: Engine
) -> None:
    for user in ("1", "2"):
        rt.outbox.record(
            "contact.upsert",
            f"user:{user}",
            {"email": f"{user}@example.com"},
            dead_reason="HTTP 400",
        )
    parked = [r.id for r in rt.outbox.rows(status="dead")]
    assert (
        post_replay(
            AdminRequest(method="POST", body={"ids": [parked[0], 10**9]}, actor="alice")
        ).status
        == 200
    )
    assert post_replay(AdminRequest(method="POST", body={}, actor="bob")).status == 200
    replays = [e for e in entries(engine) if e["action"] == "deliveries_replayed"]
    assert [(e["actor"], e["details"]) for e in replays] == [
        ("alice", {"asked": 2, "replayed": 1}),
        ("bob", {"asked": "all", "replayed": 1}),
    ]
    assert "example.com" not in raw_text(engine)  # no customer data


def test_a_purge_from_the_command_line_records_its_counts(
    rt: Runtime,
    engine: Engine,
    secret_key: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SKYPANEL_HUBSPOT_SECRET_KEYS", secret_key)
    rt.outbox.record(
        "contact.upsert", "user:9", {"email": "nine@example.com"}, dead_reason="HTTP 400"
    )
    Worker(rt).run_once()  # nothing queued: the worker's own purge is not an operator's
    assert main(["purge", "--older-than", "0", "--database-url", database_url(engine)]) == 0
    [purge] = [e for e in entries(engine) if e["action"] == "deliveries_purged"]
    assert purge["details"] == {"olderThanDays": 0, "erased": 0, "deleted": 1}
    assert purge["via"] == "cli" and purge["actor"]  # the shell user


def test_a_backfill_from_the_admin_page_records_its_start_and_its_end(
    pm: pluggy.PluginManager, engine: Engine, secret_key: str, fake: FakeHubSpot
) -> None:
    add_users(engine, ["a@example.com", "b@example.com", "c@example.com"])
    rt = start_plugin(
        pm, engine, secret_key, fake.base_url, run_worker=False, list_users=users_source(engine)
    )
    try:
        rt.store.save(
            {
                "hubspot_enabled": True,
                "hubspot_portal_id": str(FAKE_PORTAL_ID),
                "hubspot_api_key": FAKE_TOKEN,
            }
        )
        answer = post_backfill(
            AdminRequest(method="POST", actor="alice", client_address="10.0.0.5")
        )
        assert answer.status == 202
        rt.backfills.wait(timeout=30)
        deadline = time.monotonic() + 30
        while len([e for e in entries(engine) if e["action"].startswith("backfill")]) < 2:
            assert time.monotonic() < deadline, entries(engine)
            rt.backfills.wait(timeout=1)
    finally:
        pm.hook.skypanel_shutdown()
    started, finished = [e for e in entries(engine) if e["action"].startswith("backfill")]
    job = started["details"]["backfill"]
    assert started["details"] == {"backfill": job, "resumed": False}
    assert finished["details"] == {
        "backfill": job,
        "outcome": "queued",
        "queued": 3,
        "delivered": 0,
        "parked": 0,
        "pending": 3,
    }
    assert {e["actor"] for e in (started, finished)} == {"alice"}
    assert "example.com" not in raw_text(engine)


def test_sync_contacts_records_the_run_and_its_outcome(
    rt: Runtime, engine: Engine, secret_key: str, fake: FakeHubSpot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKYPANEL_HUBSPOT_SECRET_KEYS", secret_key)
    add_users(engine, ["a@example.com", "b@example.com", "not-an-email"])
    code = main(
        [
            "sync-contacts",
            "--database-url",
            database_url(engine),
            "--base-url",
            fake.base_url,
            "--users",
            "panel_users:users_source",
        ]
    )
    assert code == 1  # one user HubSpot never takes
    finished = [e for e in entries(engine) if e["action"] == "backfill_finished"]
    assert [e["details"] for e in finished] == [
        {
            "backfill": finished[0]["details"]["backfill"],
            "outcome": "done",
            "queued": 3,
            "delivered": 2,
            "parked": 1,
            "pending": 0,
        }
    ]
    assert finished[0]["via"] == "cli"


# -- reading it: the admin route and the command -------------------------------------------------


def fill(rt: Runtime, count: int) -> None:
    for n in range(count):
        rt.store.save({"hubspot_rate_limit": str(101 + n)}, Actor(f"admin{n}", None, "admin"))


def test_the_audit_route_pages_from_the_newest(plugin: Runtime, engine: Engine) -> None:
    fill(plugin, 7)
    seen: list[str] = []
    query: dict[str, str] = {"limit": "3"}
    pages = 0
    while True:
        answer = get_audit(AdminRequest(query=query))
        assert answer.status == 200
        seen += [e["actor"] for e in answer.body["entries"]]
        pages += 1
        if answer.body["next"] is None:
            break
        query = {"limit": "3", "before": str(answer.body["next"]["before"])}
    assert seen == [f"admin{n}" for n in reversed(range(7))]
    assert pages == 3
    assert get_audit(AdminRequest()).body["entries"][0]["details"] == {
        "changed": ["hubspot_rate_limit"]
    }


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "201"},
        {"limit": "x"},
        {"before": "-1"},
        {"before": "1e3"},
        {"before": "9" * 30},
    ],
)
def test_the_audit_route_refuses_a_bad_query_naming_it(
    plugin: Runtime, query: dict[str, str]
) -> None:
    answer = get_audit(AdminRequest(query=query))
    assert answer.status == 422 and set(answer.body["details"]) == set(query)


def test_the_audit_route_is_served_by_the_host_adapters(plugin: Runtime) -> None:
    from hooks.admin_routes import skypanel_register_admin_routes

    registered: list[tuple[str, str]] = []
    skypanel_register_admin_routes(
        register=lambda method, path, handler: registered.append((method, path))
    )
    assert ("GET", "/api/admin/settings/hubspot/audit") in registered


def test_the_audit_command_prints_lines_and_json(
    plugin: Runtime,
    engine: Engine,
    secret_key: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SKYPANEL_HUBSPOT_SECRET_KEYS", secret_key)
    url = database_url(engine)
    assert main(["audit", "--database-url", url]) == 0
    assert capsys.readouterr().out == "No audit entries.\n"
    plugin.store.save({"hubspot_api_key": FAKE_TOKEN}, Actor("alice", "203.0.113.7", "admin"))
    fill(plugin, 2)
    assert main(["audit", "--database-url", url, "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "settings_changed" in lines[0] and "admin1 (admin)" in lines[0]
    assert lines[0].endswith("hubspot_rate_limit changed")
    assert main(["audit", "--database-url", url, "--json", "--limit", "2"]) == 0
    page = json.loads(capsys.readouterr().out)
    assert [e["actor"] for e in page["entries"]] == ["admin1", "admin0"]
    before = str(page["next"]["before"])
    assert main(["audit", "--database-url", url, "--json", "--before", before]) == 0
    [oldest] = json.loads(capsys.readouterr().out)["entries"]
    assert oldest["details"] == {"changed": ["hubspot_api_key"]}
    assert (oldest["actor"], oldest["address"]) == ("alice", "203.0.113.7")
    assert main(["audit", "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert "alice (admin) from 203.0.113.7: hubspot_api_key changed" in out
    assert FAKE_TOKEN not in out


# -- retention ---------------------------------------------------------------------------------


def test_the_worker_deletes_entries_past_the_retention_and_only_those(
    rt: Runtime, engine: Engine
) -> None:
    fill(rt, 3)
    with Session(engine) as session:  # all but the newest older than a 30-day retention
        ids = [e.id for e in session.exec(select(AuditEntry).order_by(AuditEntry.id))]  # type: ignore[arg-type]
        session.exec(
            update(AuditEntry)
            .where(AuditEntry.id.in_(ids[:-1]))  # type: ignore[union-attr]
            .values(at=clock.utcnow() - timedelta(days=31))
        )
        session.exec(
            update(AuditEntry)
            .where(AuditEntry.id == ids[-1])  # type: ignore[arg-type]
            .values(at=clock.utcnow() - timedelta(days=29))
        )
        session.commit()
    rt.store.save({"hubspot_audit_retention_days": "30"}, Actor("alice", None, "admin"))
    Worker(rt)._purge_if_due()
    kept = entries(engine)
    assert [e["id"] for e in kept] == [ids[-1], kept[-1]["id"]]
    assert kept[-1]["details"] == {"changed": ["hubspot_audit_retention_days"]}


def test_the_retention_is_a_setting_with_a_year_by_default(plugin: Runtime) -> None:
    assert plugin.settings().audit_retention_days == 365
    with pytest.raises(InvalidSettings) as refused:
        plugin.store.save({"hubspot_audit_retention_days": "0"})
    assert "hubspot_audit_retention_days" in refused.value.errors
