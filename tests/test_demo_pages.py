"""What the demo panel and the admin API show people, over HTTP: deliveries in words, the
settings page's fields, the demo's own customer fields, and Test connection as text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine
from sqlmodel import Session, select

from skypanel_hubspot_plugin.admin.delivery_words import entity_words, kind_words
from skypanel_hubspot_plugin.cli import main
from skypanel_hubspot_plugin.delivery.outbox import PURGED
from skypanel_hubspot_plugin.demo.app import create_app
from skypanel_hubspot_plugin.demo.config import DemoConfig
from skypanel_hubspot_plugin.demo.panel_tables import PanelUser
from skypanel_hubspot_plugin.demo.sandbox_pages import add_sandbox_forms
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.settings.secrets import SecretBox
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot

PASSWORD = "correct horse battery staple"
API = "/api/admin/settings/hubspot"


@pytest.fixture
def demo(tmp_path: Path, fake_hubspot: FakeHubSpot) -> Iterator[FastAPI]:
    add_sandbox_forms(fake_hubspot)
    app = create_app(
        DemoConfig(
            data_dir=tmp_path / "panel",
            admin_password=PASSWORD,
            hubspot_base_url=fake_hubspot.base_url,
            settings_poll_interval=0.1,
        )
    )
    with TestClient(app):
        yield app


def csrf(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def admin(app: FastAPI) -> tuple[TestClient, str]:
    client = TestClient(app, follow_redirects=False)
    form = {"username": "admin", "password": PASSWORD, "csrf_token": csrf(client, "/admin/login")}
    assert client.post("/admin/login", data=form).status_code == 303
    return client, csrf(client, "/admin/settings")


def sign_up(app: FastAPI, **fields: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    answer = client.post("/signup", data={**fields, "csrf_token": csrf(client, "/")})
    assert answer.status_code == 303, answer.text
    return client


def test_deliveries_say_what_and_for_whom_in_words(
    demo: FastAPI, fake_hubspot: FakeHubSpot
) -> None:
    client, token = admin(demo)
    contact_map = {"email": "email", "first_name": "firstname", "plan": "hosting_plan"}
    contact_map["server_count"] = "server_count"
    for body in (  # the token first: a map is checked against the portal's properties
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
        },
        {"hubspot_contact_property_map": json.dumps(contact_map)},
    ):
        saved = client.post(f"{API}/settings", json=body, headers={"X-CSRF-Token": token})
        assert saved.status_code == 200, saved.text
    sign_up(demo, email="ada@example.com", first_name="Ada", plan="business", server_count="12")
    fake_hubspot.wait_for(lambda f: f.contact_by_email("ada@example.com") is not None, timeout=10)
    contact = fake_hubspot.contact_by_email("ada@example.com") or {}
    assert contact["properties"]["hosting_plan"] == "business"
    assert contact["properties"]["server_count"] == "12"

    (row,) = client.get(f"{API}/deliveries").json()["deliveries"]
    assert (row["kind"], row["entity"]) == ("contact.upsert", "user:1")  # for scripts
    assert (row["kindLabel"], row["entityLabel"]) == ("Contact update", "ada@example.com")


def test_a_purged_or_unknown_delivery_is_still_named_in_words() -> None:
    assert entity_words("user:151", PURGED) == "User 151"
    assert entity_words("ticket:9", json.dumps({"ticket_id": "9"})) == "Ticket 9"
    assert entity_words("form:contact", "{}") == "Contact form"
    assert kind_words("ticket.create") == "New ticket"
    assert kind_words("something.new") == "something.new"  # a newer version's kind, as is


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)


@settings(max_examples=40, deadline=None)
@given(
    prefix=st.sampled_from(["user", "ticket", "form", "other"]),
    ident=st.text(min_size=1, max_size=10),
    payload=JSON_VALUES.map(json.dumps) | st.text(max_size=40),
)
def test_any_stored_payload_gives_words_and_never_the_raw_user_code(
    prefix: str, ident: str, payload: str
) -> None:
    words = entity_words(f"{prefix}:{ident}", payload)
    assert isinstance(words, str) and words
    if prefix in ("user", "ticket"):
        assert not words.startswith(f"{prefix}:")


def test_the_settings_page_shows_the_status_table_once_and_long_selects_whole(
    demo: FastAPI,
) -> None:
    client, _ = admin(demo)
    page = client.get("/admin/settings").text
    row = re.search(r'<div class="[^"]*" id="hubspot_ticket_status_stages-row"[^>]*>', page)
    assert row and " hidden" in row.group(0)  # kept for Save, shown in the card only
    assert page.count('id="hubspot_ticket_status_stages-error"') == 1  # in the card
    assert 'id="status-stage-waiting"' in page and ">Waiting on you</label>" in page
    sync = re.search(r'<div class="([^"]*)" id="hubspot_ticket_sync-row"', page)
    assert sync and "setting-wide" in sync.group(1)
    fields = re.search(r'<script type="application/json" id="panel-fields">(.*?)</script>', page)
    assert fields and json.loads(fields.group(1)) == {
        "user": ["plan", "server_count"],
        "ticket": ["server"],
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("plan", "platinum", "Choose a hosting plan from the list"),
        ("server_count", "-1", "Enter a whole number from 0 to 1000"),
        ("server_count", "1001", "Enter a whole number from 0 to 1000"),
        ("server_count", "\uff13", "Enter a whole number from 0 to 1000"),
    ],
)
def test_a_bad_plan_or_server_count_is_refused_next_to_its_field(
    demo: FastAPI, tmp_path: Path, field: str, value: str, message: str
) -> None:
    client = TestClient(demo, follow_redirects=False)
    form = {"email": "bob@example.com", "first_name": "Bob", field: value}
    answer = client.post("/signup", data={**form, "csrf_token": csrf(client, "/")})
    assert answer.status_code == 422
    assert f'<p class="field-error" id="{field}-error">{message}</p>' in answer.text
    engine = create_engine(f"sqlite:///{tmp_path / 'panel' / 'panel.sqlite3'}")
    with Session(engine) as session:
        assert session.exec(select(PanelUser)).all() == []
    engine.dispose()


def test_test_connection_as_text_carries_every_warning_the_json_has(
    tmp_path: Path,
    secret_key: str,
    fake_hubspot: FakeHubSpot,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SKYPANEL_HUBSPOT_SECRET_KEYS", secret_key)
    url = f"sqlite:///{tmp_path / 'panel.sqlite3'}"
    rt = Runtime(create_engine(url), SecretBox([secret_key]))
    rt.store.setup()
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_ticket_enabled": True,  # webhooks chosen, no app secret: a warning
            "hubspot_region": "eu1",  # the fake portal is in na1: another warning
        }
    )
    args = ["test-connection", "--database-url", url, "--base-url", fake_hubspot.base_url]
    assert main([*args, "--json"]) == 0
    warnings = json.loads(capsys.readouterr().out)["warnings"]
    assert len(warnings) == 2
    assert main(args) == 0
    text = capsys.readouterr().out
    assert text.startswith("HubSpot connection successful")
    for warning in warnings:
        assert f"Warning: {warning}\n" in text
    assert text.count("can come back by") == 1  # the ways back, said once


def test_the_audit_trail_names_the_demo_admin_and_shows_on_the_settings_page(
    demo: FastAPI,
) -> None:
    client, token = admin(demo)
    headers = {"X-CSRF-Token": token}
    saved = client.post(f"{API}/settings", json={"hubspot_chat_enabled": True}, headers=headers)
    assert saved.status_code == 200, saved.text
    [entry] = client.get(f"{API}/audit").json()["entries"]
    assert (entry["actor"], entry["address"], entry["via"]) == ("admin", "testclient", "admin")
    assert entry["details"] == {"changed": ["hubspot_chat_enabled"]}
    page = client.get("/admin/settings").text
    assert 'id="audit-title">Audit trail</h2>' in page and 'id="audit-rows"' in page
    customer = sign_up(demo, email="c@example.com", first_name="C")
    assert customer.get(f"{API}/audit").status_code == 403  # admins only
