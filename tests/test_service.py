"""The HubSpot service against the fake HubSpot, through the real hubspot-api-client."""

from __future__ import annotations

import pytest

from skypanel_hubspot_plugin.common.secret import Secret
from skypanel_hubspot_plugin.hubspot.errors import (
    BadRequest,
    Conflict,
    InvalidToken,
    MissingScopes,
    NotFound,
    RateLimited,
    ServerError,
    Unreachable,
)
from skypanel_hubspot_plugin.hubspot.service import BatchError, CrmObject, HubSpotService
from skypanel_hubspot_plugin.testing import FAKE_TOKEN, FakeHubSpot


@pytest.fixture
def service(fake: FakeHubSpot) -> HubSpotService:
    return HubSpotService(Secret(FAKE_TOKEN), base_url=fake.base_url, timeout=(1.0, 1.0))


def test_contacts_are_created_found_by_email_and_updated(service: HubSpotService) -> None:
    created = service.create_contact({"email": "ada@example.com", "firstname": "Ada"})
    found = service.get_contact_by_email("ada@example.com")
    assert found is not None and found.id == created.id
    updated = service.update_contact(created.id, {"company": "Analytical Engines"})
    assert updated.properties["company"] == "Analytical Engines"
    assert service.get_contact_by_email("nobody@example.com") is None


def test_a_duplicate_email_reports_the_existing_contact(service: HubSpotService) -> None:
    first = service.create_contact({"email": "ada@example.com"})
    with pytest.raises(Conflict) as raised:
        service.create_contact({"email": "ADA@example.com"})
    assert raised.value.existing_id == first.id and raised.value.status == 409


def test_upserts_go_in_batches_of_100_and_update_by_email(
    service: HubSpotService, fake: FakeHubSpot
) -> None:
    service.create_contact({"email": "user7@example.com", "firstname": "Old"})
    contacts = [{"email": f"user{i}@example.com", "firstname": f"User {i}"} for i in range(250)]
    result = service.upsert_contacts(contacts)
    batches = [r for r in fake.requests if r.path.endswith("/contacts/batch/upsert")]
    assert [len(r.body["inputs"]) for r in batches] == [100, 100, 50]
    assert len(result.results) == 250 and not result.errors
    assert len(fake.contacts()) == 250
    assert fake.contact_by_email("user7@example.com")["properties"]["firstname"] == "User 7"


def test_one_bad_record_refuses_an_upsert_batch_whole(
    service: HubSpotService, fake: FakeHubSpot
) -> None:
    with pytest.raises(BadRequest) as raised:
        service.upsert_contacts(
            [{"email": "good@example.com"}, {"email": "bad@example.com", "no_such_property": "x"}]
        )
    assert "no_such_property" in raised.value.message
    assert fake.contacts() == []  # HubSpot applied none of it


def test_a_batch_create_answers_each_contact_in_input_order(
    service: HubSpotService, fake: FakeHubSpot
) -> None:
    ada = service.create_contact({"email": "ada@example.com"})
    outcomes = service.create_contacts(
        [
            {"email": "good@example.com"},
            {"email": "ADA@example.com", "firstname": "Ada"},
            {"email": "bad@example.com", "lifecyclestage": "shopper"},
        ]
    )
    good, taken, bad = outcomes
    assert isinstance(good, CrmObject) and good.properties["email"] == "good@example.com"
    assert isinstance(taken, BatchError) and taken.existing_id == ada.id
    assert isinstance(bad, BatchError) and bad.category == "VALIDATION_ERROR"
    assert "lifecyclestage" in bad.message
    assert sorted(c["properties"]["email"] for c in fake.contacts()) == [
        "ada@example.com",
        "good@example.com",
    ]
    (request,) = [r for r in fake.requests if r.path.endswith("/contacts/batch/create")]
    assert [i["objectWriteTraceId"] for i in request.body["inputs"]] == ["0", "1", "2"]


def test_a_ticket_is_created_in_the_default_pipeline_and_tied_to_its_contact(
    service: HubSpotService, fake: FakeHubSpot
) -> None:
    contact = service.create_contact({"email": "ada@example.com"})
    ticket = service.create_ticket(
        {
            "subject": "Server down",
            "content": "Help",
            "hs_ticket_priority": "HIGH",
            "hs_ticket_category": "PRODUCT_ISSUE",
        },
        contact_id=contact.id,
    )
    assert ticket.properties["hs_pipeline"] == "0"
    assert ticket.properties["hs_pipeline_stage"] == "1"
    assert fake.associations("tickets", ticket.id, "contacts") == [contact.id]
    assert fake.associations("contacts", contact.id, "tickets") == [ticket.id]
    updated = service.update_ticket(ticket.id, {"hs_pipeline_stage": "2"})
    assert updated.properties["hs_pipeline_stage"] == "2"


def test_an_association_can_be_added_later(service: HubSpotService, fake: FakeHubSpot) -> None:
    contact = service.create_contact({"email": "ada@example.com"})
    ticket = service.create_ticket({"subject": "Later"})
    service.associate_ticket_with_contact(ticket.id, contact.id)
    assert fake.associations("tickets", ticket.id, "contacts") == [contact.id]


def test_the_seeds_lower_case_priority_is_refused_by_hubspot(service: HubSpotService) -> None:
    with pytest.raises(BadRequest) as raised:
        service.create_ticket({"subject": "x", "hs_ticket_priority": "medium"})
    assert raised.value.status == 400


def test_the_portals_real_ticket_options_can_be_read(
    service: HubSpotService, fake: FakeHubSpot
) -> None:
    values = [v for v, _ in service.property_options("tickets", "hs_ticket_category")]
    assert values == ["PRODUCT_ISSUE", "BILLING_ISSUE", "FEATURE_REQUEST", "GENERAL_INQUIRY"]
    fake.set_property_options(
        "tickets", "hs_ticket_category", [{"label": "Hosting", "value": "HOSTING"}]
    )
    assert service.property_options("tickets", "hs_ticket_category") == [("HOSTING", "Hosting")]


def test_account_details_name_the_portal_and_its_region(fake: FakeHubSpot) -> None:
    with FakeHubSpot(portal_id=424242, region="eu1") as eu:
        details = HubSpotService(Secret(FAKE_TOKEN), base_url=eu.base_url).account_details()
    assert (details.portal_id, details.region) == ("424242", "eu1")


def test_hubspots_failures_become_our_errors(fake: FakeHubSpot) -> None:
    bad = HubSpotService(
        Secret("pat-na1-00000000-0000-4000-8000-000000000000"), base_url=fake.base_url
    )
    with pytest.raises(InvalidToken):
        bad.list_contacts(limit=1)
    fake.add_token("read-only-token", ["crm.objects.contacts.read"])
    read_only = HubSpotService(Secret("read-only-token"), base_url=fake.base_url)
    with pytest.raises(MissingScopes) as raised:
        read_only.create_contact({"email": "x@example.com"})
    assert raised.value.scopes == ["crm.objects.contacts.write"]
    service = HubSpotService(Secret(FAKE_TOKEN), base_url=fake.base_url)
    fake.fail_next(503)
    with pytest.raises(ServerError) as server:
        service.list_contacts()
    assert server.value.transient
    with pytest.raises(NotFound):
        service.update_contact("999999", {"firstname": "x"})


def test_rate_limits_carry_hubspots_retry_after() -> None:
    with FakeHubSpot(rate_limit=2) as limited:
        service = HubSpotService(Secret(FAKE_TOKEN), base_url=limited.base_url)
        service.list_contacts()
        service.list_contacts()
        with pytest.raises(RateLimited) as raised:
            service.list_contacts()
    assert raised.value.retry_after is not None and raised.value.retry_after > 0
    assert raised.value.transient


def test_a_slow_hubspot_times_out_instead_of_hanging(fake: FakeHubSpot) -> None:
    fake.set_faults(error_rate=1.0, kinds=["slow"], slow_seconds=3.0)
    service = HubSpotService(Secret(FAKE_TOKEN), base_url=fake.base_url, timeout=(0.5, 0.3))
    with pytest.raises(Unreachable) as raised:
        service.create_contact({"email": "slow@example.com"})
    assert raised.value.transient
    fake.set_faults()
    # HubSpot did the work although we did not hear back: the reason idempotency matters.
    fake.wait_for(lambda f: f.contact_by_email("slow@example.com") is not None, timeout=5)


def test_an_unreachable_hubspot_is_reported_as_such() -> None:
    service = HubSpotService(Secret(FAKE_TOKEN), base_url="http://127.0.0.1:9", timeout=(0.5, 0.5))
    with pytest.raises(Unreachable, match="could not be reached"):
        service.list_contacts()


def test_the_token_is_in_no_error_or_repr(fake: FakeHubSpot) -> None:
    token = "pat-na1-99999999-0000-4000-8000-000000000000"
    service = HubSpotService(Secret(token), base_url=fake.base_url)
    with pytest.raises(InvalidToken) as raised:
        service.create_contact({"email": "a@example.com"})
    assert token not in str(raised.value) and token not in repr(raised.value)
    assert token not in repr(service)
    assert all(token not in repr(r) for r in fake.requests)


def test_gdpr_delete_removes_the_contact(service: HubSpotService, fake: FakeHubSpot) -> None:
    contact = service.create_contact({"email": "forget-me@example.com"})
    service.gdpr_delete_contact(contact.id)
    assert fake.contact_by_email("forget-me@example.com") is None
