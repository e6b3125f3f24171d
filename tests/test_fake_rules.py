"""The fake HubSpot's portal rules: from API version 2026-09 a write breaking a rule the
portal's admin set is refused with HubSpot's 400 naming the rule and the property; earlier
versions ignore the rules, as HubSpot's changelog says."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fake_hubspot import raw

from skypanel_hubspot_plugin.testing import FakeHubSpot

CONTACTS = {
    "2026-09": "/crm/objects/2026-09/contacts",
    "2026-03": "/crm/objects/2026-03/contacts",
    "v3": "/crm/v3/objects/contacts",
}
STAGES = ["subscriber", "lead", "customer"]


def create(fake: FakeHubSpot, props: dict[str, str], version: str = "2026-09") -> Any:
    return raw(fake, "POST", CONTACTS[version], {"properties": props})


def codes(body: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(e["code"], e["context"]["propertyName"]) for e in body.get("errors", [])]


def test_a_creation_form_requirement_refuses_a_create_without_the_property(
    fake: FakeHubSpot,
) -> None:
    fake.add_write_rule("contacts", "required_by_creation_form", "firstname")
    status, _, body = create(fake, {"email": "a@example.com"})
    assert status == 400 and body["category"] == "VALIDATION_ERROR"
    assert codes(body) == [("MISSING_REQUIRED_PROPERTY", ["firstname"])]
    assert body["errors"][0]["message"] == "A value for firstname must be provided"
    assert fake.contacts() == []
    status, _, created = create(fake, {"email": "a@example.com", "firstname": "Ada"})
    assert status == 201
    # A creation form binds creates only: an update leaving it out is fine.
    status, _, _ = raw(
        fake,
        "PATCH",
        f"{CONTACTS['2026-09']}/{created['id']}",
        {"properties": {"lastname": "Lovelace"}},
    )
    assert status == 200


def test_a_conditional_rule_names_the_property_and_its_trigger(fake: FakeHubSpot) -> None:
    fake.add_write_rule(
        "contacts", "conditionally_required", "company", when=("lifecyclestage", "customer")
    )
    status, _, body = create(fake, {"email": "a@example.com", "lifecyclestage": "customer"})
    assert status == 400
    assert codes(body) == [("MISSING_CONDITIONAL_REQUIRED_PROPERTY", ["company"])]
    assert body["errors"][0]["message"] == (
        "company is required because of a conditional property rule based on [lifecyclestage]"
    )
    status, _, lead = create(fake, {"email": "a@example.com", "lifecyclestage": "lead"})
    assert status == 201
    # An update that brings the record to the trigger value needs the property too.
    path = f"{CONTACTS['2026-09']}/{lead['id']}"
    status, _, body = raw(fake, "PATCH", path, {"properties": {"lifecyclestage": "customer"}})
    assert status == 400 and codes(body) == [("MISSING_CONDITIONAL_REQUIRED_PROPERTY", ["company"])]
    status, _, _ = raw(
        fake, "PATCH", path, {"properties": {"lifecyclestage": "customer", "company": "AE"}}
    )
    assert status == 200


@pytest.mark.parametrize("version", ["2026-03", "v3"])
def test_versions_before_2026_09_ignore_the_rules(fake: FakeHubSpot, version: str) -> None:
    fake.add_write_rule("contacts", "required", "phone")
    fake.add_write_rule("contacts", "required_by_creation_form", "firstname")
    status, _, _ = create(fake, {"email": "a@example.com"}, version)
    assert status == 201


def test_a_batch_with_a_record_breaking_a_rule_is_refused_naming_it(fake: FakeHubSpot) -> None:
    fake.add_write_rule("contacts", "required", "lastname")
    status, _, body = raw(
        fake,
        "POST",
        f"{CONTACTS['2026-09']}/batch/upsert",
        {
            "inputs": [
                {"id": "a@example.com", "idProperty": "email", "properties": {"lastname": "A"}},
                {"id": "b@example.com", "idProperty": "email", "properties": {}},
            ]
        },
    )
    assert status == 400  # a batch upsert is refused whole, as HubSpot's
    refused = [body]
    assert any(("MISSING_REQUIRED_PROPERTY", ["lastname"]) in codes(e) for e in refused), body
    assert fake.contact_by_email("b@example.com") is None


def test_removing_the_rule_lets_the_write_through(fake: FakeHubSpot) -> None:
    fake.add_write_rule("contacts", "required", "phone")
    assert create(fake, {"email": "a@example.com"})[0] == 400
    assert fake.remove_write_rules("contacts", "phone") == 1
    assert fake.write_rules() == []
    assert create(fake, {"email": "a@example.com"})[0] == 201


def test_a_rule_must_name_real_properties_and_a_known_kind(fake: FakeHubSpot) -> None:
    with pytest.raises(ValueError, match="no property"):
        fake.add_write_rule("contacts", "required", "no_such_property")
    with pytest.raises(ValueError, match="kind"):
        fake.add_write_rule("contacts", "mandatory", "phone")
    with pytest.raises(ValueError, match="when"):
        fake.add_write_rule("contacts", "conditionally_required", "phone")
    with pytest.raises(ValueError, match="when"):
        fake.add_write_rule("contacts", "required", "phone", when=("company", "x"))


def test_reset_forgets_the_rules(fake: FakeHubSpot) -> None:
    fake.add_write_rule("tickets", "required_by_creation_form", "content")
    fake.reset()
    assert fake.write_rules() == []


optional_text = st.one_of(st.none(), st.just(""), st.sampled_from(["Ada", "AE", "555"]))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    kind=st.sampled_from(["required", "conditionally_required", "required_by_creation_form"]),
    prop=st.sampled_from(["firstname", "company", "phone"]),
    stage=st.sampled_from(STAGES),
    values=st.fixed_dictionaries(
        {"firstname": optional_text, "company": optional_text, "phone": optional_text}
    ),
    version=st.sampled_from(list(CONTACTS)),
)
def test_a_create_is_refused_exactly_when_it_breaks_a_rule(
    fake: FakeHubSpot,
    kind: str,
    prop: str,
    stage: str,
    values: dict[str, str | None],
    version: str,
) -> None:
    fake.reset()
    when = ("lifecyclestage", "customer") if kind == "conditionally_required" else None
    fake.add_write_rule("contacts", kind, prop, when=when)
    props = {"email": "x@example.com", "lifecyclestage": stage}
    props.update({k: v for k, v in values.items() if v is not None})
    status, _, body = create(fake, props, version)
    triggered = when is None or stage == "customer"
    broken = version == "2026-09" and triggered and not values[prop]
    if broken:
        assert status == 400, body
        code = "MISSING_CONDITIONAL_REQUIRED_PROPERTY" if when else "MISSING_REQUIRED_PROPERTY"
        assert codes(body) == [(code, [prop])]
    else:
        assert status == 201, body
