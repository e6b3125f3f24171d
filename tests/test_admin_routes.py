"""The seed's four admin routes, called the way a host's adapter calls them."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skypanel_hubspot_plugin import AdminRequest, AdminResponse
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot

PREFIX = "/api/admin/settings/hubspot"


@pytest.fixture
def routes(pm, started):  # type: ignore[no-untyped-def]
    table: dict[tuple[str, str], object] = {}
    pm.hook.skypanel_register_admin_routes(
        register=lambda method, path, handler: table.__setitem__((method, path), handler)
    )
    return table


def call(routes, method: str, path: str, **request: object) -> AdminResponse:  # type: ignore[no-untyped-def]
    return routes[(method, PREFIX + path)](AdminRequest(**request))  # type: ignore[no-any-return]


def configure(rt: Runtime, **extra: object) -> None:
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            **extra,
        }
    )


def test_the_seeds_four_routes_are_registered(routes) -> None:  # type: ignore[no-untyped-def]
    assert {
        ("GET", f"{PREFIX}/config"),
        ("POST", f"{PREFIX}/test-connection"),
        ("GET", f"{PREFIX}/contacts"),
        ("POST", f"{PREFIX}/contacts"),
    } <= set(routes)


def test_config_has_the_seeds_shape_and_never_the_token(routes, started) -> None:  # type: ignore[no-untyped-def]
    configure(started, hubspot_chat_enabled=True)
    response = call(routes, "GET", "/config")
    assert response.status == 200
    assert response.body == {
        "enabled": True,
        "chatEnabled": True,
        "portalId": str(FAKE_PORTAL_ID),
        "ticketEnabled": False,
        "ticketFormId": "",
        "contactFormId": "",
        "region": "na1",
        "apiKeySet": True,
        "apiKeyLast4": FAKE_TOKEN[-4:],
        "apiKeySource": "database",
    }
    assert FAKE_TOKEN not in repr(response.body)


@pytest.mark.parametrize(
    ("hosted", "words"),
    [("eu1", "set the region to eu1"), ("zz7", "zz7, a region this plugin does not know")],
)
def test_test_connection_warns_about_the_portals_region(
    routes, started, fake: FakeHubSpot, hosted: str, words: str
) -> None:  # type: ignore[no-untyped-def]
    configure(started)
    fake.region = hosted
    body = call(routes, "POST", "/test-connection").body
    assert body["success"] is True and any(words in w for w in body["warnings"])


def test_test_connection_succeeds_with_the_portal_it_belongs_to(routes, started) -> None:  # type: ignore[no-untyped-def]
    configure(started)
    body = call(routes, "POST", "/test-connection").body
    assert body["success"] is True
    assert body["message"].startswith("HubSpot connection successful")
    assert body["portalId"] == str(FAKE_PORTAL_ID)


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        ("no-token", "No HubSpot access token is set"),
        ("unknown-token", "Invalid API key"),
        ("expired-token", "expired"),
        ("other-portal", "belongs to portal 999"),
        ("read-only", "lacks scope crm.objects.contacts.write"),
        ("no-tickets-scope", "lacks scope tickets"),
        ("rate-limited", "Rate limit exceeded"),
        ("down", "HubSpot answered with an error (HTTP 502)"),
    ],
)
def test_test_connection_says_what_to_fix(
    routes,
    started,
    fake: FakeHubSpot,
    setup: str,  # type: ignore[no-untyped-def]
    words: str,
) -> None:
    tokens = {
        "unknown-token": "pat-na1-00000000-0000-4000-8000-000000000000",
        "expired-token": "pat-na1-00000000-0000-4000-8000-00000000dead",
        "other-portal": "pat-na1-00000000-0000-4000-8000-0000000000ff",
        "read-only": "pat-na1-00000000-0000-4000-8000-0000000000a1",
        "no-tickets-scope": "sk-service-key-without-tickets",  # not pat-: scopes found by probing,
    }
    fake.add_token(tokens["expired-token"], expired=True)
    fake.add_token(tokens["other-portal"], portal_id=999)
    fake.add_token(
        tokens["read-only"], ["crm.objects.contacts.read", "oauth", "tickets", "sales-email-read"]
    )
    fake.add_token(
        tokens["no-tickets-scope"],
        ["crm.objects.contacts.read", "crm.objects.contacts.write", "oauth"],
    )
    if setup != "no-token":
        started.store.save(
            {
                "hubspot_portal_id": str(FAKE_PORTAL_ID),
                "hubspot_ticket_enabled": True,
                "hubspot_api_key": tokens.get(setup, FAKE_TOKEN),
            }
        )
    if setup == "rate-limited":
        fake.fail_next(429, headers={"Retry-After": "7"})
    if setup == "down":
        fake.fail_next(502)
    body = call(routes, "POST", "/test-connection").body
    assert body["success"] is False
    assert words in body["message"]


def test_test_connection_reports_an_unreachable_hubspot(pm, started_offline) -> None:  # type: ignore[no-untyped-def]
    configure(started_offline)
    table: dict[tuple[str, str], object] = {}
    pm.hook.skypanel_register_admin_routes(
        register=lambda method, path, handler: table.__setitem__((method, path), handler)
    )
    body = call(table, "POST", "/test-connection").body
    assert body["success"] is False and "could not be reached" in body["message"]


def test_contacts_are_created_and_listed_with_hubspots_cursor(routes, started) -> None:  # type: ignore[no-untyped-def]
    configure(started)
    for i in range(3):
        response = call(
            routes,
            "POST",
            "/contacts",
            body={"email": f"user{i}@example.com", "firstname": f"User{i}"},
        )
        assert response.status == 201 and response.body["success"] is True
        assert response.body["contact"]["properties"]["email"] == f"user{i}@example.com"
    first = call(routes, "GET", "/contacts", query={"limit": "2"}).body
    assert len(first["contacts"]) == 2
    after = first["paging"]["next"]["after"]
    second = call(routes, "GET", "/contacts", query={"limit": "2", "after": after}).body
    assert len(second["contacts"]) == 1 and "paging" not in second
    emails = {c["properties"]["email"] for c in first["contacts"] + second["contacts"]}
    assert emails == {"user0@example.com", "user1@example.com", "user2@example.com"}


def test_contacts_routes_refuse_while_hubspot_is_disabled(routes, fake: FakeHubSpot) -> None:  # type: ignore[no-untyped-def]
    response = call(routes, "GET", "/contacts")
    assert response.status == 409
    assert response.body == {
        "success": False,
        "message": "HubSpot integration is not enabled",
        "details": None,
    }
    assert fake.requests == []


def test_a_duplicate_contact_is_a_clear_409(routes, started) -> None:  # type: ignore[no-untyped-def]
    configure(started)
    call(routes, "POST", "/contacts", body={"email": "ada@example.com"})
    response = call(routes, "POST", "/contacts", body={"email": "ada@example.com"})
    assert response.status == 409 and response.body["details"]["email"] == "already exists"


@pytest.mark.parametrize("limit", ["0", "101", "ten", "-5"])
def test_a_bad_limit_is_a_422_naming_it(routes, started, limit: str) -> None:  # type: ignore[no-untyped-def]
    configure(started)
    response = call(routes, "GET", "/contacts", query={"limit": limit})
    assert response.status == 422 and "limit" in response.body["details"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        json_values,
        st.dictionaries(
            st.sampled_from(["email", "firstname", "lastname", "company", "phone", "extra"]),
            json_values,
            max_size=5,
        ),
    )
)
def test_a_bad_contact_body_is_a_422_and_sends_nothing(  # type: ignore[no-untyped-def]
    routes, started, fake: FakeHubSpot, body: object
) -> None:
    configure(started)
    sent = len(fake.requests)
    response = call(routes, "POST", "/contacts", body=body)
    if response.status == 201:  # hypothesis found a valid contact: fine, HubSpot has it
        assert fake.contact_by_email(response.body["contact"]["properties"]["email"])
        return
    assert response.status in (409, 422), response.body
    if response.status == 422:
        assert response.body["success"] is False and response.body["details"]
        assert len(fake.requests) == sent


def test_the_token_reaches_no_response_and_no_log(
    routes,
    started,
    fake: FakeHubSpot,  # type: ignore[no-untyped-def]
    plugin_log: pytest.LogCaptureFixture,
) -> None:
    plugin_log.set_level(logging.DEBUG)
    configure(started, hubspot_chat_enabled=True)
    bodies = [
        call(routes, "GET", "/config").body,
        call(routes, "POST", "/test-connection").body,
        call(routes, "POST", "/contacts", body={"email": "a@example.com"}).body,
        call(routes, "GET", "/contacts").body,
    ]
    fake.fail_next(401)
    bodies.append(call(routes, "GET", "/contacts").body)
    assert all(FAKE_TOKEN not in repr(b) for b in bodies)
    assert FAKE_TOKEN not in plugin_log.text
