"""The problems view: every parked row in exactly one group, a group per cause whatever
the record's own values, the fix for it, and "replay this group" queuing that group only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete
from sqlmodel import Session

from skypanel_hubspot_plugin import User, runtime
from skypanel_hubspot_plugin.admin.problem_routes import get_problems, post_replay_group
from skypanel_hubspot_plugin.common import clock
from skypanel_hubspot_plugin.delivery.deliverer import describe
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, QUEUED, OutboxRow
from skypanel_hubspot_plugin.delivery.problems import problems
from skypanel_hubspot_plugin.hubspot.errors import error_from_response
from skypanel_hubspot_plugin.payloads import AdminRequest
from skypanel_hubspot_plugin.testing import DeliveryParked, HubSpotKit, hubspot_kit


@pytest.fixture
def kit(engine: Engine) -> Iterator[HubSpotKit]:
    with hubspot_kit(engine=engine) as started:
        yield started


def _invalid(code: str, name: str, text: str) -> tuple[int, dict[str, object]]:
    """HubSpot's validation answer: its per-property errors as JSON inside the message."""
    item = {"isValid": False, "message": text, "error": code, "name": name}
    return 400, {
        "status": "error",
        "message": f"Property values were not valid: {json.dumps([item])}",
        "category": "VALIDATION_ERROR",
        "errors": [{"message": text, "code": code, "in": name}],
    }


# Each cause: HubSpot's answer for one record, built from that record's own value.
CAUSES = [
    lambda v: _invalid("INVALID_EMAIL", "email", f"Email address {v} is invalid"),
    lambda v: _invalid(
        "INVALID_OPTION", "plan", f"{v!r} was not one of the allowed options: [basic, pro]"
    ),
    lambda v: _invalid("INVALID_OPTION", "hs_ticket_priority", f"{v} was not one of the options"),
    lambda v: _invalid("REQUIRED_PROPERTY", "company_size", "company_size is required"),
    lambda v: (
        409,
        {
            "status": "error",
            "message": f"Contact already exists. Existing ID: {abs(hash(v)) % 10**9 + 100}",
            "category": "CONFLICT",
        },
    ),
    lambda v: (
        403,
        {
            "status": "error",
            "message": "This app hasn't been granted all required scopes to make this call.",
            "category": "MISSING_SCOPES",
            "errors": [{"context": {"requiredGranularScopes": ["tickets"]}}],
        },
    ),
]
values = (
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(bool)
)


def _park(engine: Engine, cause: int, value: str, n: int) -> int:
    status, body = CAUSES[cause](value)
    error = describe(error_from_response(status, json.dumps(body), {}))
    row = OutboxRow(
        kind="contact.upsert",
        entity=f"user:{n}",
        payload=json.dumps({"user_id": str(n)}),
        status=DEAD,
        attempts=1,
        last_error=error,
    )
    with Session(engine) as session:
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    parked=st.lists(st.tuples(st.integers(0, len(CAUSES) - 1), values), min_size=1, max_size=25),
    replayed=st.integers(0, len(CAUSES) - 1),
)
def test_parked_rows_are_grouped_by_cause_whatever_their_own_values(
    kit: HubSpotKit, parked: list[tuple[int, str]], replayed: int
) -> None:
    engine = kit.engine
    with Session(engine) as session:
        session.exec(delete(OutboxRow))  # type: ignore[call-overload]
        session.commit()
    ids_by_cause: dict[int, set[int]] = {}
    for n, (cause, value) in enumerate(parked):
        ids_by_cause.setdefault(cause, set()).add(_park(engine, cause, value, n))

    found = problems(runtime.current().outbox)

    groups = {frozenset(g.ids): g for g in found.groups}
    assert set(groups) == {frozenset(ids) for ids in ids_by_cause.values()}
    for group in found.groups:
        assert group.cause.state == "parked" and group.replayable and group.fix
        assert group.example is not None and group.example.id in group.ids
    # "Replay this group" queues that group's rows, and only those.
    if replayed in ids_by_cause:
        key = groups[frozenset(ids_by_cause[replayed])].cause.key
        answer = post_replay_group(AdminRequest(body={"key": key}))
        assert answer.status == 200 and answer.body["replayed"] == len(ids_by_cause[replayed])
        queued = {e.id for e in kit.outbox("queued")}
        assert queued == ids_by_cause[replayed]


def test_a_bad_email_parks_and_the_view_says_which_property_and_what_to_do(
    kit: HubSpotKit,
) -> None:
    for n, email in enumerate(["not-an-email", "also bad", "x@"]):
        kit.plugin_manager.hook.skypanel_on_user_created(
            user=User(id=str(n), email=email), session=None
        )
    kit.plugin_manager.hook.skypanel_on_user_created(
        user=User(id="9", email="ok@example.com"), session=None
    )
    with pytest.raises(DeliveryParked):
        kit.drain()

    answer = get_problems(AdminRequest())

    assert answer.status == 200
    (group,) = answer.body["groups"]
    assert group["count"] == 3 and group["state"] == "parked"
    assert group["properties"] == ["email"]
    assert "email" in group["fix"] and group["replayable"]
    assert group["example"]["entity"] in {"user:0", "user:1", "user:2"}
    for bad in ("not-an-email", "also bad"):
        assert bad not in group["reason"]
    assert kit.contact("ok@example.com")


def test_rows_waiting_behind_a_parked_row_are_their_own_group(kit: HubSpotKit) -> None:
    status, body = _invalid("INVALID_OPTION", "plan", "'gold' was not one of the allowed options")
    kit.fake.fail_next(status, body=body)
    kit.plugin_manager.hook.skypanel_on_user_created(
        user=User(id="1", email="ann@example.com"), session=None
    )
    with pytest.raises(DeliveryParked):
        kit.drain()
    kit.plugin_manager.hook.skypanel_on_user_updated(
        user=User(id="1", email="ann@example.com", first_name="Ann"),
        changed=frozenset({"first_name"}),
        session=None,
    )
    kit.advance(3600)

    found = problems(runtime.current().outbox, waiting_after=timedelta(minutes=15))

    states = sorted((g.cause.state, len(g.ids)) for g in found.groups)
    assert states == [("parked", 1), ("waiting", 1)]
    waiting = next(g for g in found.groups if g.cause.state == "waiting")
    assert "parked" in waiting.cause.reason and not waiting.replayable
    assert "replay" in waiting.fix


def test_a_fresh_queued_row_is_not_a_problem(kit: HubSpotKit) -> None:
    kit.plugin_manager.hook.skypanel_on_user_created(
        user=User(id="1", email="ann@example.com"), session=None
    )
    assert [e.status for e in kit.outbox()] == [QUEUED]
    assert problems(runtime.current().outbox).groups == []
    assert clock.utcnow()  # the kit's clock, untouched


@pytest.mark.parametrize(
    "body",
    [{}, {"key": 7}, {"key": "short"}, {"key": "abcdefabcdef", "also": 1}, [1]],
)
def test_a_bad_replay_request_names_the_field_and_changes_nothing(
    kit: HubSpotKit, body: object
) -> None:
    _park(kit.engine, 0, "nope", 1)
    answer = post_replay_group(AdminRequest(body=body))
    assert answer.status == 422 and answer.body["details"]
    assert [e.status for e in kit.outbox()] == ["parked"]


def test_a_group_no_longer_parked_replays_nothing(kit: HubSpotKit) -> None:
    _park(kit.engine, 0, "nope", 1)
    key = problems(runtime.current().outbox).groups[0].cause.key
    first = post_replay_group(AdminRequest(body={"key": key}))
    again = post_replay_group(AdminRequest(body={"key": key}))  # a second click
    assert (first.status, first.body["replayed"]) == (200, 1)
    assert (again.status, again.body["replayed"]) == (200, 0)
    assert [e.status for e in kit.outbox()] == ["queued"]


def test_a_row_parked_with_hubspots_raw_json_groups_with_its_readable_twins(
    kit: HubSpotKit,
) -> None:
    """Rows parked before refusals were read as ``name: why [CODE]`` kept HubSpot's message as
    it came, JSON and all; they belong to the same cause."""
    readable = _park(kit.engine, 1, "gold", 1)
    status, body = CAUSES[1]("silver")
    raw = OutboxRow(
        kind="contact.upsert",
        entity="user:2",
        payload=json.dumps({"user_id": "2"}),
        status=DEAD,
        attempts=1,
        last_error=f"HTTP {status} {body['category']}: {body['message']}",
    )
    with Session(kit.engine) as session:
        session.add(raw)
        session.commit()
        assert raw.id is not None
        raw_id = raw.id
    (group,) = problems(runtime.current().outbox).groups
    assert sorted(group.ids) == sorted([readable, raw_id])
    assert group.cause.properties == ("plan",)
