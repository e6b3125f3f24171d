"""One setting decides HubSpot's API version; the plugin follows it and says when it ends."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from conftest import start_plugin
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from skypanel_hubspot_plugin import Ticket, User
from skypanel_hubspot_plugin.admin.connection_test import check_connection
from skypanel_hubspot_plugin.admin.responses import MAX_CURSOR, page_query
from skypanel_hubspot_plugin.common.secret import Secret
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, DELIVERED
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.hubspot.errors import (
    BadRequest,
    DailyLimitReached,
    RateLimited,
    error_from_response,
)
from skypanel_hubspot_plugin.hubspot.service import HubSpotService
from skypanel_hubspot_plugin.hubspot.versions import (
    DEFAULT_VERSION,
    SUPPORTED,
    VERSIONS,
    UnknownApiVersion,
    version_named,
)
from skypanel_hubspot_plugin.payloads import AdminRequest, AdminResponse
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.settings.model import (
    HubSpotSettings,
    InvalidSettings,
    parse_status_stages,
    settings_from_rows,
    validate_changes,
)
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot
from skypanel_hubspot_plugin.worker import main as worker_main

TODAY = date(2026, 11, 25)


def service(fake: FakeHubSpot, version: str | None = None) -> HubSpotService:
    return HubSpotService(
        Secret(FAKE_TOKEN), base_url=fake.base_url, timeout=(1.0, 1.0), api_version=version
    )


def enable(rt: Runtime, **extra: object) -> None:
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_ticket_enabled": True,
            **extra,
        }
    )


# -- the setting -------------------------------------------------------------------------------


def test_the_version_setting_accepts_the_supported_versions_and_names_them_when_refusing() -> None:
    assert HubSpotSettings().api_version == DEFAULT_VERSION == "2026-09"
    for name in SUPPORTED:
        assert validate_changes(HubSpotSettings(), {"hubspot_api_version": name}).rows == {
            "hubspot_api_version": name
        }
    assert validate_changes(HubSpotSettings(), {"hubspot_api_version": "v4"}).rows == {
        "hubspot_api_version": "v3"
    }
    with pytest.raises(InvalidSettings) as refused:
        validate_changes(HubSpotSettings(), {"hubspot_api_version": "2025-01"})
    assert "2026-09, 2026-03, v3" in refused.value.errors["hubspot_api_version"]
    stored = settings_from_rows({"hubspot_api_version": "v9"})
    assert stored.api_version == DEFAULT_VERSION and "hubspot_api_version" in stored.problems


@given(st.text(max_size=20))
def test_only_the_supported_versions_are_ever_accepted(name: str) -> None:
    try:
        version = version_named(name)
    except UnknownApiVersion:
        return
    assert version.name in SUPPORTED


def test_each_version_has_its_end_of_support_and_source() -> None:
    ends = {v.name: v.end_of_support for v in VERSIONS}
    assert ends["v3"] == date(2027, 3, 30)  # /crm/v4 associations end first
    assert ends["2026-03"] < ends["2026-09"]
    assert all(v.source for v in VERSIONS)


def test_a_saved_version_change_moves_every_call_to_its_paths(
    pm, sqlite_engine: Engine, secret_key: str, fake: FakeHubSpot
) -> None:  # type: ignore[no-untyped-def]
    rt = start_plugin(pm, sqlite_engine, secret_key, fake.base_url, run_worker=False)
    enable(rt)
    rt.service().list_contacts(limit=1)
    enable(rt, hubspot_api_version="2026-03")
    rt.service().list_contacts(limit=1)
    assert [r.path for r in fake.requests] == [
        "/crm/objects/2026-09/contacts",
        "/crm/objects/2026-03/contacts",
    ]
    pm.hook.skypanel_shutdown()


def test_the_hosts_override_wins_over_the_setting(
    pm, sqlite_engine: Engine, secret_key: str, fake: FakeHubSpot
) -> None:  # type: ignore[no-untyped-def]
    rt = start_plugin(
        pm, sqlite_engine, secret_key, fake.base_url, run_worker=False, hubspot_api_version="v3"
    )
    enable(rt, hubspot_api_version="2026-03")
    assert rt.api_version() == "v3"
    rt.service().list_contacts(limit=1)
    assert fake.requests[-1].path == "/crm/v3/objects/contacts"
    pm.hook.skypanel_shutdown()


# -- test connection ---------------------------------------------------------------------------


def settings(**values: object) -> HubSpotSettings:
    base: dict[str, object] = {"token": Secret(FAKE_TOKEN), "portal_id": str(FAKE_PORTAL_ID)}
    return HubSpotSettings(**{**base, **values})  # type: ignore[arg-type]


def test_test_connection_names_the_version_and_warns_six_months_before_its_end(
    fake: FakeHubSpot,
) -> None:
    current = check_connection(settings(), service(fake), today=TODAY)
    assert current.success and "API version 2026-09" in current.message
    assert current.as_json()["apiVersion"] == "2026-09" and not current.warnings
    legacy = check_connection(settings(api_version="v3"), service(fake, "v3"), today=TODAY)
    assert legacy.success and "API version v3" in legacy.message
    (warning,) = legacy.warnings
    assert "supported until 2027-03-30 (125 days left)" in warning and "2026-09" in warning
    assert legacy.as_json()["apiVersionEndOfSupport"] == "2027-03-30"
    # 2026-03 ends 2027-09-30: 309 days away today, within six months from 2027-04-01.
    assert not check_connection(settings(), service(fake, "2026-03"), today=TODAY).warnings
    assert check_connection(settings(), service(fake, "2026-03"), today=date(2027, 4, 1)).warnings


def test_test_connection_warns_when_the_ticket_stage_is_not_in_the_pipeline(
    fake: FakeHubSpot,
) -> None:
    fake.add_pipeline("77", "Hosting", [("h1", "Open"), ("h2", "Done")])
    table = parse_status_stages(
        {"open": "h1", "waiting": "h1", "in_progress": "h1", "closed": "h2"}
    )
    good = settings(
        ticket_enabled=True,
        ticket_pipeline="77",
        ticket_stage="h1",
        ticket_status_stages=table,
        ticket_sync="polling",
    )
    assert not check_connection(good, service(fake), today=TODAY).warnings
    wrong = dataclasses.replace(good, ticket_stage="1")
    (warning,) = check_connection(wrong, service(fake), today=TODAY).warnings
    assert "Ticket stage 1 is not a stage of pipeline 77 (Hosting)" in warning
    missing = settings(ticket_enabled=True, ticket_pipeline="99", ticket_sync="polling")
    (warning,) = check_connection(missing, service(fake), today=TODAY).warnings
    assert "Ticket pipeline 99 does not exist" in warning


# -- HubSpot's answers the plugin must understand ----------------------------------------------


def test_a_concurrent_creator_of_the_ticket_id_property_is_not_an_error(
    fake: FakeHubSpot,
) -> None:
    fake.add_property("tickets", "skypanel_ticket_id")  # another worker has just made it
    fake.fail_next(404)  # …after this worker looked and did not find it
    service(fake).ensure_ticket_id_property()
    assert [(r.method, r.status) for r in fake.requests] == [("GET", 404), ("POST", 409)]


def test_the_first_ticket_of_a_fresh_portal_creates_the_property_it_needs(
    fake: FakeHubSpot,
) -> None:
    client = service(fake)
    assert not fake.has_property("tickets", "skypanel_ticket_id")
    client.ensure_ticket_id_property()
    client.ensure_ticket_id_property()
    assert fake.has_property("tickets", "skypanel_ticket_id")
    ticket = client.upsert_ticket("T-1", {"subject": "Down"})
    assert client.upsert_ticket("T-1", {"subject": "Down again"}).id == ticket.id


def test_a_daily_limit_says_when_it_resets_at_the_portals_midnight(fake: FakeHubSpot) -> None:
    client = service(fake)
    client.account_details()  # the fake portal is at UTC-05:00
    fake.set_daily_limit(10, used=10)
    with pytest.raises(DailyLimitReached) as stopped:
        client.list_contacts(limit=1)
    error = stopped.value
    assert isinstance(error, RateLimited) and error.transient
    assert error.daily_limit == 10
    assert error.resets_at.utcoffset() == timedelta(hours=-5)
    assert (error.resets_at.hour, error.resets_at.minute) == (0, 0)
    assert 0 < (error.retry_after or 0) <= 24 * 3600
    assert error.resets_at > datetime.now(UTC)


def test_test_connection_says_when_a_spent_daily_limit_resets(fake: FakeHubSpot) -> None:
    fake.set_daily_limit(0)
    result = check_connection(settings(), service(fake), today=TODAY)
    assert not result.success
    assert "daily request limit for this portal is spent; it resets at" in result.message


def test_the_worker_refuses_an_unknown_api_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        worker_main(["--database-url", "sqlite://", "--api-version", "2024-01"])
    assert stopped.value.code == 2 and "2026-09, 2026-03, v3" in capsys.readouterr().err


def test_a_burst_limit_is_not_mistaken_for_the_daily_one(fake: FakeHubSpot) -> None:
    fake.fail_next(429, headers={"Retry-After": "2"})
    with pytest.raises(RateLimited) as stopped:
        service(fake).list_contacts(limit=1)
    assert not isinstance(stopped.value, DailyLimitReached)
    assert stopped.value.retry_after == 2


def test_a_search_refused_without_rate_limit_headers_is_a_burst_limit(fake: FakeHubSpot) -> None:
    # HubSpot's search answers carry no X-HubSpot-RateLimit-* headers, its 429s neither.
    client = service(fake)
    with pytest.raises(RateLimited) as stopped:
        for _ in range(10):
            client.search_tickets_modified_since(0, ["subject"], has_property="subject")
    assert not isinstance(stopped.value, DailyLimitReached)
    assert stopped.value.retry_after is None and stopped.value.transient
    searches = [r for r in fake.requests if r.path.endswith("/search")]
    assert [r.status for r in searches][-1] == 429


def test_a_daily_limit_without_headers_is_read_from_the_body() -> None:
    body = b'{"status": "error", "message": "daily", "policyName": "DAILY"}'
    error = error_from_response(429, body, None)
    assert isinstance(error, DailyLimitReached) and error.daily_limit is None
    assert error.retry_after is not None and error.retry_after > 0


@given(
    now=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1)),
    offset_min=st.integers(min_value=-12 * 60, max_value=14 * 60),
)
def test_the_daily_reset_is_always_the_next_local_midnight(now: datetime, offset_min: int) -> None:
    zone = timezone(timedelta(minutes=offset_min))
    error = DailyLimitReached("daily", now=now.replace(tzinfo=UTC))
    error.reset_in(zone)
    local = error.resets_at.astimezone(zone)
    assert (local.hour, local.minute, local.second) == (0, 0, 0)
    assert timedelta(0) < error.resets_at - now.replace(tzinfo=UTC) <= timedelta(days=1)


def test_daily_limit_headers_alone_are_recognised() -> None:
    headers = {"X-HubSpot-RateLimit-Daily": "500000", "X-HubSpot-RateLimit-Daily-Remaining": "0"}
    error = error_from_response(429, b'{"message": "limit"}', headers)
    assert isinstance(error, DailyLimitReached) and error.daily_limit == 500000


def test_a_validation_rule_refusal_names_the_property(fake: FakeHubSpot) -> None:
    rule = {
        "status": "error",
        "message": "Property values were not valid",
        "category": "VALIDATION_ERROR",
        "errors": [
            {
                "message": "Phone numbers must start with +",
                "code": "INVALID_PROPERTY_VALUE",
                "context": {"propertyName": ["phone"]},
            }
        ],
    }
    fake.fail_next(400, body=rule)
    with pytest.raises(BadRequest) as refused:
        service(fake).update_contact("1", {"phone": "0123"})
    assert "(property phone)" in refused.value.message


def test_a_refused_write_is_parked_with_hubspots_reason_and_replays_once_fixed(
    pm, sqlite_engine: Engine, secret_key: str, fake: FakeHubSpot
) -> None:  # type: ignore[no-untyped-def]
    rt = start_plugin(pm, sqlite_engine, secret_key, fake.base_url, run_worker=False)
    fake.add_pipeline("77", "Hosting", [("h1", "Open")])
    enable(rt, hubspot_ticket_stage="h1")  # a stage of pipeline 77, not of pipeline 0

    user = User(id="1", email="ada@example.com")
    pm.hook.skypanel_on_ticket_created(
        ticket=Ticket(id="T-1", subject="Down"), user=user, session=None
    )
    worker = Worker(rt)
    while worker.run_once():
        pass
    (parked,) = rt.outbox.rows(DEAD)
    assert "hs_pipeline_stage" in (parked.last_error or "")
    fake.add_pipeline("0", "Support Pipeline", [("1", "New"), ("h1", "Hosting")])
    assert rt.outbox.replay() == 1
    while worker.run_once():
        pass
    assert not rt.outbox.rows(DEAD) and rt.outbox.counts().get(DELIVERED, 0) >= 1
    assert fake.tickets()[0]["properties"]["hs_pipeline_stage"] == "h1"
    pm.hook.skypanel_shutdown()


# -- paging cursors ----------------------------------------------------------------------------


def test_hubspots_own_example_cursor_is_passed_through() -> None:
    answer = page_query(AdminRequest(query={"after": "NTI1Cg%3D%3D"}))
    assert answer == (50, "NTI1Cg%3D%3D")


@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=80))
def test_any_visible_cursor_is_passed_on_untouched(cursor: str) -> None:
    answer = page_query(AdminRequest(query={"after": cursor}))
    assert answer == (50, cursor or None)


@pytest.mark.parametrize("cursor", ["x" * (MAX_CURSOR + 1), "a b", "é", "a\nb"])
def test_a_cursor_too_long_or_not_visible_ascii_is_refused(cursor: str) -> None:
    answer = page_query(AdminRequest(query={"after": cursor}))
    assert isinstance(answer, AdminResponse) and answer.status == 422
    assert "after" in json.dumps(answer.body)


def test_every_page_of_contacts_is_reached_through_opaque_cursors(fake: FakeHubSpot) -> None:
    client = service(fake)
    client.upsert_contacts([{"email": f"u{i}@example.com"} for i in range(7)])
    seen: list[str] = []
    after: str | None = None
    while True:
        page = client.list_contacts(limit=3, after=after)
        seen += [c.properties["email"] or "" for c in page.results]
        if page.after is None:
            break
        assert not page.after.isdigit()
        after = page.after
    assert sorted(seen) == sorted(f"u{i}@example.com" for i in range(7))
