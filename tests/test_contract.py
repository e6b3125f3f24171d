"""The ``skypanel`` contract: the plugin loads through its entry point and matches the specs."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pluggy
import pytest

from skypanel_hubspot_plugin import hookimpl, hookspecs, plugin_manager


def test_the_entry_point_registers_the_plugin_and_every_hook_has_a_spec() -> None:
    pm = pluggy.PluginManager("skypanel")
    pm.add_hookspecs(hookspecs)
    assert pm.load_setuptools_entrypoints("skypanel") >= 1
    plugin = pm.get_plugin("hubspot")
    assert plugin is not None
    pm.check_pending()
    implemented = {
        impl.function.__name__
        for caller in pm.get_hookcallers(plugin) or []
        for impl in caller.get_hookimpls()
        if impl.plugin is plugin
    }
    assert {
        "skypanel_settings_schema",
        "skypanel_page_head",
        "skypanel_register_admin_routes",
        "skypanel_startup",
        "skypanel_shutdown",
    } <= implemented


def test_a_misspelt_hook_fails_check_pending() -> None:
    class Misspelt:
        @hookimpl
        def skypanel_page_haed(self, page):  # type: ignore[no-untyped-def]
            return "<script></script>"

    pm = plugin_manager()
    pm.register(Misspelt())
    with pytest.raises(pluggy.PluginValidationError, match="skypanel_page_haed"):
        pm.check_pending()


def test_hosts_can_block_the_plugin_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYPANEL_DISABLED_PLUGINS", "other, hubspot")
    pm = plugin_manager()
    assert pm.get_plugin("hubspot") is None
    assert pm.hook.skypanel_settings_schema() == []


def test_the_specs_document_when_the_host_calls_them() -> None:
    names = [n for n in dir(hookspecs) if n.startswith("skypanel_")]
    assert {
        "skypanel_on_user_created",
        "skypanel_on_ticket_created",
        "skypanel_on_user_updated",
        "skypanel_on_user_deleted",
        "skypanel_on_ticket_updated",
    } <= set(names)
    for name in names:
        assert getattr(hookspecs, name).__doc__, name


def test_loading_the_entry_point_touches_no_database_and_no_network() -> None:
    script = textwrap.dedent("""
        import socket, sqlite3
        def refuse(*a, **k):
            raise AssertionError("touched the network or a database at import")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        sqlite3.connect = refuse
        import pluggy
        from skypanel_hubspot_plugin import hookspecs
        pm = pluggy.PluginManager("skypanel")
        pm.add_hookspecs(hookspecs)
        pm.load_setuptools_entrypoints("skypanel")
        assert pm.get_plugin("hubspot") is not None
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_the_schema_lets_a_host_render_the_form_without_knowing_hubspot() -> None:
    (fields,) = plugin_manager().hook.skypanel_settings_schema()
    by_key = {f.key: f for f in fields}
    seed_order = [
        "hubspot_enabled",
        "hubspot_portal_id",
        "hubspot_api_key",
        "hubspot_region",
        "hubspot_chat_enabled",
        "hubspot_ticket_enabled",
        "hubspot_ticket_form_id",
        "hubspot_contact_form_id",
        "hubspot_ticket_pipeline",
        "hubspot_ticket_stage",
        "hubspot_ticket_default_category",
        "hubspot_user_deleted_action",
        "hubspot_rate_limit",
    ]
    assert [k for k in by_key if k in seed_order] == seed_order
    assert by_key["hubspot_api_key"].type == "secret"
    assert by_key["hubspot_app_secret"].type == "secret"
    assert by_key["hubspot_enabled"].type == "bool" and by_key["hubspot_enabled"].default is False
    assert by_key["hubspot_region"].type == "select"
    assert ("eu1", "Europe (eu1)") in by_key["hubspot_region"].options
    for key in ("hubspot_portal_id", "hubspot_api_key"):
        assert by_key[key].required_when == "hubspot_enabled"
    assert all(f.label and f.help for f in fields)
