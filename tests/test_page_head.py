"""The chat loader in the page head: exact markup, right host, nonce, and free once cached."""

from __future__ import annotations

import logging
import re
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, event
from sqlmodel import Session

from skypanel_hubspot_plugin import PageContext, runtime
from skypanel_hubspot_plugin.hubspot.api import chat_script_host
from skypanel_hubspot_plugin.page.rendering import chat_loader, render
from skypanel_hubspot_plugin.settings import schema as keys
from skypanel_hubspot_plugin.settings.model import HubSpotSettings
from skypanel_hubspot_plugin.settings.secrets import SecretBox
from skypanel_hubspot_plugin.settings.store import SettingsStore
from skypanel_hubspot_plugin.settings.table import Setting

TOKEN = "pat-na1-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
SCRIPT_RE = re.compile(
    r'<script type="text/javascript" id="hs-script-loader" async defer '
    r'src="https://js(?:-[a-z]{2}[0-9]{1,2})?\.hs-scripts\.com/[1-9][0-9]{0,11}\.js"'
    r'(?: nonce="[^"<>&]*")?></script>'
)


def head(pm, nonce: str | None = None) -> list[str]:  # type: ignore[no-untyped-def]
    return pm.hook.skypanel_page_head(page=PageContext(path="/", csp_nonce=nonce))


def enable_chat(rt: runtime.Runtime, region: str = "na1") -> None:
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": "12345678",
            "hubspot_api_key": TOKEN,
            "hubspot_chat_enabled": True,
            "hubspot_region": region,
        }
    )


def test_nothing_in_the_head_until_chat_is_enabled(pm, started_offline) -> None:  # type: ignore[no-untyped-def]
    assert head(pm) == []
    started_offline.store.save({"hubspot_portal_id": "12345678", "hubspot_chat_enabled": True})
    assert head(pm) == []  # the integration itself is still off


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("na1", "js.hs-scripts.com"),
        ("eu1", "js-eu1.hs-scripts.com"),
        ("na2", "js-na2.hs-scripts.com"),
    ],
)
def test_the_loader_comes_from_the_portals_region(
    pm,
    started_offline,
    region: str,  # type: ignore[no-untyped-def]
    host: str,
) -> None:
    enable_chat(started_offline, region)
    assert head(pm) == [
        '<script type="text/javascript" id="hs-script-loader" async defer '
        f'src="https://{host}/12345678.js"></script>'
    ]


def test_the_csp_nonce_is_carried_and_escaped(pm, started_offline) -> None:  # type: ignore[no-untyped-def]
    enable_chat(started_offline)
    assert 'nonce="r4nd0m"></script>' in head(pm, "r4nd0m")[0]
    assert 'nonce="&#34;&gt;&lt;script&gt;"' in head(pm, '"><script>')[0]


def test_the_head_runs_no_sql_after_the_first_call(pm, started_offline, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    enable_chat(started_offline)
    statements: list[str] = []
    me = threading.get_ident()

    def count(conn, cursor, sql, *args):  # type: ignore[no-untyped-def]
        if threading.get_ident() == me:  # the page's thread, not the plugin's background ones
            statements.append(sql)

    event.listen(engine, "before_cursor_execute", count)
    try:
        started_offline.store.invalidate()
        head(pm)
        first = len(statements)
        for _ in range(200):
            assert len(head(pm)) == 1
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert first >= 1
    assert len(statements) == first, statements[first:]


def store_by_hand(engine: Engine, key: str, value: str) -> None:
    """Writes a setting's row directly, as a hand edit of the table would."""
    with Session(engine) as session:
        row = session.get(Setting, key)
        assert row is not None
        row.value = value
        session.add(row)
        session.commit()


def test_a_broken_setting_keeps_the_last_good_head_and_logs_one_error(  # type: ignore[no-untyped-def]
    pm, started_offline, engine: Engine, plugin_log: pytest.LogCaptureFixture
) -> None:
    enable_chat(started_offline)
    good = head(pm)
    store_by_hand(engine, keys.PORTAL_ID, '1"><script>alert(1)</script>')
    started_offline.store.invalidate()
    for _ in range(5):
        assert head(pm) == good  # the portal id read well last, never the markup
    errors = [r for r in plugin_log.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "hubspot_portal_id" in errors[0].getMessage()


def test_a_broken_setting_is_reported_once_per_change_however_many_load_it(
    engine: Engine, secret_key: str, plugin_log: pytest.LogCaptureFixture
) -> None:
    """Pages, admin routes and the worker all load the settings; one change, one error.

    The loaders are the threads below, on a store of its own: a running worker's own first
    load could read the hand edit before the change is announced, a second change."""
    store = SettingsStore(engine, SecretBox([secret_key]))
    store.setup()
    store.current()
    store_by_hand(engine, keys.PORTAL_ID, "not digits")
    store.invalidate()
    loaders = [threading.Thread(target=store.reload) for _ in range(4)]
    for loader in loaders:
        loader.start()
    for loader in loaders:
        loader.join(10)
    store.reload()
    errors = [r for r in plugin_log.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    store.invalidate()  # a change: said again
    store.current()
    errors = [r for r in plugin_log.records if r.levelno == logging.ERROR]
    assert len(errors) == 2


def test_a_plugin_that_never_started_leaves_the_head_empty(pm) -> None:  # type: ignore[no-untyped-def]
    runtime.stop()
    assert head(pm) == []


stored_values = st.one_of(
    # Any text a database can hold (PostgreSQL refuses NUL in text columns).
    st.none(),
    st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=40),
    st.sampled_from(
        [
            "true",
            "false",
            "1",
            "TRUE",
            "12345678",
            "0123",
            "eu1",
            "na1",
            "x",
            "12345678<script>",
            "ap1",
            " 42 ",
            "99999999999999",
        ]
    ),
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(stored=st.dictionaries(st.sampled_from([f.key for f in keys.FIELDS]), stored_values))
def test_whatever_the_table_holds_the_head_is_empty_or_exactly_the_loader(  # type: ignore[no-untyped-def]
    pm, started_offline, engine: Engine, stored: dict[str, str | None]
) -> None:
    with Session(engine) as session:
        for key, value in stored.items():
            row = session.get(Setting, key) or Setting(key=key)
            row.value = value
            session.add(row)
        session.commit()
    started_offline.store.invalidate()
    out = head(pm, nonce="n0nce")
    assert out == [] or (len(out) == 1 and SCRIPT_RE.fullmatch(out[0])), out


@settings(max_examples=200, deadline=None)
@given(
    nonce=st.one_of(st.none(), st.text(max_size=40)),
    region=st.sampled_from(["na1", "na2", "eu1", "ap1"]),
    portal_id=st.from_regex(r"[1-9][0-9]{0,9}", fullmatch=True),
)
def test_the_cached_loader_is_byte_for_byte_the_templates(
    nonce: str | None, region: str, portal_id: str
) -> None:
    """Whatever the nonce (quotes, markup, nothing), the fast path renders what Jinja would."""
    hub = HubSpotSettings(enabled=True, chat_enabled=True, portal_id=portal_id, region=region)
    expected = render(
        "chat_loader.html",
        script_host=chat_script_host(region),
        portal_id=portal_id,
        nonce=nonce,
        conversations=None,
    )
    assert chat_loader(hub, nonce) == expected
    assert chat_loader(hub, nonce) == expected  # and again, from the cache
