"""The Django adapter as a host sees it: its routes behind Django's own staff check and
CSRF, the public webhook route, the template tags, the management commands, the settings
checked at start, and a core package that imports no Django."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.template import engines
from django.test import Client, RequestFactory
from django_host import ContentType, DjangoUser, Permission, django_database, started
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from skypanel_hubspot_plugin import User
from skypanel_hubspot_plugin.django import config, hubspot
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FakeHubSpot

CONFIG = "/api/admin/settings/hubspot/config"
SETTINGS = "/api/admin/settings/hubspot/settings"
WEBHOOKS = "/api/hubspot/webhooks"


@pytest.fixture
def django_db(sqlite_engine: Engine) -> Iterator[dict[str, Any]]:
    yield from django_database(sqlite_engine)


@pytest.fixture
def plugin(django_db: dict[str, Any], secret_key: str, fake: FakeHubSpot) -> Iterator[Runtime]:
    yield from started(secret_key, fake.base_url)


def signed_in(*, staff: bool, permission: str | None = None) -> Client:
    user = DjangoUser.objects.create_user(username="someone", is_staff=staff)
    if permission:
        codename = permission.split(".")[1]
        content_type = ContentType.objects.get_for_model(DjangoUser)
        granted, _ = Permission.objects.get_or_create(
            codename=codename, content_type=content_type, defaults={"name": codename}
        )
        user.user_permissions.add(granted)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_the_admin_routes_refuse_anonymous_and_non_staff_users(plugin: Runtime) -> None:
    anonymous = Client().get(CONFIG)
    assert anonymous.status_code == 401
    assert anonymous.json()["details"] == {"user": "not signed in"}
    customer = signed_in(staff=False).get(CONFIG)
    assert customer.status_code == 403
    assert "token" not in customer.content.decode().lower()


def test_a_staff_user_reads_the_config_without_the_token(plugin: Runtime) -> None:
    answer = signed_in(staff=True).get(CONFIG)
    assert answer.status_code == 200
    assert answer.json()["portalId"] == str(FAKE_PORTAL_ID)
    assert answer.json()["apiKeySet"] is True
    assert "apiKey" not in answer.json()


def test_a_state_changing_admin_request_needs_djangos_csrf_token(plugin: Runtime) -> None:
    admin = signed_in(staff=True)
    body = {"hubspot_chat_enabled": True}
    refused = admin.post(SETTINGS, body, content_type="application/json")
    assert refused.status_code == 403  # Django's CSRF failure
    assert plugin.settings().chat_enabled is False
    admin.get(CONFIG)  # sets the CSRF cookie, as the settings page would
    token = admin.cookies["csrftoken"].value
    saved = admin.post(
        SETTINGS, body, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert saved.status_code == 200, saved.content
    assert plugin.settings().chat_enabled is True


def test_the_audit_trail_names_the_django_user_and_their_address(plugin: Runtime) -> None:
    admin = signed_in(staff=True)
    admin.get(CONFIG)
    token = admin.cookies["csrftoken"].value
    saved = admin.post(
        SETTINGS,
        {"hubspot_chat_enabled": True},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert saved.status_code == 200, saved.content
    answer = admin.get("/api/admin/settings/hubspot/audit", {"limit": "1"})
    assert answer.status_code == 200
    [entry] = answer.json()["entries"]
    assert (entry["actor"], entry["address"]) == ("someone", "127.0.0.1")
    assert entry["details"] == {"changed": ["hubspot_chat_enabled"]}
    assert Client().get("/api/admin/settings/hubspot/audit").status_code == 401


def test_a_configured_permission_replaces_the_staff_check(plugin: Runtime) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            config,
            "current",
            lambda: config.Config(admin_permission="auth.change_user"),
        )
        assert signed_in(staff=True).get(CONFIG).status_code == 403
        DjangoUser.objects.all().delete()
        allowed = signed_in(staff=False, permission="auth.change_user").get(CONFIG)
        assert allowed.status_code == 200


def test_the_webhook_route_takes_no_csrf_token_and_checks_hubspots_signature(
    plugin: Runtime,
) -> None:
    client = Client(enforce_csrf_checks=True)
    answer = client.post(WEBHOOKS, b"[]", content_type="application/json")
    assert answer.status_code in (401, 403)  # refused for its signature, not for CSRF
    assert "CSRF" not in answer.content.decode()


def render(source: str, request: Any) -> str:
    return engines["django"].from_string(source).render({}, request)


def test_the_page_head_tag_places_the_chat_loader_with_the_requests_nonce(
    plugin: Runtime,
) -> None:
    plugin.store.save({"hubspot_chat_enabled": True})
    request = RequestFactory().get("/")
    request.csp_nonce = "n0nce-from-django-csp"  # type: ignore[attr-defined]
    html = render("{% load skypanel_hubspot %}{% hubspot_page_head %}", request)
    assert f"{FAKE_PORTAL_ID}.js" in html
    assert 'nonce="n0nce-from-django-csp"' in html


def test_the_page_head_tag_renders_nothing_while_the_chat_is_off(plugin: Runtime) -> None:
    html = render("{% load skypanel_hubspot %}<head>{% hubspot_page_head %}</head>", None)
    assert html == "<head></head>"


def test_the_form_tag_places_the_contact_form_once_set_up(plugin: Runtime) -> None:
    form_id = "5b1c2d3e-4f50-4a61-8b72-c3d4e5f60718"
    plugin.store.save({"hubspot_contact_form_id": form_id})
    html = render(
        '{% load skypanel_hubspot %}{% hubspot_form "contact" %}', RequestFactory().get("/")
    )
    assert form_id in html


def test_the_status_and_deliveries_commands_read_the_django_database(
    plugin: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    hubspot.user_created(User(id="1", email="one@example.com"))
    call_command("hubspot_status", "--json")
    assert json.loads(capsys.readouterr().out)["counts"]["queued"] == 1
    call_command("hubspot_deliveries")
    out = capsys.readouterr().out
    assert "user:1" in out and "queued: 1" in out


def test_the_sync_command_says_what_is_missing_and_exits_2(
    plugin: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        call_command("hubspot_sync_contacts", "--users", "nowhere.at_all:users")
    assert exit_.value.code == 2
    assert "--users nowhere.at_all:users" in capsys.readouterr().err


@settings(max_examples=40, deadline=None)
@given(
    key=st.sampled_from(["SECRET_KEYS", "PLUGINS", "RUN_WORKER", "USERS", "DATABASE", "NOPE"]),
    value=st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), min_size=1)),
)
def test_a_bad_setting_is_refused_naming_the_key_never_the_value(key: str, value: object) -> None:
    try:
        config.read(
            {key: value, "SECRET_KEYS": ["s3cret-key-value"]}
            if key != "SECRET_KEYS"
            else {key: value}
        )
    except ImproperlyConfigured as exc:
        assert key in str(exc)
        assert "s3cret-key-value" not in str(exc)


def test_settings_are_read_into_their_fields() -> None:
    read = config.read(
        {"SECRET_KEYS": ["k1", "k2"], "RUN_WORKER": False, "USERS": "panel.hubspot:list_users"}
    )
    assert (read.secret_keys, read.run_worker, read.users) == (
        ("k1", "k2"),
        False,
        "panel.hubspot:list_users",
    )
    with pytest.raises(ImproperlyConfigured, match=r"'RUN_WORKER'.*True or False"):
        config.read({"RUN_WORKER": "yes"})


def test_the_core_package_imports_no_django() -> None:
    code = "import sys, skypanel_hubspot_plugin; print('django' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_metrics_route_answers_staff_in_prometheus_text(plugin: Runtime) -> None:
    metrics = "/api/admin/settings/hubspot/metrics"
    assert Client().get(metrics).status_code == 401
    answer = signed_in(staff=True).get(metrics)
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/plain")
    assert "# TYPE skypanel_hubspot_parked_deliveries gauge" in answer.content.decode()
