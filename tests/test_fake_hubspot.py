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


def test_a_partly_bad_batch_is_a_207_that_still_applies_the_good_inputs(fake: FakeHubSpot) -> None:
    status, _, body = raw(
        fake,
        "POST",
        "/crm/v3/objects/contacts/batch/upsert",
        {
            "inputs": [
                {"id": "ok@example.com", "idProperty": "email", "properties": {"firstname": "Ok"}},
                {"id": "bad@", "idProperty": "email", "properties": {}},
            ]
        },
    )
    assert status == 207 and body["numErrors"] == 1
    assert [r["properties"]["email"] for r in body["results"]] == ["ok@example.com"]
    assert body["results"][0]["new"] is True
    status, _, body = raw(
        fake,
        "POST",
        "/crm/v3/objects/contacts/batch/upsert",
        {
            "inputs": [
                {
                    "id": "ok@example.com",
                    "idProperty": "email",
                    "properties": {"firstname": "Again"},
                }
            ]
        },
    )
    assert status == 200 and body["results"][0]["new"] is False
    assert len(fake.contacts()) == 1


def test_batches_over_100_are_refused(fake: FakeHubSpot) -> None:
    inputs = [
        {"id": f"u{i}@example.com", "idProperty": "email", "properties": {}} for i in range(101)
    ]
    status, _, _ = raw(fake, "POST", "/crm/v3/objects/contacts/batch/upsert", {"inputs": inputs})
    assert status == 400 and fake.contacts() == []


def test_search_lags_behind_writes_like_hubspots_index() -> None:
    with FakeHubSpot(search_lag_s=0.3) as lagging:
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
