"""A merge event moves only the links of the tickets it names, whatever ids a validly
signed event carries (ids of other panel tickets, non-ASCII digits, huge numbers)."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import start_plugin
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from test_webhooks import BASE, SECRET, PanelTickets, post
from test_webhooks import panel_tickets as panel_tickets

from skypanel_hubspot_plugin.admin.fastapi_adapter import public_router
from skypanel_hubspot_plugin.delivery.outbox_table import ObjectLink
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.settings.model import parse_poll_interval
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot
from skypanel_hubspot_plugin.webhooks.table import TicketAlias

_numbers = itertools.count(1)


@pytest.fixture
def rt(
    pm, engine: Engine, secret_key: str, fake: FakeHubSpot, panel_tickets: PanelTickets
) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    """A started plugin taking webhooks (no worker: links are written here by hand)."""
    runtime = start_plugin(
        pm,
        engine,
        secret_key,
        fake.base_url,
        plugin_manager=pm,
        public_base_url=BASE,
        run_worker=False,
    )
    runtime.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_ticket_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_app_secret": SECRET,
        }
    )
    yield runtime
    pm.hook.skypanel_shutdown()


@pytest.fixture
def client(pm, rt: Runtime) -> TestClient:  # type: ignore[no-untyped-def]
    app = FastAPI()
    app.include_router(public_router(pm))
    return TestClient(app)


def links(rt: Runtime) -> tuple[dict[str, str], dict[str, str]]:
    """Every panel ticket's HubSpot id, and every alias's panel ticket."""
    with Session(rt.outbox.engine) as session:
        linked = session.exec(
            select(ObjectLink.panel_id, ObjectLink.hubspot_id).where(
                col(ObjectLink.kind) == "ticket"
            )
        ).all()
        aliases = session.exec(select(TicketAlias.hubspot_id, TicketAlias.panel_id)).all()
    return dict(linked), dict(aliases)


def seed(rt: Runtime, world: int) -> tuple[list[str], dict[str, str]]:
    """Three panel tickets of this example, linked to fresh HubSpot ids, and two of them
    holding an alias each (from earlier merges); returns their ids and the ids' owners."""
    base = 10_000_000 + world * 100
    owners = {
        str(base + 1): f"W{world}-A",
        str(base + 2): f"W{world}-B",
        str(base + 3): f"W{world}-C",
    }
    with Session(rt.outbox.engine) as session:
        for hubspot_id, panel_id in owners.items():
            session.add(ObjectLink(kind="ticket", panel_id=panel_id, hubspot_id=hubspot_id))
        session.add(TicketAlias(hubspot_id=str(base + 11), panel_id=f"W{world}-A"))
        session.add(TicketAlias(hubspot_id=str(base + 12), panel_id=f"W{world}-B"))
        session.commit()
    return [*owners, str(base + 11), str(base + 12)], owners


def merge(event_id: int, object_id: Any, **fields: Any) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 9,
        "portalId": FAKE_PORTAL_ID,
        "appId": 1,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": "object.merge",
        "objectTypeId": "0-5",
        "attemptNumber": 0,
        "objectId": object_id,
        "changeSource": "CRM_UI",
        **fields,
    }


def _digits(value: Any) -> str | None:
    """The id HubSpot means, when ``value`` is one (ASCII digits, as text or a number)."""
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if text.isascii() and text.isdigit() and len(text) <= 30:
        return str(int(text))
    return None


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_merge_moves_only_the_links_of_the_tickets_it_names(
    rt: Runtime, client: TestClient, data: st.DataObject
) -> None:
    world = next(_numbers)
    known, _ = seed(rt, world)
    unrelated = str(20_000_000 + world)
    ids = (
        st.sampled_from([*known, unrelated])
        | st.integers(0, 10**40)
        | st.sampled_from(["¹²", "٣٤", "\uff11\uff12", "-5", "7.0", ""])
    )
    as_json = ids.flatmap(
        lambda i: st.sampled_from([i, str(i)]) if isinstance(i, int) else st.just(i)
    )
    object_id = data.draw(as_json | st.sampled_from(known).map(int))
    fields: dict[str, Any] = {}
    if data.draw(st.booleans()):
        fields["primaryObjectId"] = data.draw(as_json)
    fields["mergedObjectIds"] = data.draw(st.lists(as_json, max_size=3))
    if data.draw(st.booleans()):
        fields["newObjectId"] = data.draw(as_json)
    before_links, before_aliases = links(rt)
    response = post(client, None, raw=json.dumps([merge(world, object_id, **fields)]).encode())
    after_links, after_aliases = links(rt)

    values = [object_id, *fields.values(), *fields["mergedObjectIds"]]
    values = [v for v in values if not isinstance(v, list)]
    if any(_digits(v) is None for v in values):
        assert response.status_code == 400, response.text  # non-ASCII digits, signs, huge
        assert (after_links, after_aliases) == (before_links, before_aliases)
        return
    assert response.status_code == 200, response.text
    primary = fields.get("primaryObjectId", object_id)
    named = {_digits(primary), *(_digits(i) for i in fields["mergedObjectIds"])}
    if "newObjectId" in fields:
        named.add(_digits(fields["newObjectId"]))
    for panel_id, hubspot_id in after_links.items():
        before = before_links[panel_id]
        assert hubspot_id == before or (before in named and hubspot_id in named), (
            panel_id,
            before,
            hubspot_id,
            named,
        )
    for hubspot_id, panel_id in before_aliases.items():
        assert after_aliases[hubspot_id] == panel_id  # nobody's alias moves
    for hubspot_id in after_aliases:
        if hubspot_id not in before_aliases:
            assert hubspot_id in named  # only a named id gains an alias
    assert set(after_links) == set(before_links)


def test_a_merge_naming_only_unrelated_tickets_leaves_a_linked_object_id_alone(
    rt: Runtime, client: TestClient, panel_tickets: PanelTickets
) -> None:
    """The ``objectId`` of the event is a panel ticket's, but the merge names other tickets."""
    _, owners = seed(rt, 0)
    linked = next(iter(owners))
    event = merge(1, int(linked), primaryObjectId=555, mergedObjectIds=[556], newObjectId=557)
    assert post(client, [event]).json() == {"success": True, "handled": 0, "ignored": 1}
    assert links(rt)[0][owners[linked]] == linked
    assert panel_tickets.calls == []


@pytest.mark.parametrize("text", ["¹²", "٣٠", "\uff11\uff12\uff10"])
def test_the_poll_interval_setting_takes_ascii_digits_only(text: str) -> None:
    with pytest.raises(ValueError, match="whole number of seconds"):
        parse_poll_interval(text)
