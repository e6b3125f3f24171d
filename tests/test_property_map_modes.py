"""Property map rows with a mode: what the admin may save, and what a refusal says.

A row is ``"field": "property"`` (overwrite, as every map stored before modes) or
``"field": {"property": …, "mode": …}``. A bad mode, a row of the wrong shape and a mode
other than overwrite on the identifier (a contact's email) are refused naming the row, and
a refused save changes nothing. The JSON admin route takes and gives the modes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import start_plugin
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session, select

from skypanel_hubspot_plugin.admin.fastapi_adapter import admin_router
from skypanel_hubspot_plugin.mapping.property_cache import CACHE
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.settings import schema as keys
from skypanel_hubspot_plugin.settings.model import InvalidSettings
from skypanel_hubspot_plugin.settings.property_map import (
    DEFAULT_CONTACT_MAP,
    MODES,
    MapShapeError,
    PropertyMap,
    parse_property_map,
)
from skypanel_hubspot_plugin.settings.table import Setting
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot

ROUTE = "/api/admin/settings/hubspot/property-map"
CONTACT_MAP = keys.CONTACT_PROPERTY_MAP
TICKET_MAP = keys.TICKET_PROPERTY_MAP
SEED = {str(k): v for k, v in DEFAULT_CONTACT_MAP.rows().items()}


@pytest.fixture(autouse=True)
def _fresh_property_cache() -> Iterator[None]:
    CACHE.clear()
    yield
    CACHE.clear()


@pytest.fixture
def rt(pm, engine: Engine, secret_key: str, fake: FakeHubSpot) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    fake.add_property("contacts", "plan_tier")
    fake.add_property("tickets", "panel_server")
    rt = start_plugin(pm, engine, secret_key, fake.base_url, run_worker=False)
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
        }
    )
    yield rt
    pm.hook.skypanel_shutdown()


@pytest.fixture
def client(pm, rt: Runtime) -> TestClient:  # type: ignore[no-untyped-def]
    app = FastAPI()
    app.include_router(admin_router(pm, require_admin=lambda: None, require_csrf=lambda: None))
    return TestClient(app)


def stored(rt: Runtime) -> list[tuple[str, str | None]]:
    with Session(rt.store.engine) as session:
        return sorted((s.key, s.value) for s in session.exec(select(Setting)))


# -- what a row may hold -------------------------------------------------------------------------

junk = st.none() | st.booleans() | st.integers() | st.lists(st.integers(), max_size=2)
mode_values = st.sampled_from(MODES) | st.sampled_from(["Overwrite", "fill", "", "on-create"])
mode_values = mode_values | st.text(max_size=12) | junk
properties = st.sampled_from(["plan_tier", "company", "phone", "email", "Plan", ""]) | junk
rows = (
    properties
    | st.fixed_dictionaries({"property": properties}, optional={"mode": mode_values})
    | st.fixed_dictionaries({"mode": mode_values})
    | st.tuples(properties, mode_values, st.text(min_size=1, max_size=5), junk).map(
        lambda t: {"property": t[0], "mode": t[1], t[2]: t[3]}
    )
    | st.dictionaries(st.text(max_size=5), junk, max_size=3)
)


def expected(field: str, row: object) -> tuple[str, str] | str:
    """(property, mode) when the row is good for ``field`` in a contact map; else a word
    the refusal's message must hold."""
    prop: object = row
    mode: object = "overwrite"
    if isinstance(row, dict):
        extra = [k for k in row if k not in ("property", "mode")]
        if extra:
            return "unknown key"
        if "property" not in row:
            return "must name its HubSpot property"
        prop, mode = row["property"], row.get("mode", "overwrite")
        if mode not in MODES:
            return "mode must be one of overwrite, fill_if_empty, on_create"
    if field == "email" and mode != "overwrite":
        return "always written: its mode must be overwrite"
    if not isinstance(prop, str) or prop in ("", "Plan") or isinstance(prop, bool):
        return "internal name"
    if field == "email" and prop != "email":
        return "must map to the email property"
    if field != "email" and prop == "email":
        return "already filled from email"
    return prop, str(mode)


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(["plan", "email"]), row=rows)
def test_a_row_is_read_with_its_mode_or_refused_naming_it(field: str, row: object) -> None:
    raw = {field: row} if field == "email" else {"email": "email", field: row}
    want = expected(field, row)
    if isinstance(want, str):
        with pytest.raises(MapShapeError) as refused:
            parse_property_map(raw, "contact")
        event(want)
        assert want in refused.value.problems[field], refused.value.problems
        assert set(refused.value.problems) == {field}
        return
    event(f"mode {want[1]}")
    parsed = parse_property_map(raw, "contact")
    assert (parsed[field], parsed.mode(field)) == want
    again = parse_property_map(str(parsed), "contact")
    assert again == parsed and again.same_as(parsed)
    assert json.loads(str(parsed))[field] == (
        want[0] if want[1] == "overwrite" else {"property": want[0], "mode": want[1]}
    )


def test_a_map_stored_before_modes_reads_as_overwrite_everywhere() -> None:
    old = json.dumps({"email": "email", "first_name": "firstname", "plan": "plan_tier"})
    parsed = parse_property_map(old, "contact")
    assert parsed.modes == () and parsed.property_modes() == {}
    assert str(parsed) == old
    assert parsed == PropertyMap(
        (("email", "email"), ("first_name", "firstname"), ("plan", "plan_tier"))
    )


def test_the_panel_ticket_id_takes_no_mode() -> None:
    with pytest.raises(MapShapeError) as refused:
        parse_property_map(
            {"server": {"property": "skypanel_ticket_id", "mode": "on_create"}}, "ticket"
        )
    assert "identifies the ticket and is always written" in refused.value.problems["server"]


# -- saving -----------------------------------------------------------------------------------


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(field=st.sampled_from(["plan", "email"]), row=rows)
def test_a_refused_save_changes_nothing(rt: Runtime, field: str, row: object) -> None:
    before = stored(rt)
    raw = {field: row} if field == "email" else {"email": "email", field: row}
    try:
        rt.store.save({CONTACT_MAP: json.dumps(raw)})
    except InvalidSettings as exc:
        assert isinstance(expected(field, row), str)
        assert field in exc.errors[CONTACT_MAP], exc.errors
        assert stored(rt) == before
        return
    want = expected(field, row)
    assert not isinstance(want, str)
    assert rt.settings().contact_property_map.mode(field) == want[1]
    rt.store.save({CONTACT_MAP: json.dumps(SEED)})


def test_the_admin_route_takes_and_gives_the_modes(client: TestClient, rt: Runtime) -> None:
    contact = {
        **SEED,
        "company": {"property": "company", "mode": "fill_if_empty"},
        "plan": {"property": "plan_tier", "mode": "on_create"},
        "phone": {"property": "phone", "mode": "overwrite"},
    }
    ticket = {"server": {"property": "panel_server", "mode": "fill_if_empty"}}
    answer = client.post(ROUTE, json={CONTACT_MAP: contact, TICKET_MAP: ticket})
    assert answer.status_code == 200, answer.text
    shown = {**contact, "phone": "phone"}  # overwrite is written the short way
    assert answer.json()["maps"] == {CONTACT_MAP: shown, TICKET_MAP: ticket}
    form = client.get(ROUTE).json()
    assert form["maps"] == {CONTACT_MAP: shown, TICKET_MAP: ticket}
    assert form["modes"] == ["overwrite", "fill_if_empty", "on_create"]
    settings = rt.settings()
    assert settings.contact_property_map.property_modes() == {
        "company": "fill_if_empty",
        "plan_tier": "on_create",
    }
    assert settings.ticket_property_map.property_modes() == {"panel_server": "fill_if_empty"}

    # Only the mode changed: that is a change, saved (and checked against the portal).
    again = client.post(ROUTE, json={TICKET_MAP: {"server": "panel_server"}})
    assert again.status_code == 200
    assert rt.settings().ticket_property_map.property_modes() == {}


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        (
            {"email": {"property": "email", "mode": "fill_if_empty"}},
            "email",
            "is how contacts are matched in HubSpot and is always written: its mode must be "
            "overwrite, not 'fill_if_empty'",
        ),
        (
            {"company": {"property": "company", "mode": "sometimes"}},
            "company",
            "mode must be one of overwrite, fill_if_empty, on_create, not 'sometimes'",
        ),
        (
            {"company": {"property": "company", "owner": "sales"}},
            "company",
            "has an unknown key 'owner': a row takes property and mode",
        ),
    ],
)
def test_a_bad_row_is_refused_naming_it_and_nothing_is_saved(
    client: TestClient, rt: Runtime, row: dict[str, Any], field: str, message: str
) -> None:
    before = stored(rt)
    answer = client.post(ROUTE, json={CONTACT_MAP: {**SEED, **row}})
    assert answer.status_code == 422
    assert answer.json()["details"] == {f"{CONTACT_MAP}.{field}": message}
    assert stored(rt) == before
    through_the_form = client.post(
        "/api/admin/settings/hubspot/settings", json={CONTACT_MAP: json.dumps({**SEED, **row})}
    )
    assert through_the_form.status_code == 422
    assert f"{field}: {message}" in through_the_form.json()["details"][CONTACT_MAP]
    assert stored(rt) == before
