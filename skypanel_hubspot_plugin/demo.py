"""A tour of the plugin as a host sees it, against the built-in fake HubSpot, on SQLite.

Run with ``python -m skypanel_hubspot_plugin.demo`` (``make demo``). It plays the host:
loads the plugin through its entry point, shows the settings schema, saves settings as an
admin would, tests the connection, renders the page head and calls the admin routes.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine

from . import HostContext, PageContext, Ticket, User, plugin_manager
from .payloads import AdminRequest, AdminResponse
from .runtime import current
from .secrets import generate_key
from .testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, FakeHubSpot() as hubspot:
        database = Path(folder) / "panel.sqlite3"
        engine = create_engine(f"sqlite:///{database}")
        pm = plugin_manager()
        print(f"Loaded plugins: {[name for name, _ in pm.list_name_plugin()]}")
        pm.hook.skypanel_startup(
            host=HostContext(
                engine=engine, secret_keys=[generate_key()], hubspot_base_url=hubspot.base_url
            )
        )
        routes: dict[tuple[str, str], Callable[[AdminRequest], AdminResponse]] = {}
        pm.hook.skypanel_register_admin_routes(
            register=lambda method, path, handler: routes.__setitem__((method, path), handler)
        )

        def call(method: str, path: str, request: AdminRequest) -> AdminResponse:
            response = routes[(method, f"/api/admin/settings/hubspot{path}")](request)
            print(f"\n{method} {path} -> {response.status}\n{json.dumps(response.body, indent=2)}")
            return response

        print("\nSettings form (from skypanel_settings_schema):")
        for fields in pm.hook.skypanel_settings_schema():
            for field in fields:
                when = f", required when {field.required_when}" if field.required_when else ""
                print(f"  {field.key:32} {field.type:7} {field.label}{when}")

        print(f"\nPage head before configuration: {pm.hook.skypanel_page_head(page=PageContext())}")
        store = current().store
        store.save(
            {
                "hubspot_enabled": True,
                "hubspot_portal_id": str(FAKE_PORTAL_ID),
                "hubspot_api_key": FAKE_TOKEN,
                "hubspot_chat_enabled": True,
                "hubspot_ticket_enabled": True,
            }
        )
        print(f"\nSaved settings; token stored as {store.token_status()}")
        call("POST", "/test-connection", AdminRequest())
        print("\nPage head now:")
        for html in pm.hook.skypanel_page_head(page=PageContext(csp_nonce="demo-nonce")):
            print(f"  {html}")
        call(
            "POST",
            "/contacts",
            AdminRequest(
                body={
                    "email": "ada@example.com",
                    "firstname": "Ada",
                    "lastname": "Lovelace",
                    "company": "Analytical Engines",
                }
            ),
        )
        call("POST", "/contacts", AdminRequest(body={"email": "not-an-email"}))
        call("GET", "/contacts", AdminRequest(query={"limit": "10"}))
        call("GET", "/config", AdminRequest())

        grace = User(id="42", email="grace@example.com", first_name="Grace", last_name="Hopper")
        pm.hook.skypanel_on_user_created(user=grace, session=None)
        pm.hook.skypanel_on_ticket_created(
            ticket=Ticket(
                id="T-1", subject="Cannot reach my VPS", priority="high", category="technical"
            ),
            user=grace,
            session=None,
        )
        print("\nFired user-created and ticket-created; the worker delivers in the background…")
        hubspot.wait_for(lambda f: len(f.tickets()) == 1, timeout=30)
        hubspot.wait_for(lambda f: current().outbox.counts().get("delivered") == 2, timeout=30)
        (ticket,) = hubspot.tickets()
        contact = hubspot.contact_by_email("grace@example.com") or {}
        print(f"  contact {contact.get('id')} for grace@example.com")
        print(
            f"  ticket {ticket['id']}: {ticket['properties']['subject']!r} "
            f"priority {ticket['properties']['hs_ticket_priority']}, "
            f"category {ticket['properties']['hs_ticket_category']}, associated with "
            f"contact {hubspot.associations('tickets', ticket['id'], 'contacts')}"
        )
        print(f"  outbox: {current().outbox.counts()}")
        pm.hook.skypanel_shutdown()
        engine.dispose()


if __name__ == "__main__":
    main()
