"""The fake HubSpot answers like HubSpot: shapes the client reads, and HubSpot's failures."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from hubspot import Client
from hubspot.crm.contacts import SimplePublicObjectInputForCreate
from hubspot.crm.contacts.exceptions import ApiException

from skypanel_hubspot_plugin.testing import FAKE_TOKEN, FakeHubSpot


def raw(
    fake: FakeHubSpot, method: str, path: str, body: Any = None, token: str | None = FAKE_TOKEN
) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(  # noqa: S310 (the fake, on loopback)
        fake.base_url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
    )
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 (loopback)
            data = answer.read()
            return answer.status, dict(answer.headers), json.loads(data) if data else None
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def test_the_pytest_fixture_gives_a_running_fake(fake_hubspot: FakeHubSpot) -> None:
    status, _, body = raw(fake_hubspot, "GET", "/account-info/v3/details")
    assert status == 200 and body["portalId"] == 12345678 and body["dataHostingLocation"] == "na1"


def test_the_real_client_reads_its_answers(fake: FakeHubSpot) -> None:
    client = Client(access_token=FAKE_TOKEN, host=fake.base_url)
    created = client.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": "a@example.com"}), _request_timeout=5
    )
    assert created.id and created.properties["email"] == "a@example.com"
    page = client.crm.contacts.basic_api.get_page(limit=10, _request_timeout=5)
    assert [c.id for c in page.results] == [created.id]


def test_auth_failures_look_like_hubspots(fake: FakeHubSpot) -> None:
    status, _, body = raw(fake, "GET", "/crm/v3/objects/contacts", token=None)
    assert status == 401 and body["category"] == "INVALID_AUTHENTICATION"
    assert body["correlationId"]
    fake.add_token("expired", expired=True)
    status, _, body = raw(fake, "GET", "/crm/v3/objects/contacts", token="expired")
    assert status == 401 and body["category"] == "EXPIRED_AUTHENTICATION"
    fake.add_token("contacts-only", ["crm.objects.contacts.read"])
    status, _, body = raw(
        fake,
        "POST",
        "/crm/v3/objects/tickets",
        {"properties": {"subject": "x", "hs_pipeline_stage": "1"}},
        token="contacts-only",
    )
    assert status == 403 and body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["tickets"]


def test_the_client_sees_statuses_on_its_own_exception_classes(fake: FakeHubSpot) -> None:
    client = Client(access_token="nope", host=fake.base_url)
    with pytest.raises(ApiException) as raised:
        client.crm.contacts.basic_api.get_page(_request_timeout=5)
    assert raised.value.status == 401


def test_rate_limit_answers_carry_hubspots_headers() -> None:
    with FakeHubSpot(rate_limit=3, rate_interval_s=10) as limited:
        statuses = [raw(limited, "GET", "/crm/v3/objects/contacts")[0] for _ in range(3)]
        status, headers, body = raw(limited, "GET", "/crm/v3/objects/contacts")
    assert statuses == [200, 200, 200]
    assert status == 429 and body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert headers["X-HubSpot-RateLimit-Max"] == "3"
    assert headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert 1 <= int(headers["Retry-After"]) <= 10


def batch_path(version: str, action: str) -> str:
    root = "/crm/v3/objects" if version == "v3" else f"/crm/objects/{version}"
    return f"{root}/contacts/batch/{action}"


VERSIONS = ["v3", "2026-03", "2026-09"]


def add_contact(fake: FakeHubSpot, properties: dict[str, str]) -> dict[str, Any]:
    status, _, body = raw(fake, "POST", "/crm/v3/objects/contacts", {"properties": properties})
    assert status == 201
    found = fake.contact_by_email(properties["email"])
    assert found is not None and found["id"] == body["id"]
    return found


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("action", ["create", "update", "upsert"])
def test_a_batch_with_one_bad_input_is_refused_whole_and_applies_nothing(
    fake: FakeHubSpot, version: str, action: str
) -> None:
    existing = add_contact(fake, {"email": "old@example.com", "firstname": "Old"})
    good: dict[str, Any] = {"properties": {"email": "ok@example.com", "firstname": "Ok"}}
    bad: dict[str, Any] = {"properties": {"email": "bad@", "firstname": "Bad"}}
    if action == "update":
        good = {"id": existing["id"], "properties": {"firstname": "New"}}
        bad = {"id": existing["id"], "properties": {"lifecyclestage": "shopper"}}
    elif action == "upsert":
        good = {"id": "ok@example.com", "idProperty": "email", "properties": {"firstname": "Ok"}}
        bad = {"id": "old@example.com", "idProperty": "email", "properties": {"phone": 7}}
    elif action == "create":
        good["associations"] = bad["associations"] = []
    before = fake.contacts()
    status, _, body = raw(fake, "POST", batch_path(version, action), {"inputs": [good, bad]})
    assert status == 400 and body["category"] == "VALIDATION_ERROR"
    assert "results" not in body and "numErrors" not in body
    named = {"create": "email", "update": "lifecyclestage", "upsert": "phone"}[action]
    assert body["errors"][0]["context"]["propertyName"] == [named]
    assert fake.contacts() == before  # the good input was not applied either


@pytest.mark.parametrize("version", VERSIONS)
def test_a_batch_create_of_an_existing_email_is_one_409_naming_the_contact(
    fake: FakeHubSpot, version: str
) -> None:
    existing = add_contact(fake, {"email": "ada@example.com"})
    inputs = [
        {"properties": {"email": "new@example.com"}, "associations": []},
        {"properties": {"email": "ADA@example.com"}, "associations": []},
    ]
    status, _, body = raw(fake, "POST", batch_path(version, "create"), {"inputs": inputs})
    assert status == 409 and body["category"] == "OBJECT_ALREADY_EXISTS"
    assert body["message"].endswith(f"Existing ID: {existing['id']}")
    assert fake.contact_by_email("new@example.com") is None


@pytest.mark.parametrize("version", VERSIONS)
def test_a_batch_create_traced_per_input_answers_each_input(
    fake: FakeHubSpot, version: str
) -> None:
    existing = add_contact(fake, {"email": "ada@example.com"})
    inputs = [
        {"properties": {"email": "new@example.com"}, "associations": [], "objectWriteTraceId": "a"},
        {"properties": {"email": "ada@example.com"}, "associations": [], "objectWriteTraceId": "b"},
        {"properties": {"email": "bad@"}, "associations": [], "objectWriteTraceId": "c"},
    ]
    status, _, body = raw(fake, "POST", batch_path(version, "create"), {"inputs": inputs})
    assert status == (201 if version == "2026-09" else 207) and body["numErrors"] == 2
    assert [(r["objectWriteTraceId"], r["properties"]["email"]) for r in body["results"]] == [
        ("a", "new@example.com")
    ]
    errors = {e["context"]["objectWriteTraceId"][0]: e for e in body["errors"]}
    assert errors["b"]["category"] == "OBJECT_ALREADY_EXISTS"
    assert errors["b"]["message"].endswith(f"Existing ID: {existing['id']}")
    assert errors["c"]["category"] == "VALIDATION_ERROR"
    assert errors["c"]["errors"][0]["context"]["propertyName"] == ["email"]
    assert fake.contact_by_email("new@example.com") is not None
    # Every input traced and all good: a plain 201.
    inputs = [
        {"properties": {"email": "x@example.com"}, "associations": [], "objectWriteTraceId": "x"}
    ]
    status, _, body = raw(fake, "POST", batch_path(version, "create"), {"inputs": inputs})
    assert status == 201 and "errors" not in body


def test_a_batch_create_traced_only_in_part_is_refused_whole(fake: FakeHubSpot) -> None:
    inputs = [
        {"properties": {"email": "new@example.com"}, "associations": [], "objectWriteTraceId": "a"},
        {"properties": {"email": "bad@"}, "associations": []},
    ]
    status, _, _ = raw(fake, "POST", batch_path("v3", "create"), {"inputs": inputs})
    assert status == 400 and fake.contacts() == []


def test_an_upsert_creates_then_updates(fake: FakeHubSpot) -> None:
    item = {"id": "ok@example.com", "idProperty": "email", "properties": {"firstname": "Ok"}}
    status, _, body = raw(fake, "POST", batch_path("v3", "upsert"), {"inputs": [item]})
    assert status == 200 and body["results"][0]["new"] is True
    item["properties"] = {"firstname": "Again"}
    status, _, body = raw(fake, "POST", batch_path("v3", "upsert"), {"inputs": [item]})
    assert status == 200 and body["results"][0]["new"] is False
    assert [c["properties"]["firstname"] for c in fake.contacts()] == ["Again"]


def test_a_refused_batch_undoes_the_inputs_before_the_bad_one(fake: FakeHubSpot) -> None:
    """Earlier inputs of a refused batch were written and then undone: the records, their
    unique emails and what search shows are as before the batch."""
    ada = add_contact(fake, {"email": "ada@example.com", "firstname": "Ada"})
    inputs = [
        {"id": ada["id"], "properties": {"email": "lovelace@example.com"}},
        {"id": ada["id"], "properties": {"total_revenue": "lots"}},
    ]
    status, _, _ = raw(fake, "POST", batch_path("v3", "update"), {"inputs": inputs})
    assert status == 400
    assert fake.contact_by_email("ada@example.com") == ada
    assert fake.contact_by_email("lovelace@example.com") is None
    status, _, _ = raw(
        fake,
        "POST",
        batch_path("v3", "create"),
        {"inputs": [{"properties": {"email": "lovelace@example.com"}, "associations": []}]},
    )
    assert status == 201


def test_batches_over_100_are_refused(fake: FakeHubSpot) -> None:
    inputs = [
        {"id": f"u{i}@example.com", "idProperty": "email", "properties": {}} for i in range(101)
    ]
    status, _, _ = raw(fake, "POST", "/crm/v3/objects/contacts/batch/upsert", {"inputs": inputs})
    assert status == 400 and fake.contacts() == []


def test_search_lags_behind_writes_like_hubspots_index() -> None:
    with FakeHubSpot(search_lag_s=0.3, search_rate_limit=None) as lagging:
        raw(
            lagging,
            "POST",
            "/crm/v3/objects/contacts",
            {"properties": {"email": "new@example.com"}},
        )
        query = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "email", "operator": "EQ", "value": "new@example.com"}
                    ]
                }
            ]
        }
        assert raw(lagging, "POST", "/crm/v3/objects/contacts/search", query)[2]["total"] == 0
        lagging.wait_for(
            lambda f: raw(f, "POST", "/crm/v3/objects/contacts/search", query)[2]["total"] == 1,
            timeout=5,
        )


def test_ticket_enums_and_required_properties_are_enforced(fake: FakeHubSpot) -> None:
    status, _, body = raw(
        fake,
        "POST",
        "/crm/v3/objects/tickets",
        {"properties": {"subject": "x", "hs_pipeline_stage": "1", "hs_ticket_category": "general"}},
    )
    assert status == 400 and body["errors"][0]["code"] == "INVALID_OPTION"
    status, _, body = raw(
        fake, "POST", "/crm/v3/objects/tickets", {"properties": {"subject": "no stage"}}
    )
    assert status == 400
    assert fake.tickets() == []


def test_stop_returns_promptly_while_a_slow_answer_is_pending(fake: FakeHubSpot) -> None:
    fake.set_faults(error_rate=1.0, kinds=["slow"], slow_seconds=30)

    def call() -> None:
        with pytest.raises(OSError):  # the fake hangs up as it stops
            raw(fake, "GET", "/crm/v3/objects/contacts")

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    fake.wait_for(lambda f: len(f.requests) == 1, timeout=5)
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    "prefix", ["/crm/v3/objects", "/crm/objects/2026-03", "/crm/objects/2026-09"]
)
def test_every_version_reads_and_writes_the_same_records(fake: FakeHubSpot, prefix: str) -> None:
    status, _, created = raw(
        fake, "POST", "/crm/objects/2026-09/contacts", {"properties": {"email": "a@example.com"}}
    )
    assert status == 201
    status, _, found = raw(fake, "GET", f"{prefix}/contacts/a@example.com?idProperty=email")
    assert status == 200 and found["id"] == created["id"]


def test_a_property_is_created_once_and_a_second_create_is_a_conflict(fake: FakeHubSpot) -> None:
    definition = {
        "name": "plan",
        "label": "Plan",
        "type": "string",
        "fieldType": "text",
        "groupName": "ticketinformation",
        "hasUniqueValue": True,
    }
    status, _, created = raw(fake, "POST", "/crm/properties/2026-09/tickets", definition)
    assert status == 201 and created["name"] == "plan" and created["hasUniqueValue"] is True
    status, _, again = raw(fake, "POST", "/crm/properties/2026-03/tickets", definition)
    assert status == 409 and again["category"] == "OBJECT_ALREADY_EXISTS"
    status, _, read = raw(fake, "GET", "/crm/v3/properties/tickets/plan")
    assert status == 200 and read["label"] == "Plan"


def test_a_ticket_stage_must_belong_to_its_pipeline(fake: FakeHubSpot) -> None:
    fake.add_pipeline("77", "Hosting", [("h1", "Open")])
    status, _, refused = raw(
        fake,
        "POST",
        "/crm/objects/2026-09/tickets",
        {"properties": {"subject": "x", "hs_pipeline": "0", "hs_pipeline_stage": "h1"}},
    )
    assert status == 400 and refused["category"] == "VALIDATION_ERROR"
    assert refused["errors"][0]["context"]["propertyName"] == ["hs_pipeline_stage"]
    status, _, ticket = raw(
        fake,
        "POST",
        "/crm/objects/2026-09/tickets",
        {"properties": {"subject": "x", "hs_pipeline": "77", "hs_pipeline_stage": "h1"}},
    )
    assert status == 201
    status, _, _ = raw(
        fake,
        "PATCH",
        f"/crm/objects/2026-09/tickets/{ticket['id']}",
        {"properties": {"hs_pipeline_stage": "2"}},
    )
    assert status == 400  # stage 2 is the default pipeline's, not Hosting's
    status, _, pipelines = raw(fake, "GET", "/crm/pipelines/2026-09/tickets")
    assert status == 200 and {p["id"] for p in pipelines["results"]} == {"0", "77"}


def test_an_association_is_created_with_201_and_string_ids(fake: FakeHubSpot) -> None:
    _, _, contact = raw(
        fake, "POST", "/crm/objects/2026-09/contacts", {"properties": {"email": "a@example.com"}}
    )
    _, _, ticket = raw(
        fake,
        "POST",
        "/crm/objects/2026-09/tickets",
        {"properties": {"subject": "x", "hs_pipeline_stage": "1"}},
    )
    spec = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 16}]
    status, _, answer = raw(
        fake,
        "PUT",
        f"/crm/objects/2026-09/tickets/{ticket['id']}/associations/contacts/{contact['id']}",
        spec,
    )
    assert status == 201
    assert answer["fromObjectId"] == ticket["id"] and answer["toObjectId"] == contact["id"]


def test_paging_cursors_are_opaque_and_a_foreign_one_is_refused(fake: FakeHubSpot) -> None:
    for i in range(3):
        raw(fake, "POST", "/crm/v3/objects/contacts", {"properties": {"email": f"{i}@ex.com"}})
    _, _, first = raw(fake, "GET", "/crm/objects/2026-09/contacts?limit=2")
    after = first["paging"]["next"]["after"]
    assert not after.isdigit()
    _, _, second = raw(fake, "GET", f"/crm/objects/2026-09/contacts?limit=2&after={after}")
    assert len(second["results"]) == 1 and "paging" not in second
    for foreign in ("NTI1Cg%3D%3D", "2", "%%%", "bm90IGEgbnVtYmVy"):
        status, _, body = raw(fake, "GET", f"/crm/objects/2026-09/contacts?after={foreign}")
        # NTI1Cg== is 525: a well-formed cursor past the end is an empty page, as HubSpot's.
        assert status == 400 or (foreign.startswith("NTI1") and body["results"] == [])


def test_every_answer_carries_the_rate_limit_headers(fake: FakeHubSpot) -> None:
    for path in ("/crm/objects/2026-09/contacts", "/crm/objects/2026-09/contacts/404"):
        _, headers, _ = raw(fake, "GET", path)
        for name in (
            "X-HubSpot-RateLimit-Max",
            "X-HubSpot-RateLimit-Remaining",
            "X-HubSpot-RateLimit-Interval-Milliseconds",
            "X-HubSpot-RateLimit-Daily",
            "X-HubSpot-RateLimit-Daily-Remaining",
        ):
            assert name in headers, (path, name)


def test_the_daily_limit_answers_429_naming_the_daily_policy(fake: FakeHubSpot) -> None:
    fake.set_daily_limit(2)
    statuses = [raw(fake, "GET", "/crm/objects/2026-09/contacts")[0] for _ in range(2)]
    status, headers, body = raw(fake, "GET", "/crm/objects/2026-09/contacts")
    assert statuses == [200, 200] and status == 429
    assert body["policyName"] == "DAILY" and body["errorType"] == "RATE_LIMIT"
    assert headers["X-HubSpot-RateLimit-Daily"] == "2"
    assert headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"


def test_a_changed_or_archived_email_is_found_by_its_current_value_only(
    fake: FakeHubSpot,
) -> None:
    _, _, contact = raw(
        fake, "POST", "/crm/objects/2026-09/contacts", {"properties": {"email": "old@example.com"}}
    )
    raw(
        fake,
        "PATCH",
        f"/crm/objects/2026-09/contacts/{contact['id']}",
        {"properties": {"email": "new@example.com"}},
    )
    assert fake.contact_by_email("old@example.com") is None
    assert fake.contact_by_email("NEW@example.com")["id"] == contact["id"]
    raw(fake, "DELETE", f"/crm/objects/2026-09/contacts/{contact['id']}")
    assert fake.contact_by_email("new@example.com") is None
    status, _, _ = raw(
        fake, "POST", "/crm/objects/2026-09/contacts", {"properties": {"email": "new@example.com"}}
    )
    assert status == 201  # the archived record no longer holds the email


def test_the_2026_09_visitor_body_needs_no_agent_context_but_older_versions_do(
    fake: FakeHubSpot,
) -> None:
    body = {"email": "a@example.com"}
    assert raw(fake, "POST", "/visitor-identification/2026-09/tokens/create", body)[0] == 200
    assert raw(fake, "POST", "/visitor-identification/v3/tokens/create", body)[0] == 400
    with_context = {**body, "hsCustomerAgentContext": {}}
    assert (
        raw(fake, "POST", "/visitor-identification/2026-03/tokens/create", with_context)[0] == 200
    )


def test_search_has_its_own_per_second_limit_and_orders_by_modification_time() -> None:
    with FakeHubSpot() as hubspot:
        for subject in ("a", "b", "c"):
            raw(
                hubspot,
                "POST",
                "/crm/v3/objects/tickets",
                {"properties": {"subject": subject, "hs_pipeline_stage": "1"}},
            )
        query = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "0"}
                    ]
                }
            ],
            "sorts": ["-hs_lastmodifieddate"],
        }
        statuses = [
            raw(hubspot, "POST", "/crm/v3/objects/tickets/search", query)[0] for _ in range(6)
        ]
        assert statuses[:4] == [200] * 4 and statuses[4:] == [429, 429]
        hubspot.wait_for(
            lambda f: len([t for t in f.search_requests() if t > time.monotonic() - 1.0]) == 0,
            timeout=3,
        )
        _, _, body = raw(hubspot, "POST", "/crm/v3/objects/tickets/search", query)
        stamps = [t["properties"]["hs_lastmodifieddate"] for t in body["results"]]
        assert body["total"] == 3 and stamps == sorted(stamps, reverse=True)
