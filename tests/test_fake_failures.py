"""The fake HubSpot fails as HubSpot fails: the bodies of its 409s and 400s, the limits of its
CRM search, and which answers carry rate-limit headers.

Every error body checked here must also validate against the ``Error`` schema of HubSpot's
published specs (tests/openapi/), the shape HubSpot's own clients read.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from test_fake_hubspot import raw

from skypanel_hubspot_plugin.testing import FakeHubSpot

SPEC = Path(__file__).parent / "openapi" / "2026-09" / "contacts.json"
RATE_HEADERS = (
    "X-HubSpot-RateLimit-Max",
    "X-HubSpot-RateLimit-Remaining",
    "X-HubSpot-RateLimit-Interval-Milliseconds",
    "X-HubSpot-RateLimit-Daily",
    "X-HubSpot-RateLimit-Daily-Remaining",
)
TICKETS = "/crm/objects/2026-09/tickets"
CONTACTS = "/crm/objects/2026-09/contacts"


@cache
def _error_schema() -> dict[str, Any]:
    schemas = json.loads(SPEC.read_text())["components"]["schemas"]
    return {**schemas["Error"], "components": {"schemas": schemas}}


def assert_hubspot_error(body: Any) -> None:
    """``body`` is an error as HubSpot's specs define it."""
    jsonschema.validate(body, _error_schema())


def _ticket(**props: str) -> dict[str, Any]:
    return {"properties": {"subject": "x", "hs_pipeline_stage": "1", **props}}


# -- 409: the value exists already --------------------------------------------------------------


def test_a_duplicate_email_is_an_object_already_exists_naming_the_existing_contact(
    fake: FakeHubSpot,
) -> None:
    _, _, first = raw(fake, "POST", CONTACTS, {"properties": {"email": "ada@example.com"}})
    status, _, body = raw(fake, "POST", CONTACTS, {"properties": {"email": "ADA@example.com"}})
    assert status == 409 and body["category"] == "OBJECT_ALREADY_EXISTS"
    assert body["message"] == f"Contact already exists. Existing ID: {first['id']}"
    assert body["errors"] == [
        {
            "message": f"A contact with email ada@example.com already exists. "
            f"Existing ID: {first['id']}",
            "in": "email",
        }
    ]
    assert_hubspot_error(body)


def test_changing_an_email_to_a_taken_one_is_the_same_409(fake: FakeHubSpot) -> None:
    _, _, ada = raw(fake, "POST", CONTACTS, {"properties": {"email": "ada@example.com"}})
    _, _, bob = raw(fake, "POST", CONTACTS, {"properties": {"email": "bob@example.com"}})
    status, _, body = raw(
        fake, "PATCH", f"{CONTACTS}/{bob['id']}", {"properties": {"email": "ada@example.com"}}
    )
    assert status == 409 and body["category"] == "OBJECT_ALREADY_EXISTS"
    assert f"Existing ID: {ada['id']}" in body["message"]
    assert body["errors"][0]["in"] == "email"


def test_a_taken_unique_value_names_its_property(fake: FakeHubSpot) -> None:
    status, _, _ = raw(
        fake,
        "POST",
        "/crm/properties/2026-09/tickets",
        {
            "name": "panel_ref",
            "label": "Panel ref",
            "type": "string",
            "fieldType": "text",
            "groupName": "ticketinformation",
            "hasUniqueValue": True,
        },
    )
    assert status == 201
    _, _, first = raw(fake, "POST", TICKETS, _ticket(panel_ref="T-1"))
    status, _, body = raw(fake, "POST", TICKETS, _ticket(panel_ref="T-1"))
    assert status == 409 and body["category"] == "OBJECT_ALREADY_EXISTS"
    assert f"Existing ID: {first['id']}" in body["message"]
    assert body["errors"][0]["in"] == "panel_ref"
    assert "T-1" in body["errors"][0]["message"]
    assert_hubspot_error(body)


def test_an_existing_property_is_a_409_naming_it(fake: FakeHubSpot) -> None:
    definition = {
        "name": "plan",
        "label": "Plan",
        "type": "string",
        "fieldType": "text",
        "groupName": "ticketinformation",
    }
    raw(fake, "POST", "/crm/properties/2026-09/tickets", definition)
    status, _, body = raw(fake, "POST", "/crm/properties/2026-09/tickets", definition)
    assert status == 409 and body["category"] == "OBJECT_ALREADY_EXISTS"
    assert body["errors"][0]["in"] == "name" and "plan" in body["errors"][0]["message"]
    assert_hubspot_error(body)


# -- 400: values HubSpot refuses ------------------------------------------------------------------


def _embedded(message: str) -> list[dict[str, Any]]:
    """The per-property results HubSpot embeds, as JSON, in a validation error's message."""
    prefix = "Property values were not valid: "
    assert message.startswith(prefix), message
    found = json.loads(message[len(prefix) :])
    assert isinstance(found, list)
    return found


@pytest.mark.parametrize(
    ("props", "name", "code"),
    [
        ({"hs_ticket_priority": "low"}, "hs_ticket_priority", "INVALID_OPTION"),
        ({"no_such_thing": "1"}, "no_such_thing", "PROPERTY_DOESNT_EXIST"),
        ({"hs_ticket_category": "PRODUCT_ISSUE;reports"}, "hs_ticket_category", "INVALID_OPTION"),
        ({"hs_object_id": "5"}, "hs_object_id", "READ_ONLY_VALUE"),
    ],
)
def test_a_refused_value_is_a_validation_error_embedding_hubspots_results(
    fake: FakeHubSpot, props: dict[str, str], name: str, code: str
) -> None:
    status, _, body = raw(fake, "POST", TICKETS, _ticket(**props))
    assert status == 400 and body["category"] == "VALIDATION_ERROR"
    [result] = _embedded(body["message"])
    assert result["isValid"] is False and result["error"] == code and result["name"] == name
    assert result["message"] and result["localizedErrorMessage"] == result["message"]
    [detail] = body["errors"]
    assert detail["code"] == code and detail["in"] == name
    assert detail["message"] == result["message"]
    assert detail["context"]["propertyName"] == [name]
    assert_hubspot_error(body)


def test_every_refused_value_of_one_write_is_listed(fake: FakeHubSpot) -> None:
    status, _, body = raw(
        fake,
        "POST",
        CONTACTS,
        {"properties": {"email": "ada@example.com", "total_revenue": "lots", "nope": "x"}},
    )
    assert status == 400
    assert [(r["name"], r["error"]) for r in _embedded(body["message"])] == [
        ("total_revenue", "INVALID_DOUBLE"),
        ("nope", "PROPERTY_DOESNT_EXIST"),
    ]
    assert [d["in"] for d in body["errors"]] == ["total_revenue", "nope"]
    assert fake.contacts() == []


def test_a_bad_email_and_a_missing_required_property_are_validation_errors(
    fake: FakeHubSpot,
) -> None:
    status, _, body = raw(fake, "POST", CONTACTS, {"properties": {"email": "not-an-email"}})
    assert status == 400 and _embedded(body["message"])[0]["error"] == "INVALID_EMAIL"
    status, _, body = raw(fake, "POST", TICKETS, {"properties": {"hs_pipeline_stage": "1"}})
    assert status == 400 and body["errors"][0]["in"] == "subject"
    assert_hubspot_error(body)


# -- the CRM search's limits ---------------------------------------------------------------------


def _search(fake: FakeHubSpot, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    return raw(fake, "POST", f"{TICKETS}/search", body)


def _filters(count: int) -> list[dict[str, str]]:
    return [{"propertyName": "subject", "operator": "HAS_PROPERTY"}] * count


@pytest.fixture
def searchable() -> Any:
    with FakeHubSpot(search_rate_limit=None) as hubspot:
        yield hubspot


def test_a_search_limit_above_200_is_refused_not_clamped(searchable: FakeHubSpot) -> None:
    status, _, body = _search(searchable, {"limit": 201})
    assert status == 400 and body["category"] == "VALIDATION_ERROR"
    assert "200" in body["message"]
    assert_hubspot_error(body)
    assert _search(searchable, {"limit": 200})[0] == 200


@pytest.mark.parametrize(
    ("groups", "words"),
    [
        ([{"filters": _filters(1)}] * 6, "filter groups"),
        ([{"filters": _filters(11)}], "filters in a group"),
        ([{"filters": _filters(10)}] * 2 + [{"filters": _filters(6)}], "filters in total"),
    ],
)
def test_too_many_filters_are_refused(
    searchable: FakeHubSpot, groups: list[dict[str, Any]], words: str
) -> None:
    status, _, body = _search(searchable, {"filterGroups": groups})
    assert status == 400 and body["category"] == "VALIDATION_ERROR"
    assert words in body["message"]
    assert_hubspot_error(body)


def test_the_most_filters_hubspot_allows_are_searched(searchable: FakeHubSpot) -> None:
    groups = [{"filters": _filters(10)}] * 2 + [{"filters": _filters(5)}]  # 25
    assert _search(searchable, {"filterGroups": groups})[0] == 200
    assert _search(searchable, {"filterGroups": [{"filters": _filters(1)}] * 5})[0] == 200


def test_search_pages_through_numeric_cursors(searchable: FakeHubSpot) -> None:
    for i in range(3):
        raw(searchable, "POST", TICKETS, _ticket(subject=f"t{i}"))
    _, _, first = _search(searchable, {"limit": 2})
    assert first["paging"]["next"]["after"] == "2"
    status, _, second = _search(searchable, {"limit": 2, "after": "2"})
    assert status == 200 and len(second["results"]) == 1 and "paging" not in second
    status, _, skipped = _search(searchable, {"limit": 2, "after": "10"})
    assert status == 200 and skipped["results"] == [] and skipped["total"] == 3
    assert _search(searchable, {"after": "ten"})[0] == 400


def test_search_allows_four_requests_a_second_per_token() -> None:
    with FakeHubSpot() as hubspot:
        statuses = [_search(hubspot, {})[0] for _ in range(5)]
        assert statuses[:4] == [200] * 4 and statuses[4] == 429
        # Another token has its own four.
        hubspot.add_token("pat-na1-other")
        status, _, _ = raw(hubspot, "POST", f"{TICKETS}/search", {}, token="pat-na1-other")
        assert status == 200


# -- rate-limit headers --------------------------------------------------------------------------


def test_search_answers_carry_no_rate_limit_headers(searchable: FakeHubSpot) -> None:
    _, headers, _ = _search(searchable, {})
    assert not [h for h in RATE_HEADERS if h in headers]


def test_answers_to_calls_without_a_token_carry_no_rate_limit_headers(fake: FakeHubSpot) -> None:
    status, headers, _ = raw(fake, "GET", CONTACTS, token=None)
    assert status == 401 and not [h for h in RATE_HEADERS if h in headers]
    status, headers, _ = raw(fake, "GET", CONTACTS, token="pat-na1-unknown")
    assert status == 401 and not [h for h in RATE_HEADERS if h in headers]
    status, headers, _ = raw(
        fake,
        "POST",
        "/oauth/v2/private-apps/get/access-token-info",
        {"tokenKey": "pat-na1-unknown"},
        token=None,
    )
    assert status == 400 and not [h for h in RATE_HEADERS if h in headers]


def test_oauth_calls_carry_no_daily_headers(fake: FakeHubSpot) -> None:
    fake.add_token("oauth-access-token", kind="oauth")
    status, headers, _ = raw(fake, "GET", CONTACTS, token="oauth-access-token")
    assert status == 200 and "X-HubSpot-RateLimit-Max" in headers
    assert "X-HubSpot-RateLimit-Daily" not in headers
    assert "X-HubSpot-RateLimit-Daily-Remaining" not in headers
    _, headers, _ = raw(fake, "GET", CONTACTS)  # the private app's token: all five
    assert all(h in headers for h in RATE_HEADERS)


def test_oauth_calls_have_no_daily_limit(fake: FakeHubSpot) -> None:
    fake.add_token("oauth-access-token", kind="oauth")
    fake.set_daily_limit(1, used=1)
    assert raw(fake, "GET", CONTACTS, token="oauth-access-token")[0] == 200
    assert raw(fake, "GET", CONTACTS)[0] == 429
