"""Property maps: panel fields reach the HubSpot properties an admin chose, checked against the portal.

An admin maps built-in and ``extra`` user fields to contact properties (custom ones
included) and extra ticket fields to ticket properties. A map is saved only when the
portal's property list says it can work; otherwise 422 names each bad entry and nothing
changes. Events and the backfill then carry the mapped values to HubSpot.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import start_plugin
from fastapi import FastAPI, Header, HTTPException
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session, select

from skypanel_hubspot_plugin import Ticket, User
from skypanel_hubspot_plugin.admin.fastapi_adapter import admin_router
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, DELIVERED, OutboxRow
from skypanel_hubspot_plugin.hubspot.properties import PropertyInfo
from skypanel_hubspot_plugin.mapping.contact_fields import user_contact_properties
from skypanel_hubspot_plugin.mapping.property_cache import CACHE, PropertyCache
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.settings import schema as keys
from skypanel_hubspot_plugin.settings.model import HubSpotSettings
from skypanel_hubspot_plugin.settings.property_map import DEFAULT_CONTACT_MAP, PropertyMap
from skypanel_hubspot_plugin.settings.table import Setting
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot

PREFIX = "/api/admin/settings/hubspot"
MAP_ROUTE = f"{PREFIX}/property-map"
CONTACT_MAP = keys.CONTACT_PROPERTY_MAP
TICKET_MAP = keys.TICKET_PROPERTY_MAP
ADMIN = {"X-Role": "admin", "X-CSRF-Token": "good"}
CUSTOMER = {"X-Role": "customer", "X-CSRF-Token": "good"}
SEED_MAP = {
    "email": "email",
    "first_name": "firstname",
    "last_name": "lastname",
    "company": "company",
    "phone": "phone",
}
CUSTOM_MAP = {**SEED_MAP, "plan": "plan_tier", "server_count": "num_servers"}
ADA = User(
    id="7",
    email="ada@example.com",
    first_name="Ada",
    company="Analytical Engines",
    extra={"plan": "pro", "server_count": "3", "not_mapped": "x"},
)


def admin_only(x_role: str | None = Header(default=None)) -> None:
    if x_role is None:
        raise HTTPException(401, "log in first")
    if x_role != "admin":
        raise HTTPException(403, "admins only")


def csrf_checked(x_csrf_token: str | None = Header(default=None)) -> None:
    if x_csrf_token != "good":
        raise HTTPException(403, "CSRF check failed")


PANEL_USERS = [
    User(id=f"{i:03d}", email=f"user{i}@example.com", extra={"plan": "free" if i % 2 else "pro"})
    for i in range(30)
]


def list_users(after: str | None, limit: int) -> list[User]:
    later = [u for u in PANEL_USERS if after is None or u.id > after]
    return later[:limit]


@pytest.fixture(autouse=True)
def _fresh_property_cache() -> Iterator[None]:
    CACHE.clear()
    yield
    CACHE.clear()


@pytest.fixture
def portal(fake: FakeHubSpot) -> FakeHubSpot:
    """The fake portal with the custom properties a panel admin created in HubSpot."""
    fake.add_property("contacts", "plan_tier", label="Plan tier")
    fake.add_property("contacts", "num_servers", type="number", field_type="number")
    fake.add_property(
        "contacts",
        "support_level",
        type="enumeration",
        field_type="select",
        options=["basic", "vip"],
    )
    fake.add_property("tickets", "panel_server", label="Server")
    return fake


@pytest.fixture
def rt(pm, sqlite_engine: Engine, secret_key: str, portal: FakeHubSpot) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    rt = start_plugin(pm, sqlite_engine, secret_key, portal.base_url, list_users=list_users)
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_ticket_enabled": True,
        }
    )
    yield rt
    pm.hook.skypanel_shutdown()


@pytest.fixture
def client(pm, rt: Runtime) -> TestClient:  # type: ignore[no-untyped-def]
    app = FastAPI()
    app.include_router(admin_router(pm, require_admin=admin_only, require_csrf=csrf_checked))
    return TestClient(app)


def setting_rows(rt: Runtime) -> list[tuple[str, str | None]]:
    with Session(rt.store.engine) as session:
        return sorted((s.key, s.value) for s in session.exec(select(Setting)))


def property_requests(fake: FakeHubSpot) -> int:
    return sum(
        1 for r in fake.requests if r.path.startswith(("/crm/properties/", "/crm/v3/properties/"))
    )


def outbox(rt: Runtime) -> list[OutboxRow]:
    with Session(rt.store.engine) as session:
        return list(session.exec(select(OutboxRow).order_by(OutboxRow.id)))


def save_map(client: TestClient, body: dict[str, Any]) -> Any:
    return client.post(MAP_ROUTE, headers=ADMIN, json=body)


# -- defaults --------------------------------------------------------------------------------


def test_the_default_mapping_is_the_seeds(client: TestClient, rt: Runtime) -> None:
    assert dict(HubSpotSettings().contact_property_map) == SEED_MAP
    assert dict(rt.settings().contact_property_map) == SEED_MAP
    assert dict(rt.settings().ticket_property_map) == {}
    assert json.loads(dict(setting_rows(rt))[CONTACT_MAP] or "") == SEED_MAP
    assert user_contact_properties(ADA) == {
        "email": "ada@example.com",
        "firstname": "Ada",
        "company": "Analytical Engines",
    }
    form = client.get(MAP_ROUTE, headers=ADMIN).json()
    assert form["maps"] == {CONTACT_MAP: SEED_MAP, TICKET_MAP: {}}
    assert form["defaults"] == form["maps"]
    assert form["panelFields"]["user"] == ["email", "first_name", "last_name", "company", "phone"]
    fields = {f["key"]: f for f in client.get(f"{PREFIX}/settings", headers=ADMIN).json()["fields"]}
    assert fields[CONTACT_MAP]["type"] == fields[TICKET_MAP]["type"] == "mapping"
    assert json.loads(fields[CONTACT_MAP]["default"]) == SEED_MAP


# -- mapped values reach HubSpot ---------------------------------------------------------------


def test_an_extra_field_reaches_its_custom_property_through_the_hooks(
    pm, client: TestClient, rt: Runtime, portal: FakeHubSpot
) -> None:  # type: ignore[no-untyped-def]
    saved = save_map(client, {CONTACT_MAP: CUSTOM_MAP})
    assert saved.status_code == 200, saved.text
    assert saved.json()["maps"][CONTACT_MAP] == CUSTOM_MAP
    assert saved.json()["notes"] == {
        f"{CONTACT_MAP}.server_count": "property 'num_servers' is a number, not text — "
        "panel values must be numbers, such as 12 or 3.5"
    }
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    portal.wait_for(lambda f: f.contact_by_email("ada@example.com") is not None)
    props = portal.contact_by_email("ada@example.com")["properties"]  # type: ignore[index]
    assert (props["plan_tier"], props["num_servers"], props["firstname"]) == ("pro", "3", "Ada")
    assert "not_mapped" not in props

    # An update sends the changed fields' mapped properties, and only those.
    changed = User(id="7", email="ada@example.com", first_name="Ada", extra={"plan": "business"})
    pm.hook.skypanel_on_user_updated(user=changed, changed=frozenset({"plan"}), session=None)
    portal.wait_for(
        lambda f: f.contact_by_email("ada@example.com")["properties"]["plan_tier"] == "business"  # type: ignore[index]
    )
    (update,) = [r for r in portal.requests if r.path.endswith("/contacts/batch/update")]
    assert [i["properties"] for i in update.body["inputs"]] == [{"plan_tier": "business"}]


def test_the_backfill_sends_mapped_extra_fields(
    client: TestClient, rt: Runtime, portal: FakeHubSpot
) -> None:
    assert (
        save_map(client, {CONTACT_MAP: {"email": "email", "plan": "plan_tier"}}).status_code == 200
    )
    assert client.post(f"{PREFIX}/backfill", headers=ADMIN).status_code == 202
    portal.wait_for(lambda f: len(f.contacts()) == len(PANEL_USERS), timeout=30)
    plans = {c["properties"]["email"]: c["properties"].get("plan_tier") for c in portal.contacts()}
    assert plans["user0@example.com"] == "pro" and plans["user1@example.com"] == "free"
    assert all(c["properties"].get("firstname") is None for c in portal.contacts())


def test_an_extra_ticket_field_reaches_its_ticket_property(
    pm, client: TestClient, rt: Runtime, portal: FakeHubSpot
) -> None:  # type: ignore[no-untyped-def]
    assert save_map(client, {TICKET_MAP: {"server": "panel_server"}}).status_code == 200
    ticket = Ticket(id="T-1", subject="Disk full", extra={"server": "vps-12"})
    pm.hook.skypanel_on_ticket_created(ticket=ticket, user=ADA, session=None)
    portal.wait_for(lambda f: len(f.tickets()) == 1)
    assert portal.tickets()[0]["properties"]["panel_server"] == "vps-12"
    moved = Ticket(id="T-1", subject="Disk full", extra={"server": "vps-13"})
    pm.hook.skypanel_on_ticket_updated(ticket=moved, changed=frozenset({"server"}), session=None)
    portal.wait_for(lambda f: f.tickets()[0]["properties"]["panel_server"] == "vps-13")


def test_a_value_hubspot_refuses_parks_that_delivery_naming_the_property(
    pm, client: TestClient, rt: Runtime, portal: FakeHubSpot
) -> None:  # type: ignore[no-untyped-def]
    assert save_map(client, {CONTACT_MAP: CUSTOM_MAP}).status_code == 200
    odd = User(id="8", email="odd@example.com", extra={"server_count": "lots"})
    pm.hook.skypanel_on_user_created(user=odd, session=None)
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    portal.wait_for(lambda f: f.contact_by_email("ada@example.com") is not None)
    portal.wait_for(lambda f: {r.status for r in outbox(rt)} == {DEAD, DELIVERED})
    (parked,) = [r for r in outbox(rt) if r.status == DEAD]
    assert parked.entity == "user:8" and "num_servers" in (parked.last_error or "")


def test_a_bad_mapped_value_is_parked_before_sending_naming_the_property(
    pm, client: TestClient, rt: Runtime, portal: FakeHubSpot
) -> None:  # type: ignore[no-untyped-def]
    assert save_map(client, {CONTACT_MAP: CUSTOM_MAP}).status_code == 200
    bell = User(id="9", email="bell@example.com", extra={"plan": "pro\x07"})
    pm.hook.skypanel_on_user_created(user=bell, session=None)
    pm.hook.skypanel_on_user_created(user=ADA, session=None)
    portal.wait_for(lambda f: f.contact_by_email("ada@example.com") is not None)
    parked = [r for r in outbox(rt) if r.status == DEAD]
    assert len(parked) == 1 and (parked[0].last_error or "").startswith("plan_tier:")
    assert portal.contact_by_email("bell@example.com") is None


# -- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (("plan", "plan_tier_x"), "HubSpot has no contact property 'plan_tier_x'"),
        (("joined", "createdate"), "property 'createdate' is read-only"),
        (
            ("first_name", "num_servers"),
            "property 'num_servers' is a number, not text — the panel's first_name is text",
        ),
        (
            ("company", "support_level"),
            "property 'support_level' is a dropdown (enumeration), not text — "
            "the panel's company is text",
        ),
    ],
)
def test_a_map_the_portal_cannot_take_is_422_naming_the_entry_and_saves_nothing(
    client: TestClient, rt: Runtime, portal: FakeHubSpot, entry: tuple[str, str], message: str
) -> None:
    before = setting_rows(rt)
    field, prop = entry
    response = save_map(
        client, {CONTACT_MAP: {**SEED_MAP, field: prop}, TICKET_MAP: {"server": "panel_server"}}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["success"] is False and body["message"] == "Invalid property map"
    assert body["details"] == {f"{CONTACT_MAP}.{field}": message}
    assert setting_rows(rt) == before  # the good ticket map was not saved either
    # The settings form's save runs the same check, naming the setting.
    form = client.post(
        f"{PREFIX}/settings",
        headers=ADMIN,
        json={CONTACT_MAP: json.dumps({**SEED_MAP, field: prop}), "hubspot_chat_enabled": True},
    )
    assert form.status_code == 422
    assert form.json()["details"] == {CONTACT_MAP: f"{field}: {message}"}
    assert setting_rows(rt) == before


@pytest.mark.parametrize(
    ("body", "details"),
    [
        (
            {CONTACT_MAP: {"first_name": "firstname"}},
            {f"{CONTACT_MAP}.email": "must map to the email property: contacts are matched by it"},
        ),
        (
            {CONTACT_MAP: {**SEED_MAP, "nickname": "firstname"}},
            {
                f"{CONTACT_MAP}.nickname": "property 'firstname' is already filled from "
                "first_name; each property takes one panel field"
            },
        ),
        (
            {TICKET_MAP: {"subject": "panel_server"}},
            {
                f"{TICKET_MAP}.subject": "is sent by the plugin itself; "
                "map only the ticket's extra fields here"
            },
        ),
        (
            {TICKET_MAP: {"server": "hs_pipeline_stage"}},
            {
                f"{TICKET_MAP}.server": "property 'hs_pipeline_stage' is set by the plugin "
                "from the ticket itself"
            },
        ),
        (
            {TICKET_MAP: "[1, 2]"},
            {
                TICKET_MAP: "must be a JSON object of panel field → HubSpot "
                'property, like {"plan": "plan_tier"} or '
                '{"plan": {"property": "plan_tier", "mode": "fill_if_empty"}}'
            },
        ),
        (
            {CONTACT_MAP: {f"f{i}": f"p{i}" for i in range(51)}},
            {CONTACT_MAP: "may map at most 50 fields, not 51"},
        ),
        (
            {"hubspot_enabled": False},
            {"hubspot_enabled": f"is not a property map (expected {CONTACT_MAP} or {TICKET_MAP})"},
        ),
    ],
)
def test_a_map_of_the_wrong_shape_is_refused_without_asking_hubspot(
    client: TestClient, rt: Runtime, portal: FakeHubSpot, body: dict[str, Any], details: Any
) -> None:
    before = setting_rows(rt), property_requests(portal)
    response = save_map(client, body)
    assert response.status_code == 422
    assert response.json()["details"] == details
    assert (setting_rows(rt), property_requests(portal)) == before


@pytest.mark.parametrize(("status", "answer"), [(503, 502), (429, 503), (401, 502)])
def test_when_hubspot_cannot_be_asked_nothing_is_saved(
    client: TestClient, rt: Runtime, portal: FakeHubSpot, status: int, answer: int
) -> None:
    before = setting_rows(rt)
    portal.fail_next(status)
    response = save_map(client, {CONTACT_MAP: CUSTOM_MAP})
    assert response.status_code == answer
    assert response.json()["message"].startswith("Nothing saved: the property map could not be")
    assert FAKE_TOKEN not in response.text
    assert setting_rows(rt) == before
    assert save_map(client, {CONTACT_MAP: CUSTOM_MAP}).status_code == 200  # HubSpot is back


def test_without_a_token_a_map_cannot_be_checked_so_is_not_saved(
    pm, sqlite_engine: Engine, secret_key: str, portal: FakeHubSpot
) -> None:  # type: ignore[no-untyped-def]
    rt = start_plugin(pm, sqlite_engine, secret_key, portal.base_url)
    app = FastAPI()
    app.include_router(admin_router(pm, require_admin=admin_only, require_csrf=csrf_checked))
    before = setting_rows(rt)
    response = TestClient(app).post(MAP_ROUTE, headers=ADMIN, json={CONTACT_MAP: CUSTOM_MAP})
    assert response.status_code == 409
    assert "access token" in response.json()["message"]
    assert setting_rows(rt) == before
    pm.hook.skypanel_shutdown()


def test_the_mapping_routes_refuse_non_admins(
    client: TestClient, rt: Runtime, portal: FakeHubSpot
) -> None:
    before = setting_rows(rt), len(portal.requests)
    for headers, status in (({}, 401), (CUSTOMER, 403), ({"X-Role": "admin"}, 403)):
        assert (
            client.post(MAP_ROUTE, headers=headers, json={CONTACT_MAP: CUSTOM_MAP}).status_code
            == status
        )
    for headers, status in (({}, 401), (CUSTOMER, 403)):
        response = client.get(MAP_ROUTE, headers=headers)
        assert response.status_code == status and set(response.json()) == {"detail"}
    assert (setting_rows(rt), len(portal.requests)) == before


# -- HubSpot is asked rarely -----------------------------------------------------------------


def test_the_property_list_is_cached_and_a_new_property_is_still_found(
    client: TestClient, rt: Runtime, portal: FakeHubSpot
) -> None:
    assert save_map(client, {CONTACT_MAP: CUSTOM_MAP}).status_code == 200
    assert (
        save_map(client, {CONTACT_MAP: {**CUSTOM_MAP, "plan": "support_level"}}).status_code == 200
    )
    assert property_requests(portal) == 1
    # Unchanged maps (the settings form posts them back with everything else) ask nothing.
    assert (
        save_map(client, {CONTACT_MAP: {**CUSTOM_MAP, "plan": "support_level"}}).status_code == 200
    )
    unchanged = {CONTACT_MAP: str(rt.settings().contact_property_map), "hubspot_chat_enabled": True}
    assert client.post(f"{PREFIX}/settings", headers=ADMIN, json=unchanged).status_code == 200
    assert property_requests(portal) == 1
    # Created in HubSpot a moment ago: missing from the cached list, so it is asked again.
    portal.add_property("contacts", "datacenter")
    assert (
        save_map(client, {CONTACT_MAP: {**CUSTOM_MAP, "region": "datacenter"}}).status_code == 200
    )
    assert property_requests(portal) == 2


def test_the_cache_expires_and_never_serves_another_token() -> None:
    now = [0.0]
    calls: list[str] = []

    class Service:
        def properties(self, object_type: str) -> list[PropertyInfo]:
            calls.append(object_type)
            return [PropertyInfo("email", "Email", "string")]

    cache = PropertyCache(ttl_s=60, clock=lambda: now[0])
    first, second = Service(), Service()
    assert cache.get(first, "contacts")[1] is False  # type: ignore[arg-type]
    assert cache.get(first, "contacts")[1] is True  # type: ignore[arg-type]
    assert cache.get(second, "contacts")[1] is False  # type: ignore[arg-type]
    now[0] = 61
    assert cache.get(second, "contacts")[1] is False  # type: ignore[arg-type]
    assert calls == ["contacts"] * 3


# -- the portal's properties, for the settings form's pickers ---------------------------------

PROPERTIES_ROUTE = f"{PREFIX}/properties"


def test_the_property_list_is_each_objects_properties_by_label(
    client: TestClient, rt: Runtime, portal: FakeHubSpot
) -> None:
    contacts = client.get(PROPERTIES_ROUTE, headers=ADMIN, params={"object": "contact"})
    assert contacts.status_code == 200, contacts.text
    body = contacts.json()
    assert body["object"] == "contact"
    listed = body["properties"]
    labels = [p["label"] for p in listed]
    assert labels == sorted(labels, key=str.casefold)
    by_name = {p["name"]: p for p in listed}
    assert by_name["plan_tier"] == {
        "name": "plan_tier",
        "label": "Plan tier",
        "type": "string",
        "fieldType": "text",
        "readOnly": False,
        "options": [],
        "mappable": True,
        "reason": None,
    }
    assert by_name["support_level"]["options"] == ["basic", "vip"]
    assert by_name["num_servers"]["type"] == "number" and by_name["num_servers"]["mappable"]
    # What HubSpot computes or keeps read-only is listed, but not offered.
    for name in ("createdate", "hs_object_id", "num_associated_deals"):
        assert by_name[name]["readOnly"] is True and by_name[name]["mappable"] is False
        assert by_name[name]["reason"] == f"property '{name}' is read-only"

    tickets = client.get(PROPERTIES_ROUTE, headers=ADMIN, params={"object": "ticket"}).json()
    assert tickets["object"] == "ticket"
    by_name = {p["name"]: p for p in tickets["properties"]}
    assert by_name["panel_server"]["label"] == "Server" and by_name["panel_server"]["mappable"]
    assert "plan_tier" not in by_name
    # The plugin's own ticket properties cannot be a map's target either.
    assert by_name["hs_pipeline_stage"]["mappable"] is False
    assert by_name["hs_pipeline_stage"]["reason"] == (
        "property 'hs_pipeline_stage' is set by the plugin from the ticket itself"
    )
    # Read through the map checks' cache: a save right after asks HubSpot nothing more.
    assert property_requests(portal) == 2
    assert save_map(client, {TICKET_MAP: {"server": "panel_server"}}).status_code == 200
    assert property_requests(portal) == 2


@pytest.mark.parametrize("query", [{}, {"object": ""}, {"object": "contacts"}, {"object": "deal"}])
def test_the_property_list_of_an_unknown_object_is_422_naming_it(
    client: TestClient, rt: Runtime, portal: FakeHubSpot, query: dict[str, str]
) -> None:
    before = len(portal.requests)
    response = client.get(PROPERTIES_ROUTE, headers=ADMIN, params=query)
    assert response.status_code == 422
    assert response.json() == {
        "success": False,
        "message": "Invalid query",
        "details": {"object": "must be contact or ticket"},
    }
    assert len(portal.requests) == before


@pytest.mark.parametrize(("status", "answer"), [(500, 502), (429, 503), (401, 502)])
def test_the_property_list_says_when_hubspot_fails(
    client: TestClient, rt: Runtime, portal: FakeHubSpot, status: int, answer: int
) -> None:
    portal.fail_next(status)
    response = client.get(PROPERTIES_ROUTE, headers=ADMIN, params={"object": "contact"})
    assert response.status_code == answer
    assert response.json()["success"] is False and response.json()["message"]
    assert FAKE_TOKEN not in response.text
    assert client.get(PROPERTIES_ROUTE, headers=ADMIN, params={"object": "contact"}).is_success


def test_the_property_list_without_a_token_says_what_is_missing(
    pm, sqlite_engine: Engine, secret_key: str, portal: FakeHubSpot
) -> None:  # type: ignore[no-untyped-def]
    start_plugin(pm, sqlite_engine, secret_key, portal.base_url)
    app = FastAPI()
    app.include_router(admin_router(pm, require_admin=admin_only, require_csrf=csrf_checked))
    response = TestClient(app).get(PROPERTIES_ROUTE, headers=ADMIN, params={"object": "ticket"})
    assert response.status_code == 409
    assert response.json() == {
        "success": False,
        "message": "HubSpot is not configured",
        "details": "No HubSpot access token is set",
    }
    assert portal.requests == []
    pm.hook.skypanel_shutdown()


def test_the_property_list_is_for_admins_only(
    client: TestClient, rt: Runtime, portal: FakeHubSpot
) -> None:
    for headers, status in (({}, 401), (CUSTOMER, 403)):
        response = client.get(PROPERTIES_ROUTE, headers=headers, params={"object": "contact"})
        assert response.status_code == status and set(response.json()) == {"detail"}
    assert portal.requests == []


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    value=st.sampled_from(["contact", "ticket", "Contact", "tickets", " contact", "contact\x00"])
    | st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
    hubspot_fails=st.sampled_from([None, 401, 429, 500, 503]),
)
def test_the_property_list_never_answers_500(
    client: TestClient, rt: Runtime, portal: FakeHubSpot, value: str, hubspot_fails: int | None
) -> None:
    CACHE.clear()
    known = value in {"contact", "ticket"}
    if hubspot_fails is not None and known:  # scripted for the one request HubSpot gets
        portal.fail_next(hubspot_fails)
    before = len(portal.requests)
    response = client.get(PROPERTIES_ROUTE, headers=ADMIN, params={"object": value})
    event(f"HTTP {response.status_code}")
    assert response.status_code in {200, 422, 502, 503}, response.text
    if not known:
        assert response.status_code == 422
        assert set(response.json()["details"]) == {"object"}
        assert len(portal.requests) == before  # HubSpot is not asked
    elif hubspot_fails is None:
        assert response.status_code == 200 and response.json()["object"] == value
    else:
        assert response.status_code == (503 if hubspot_fails == 429 else 502)


# -- any input -------------------------------------------------------------------------------

PANEL_NAMES = "email first_name last_name company phone plan server_count server subject status"
PROPERTY_NAMES = "email firstname company plan_tier num_servers support_level panel_server"
panel_names = st.sampled_from([*PANEL_NAMES.split(), "Plan", "", "9lives"]) | st.text(max_size=8)
property_names = st.sampled_from(
    [*PROPERTY_NAMES.split(), "createdate", "hs_object_id", "hs_pipeline", "nope", "Email", ""]
) | st.text(max_size=8)
maps = st.dictionaries(
    panel_names, property_names | st.integers() | st.none() | st.booleans(), max_size=7
)
# Likely-valid maps too, so saves happen and are checked, not only refusals.
plausible = st.dictionaries(
    st.sampled_from(["plan", "server_count", "server", "region", "first_name"]),
    st.sampled_from(["plan_tier", "num_servers", "support_level", "panel_server", "createdate"]),
    max_size=3,
)
map_values = (
    plausible.map(lambda m: {**SEED_MAP, **m})
    | plausible
    | plausible.map(json.dumps)
    | maps
    | maps.map(json.dumps)
    | maps.map(lambda m: {"email": "email", **m})
    | st.text(max_size=20)
    | st.integers()
    | st.none()
    | st.lists(st.text(max_size=3), max_size=2)
)
bodies = st.fixed_dictionaries(
    {}, optional={CONTACT_MAP: plausible.map(lambda m: {**SEED_MAP, **m}), TICKET_MAP: plausible}
) | st.fixed_dictionaries({}, optional={CONTACT_MAP: map_values, TICKET_MAP: map_values})


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies)
def test_any_map_is_saved_whole_or_refused_naming_the_setting(
    client: TestClient, rt: Runtime, body: dict[str, Any]
) -> None:
    before = setting_rows(rt)
    response = save_map(client, body)
    assert response.status_code in {200, 422}, response.text
    event(f"HTTP {response.status_code}")
    payload = response.json()
    if response.status_code == 422:
        assert payload["details"] and setting_rows(rt) == before
        for name in payload["details"]:
            assert name.partition(".")[0] in body, name
        return
    stored = dict(setting_rows(rt))
    for key, value in body.items():
        saved = json.loads(stored[key] or "")
        assert payload["maps"][key] == saved
        sent = json.loads(value) if isinstance(value, str) and value.strip() else value or {}
        assert saved == sent
    untouched = {CONTACT_MAP, TICKET_MAP} - set(body)
    assert all(stored[k] == dict(before)[k] for k in untouched)


def test_a_property_map_is_frozen_hashable_and_stored_as_json() -> None:
    mapping = PropertyMap((("email", "email"), ("plan", "plan_tier")))
    assert hash(mapping) == hash(PropertyMap((("email", "email"), ("plan", "plan_tier"))))
    assert json.loads(str(mapping)) == {"email": "email", "plan": "plan_tier"}
    assert mapping.same_as({"plan": "plan_tier", "email": "email"})
    assert dict(DEFAULT_CONTACT_MAP) == SEED_MAP
    assert hash(ADA) == hash(User(**{**vars(ADA), "extra": {}}))  # extra is left out of the hash
