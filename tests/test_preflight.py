"""The backfill's preflight ("Check first", ``sync-contacts --check``): which users HubSpot
would refuse, found from the portal's property definitions, without a single write."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from conftest import start_plugin
from fastapi import FastAPI, Header, HTTPException
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from test_fake_hubspot import raw

from skypanel_hubspot_plugin import User
from skypanel_hubspot_plugin.admin.fastapi_adapter import admin_router
from skypanel_hubspot_plugin.admin.routes import ADMIN_ROUTES
from skypanel_hubspot_plugin.hubspot.properties import PropertyInfo
from skypanel_hubspot_plugin.mapping.preflight import user_problems
from skypanel_hubspot_plugin.mapping.property_cache import CACHE
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.settings import schema as keys
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot

CHECK = "/api/admin/settings/hubspot/backfill/check"
ADMIN = {"X-Role": "admin", "X-CSRF-Token": "good"}
USERS = [
    User(id="1", email="ada@example.com", extra={"servers": "3", "level": "vip"}),
    User(id="2", email="bob@example.com", extra={"servers": "three", "level": "gold"}),
    User(id="3", email="not an email"),
    User(id="4", email="cy@example.com", extra={"servers": "12.5"}),
]


def admin_only(x_role: str | None = Header(default=None)) -> None:
    if x_role != "admin":
        raise HTTPException(403, "admins only")


def csrf_checked(x_csrf_token: str | None = Header(default=None)) -> None:
    if x_csrf_token != "good":
        raise HTTPException(403, "CSRF check failed")


def list_users(after: str | None, limit: int) -> list[User]:
    return [u for u in USERS if after is None or int(u.id) > int(after)][:limit]


@pytest.fixture(autouse=True)
def _fresh_property_cache() -> Iterator[None]:
    CACHE.clear()
    yield
    CACHE.clear()


@pytest.fixture
def checked(pm, engine: Engine, secret_key: str, fake: FakeHubSpot) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    fake.add_property("contacts", "num_servers", type="number", field_type="number")
    fake.add_property(
        "contacts",
        "support_level",
        type="enumeration",
        field_type="select",
        options=["basic", "vip"],
    )
    rt = start_plugin(pm, engine, secret_key, fake.base_url, list_users=list_users)
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            keys.CONTACT_PROPERTY_MAP: json.dumps(
                {
                    "email": "email",
                    "servers": "num_servers",
                    "level": "support_level",
                    "plan": "gone_property",
                }
            ),
        }
    )
    yield rt
    pm.hook.skypanel_shutdown()


def test_check_first_answers_counts_and_the_first_problems_and_sends_nothing(  # type: ignore[no-untyped-def]
    pm, checked: Runtime, fake: FakeHubSpot
) -> None:
    app = FastAPI()
    app.include_router(admin_router(pm, require_admin=admin_only, require_csrf=csrf_checked))
    client = TestClient(app)
    fake.requests.clear()
    answer = client.post(CHECK, headers=ADMIN, json={"show": 2})
    assert answer.status_code == 200, answer.text
    check = answer.json()["check"]
    assert check["users"] == 4 and check["refusedUsers"] == 2 and check["problemCount"] == 3
    assert check["counts"]["wrong type"] == 1 and check["counts"]["unknown option"] == 1
    assert check["counts"]["missing required"] == 1
    assert [(p["userId"], p["property"], p["kind"]) for p in check["problems"]] == [
        ("2", "num_servers", "wrong type"),
        ("2", "support_level", "unknown option"),
    ]
    assert FAKE_TOKEN not in answer.text
    assert all(r.method == "GET" for r in fake.requests) and fake.contacts() == []
    assert checked.outbox.counts() == {}
    # With no body at all, the default number of problems.
    assert client.post(CHECK, headers=ADMIN).json()["check"]["problemCount"] == 3
    assert client.post(CHECK, headers=ADMIN, json={"show": 0}).status_code == 422
    assert (
        client.post(CHECK, headers={"X-Role": "customer", "X-CSRF-Token": "good"}).status_code
        == 403
    )


def test_check_first_is_an_admin_route_of_every_adapter() -> None:
    # Every adapter (FastAPI, Starlette, Django, Flask) mounts ADMIN_ROUTES.
    assert ("POST", CHECK) in {(m, p) for m, p, _ in ADMIN_ROUTES}


PROPERTIES = {
    "email": PropertyInfo("email", "Email", "string"),
    "label": PropertyInfo("label", "Label", "string"),
    "count": PropertyInfo("count", "Count", "number", "number"),
    "tier": PropertyInfo("tier", "Tier", "enumeration", "select", ("gold", "silver")),
    "tags": PropertyInfo("tags", "Tags", "enumeration", "checkbox", ("a", "b", "c")),
}
values = st.one_of(
    st.sampled_from(["", "gold", "silver", "Gold", "a;b", "a;z", "12", "-3.5", "1,000", "x"]),
    st.text(alphabet="abgc0123456789.;-", max_size=6),
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(extra=st.fixed_dictionaries({name: values for name in PROPERTIES if name != "email"}))
def test_the_check_flags_exactly_what_the_fake_hubspot_refuses(
    fake: FakeHubSpot, extra: dict[str, str]
) -> None:
    fake.reset()
    fake.add_property("contacts", "label")
    fake.add_property("contacts", "count", type="number", field_type="number")
    fake.add_property(
        "contacts", "tier", type="enumeration", field_type="select", options=["gold", "silver"]
    )
    fake.add_property(
        "contacts", "tags", type="enumeration", field_type="checkbox", options=["a", "b", "c"]
    )
    mapping = {name: name for name in PROPERTIES}
    user = User(id="1", email="ada@example.com", extra=extra)
    problems = user_problems(user, mapping, PROPERTIES)
    props = {"email": "ada@example.com", **{k: v.strip() for k, v in extra.items() if v.strip()}}
    status, _, body = raw(fake, "POST", "/crm/objects/2026-09/contacts", {"properties": props})
    assert (status == 201) == (problems == []), (problems, body)
