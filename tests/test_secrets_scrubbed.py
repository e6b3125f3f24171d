"""The access token and the app client secret never reach a stored error or a log line.

A token from ``SKYPANEL_HUBSPOT_ACCESS_TOKEN`` is checked like one typed in the form; and
whatever text the plugin stores as a delivery's error or logs is scrubbed of every secret
it has read, whole, escaped, or in pieces.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from conftest import start_plugin
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from skypanel_hubspot_plugin.admin.connection_test import check_connection
from skypanel_hubspot_plugin.common.scrub import REDACTED, ScrubFilter, scrub
from skypanel_hubspot_plugin.common.secret import Secret
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.settings.store import TOKEN_ENV
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot

BROKEN = "pat-na1-11111111-2222-3333-4444\n-555555555555"
APP_SECRET = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


@pytest.fixture
def started(pm, sqlite_engine: Engine, secret_key: str, fake: FakeHubSpot) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    rt = start_plugin(pm, sqlite_engine, secret_key, fake.base_url)
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_app_secret": APP_SECRET,
        }
    )
    yield rt
    pm.hook.skypanel_shutdown()


def test_a_token_with_a_line_break_in_the_environment_is_refused_naming_the_variable(
    started: Runtime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(TOKEN_ENV, BROKEN)
    with caplog.at_level(logging.INFO):
        settings = started.store.reload()
    assert settings.token is None
    problem = settings.problems["hubspot_api_key"]
    assert TOKEN_ENV in problem and "line breaks" in problem
    shown = problem + caplog.text
    assert "pat-na1-1111" not in shown and "5555555" not in shown
    assert TOKEN_ENV in caplog.text
    checked = check_connection(settings, None)  # what "Test connection" tells the admin
    assert not checked.success and checked.message.startswith(f"The access token in {TOKEN_ENV}")


def test_a_clean_token_in_the_environment_is_used(
    started: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, f"  {FAKE_TOKEN}\n")
    settings = started.store.reload()
    assert settings.token == Secret(FAKE_TOKEN) and settings.token_source == "environment"


def test_a_stored_error_never_holds_the_token_or_the_app_secret(started: Runtime) -> None:
    started.outbox.record(
        "contact_upsert",
        "user:1",
        {},
        dead_reason=f"HubSpot said: Bearer {FAKE_TOKEN} / secret {APP_SECRET!r}",
    )
    [row] = started.outbox.rows(status="dead", limit=10)
    assert row.last_error is not None
    assert FAKE_TOKEN not in row.last_error and APP_SECRET not in row.last_error
    assert row.last_error.count(REDACTED) == 2


def test_a_log_line_never_holds_the_token_or_the_app_secret(
    started: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("skypanel_hubspot_plugin.delivery.outbox")
    with caplog.at_level(logging.INFO):
        log.warning("refused: %s and %r", FAKE_TOKEN, APP_SECRET)
        try:
            raise RuntimeError(f"Invalid header value b'Bearer {FAKE_TOKEN}'")
        except RuntimeError:
            log.exception("delivery failed")
    assert FAKE_TOKEN not in caplog.text and APP_SECRET not in caplog.text
    assert REDACTED in caplog.text and "delivery failed" in caplog.text


@settings(max_examples=100, deadline=None)
@given(
    token=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~+/", min_size=8, max_size=60),
    cut=st.integers(0, 60),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
)
def test_a_secret_is_scrubbed_whole_escaped_or_split_by_a_line_break(
    token: str, cut: int, before: str, after: str
) -> None:
    cut = min(cut, len(token))
    value = token[:cut] + "\n" + token[cut:]
    Secret(value)
    for shown in (value, repr(value), value.strip()):
        text = scrub(before + shown + after)
        for piece in value.split():
            if len(piece) >= 8:
                assert piece not in text


def test_every_logger_of_the_package_scrubs_once_the_plugin_started(started: Runtime) -> None:
    names = [n for n in logging.root.manager.loggerDict if n.startswith("skypanel_hubspot_plugin")]
    assert "skypanel_hubspot_plugin.delivery.outbox" in names
    unfiltered = [
        n
        for n in names
        if not any(isinstance(f, ScrubFilter) for f in logging.getLogger(n).filters)
    ]
    assert unfiltered == []
