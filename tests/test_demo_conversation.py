"""The demo panel's ticket conversation over HTTP: who may read and write a ticket's
messages, that a message and its hook commit together, what agents' replies and tickets
opened in HubSpot become in the panel, and the sandbox agent's forms."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from sqlmodel import Session, col, select

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.demo.app import create_app
from skypanel_hubspot_plugin.demo.config import DemoConfig
from skypanel_hubspot_plugin.demo.panel_tables import PanelTicket, PanelTicketMessage
from skypanel_hubspot_plugin.demo.sandbox_pages import add_sandbox_forms
from skypanel_hubspot_plugin.demo.ticket_sync import TicketSync
from skypanel_hubspot_plugin.hookspecs import hookimpl
from skypanel_hubspot_plugin.payloads import HubSpotBornTicket, HubSpotTicketMessage, TicketMessage
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot

PASSWORD = "correct horse battery staple"
API = "/api/admin/settings/hubspot"


class Recorder:
    """A throw-away plugin: the messages the panel fired, or a failure on the next one."""

    def __init__(self) -> None:
        self.messages: list[TicketMessage] = []
        self.fail = False

    @hookimpl
    def skypanel_on_ticket_message_added(self, message: TicketMessage, session: Any) -> None:
        if self.fail:
            raise RuntimeError("the plugin failed")
        self.messages.append(message)


def make_app(data_dir: Path, fake: FakeHubSpot, *, sandbox: bool = True) -> FastAPI:
    return create_app(
        DemoConfig(
            data_dir=data_dir,
            admin_password=PASSWORD,
            hubspot_base_url=fake.base_url,
            settings_poll_interval=0.1,
            sandbox=fake if sandbox else None,
        )
    )


@pytest.fixture
def demo(tmp_path: Path, fake_hubspot: FakeHubSpot) -> Iterator[FastAPI]:
    add_sandbox_forms(fake_hubspot)
    app = make_app(tmp_path / "panel", fake_hubspot)
    with TestClient(app):
        yield app


@pytest.fixture
def recorder(demo: FastAPI) -> Recorder:
    plugin = Recorder()
    demo.state.host.pm.register(plugin)
    return plugin


def csrf(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def customer_with_ticket(app: FastAPI, email: str) -> tuple[TestClient, str, int]:
    """A signed-up customer with one ticket: the client, its CSRF token, the ticket's id."""
    client = TestClient(app, follow_redirects=False)
    form = {"email": email, "first_name": "Ada", "csrf_token": csrf(client, "/")}
    assert client.post("/signup", data=form).status_code == 303
    token = csrf(client, "/tickets")
    opened = client.post("/tickets", data={"subject": "Disk full", "csrf_token": token})
    assert opened.status_code == 303
    with Session(app.state.host.engine) as session:
        ticket = session.exec(select(PanelTicket).order_by(col(PanelTicket.id).desc())).first()
        assert ticket is not None and ticket.id is not None
        return client, token, ticket.id


def admin(app: FastAPI) -> tuple[TestClient, str]:
    client = TestClient(app, follow_redirects=False)
    form = {"username": "admin", "password": PASSWORD, "csrf_token": csrf(client, "/admin/login")}
    assert client.post("/admin/login", data=form).status_code == 303
    return client, csrf(client, "/admin/settings")


def stored(app: FastAPI) -> list[PanelTicketMessage]:
    with Session(app.state.host.engine) as session:
        return list(session.exec(select(PanelTicketMessage)).all())


def test_only_the_tickets_customer_reads_and_writes_it_and_only_with_the_form_token(
    demo: FastAPI, recorder: Recorder
) -> None:
    client, token, ticket_id = customer_with_ticket(demo, "ada@example.com")
    path = f"/tickets/{ticket_id}/messages"
    for sent in ("", token + "x"):  # forged: refused, nothing stored, nothing fired
        assert client.post(path, data={"body": "hi", "csrf_token": sent}).status_code == 403
    other, other_token, _ = customer_with_ticket(demo, "eve@example.com")
    assert other.get(f"/tickets/{ticket_id}").status_code == 404
    refused = other.post(path, data={"body": "hi", "csrf_token": other_token})
    assert refused.status_code == 404
    stranger = TestClient(demo, follow_redirects=False)
    assert stranger.get(f"/tickets/{ticket_id}").headers["location"] == "/"
    assert stored(demo) == [] and recorder.messages == []

    empty = client.post(path, data={"body": "   ", "csrf_token": token})
    assert empty.status_code == 422
    assert 'id="body-error">Write a message first</p>' in empty.text
    written = client.post(path, data={"body": "  Still full.  ", "csrf_token": token})
    assert written.status_code == 303
    (message,) = stored(demo)
    assert (message.author_kind, message.body) == ("customer", "Still full.")
    (fired,) = recorder.messages
    assert (fired.id, fired.ticket_id) == (str(message.id), str(ticket_id))
    assert (fired.author_kind, fired.author_email) == ("customer", "ada@example.com")


def test_a_message_whose_hook_fails_is_not_stored(demo: FastAPI, recorder: Recorder) -> None:
    client, token, ticket_id = customer_with_ticket(demo, "ada@example.com")
    recorder.fail = True
    with pytest.raises(RuntimeError, match="the plugin failed"):
        client.post(f"/tickets/{ticket_id}/messages", data={"body": "hi", "csrf_token": token})
    assert stored(demo) == []


def test_a_closed_ticket_takes_no_more_messages(demo: FastAPI, recorder: Recorder) -> None:
    client, token, ticket_id = customer_with_ticket(demo, "ada@example.com")
    closed = client.post(f"/tickets/{ticket_id}/close", data={"csrf_token": token})
    assert closed.status_code == 303
    page = client.get(f"/tickets/{ticket_id}").text
    assert 'id="reply-closed"' in page and 'id="reply"' not in page
    late = client.post(f"/tickets/{ticket_id}/messages", data={"body": "hi", "csrf_token": token})
    assert late.status_code == 422
    assert stored(demo) == [] and recorder.messages == []


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.text(min_size=1, max_size=300).filter(lambda s: s.strip()))
def test_any_message_is_shown_as_written_text_and_fired_as_such(
    demo: FastAPI, recorder: Recorder, body: str
) -> None:
    client, token, ticket_id = customer_with_ticket(demo, f"u{len(recorder.messages)}@example.com")
    sent = client.post(f"/tickets/{ticket_id}/messages", data={"body": body, "csrf_token": token})
    assert sent.status_code == 303
    assert recorder.messages[-1].body == body.strip()
    page = client.get(f"/tickets/{ticket_id}").text
    assert f'<p class="message-body">{escape(body.strip())}</p>' in page


def test_staff_answer_from_the_admin_pages_which_customers_cannot_reach(
    demo: FastAPI, recorder: Recorder
) -> None:
    customer, customer_token, ticket_id = customer_with_ticket(demo, "ada@example.com")
    assert customer.get("/admin/tickets").headers["location"] == "/admin/login"
    path = f"/admin/tickets/{ticket_id}/messages"
    assert customer.post(path, data={"body": "x", "csrf_token": customer_token}).status_code == 403
    staff, token = admin(demo)
    assert "ada@example.com" in staff.get("/admin/tickets").text
    assert staff.post(path, data={"body": "On it.", "csrf_token": "x"}).status_code == 403
    assert staff.post(path, data={"body": "On it.", "csrf_token": token}).status_code == 303
    (fired,) = recorder.messages
    assert (fired.author_kind, fired.body, fired.author_name) == (
        "staff",
        "On it.",
        "Panel support",
    )
    page = customer.get(f"/tickets/{ticket_id}").text
    assert 'data-author-kind="staff"' in page and "On it." in page


def test_an_agents_reply_is_stored_once_and_a_born_ticket_needs_a_known_customer(
    demo: FastAPI,
) -> None:
    client, _, ticket_id = customer_with_ticket(demo, "ada@example.com")
    sync = TicketSync()
    reply = HubSpotTicketMessage(
        ticket_id=str(ticket_id),
        hubspot_ticket_id="901",
        hubspot_email_id="5001",
        text="Cleaned /var/log.",
        sent_at=datetime(2030, 1, 2, 3, 4, tzinfo=UTC),
        author_name="Alex Agent",
    )
    engine = demo.state.host.engine
    for _ in range(2):
        with Session(engine) as session:
            sync.skypanel_on_hubspot_ticket_message(message=reply, session=session)
            session.commit()
    (message,) = stored(demo)
    assert (message.author_kind, message.hubspot_email_id) == ("agent", "5001")
    page = client.get(f"/tickets/{ticket_id}").text
    assert "Cleaned /var/log." in page and "2030-01-02 03:04 UTC" in page

    born = HubSpotBornTicket(
        hubspot_ticket_id="902",
        user_id="999",
        contact_email="nobody@example.com",
        subject="",
        content="chat",
        pipeline="0",
        stage="1",
        created_at=datetime.now(UTC),
        priority="HIGH",
    )
    with Session(engine) as session:
        assert sync.skypanel_on_hubspot_ticket_created(ticket=born, session=session) is None
        opened = session.get(PanelTicket, ticket_id)
        assert opened is not None
        user_id = opened.user_id
        known = HubSpotBornTicket(**{**vars(born), "user_id": str(user_id), "status": "waiting"})
        new_id = sync.skypanel_on_hubspot_ticket_created(ticket=known, session=session)
        session.commit()
    assert new_id is not None
    listing = client.get("/tickets").text
    assert f'<a href="/tickets/{new_id}">Support request</a>' in listing
    with Session(engine) as session:
        ticket = session.get(PanelTicket, int(new_id))
        assert ticket is not None
        assert (ticket.priority, ticket.status, ticket.content) == ("high", "waiting", "chat")


def test_the_sandbox_brings_hubspot_tickets_in_unless_the_admin_turned_it_off(
    tmp_path: Path, fake_hubspot: FakeHubSpot
) -> None:
    data_dir = tmp_path / "panel"
    with TestClient(make_app(data_dir, fake_hubspot)):
        assert runtime.current().settings().import_hubspot_tickets is True
        runtime.current().store.save({"hubspot_import_hubspot_tickets": False})
    with TestClient(make_app(data_dir, fake_hubspot)):  # a kept --data-dir: as saved
        assert runtime.current().settings().import_hubspot_tickets is False
    with TestClient(make_app(tmp_path / "real", fake_hubspot, sandbox=False)):
        assert runtime.current().settings().import_hubspot_tickets is False


def test_the_sandbox_agent_forms_refuse_what_hubspot_would_not_take(
    demo: FastAPI, fake_hubspot: FakeHubSpot
) -> None:
    staff, token = admin(demo)
    saved = staff.post(
        f"{API}/settings",
        json={
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_ticket_enabled": True,
        },
        headers={"X-CSRF-Token": token},
    )
    assert saved.status_code == 200, saved.text
    customer_with_ticket(demo, "ada@example.com")
    fake_hubspot.wait_for(lambda f: len(f.tickets()) == 1)
    (ticket,) = fake_hubspot.tickets()
    base = f"/admin/sandbox/tickets/{ticket['id']}"
    empty = staff.post(f"{base}/reply", data={"body": " ", "csrf_token": token})
    assert empty.status_code == 422 and 'id="reply-error">Write a message first' in empty.text
    assert staff.post(f"{base}/note", data={"body": "x", "csrf_token": ""}).status_code == 403
    assert (
        staff.post(
            "/admin/sandbox/tickets/404404/reply", data={"body": "x", "csrf_token": token}
        ).status_code
        == 404
    )
    assert (
        staff.post(f"{base}/note", data={"body": "Internal", "csrf_token": token}).status_code
        == 303
    )
    assert [e["kind"] for e in fake_hubspot.thread(ticket["id"])] == ["note"]
    chat = {"contact": "stranger@example.com", "transcript": "hi", "csrf_token": token}
    assert staff.post("/admin/sandbox/chats", data=chat).status_code == 422
    fake_hubspot.wait_for(lambda f: f.contact_by_email("ada@example.com") is not None)
    chat["contact"] = "ada@example.com"
    assert staff.post("/admin/sandbox/chats", data=chat).status_code == 303
    assert len(fake_hubspot.tickets()) == 2
    visitor = TestClient(demo, follow_redirects=False)
    assert visitor.get(base).headers["location"] == "/admin/login"
    assert visitor.post("/admin/sandbox/chats", data=chat).status_code == 401
