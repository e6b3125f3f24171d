"""The ticket pipeline from the portal: lists for the settings form, stages that must belong
to the chosen pipeline, the status ↔ stage table both ways, and a stage deleted in HubSpot."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_admin_routes import call, configure
from test_admin_routes import routes as routes

from skypanel_hubspot_plugin import Ticket, TicketChange, User, hookimpl
from skypanel_hubspot_plugin.mapping.ticket_fields import (
    new_ticket_stage,
    stage,
    status_of_stage,
    ticket_changes,
)
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.settings.model import HubSpotSettings, parse_status_stages
from skypanel_hubspot_plugin.settings.schema import TICKET_STATUSES
from skypanel_hubspot_plugin.testing import FakeHubSpot

HOSTING = [("h-new", "New"), ("h-wait", "Waiting"), ("h-work", "Working"), ("h-done", "Done")]
HOSTING_TABLE = {"open": "h-new", "waiting": "h-wait", "in_progress": "h-work", "closed": "h-done"}


@pytest.fixture
def hosting(fake: FakeHubSpot) -> FakeHubSpot:
    fake.add_pipeline("77", "Hosting", HOSTING)
    return fake


def test_the_settings_form_lists_the_portals_pipelines_and_stages(
    routes, started: Runtime, hosting: FakeHubSpot
) -> None:  # type: ignore[no-untyped-def]
    configure(started)
    answer = call(routes, "GET", "/pipelines")
    assert answer.status == 200
    by_id = {p["id"]: p for p in answer.body["pipelines"]}
    assert by_id["77"]["label"] == "Hosting"
    assert [(s["id"], s["label"]) for s in by_id["77"]["stages"]] == HOSTING
    assert [s["ticketState"] for s in by_id["77"]["stages"]] == ["OPEN", "OPEN", "OPEN", "OPEN"]
    # the default pipeline's Closed stage is CLOSED: the defaults follow the stages' state
    assert by_id["0"]["defaultStatusStages"] == {
        "open": "1",
        "waiting": "2",
        "in_progress": "3",
        "closed": "4",
    }
    assert answer.body["selected"] == {
        "pipeline": "0",
        "stage": "1",
        "statusStages": {"open": "1", "waiting": "2", "in_progress": "3", "closed": "4"},
    }
    assert answer.body["problems"] == {}


def test_a_stage_of_another_pipeline_is_refused_at_save_naming_the_field(
    routes, started: Runtime, hosting: FakeHubSpot
) -> None:  # type: ignore[no-untyped-def]
    configure(started)
    refused = call(
        routes,
        "POST",
        "/settings",
        body={"hubspot_ticket_pipeline": "77", "hubspot_ticket_stage": "1"},
    )
    assert refused.status == 422
    details = refused.body["details"]
    assert set(details) == {"hubspot_ticket_stage", "hubspot_ticket_status_stages"}
    assert "stage 1 is not a stage of pipeline 77 (Hosting)" in details["hubspot_ticket_stage"]
    assert "closed: 4" in details["hubspot_ticket_status_stages"]
    assert started.store.reload().ticket_pipeline == "0"  # nothing saved
    gone = call(routes, "POST", "/settings", body={"hubspot_ticket_pipeline": "99"})
    assert (
        gone.status == 422
        and "99 does not exist" in gone.body["details"]["hubspot_ticket_pipeline"]
    )
    saved = call(
        routes,
        "POST",
        "/settings",
        body={
            "hubspot_ticket_pipeline": "77",
            "hubspot_ticket_stage": "h-new",
            "hubspot_ticket_status_stages": json.dumps(HOSTING_TABLE),
        },
    )
    assert saved.status == 200, saved.body
    settings = started.store.reload()
    assert (settings.ticket_pipeline, dict(settings.ticket_status_stages)) == ("77", HOSTING_TABLE)


def test_a_status_table_must_name_every_status_with_a_stage_id(routes, started: Runtime) -> None:  # type: ignore[no-untyped-def]
    configure(started)
    for table, message in (
        ({"open": "1"}, "waiting: needs a stage"),
        ({**HOSTING_TABLE, "paused": "x"}, "paused: is not a panel ticket status"),
        ({**HOSTING_TABLE, "open": "<b>"}, "open: must be a HubSpot pipeline or stage id"),
    ):
        answer = call(
            routes, "POST", "/settings", body={"hubspot_ticket_status_stages": json.dumps(table)}
        )
        assert answer.status == 422
        assert message in answer.body["details"]["hubspot_ticket_status_stages"]


stage_ids = st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)


@given(stages=st.lists(stage_ids, min_size=4, max_size=4, unique=True))
def test_the_status_table_round_trips(stages: list[str]) -> None:
    """Status → stage going out, stage → status coming back, with the same table."""
    table = parse_status_stages(dict(zip(TICKET_STATUSES, stages, strict=True)))
    settings = HubSpotSettings(ticket_status_stages=table, ticket_stage=stages[0])
    for status, stage_id in zip(TICKET_STATUSES, stages, strict=True):
        assert stage(status, settings) == stage_id
        assert status_of_stage(settings, stage_id) == status
        assert ticket_changes(
            Ticket(id="T", subject="s", status=status), frozenset({"status"}), settings
        ) == {"hs_pipeline_stage": stage_id}
    assert new_ticket_stage("open", settings) == stages[0]
    assert status_of_stage(settings, "not-in-the-table-" + stages[0]) is None


class Statuses:
    def __init__(self) -> None:
        self.seen: list[TicketChange] = []

    @hookimpl
    def skypanel_on_hubspot_ticket_changed(self, change: TicketChange, session: object) -> None:
        self.seen.append(change)


def test_tickets_land_in_the_chosen_pipeline_and_come_back_through_the_same_table(
    pm, engine, secret_key: str, hosting: FakeHubSpot
) -> None:  # type: ignore[no-untyped-def]
    from conftest import start_plugin

    from skypanel_hubspot_plugin.testing import FAKE_APP_SECRET

    host = Statuses()
    pm.register(host)
    rt = start_plugin(pm, engine, secret_key, hosting.base_url, plugin_manager=pm)
    configure(
        rt,
        hubspot_ticket_enabled=True,
        hubspot_ticket_pipeline="77",
        hubspot_ticket_stage="h-new",
        hubspot_ticket_status_stages=json.dumps(HOSTING_TABLE),
        hubspot_app_secret=FAKE_APP_SECRET,
    )
    pm.hook.skypanel_on_ticket_created(
        ticket=Ticket(id="T-9", subject="Disk full"),
        user=User(id="1", email="ada@example.com"),
        session=None,
    )
    hosting.wait_for(lambda f: rt.outbox.link("ticket", "T-9") is not None, timeout=20)
    [ticket] = hosting.tickets()
    assert (ticket["properties"]["hs_pipeline"], ticket["properties"]["hs_pipeline_stage"]) == (
        "77",
        "h-new",
    )
    pm.hook.skypanel_on_ticket_updated(
        ticket=Ticket(id="T-9", subject="Disk full", status="waiting"),
        changed=frozenset({"status"}),
        session=None,
    )
    hosting.wait_for(
        lambda f: f.tickets()[0]["properties"]["hs_pipeline_stage"] == "h-wait", timeout=20
    )
    from skypanel_hubspot_plugin.webhooks.events import Event, handle_event

    event = Event(
        event_id="5",
        subscription_type="object.propertyChange",
        object_id=ticket["id"],
        portal_id=str(hosting.portal_id),
        occurred_at_ms=1,
        property_name="hs_pipeline_stage",
        property_value="h-done",
        change_source="CRM_UI",
        object_type_id="0-5",
    )
    assert handle_event(rt.outbox, pm, rt.settings(), event)
    assert [c.status for c in host.seen] == ["closed"]
    pm.hook.skypanel_shutdown()


def test_test_connection_reports_a_stage_deleted_in_hubspot(
    routes, started: Runtime, hosting: FakeHubSpot
) -> None:  # type: ignore[no-untyped-def]
    configure(
        started,
        hubspot_ticket_enabled=True,
        hubspot_ticket_pipeline="77",
        hubspot_ticket_stage="h-new",
        hubspot_ticket_status_stages=json.dumps(HOSTING_TABLE),
    )
    assert call(routes, "POST", "/test-connection").body.get("warnings") is None or not [
        w for w in call(routes, "POST", "/test-connection").body["warnings"] if "stage" in w
    ]
    hosting.remove_pipeline_stage("77", "h-work")
    warnings = call(routes, "POST", "/test-connection").body["warnings"]
    [warning] = [w for w in warnings if "h-work" in w]
    assert "in_progress: h-work is not a stage of pipeline 77 (Hosting)" in warning
    hosting.remove_pipeline_stage("77", "h-new")
    warnings = call(routes, "POST", "/test-connection").body["warnings"]
    assert any(w.startswith("Ticket stage h-new is not a stage of pipeline 77") for w in warnings)


def test_test_connection_says_which_ways_back_the_credential_supports(
    routes, started: Runtime
) -> None:  # type: ignore[no-untyped-def]
    from skypanel_hubspot_plugin.testing import FAKE_APP_SECRET

    configure(started, hubspot_ticket_enabled=True)
    service_key = call(routes, "POST", "/test-connection").body
    assert service_key["success"] and service_key["syncModes"] == ["polling"]
    assert "come back by polling" in service_key["message"]
    assert any("supports polling only" in w for w in service_key["warnings"])
    configure(started, hubspot_app_secret=FAKE_APP_SECRET)
    app = call(routes, "POST", "/test-connection").body
    assert app["syncModes"] == ["webhooks", "polling"]
    assert not any("polling only" in w for w in app.get("warnings", []))
    assert FAKE_APP_SECRET not in json.dumps(app)


def test_a_bad_sync_mode_or_poll_interval_is_refused_naming_the_field(
    routes, started: Runtime
) -> None:  # type: ignore[no-untyped-def]
    configure(started)
    answer = call(
        routes,
        "POST",
        "/settings",
        body={"hubspot_ticket_sync": "sometimes", "hubspot_ticket_poll_interval": "5"},
    )
    assert answer.status == 422
    assert answer.body["details"] == {
        "hubspot_ticket_sync": "must be one of webhooks, polling, off",
        "hubspot_ticket_poll_interval": "must be a whole number of seconds from 10 to 3600",
    }
    settings = started.store.reload()
    assert (settings.ticket_sync, settings.ticket_poll_interval) == ("webhooks", 60)


@given(
    value=st.one_of(
        st.text(max_size=60),
        st.dictionaries(st.text(max_size=12), st.text(max_size=12), max_size=6),
    )
)
def test_any_status_table_input_is_parsed_or_refused_with_a_reason(value: object) -> None:
    try:
        table = parse_status_stages(value)
    except ValueError as exc:
        assert str(exc)
    else:
        assert list(table) == list(TICKET_STATUSES)


@given(
    text=st.one_of(
        st.text(max_size=40), st.sampled_from(["²", "0001-01-01", "9999-12-31T23:59:59Z"])
    )
)
def test_a_modification_time_from_hubspot_is_read_or_skipped_never_raised(text: str) -> None:
    from skypanel_hubspot_plugin.webhooks.polling import modified_ms

    found = modified_ms(text)
    assert found is None or isinstance(found, int)
