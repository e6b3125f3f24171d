"""The host developer's test kit: what a panel's own tests see when they use it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pluggy
import pytest
from sqlalchemy import Engine

from skypanel_hubspot_plugin import (
    HostContext,
    InvalidSettings,
    Ticket,
    TicketChange,
    User,
    generate_key,
    hookimpl,
    hookspecs,
    runtime,
)
from skypanel_hubspot_plugin import plugin_manager as new_plugin_manager
from skypanel_hubspot_plugin.admin.webhook_route import post_webhook, refuse_before_body
from skypanel_hubspot_plugin.common import clock
from skypanel_hubspot_plugin.payloads import AdminRequest
from skypanel_hubspot_plugin.testing import (
    DeliveryParked,
    FakeHubSpot,
    HubSpotKit,
    KitRefusal,
    WebhookRefused,
    hubspot_kit,
)

ANN = User(id="1", email="ann@example.com", first_name="Ann")


class PanelTickets:
    """A host's implementation of the ticket hook: remembers each change it was handed."""

    def __init__(self) -> None:
        self.changes: list[TicketChange] = []

    @hookimpl
    def skypanel_on_hubspot_ticket_changed(self, change: TicketChange, session: Any) -> None:
        self.changes.append(change)


@pytest.fixture
def tickets() -> PanelTickets:
    return PanelTickets()


@pytest.fixture
def kit(engine: Engine, tickets: PanelTickets) -> Iterator[HubSpotKit]:
    pm = new_plugin_manager()
    pm.register(tickets)
    users = [ANN, User(id="2", email="bob@example.com")]
    lister = lambda after, limit: [u for u in users if after is None or u.id > after][:limit]  # noqa: E731
    with hubspot_kit(engine=engine, plugin_manager=pm, list_users=lister) as started:
        yield started


def sign_up(kit: HubSpotKit, user: User = ANN) -> None:
    kit.plugin_manager.hook.skypanel_on_user_created(user=user, session=None)


def open_ticket(kit: HubSpotKit, ticket_id: str = "7") -> None:
    ticket = Ticket(id=ticket_id, subject="Server down")
    kit.plugin_manager.hook.skypanel_on_ticket_created(ticket=ticket, user=ANN, session=None)


# -- starting ----------------------------------------------------------------------------------


def test_the_kit_starts_the_plugin_enabled_on_the_fake_with_no_worker(kit: HubSpotKit) -> None:
    rt = runtime.current()
    assert rt.base_url == kit.fake.base_url
    assert rt.worker is None  # nothing is delivered behind the test's back
    assert kit.settings.enabled and kit.settings.token is not None
    sign_up(kit)
    assert kit.fake.contacts() == []  # until the test drains
    assert [e.status for e in kit.outbox()] == ["queued"]


def test_the_context_manager_undoes_everything_on_exit() -> None:
    before = {k: os.environ.get(k) for k in (runtime.BASE_URL_ENV, "SKYPANEL_HUBSPOT_SECRET_KEYS")}
    with hubspot_kit() as kit:
        kit.advance(3600)
        fake = kit.fake
    with pytest.raises(runtime.PluginNotStarted):
        runtime.current()
    assert clock.offset() == 0.0
    assert {k: os.environ.get(k) for k in before} == before
    assert fake.base_url and not fake._server  # stopped


def test_a_second_kit_at_once_is_refused(kit: HubSpotKit) -> None:
    with pytest.raises(KitRefusal, match="Another HubSpot test kit is active"), hubspot_kit():
        pass


# -- delivering --------------------------------------------------------------------------------


def test_drain_delivers_what_is_due_and_returns_it(kit: HubSpotKit) -> None:
    sign_up(kit)
    open_ticket(kit)

    sent = kit.drain()

    assert [(e.kind, e.record, e.status) for e in sent] == [
        ("contact.upsert", "user:1", "delivered"),
        ("ticket.create", "ticket:7", "delivered"),
    ]
    contact = kit.contact("ann@example.com")
    assert sent[0].hubspot_id == contact["id"]
    assert kit.ticket("7")["properties"]["subject"] == "Server down"
    assert kit.drain() == []  # nothing is reported twice


def test_drain_with_the_integration_disabled_names_the_fix(kit: HubSpotKit) -> None:
    kit.configure(hubspot_enabled=False)
    with pytest.raises(KitRefusal, match=r"disabled.*kit\.configure\(hubspot_enabled=True\)"):
        kit.drain()


def test_a_contact_not_in_hubspot_says_why(kit: HubSpotKit) -> None:
    sign_up(kit)
    with pytest.raises(KitRefusal, match=r"queued .*call kit\.drain\(\) first"):
        kit.contact("ann@example.com")
    kit.configure(hubspot_enabled=False)
    with pytest.raises(KitRefusal, match=r"kit\.configure\(hubspot_enabled=True\)"):
        kit.contact("ann@example.com")


def test_a_parked_delivery_fails_the_drain_with_its_error_and_can_be_replayed(
    kit: HubSpotKit,
) -> None:
    kit.fake.fail_next(400)
    sign_up(kit)

    with pytest.raises(DeliveryParked) as parked:
        kit.drain()

    [entry] = parked.value.entries
    assert (entry.kind, entry.record, entry.status) == ("contact.upsert", "user:1", "parked")
    assert entry.last_error and entry.last_error in str(parked.value)
    assert kit.outbox("parked") == [entry]
    assert kit.replay() == 1
    assert [e.record for e in kit.drain()] == ["user:1"]
    assert kit.contact("ann@example.com")


def test_an_event_recorded_already_parked_fails_the_next_drain(kit: HubSpotKit) -> None:
    sign_up(kit, User(id="9", email="not an email"))
    with pytest.raises(DeliveryParked, match="email"):
        kit.drain()


def test_a_retry_comes_due_when_the_clock_moves_and_the_outbox_says_what_each_waits_for(
    kit: HubSpotKit,
) -> None:
    kit.fake.fail_next(503)
    sign_up(kit)
    assert kit.drain() == []
    open_ticket(kit)

    contact, ticket = kit.outbox("queued")
    assert contact.attempts == 1 and "next attempt" in (contact.waiting_for or "")
    assert contact.last_error
    assert ticket.waiting_for == f"waiting for contact.upsert #{contact.id}"

    kit.advance(600)
    assert [e.kind for e in kit.drain()] == ["contact.upsert", "ticket.create"]


def test_outbox_refuses_an_unknown_status(kit: HubSpotKit) -> None:
    with pytest.raises(ValueError, match="queued, delivered, parked"):
        kit.outbox("dead")


def test_sync_contacts_queues_every_user_the_lister_gives(kit: HubSpotKit) -> None:
    assert kit.sync_contacts() == 2
    assert sorted(e.record for e in kit.drain()) == ["user:1", "user:2"]


def test_sync_contacts_without_a_user_lister_names_the_fix(engine: Engine) -> None:
    with hubspot_kit(engine=engine) as kit, pytest.raises(KitRefusal, match="list_users="):
        kit.sync_contacts()


# -- HubSpot's side ----------------------------------------------------------------------------


def test_a_ticket_changed_in_hubspot_reaches_the_host_hook_in_process(
    kit: HubSpotKit, tickets: PanelTickets
) -> None:
    sign_up(kit)
    open_ticket(kit)
    kit.drain()

    kit.close_ticket_in_hubspot("7")

    [change] = tickets.changes
    assert (change.ticket_id, change.status, change.kind) == ("7", "closed", "propertyChange")


def test_webhooks_reach_a_wsgi_app_in_process(kit: HubSpotKit, tickets: PanelTickets) -> None:
    seen: list[str] = []

    def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        # A host's WSGI route for the plugin's webhook, as an adapter would mount it.
        seen.append(environ["PATH_INFO"])
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        request = AdminRequest(
            method="POST", url=environ["PATH_INFO"], headers=headers, raw_body=body
        )
        answer = refuse_before_body(request) or post_webhook(request)
        start_response(f"{answer.status} X", [("Content-Type", "application/json")])
        return [json.dumps(answer.body).encode()]

    sign_up(kit)
    open_ticket(kit)
    kit.drain()
    kit.deliver_webhooks_to(wsgi_app)

    kit.change_ticket_in_hubspot("7", {"hs_pipeline_stage": "3"})

    assert seen == ["/api/hubspot/webhooks"]
    assert [c.status for c in tickets.changes] == ["in_progress"]


def test_a_webhook_the_panel_refuses_fails_the_test_with_its_answer(kit: HubSpotKit) -> None:
    def guarded_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        # A host whose admin check also stands in front of HubSpot's webhook route.
        start_response("403 Forbidden", [("Content-Type", "application/json")])
        return [b'{"message": "Admins only"}']

    sign_up(kit)
    open_ticket(kit)
    kit.drain()
    kit.deliver_webhooks_to(guarded_app)
    with pytest.raises(WebhookRefused, match=r"with 403: .*Admins only"):
        kit.close_ticket_in_hubspot("7")


def test_a_ticket_not_yet_in_hubspot_names_the_fix(kit: HubSpotKit) -> None:
    sign_up(kit)
    open_ticket(kit)
    with pytest.raises(KitRefusal, match=r"Panel ticket 7 has no HubSpot ticket yet.*kit\.drain"):
        kit.close_ticket_in_hubspot("7")


def test_poll_hands_each_change_made_in_hubspot_once(
    kit: HubSpotKit, tickets: PanelTickets
) -> None:
    kit.configure(hubspot_ticket_sync="polling")
    sign_up(kit)
    open_ticket(kit)
    kit.drain()
    assert kit.poll() == 0  # the plugin's own ticket is not a change

    kit.close_ticket_in_hubspot("7")  # no webhook: HubSpot cannot reach this panel
    assert tickets.changes == []
    assert kit.poll() == 1
    assert kit.poll() == 0

    assert [(c.ticket_id, c.status, c.kind) for c in tickets.changes] == [("7", "closed", "poll")]


def test_poll_finds_changes_after_the_clock_moved_far(
    kit: HubSpotKit, tickets: PanelTickets
) -> None:
    kit.configure(hubspot_ticket_sync="polling")
    kit.advance(86_400)  # HubSpot's times move with the plugin's
    sign_up(kit)
    open_ticket(kit)
    kit.drain()
    kit.poll()
    kit.close_ticket_in_hubspot("7")
    assert kit.poll() == 1


def test_poll_when_changes_come_back_by_webhook_names_the_fix(kit: HubSpotKit) -> None:
    with pytest.raises(KitRefusal, match=r'kit\.configure\(hubspot_ticket_sync="polling"'):
        kit.poll()


# -- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["https://api.hubapi.com", "http://10.0.0.8:8080"])
def test_a_host_start_up_pointing_at_a_real_hubspot_is_refused(kit: HubSpotKit, url: str) -> None:
    before = runtime.current()
    with pytest.raises(KitRefusal, match=r"never talks to the real HubSpot.*hubspot_base_url"):
        kit.plugin_manager.hook.skypanel_startup(
            host=HostContext(engine=kit.engine, hubspot_base_url=url)
        )
    assert runtime.current() is before  # still the kit's, on the fake


def test_a_kit_asked_for_a_real_hubspot_refuses(engine: Engine) -> None:
    with (
        pytest.raises(KitRefusal, match="never talks to the real HubSpot"),
        hubspot_kit(engine=engine, hubspot_base_url="https://api.hubapi.com"),
    ):
        pass


def test_a_host_start_up_with_its_own_context_stays_on_the_fake_under_the_kit(
    kit: HubSpotKit, tickets: PanelTickets
) -> None:
    # The host's app starts the plugin as in production: a worker thread, no HubSpot
    # address (the environment's), encryption keys of its own.
    own_key = generate_key()
    kit.plugin_manager.hook.skypanel_startup(
        host=HostContext(
            engine=kit.engine, secret_keys=[own_key], plugin_manager=kit.plugin_manager
        )
    )

    rt = runtime.current()
    assert rt.base_url == kit.fake.base_url
    assert rt.worker is None
    assert kit.settings.token is not None  # saved again under the host's key
    sign_up(kit)
    open_ticket(kit)
    kit.drain()
    kit.close_ticket_in_hubspot("7")
    assert [c.status for c in tickets.changes] == ["closed"]


def test_a_host_start_up_without_its_plugin_manager_names_the_fix(kit: HubSpotKit) -> None:
    sign_up(kit)
    open_ticket(kit)
    kit.drain()
    kit.plugin_manager.hook.skypanel_startup(host=HostContext(engine=kit.engine))
    with pytest.raises(KitRefusal, match=r"pass plugin_manager=pm in the HostContext"):
        kit.close_ticket_in_hubspot("7")


def test_a_plugin_manager_without_the_ticket_hook_names_the_fix(engine: Engine) -> None:
    with hubspot_kit(engine=engine) as kit:
        sign_up(kit)
        open_ticket(kit)
        kit.drain()
        with pytest.raises(KitRefusal, match=r"skypanel_on_hubspot_ticket_changed.*pm\.register"):
            kit.close_ticket_in_hubspot("7")


def test_a_plugin_manager_without_the_plugin_names_the_fix(engine: Engine) -> None:
    bare = pluggy.PluginManager("skypanel")
    bare.add_hookspecs(hookspecs)
    with (
        pytest.raises(KitRefusal, match=r"skypanel_hubspot_plugin\.plugin_manager\(\)"),
        hubspot_kit(engine=engine, plugin_manager=bare),
    ):
        pass


def test_configure_refuses_a_bad_value_naming_the_setting_and_saves_nothing(
    kit: HubSpotKit,
) -> None:
    with pytest.raises(InvalidSettings) as refused:
        kit.configure(hubspot_rate_limit="lots", hubspot_enabled=False)
    assert set(refused.value.errors) == {"hubspot_rate_limit"}
    assert kit.settings.enabled


def test_a_fake_given_to_the_kit_is_left_running(engine: Engine) -> None:
    with FakeHubSpot() as fake:
        with hubspot_kit(engine=engine, fake=fake) as kit:
            assert kit.fake is fake
        assert fake._server is not None
