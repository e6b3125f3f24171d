"""What the admin reads when HubSpot refuses a write: the property and why, in plain words.

HubSpot embeds its per-property results as JSON in a refusal's message
(``Property values were not valid: [{"isValid":false,...}]``); a parked delivery's reason
says them as ``property: why``. A 409 names the record already holding the value.
"""

from __future__ import annotations

import json

import pytest
from conftest import start_plugin
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from skypanel_hubspot_plugin import Ticket, User
from skypanel_hubspot_plugin.common.scrub import scrub
from skypanel_hubspot_plugin.common.secret import Secret
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.hubspot.errors import (
    BadRequest,
    Conflict,
    error_from_response,
    readable_results,
)
from skypanel_hubspot_plugin.hubspot.service import BatchError, HubSpotService
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot


def service(fake: FakeHubSpot) -> HubSpotService:
    return HubSpotService(Secret(FAKE_TOKEN), base_url=fake.base_url, timeout=(1.0, 1.0))


def enable(rt: Runtime) -> None:
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_ticket_enabled": True,
        }
    )


def test_a_refused_value_is_said_as_its_property_and_why(fake: FakeHubSpot) -> None:
    client = service(fake)
    contact = client.create_contact({"email": "ada@example.com"})
    with pytest.raises(BadRequest) as refused:
        client.update_contact(contact.id, {"total_revenue": "lots", "nope": "x"})
    assert refused.value.message == (
        "Property values were not valid: "
        "total_revenue: lots was not a valid number for total_revenue. [INVALID_DOUBLE]; "
        'nope: Property "nope" does not exist [PROPERTY_DOESNT_EXIST]'
    )


def test_a_refused_input_of_a_batch_is_said_plainly_too(fake: FakeHubSpot) -> None:
    ada, bob = service(fake).create_contacts(  # a traced create: HubSpot answers each input
        [{"email": "ada@example.com"}, {"email": "bob@example.com", "lifecyclestage": "boss"}]
    )
    assert not isinstance(ada, BatchError)
    assert isinstance(bob, BatchError)
    assert bob.message == (
        "Property values were not valid: "
        "lifecyclestage: boss was not one of the allowed options: [subscriber, lead, customer] "
        "[INVALID_OPTION]"
    )


def test_a_duplicate_email_names_the_contact_holding_it(fake: FakeHubSpot) -> None:
    client = service(fake)
    ada = client.create_contact({"email": "ada@example.com"})
    with pytest.raises(Conflict) as taken:
        client.create_contact({"email": "Ada@Example.com"})
    assert taken.value.existing_id == ada.id
    assert taken.value.category == "OBJECT_ALREADY_EXISTS"


def test_the_existing_id_is_read_from_the_details_when_the_message_lacks_it() -> None:
    body = {
        "status": "error",
        "message": "Contact already exists",
        "category": "OBJECT_ALREADY_EXISTS",
        "errors": [{"message": "A contact with email a@b.co already exists. Existing ID: 77"}],
    }
    error = error_from_response(409, json.dumps(body), None)
    assert isinstance(error, Conflict) and error.existing_id == "77"


def test_a_ticket_whose_priority_the_portal_dropped_is_parked_naming_it(  # type: ignore[no-untyped-def]
    pm, sqlite_engine: Engine, secret_key: str, fake: FakeHubSpot
) -> None:
    fake.set_property_options(
        "tickets",
        "hs_ticket_priority",
        [{"label": "Low", "value": "LOW"}, {"label": "Medium", "value": "MEDIUM"}],
    )
    rt = start_plugin(pm, sqlite_engine, secret_key, fake.base_url, run_worker=False)
    enable(rt)
    pm.hook.skypanel_on_ticket_created(
        ticket=Ticket(id="T-1", subject="Down", priority="high"),
        user=User(id="1", email="ada@example.com"),
        session=None,
    )
    worker = Worker(rt)
    while worker.run_once():
        pass
    (parked,) = rt.outbox.rows(DEAD)
    reason = parked.last_error or ""
    assert "hs_ticket_priority: HIGH was not one of the allowed options: [LOW, MEDIUM]" in reason
    assert "isValid" not in reason
    pm.hook.skypanel_shutdown()


# -- messages from outside ---------------------------------------------------------------------

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=20)
WHYS = st.text(min_size=1, max_size=60).filter(lambda t: t.strip() == t and t)


@given(st.lists(st.tuples(NAMES, WHYS), min_size=1, max_size=4))
def test_every_embedded_result_is_said_with_its_property(results: list[tuple[str, str]]) -> None:
    embedded = [
        {"isValid": False, "message": why, "error": "INVALID", "name": name}
        for name, why in results
    ]
    message = f"Property values were not valid: {json.dumps(embedded)}"
    said = readable_results(message)
    # Each result said as "name: why [CODE]", in order, nothing left of the JSON around them
    # (a why may itself say "isValid"); scrubbed of secrets like every text HubSpot sends.
    parts = "; ".join(f"{name}: {why} [INVALID]" for name, why in results)
    assert said == scrub(f"Property values were not valid: {parts}")


@given(st.text(max_size=200))
def test_any_other_message_is_left_as_it_is(message: str) -> None:
    said = readable_results(message)
    assert isinstance(said, str)
    if ": [" not in message:
        assert said == message
