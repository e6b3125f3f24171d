"""A host that gives no way to receive ticket changes loses none: webhooks answer 503 (HubSpot
retries), polling waits with its cursor, and start-up, status and Test connection say what
to fix."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from conftest import start_plugin
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session
from test_webhooks import BASE, SECRET, PanelTickets, event, post

from skypanel_hubspot_plugin.admin.delivery_routes import get_status
from skypanel_hubspot_plugin.admin.fastapi_adapter import public_router
from skypanel_hubspot_plugin.admin.routes import post_test_connection
from skypanel_hubspot_plugin.cli import main
from skypanel_hubspot_plugin.delivery.outbox_table import ObjectLink
from skypanel_hubspot_plugin.payloads import AdminRequest
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot
from skypanel_hubspot_plugin.webhooks.polling import TicketPoller
from skypanel_hubspot_plugin.webhooks.table import PollCursor

HUBSPOT_ID = "4242"
FIX = "pass plugin_manager=pm in HostContext"


def configure(rt: Runtime, sync: str) -> None:
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_ticket_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_app_secret": SECRET,
            "hubspot_ticket_sync": sync,
        }
    )
    with Session(rt.outbox.engine) as session:
        if session.get(ObjectLink, ("ticket", "T-1")) is None:
            session.add(ObjectLink(kind="ticket", panel_id="T-1", hubspot_id=HUBSPOT_ID))
            session.commit()


@pytest.fixture
def deaf(pm, engine: Engine, secret_key: str, fake: FakeHubSpot) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    """A host that left plugin_manager out of HostContext, with ticket sync on."""
    rt = start_plugin(pm, engine, secret_key, fake.base_url, public_base_url=BASE, run_worker=False)
    configure(rt, "webhooks")
    yield rt
    pm.hook.skypanel_shutdown()


def client_for(pm) -> TestClient:  # type: ignore[no-untyped-def]
    app = FastAPI()
    app.include_router(public_router(pm))
    return TestClient(app)


def test_webhooks_answer_503_saying_what_to_fix_until_the_host_can_receive(
    pm, deaf: Runtime, engine: Engine, secret_key: str, fake: FakeHubSpot
) -> None:  # type: ignore[no-untyped-def]
    refused = post(client_for(pm), [event(HUBSPOT_ID, 901)])
    assert refused.status_code == 503  # HubSpot delivers it again later
    assert FIX in refused.json()["message"]
    # the host is fixed and restarted: HubSpot's retry of the same event is handed on
    host = PanelTickets()
    pm.register(host)
    start_plugin(pm, engine, secret_key, fake.base_url, plugin_manager=pm, public_base_url=BASE)
    again = post(client_for(pm), [event(HUBSPOT_ID, 901)])
    assert again.json() == {"success": True, "handled": 1, "ignored": 0}
    assert [c.ticket_id for c in host.calls] == ["T-1"]


def test_a_plugin_manager_without_the_hosts_hook_is_refused_too(
    pm, engine: Engine, secret_key: str, fake: FakeHubSpot
) -> None:  # type: ignore[no-untyped-def]
    rt = start_plugin(
        pm,
        engine,
        secret_key,
        fake.base_url,
        plugin_manager=pm,
        public_base_url=BASE,
        run_worker=False,
    )
    configure(rt, "webhooks")
    refused = post(client_for(pm), [event(HUBSPOT_ID, 902)])
    assert refused.status_code == 503
    assert "no implementation of skypanel_on_hubspot_ticket_changed" in refused.json()["message"]
    pm.hook.skypanel_shutdown()


def test_start_up_status_and_test_connection_say_why(
    pm,
    engine: Engine,
    secret_key: str,
    fake: FakeHubSpot,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:  # type: ignore[no-untyped-def]
    rt = start_plugin(pm, engine, secret_key, fake.base_url, public_base_url=BASE, run_worker=False)
    configure(rt, "polling")
    with caplog.at_level(logging.WARNING):
        start_plugin(pm, engine, secret_key, fake.base_url, public_base_url=BASE, run_worker=False)
    said = [r for r in caplog.records if FIX in r.getMessage()]
    assert len(said) == 1 and said[0].levelno >= logging.WARNING
    status = get_status(AdminRequest()).body
    assert FIX in str(status["ticketChangesProblem"])  # type: ignore[index]
    tested = post_test_connection(AdminRequest(method="POST")).body
    assert any(FIX in w for w in tested["warnings"]), tested  # type: ignore[index,union-attr]
    url = engine.url.render_as_string(hide_password=False)
    assert main(["status", "--database-url", url]) == 0  # another process: the record
    assert FIX in capsys.readouterr().out
    assert main(["status", "--json", "--database-url", url]) == 0
    assert FIX in json.loads(capsys.readouterr().out)["ticketChangesProblem"]
    pm.hook.skypanel_shutdown()


def test_polling_leaves_its_cursor_while_nobody_can_receive(
    pm, deaf: Runtime, fake: FakeHubSpot
) -> None:  # type: ignore[no-untyped-def]
    deaf.store.save({"hubspot_ticket_sync": "polling"})
    with Session(deaf.outbox.engine) as session:
        session.add(PollCursor(name="tickets", modified_ms=1_000))
        session.commit()
    searches = len(fake.search_requests())
    polls = TicketPoller(deaf, interval_s=0, overlap_s=30, lease_s=5)
    assert polls.poll_if_due() == 0
    assert len(fake.search_requests()) == searches
    with Session(deaf.outbox.engine) as session:
        cursor = session.get(PollCursor, "tickets")
        assert cursor is not None and cursor.modified_ms == 1_000
