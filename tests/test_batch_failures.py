"""A bad record costs its batch little: HubSpot refuses a batch whole for one bad input.

Hypothesis draws a batch of panel users and which of them carry a value HubSpot refuses
(an invalid email, an option the portal's enumeration lacks), at sign-up and then in a
later change. Every good user must reach HubSpot, every bad one must be parked with a
reason naming the refused property, and the requests must stay within the bound:
a sign-up batch is answered per input (no request more), and a batch of changes refused
whole costs at most 1 + ceil(log2 n) requests more per bad record.
"""

from __future__ import annotations

import math

from convergence import parked, pending
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete
from sqlmodel import Session

from skypanel_hubspot_plugin import User
from skypanel_hubspot_plugin.delivery.deliverer import RetryPolicy
from skypanel_hubspot_plugin.delivery.outbox_table import ObjectLink, OutboxRow, RateSlot
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.settings import schema as keys
from skypanel_hubspot_plugin.testing import FakeHubSpot

BATCH = 100
#: The panel's "stage" field goes to HubSpot's lifecycle stage, an enumeration.
CONTACT_MAP = {"email": "email", "first_name": "firstname", "stage": "lifecyclestage"}
#: A bad value of each kind, and the HubSpot property its refusal names.
BAD = {"email": ("email", "not-an-email@"), "stage": ("lifecyclestage", "shopper")}


def fresh_start(engine: Engine, fake: FakeHubSpot, rt: Runtime) -> None:
    fake.reset()
    with Session(engine) as session:
        for table in (OutboxRow, ObjectLink, RateSlot):
            session.exec(delete(table))  # type: ignore[call-overload]
        session.commit()
    rt.store.save({keys.CONTACT_PROPERTY_MAP: CONTACT_MAP})


def user(i: int, bad: str | None = None, stage: str = "lead") -> User:
    email, extra = f"user{i}@example.com", {"stage": stage}
    if bad == "email":
        email = f"user{i}@"
    elif bad == "stage":
        extra = {"stage": BAD["stage"][1]}
    return User(id=str(i), email=email, first_name=f"U{i}", extra=extra)


def drain(rt: Runtime, engine: Engine) -> None:
    worker = Worker(rt, policy=RetryPolicy(max_attempts=3, base_s=30.0, cap_s=60.0))
    for _ in range(50):
        if not pending(engine):
            return
        worker.run_once()
    raise AssertionError("the queue did not drain")


def batch_requests(fake: FakeHubSpot) -> int:
    return sum("/contacts/batch/" in r.path for r in fake.requests)


def bound(users: int, bad: int) -> int:
    """Requests for ``users`` in claims of 100, plus 1 + ceil(log2 n) per bad record."""
    claims = math.ceil(users / BATCH)
    return claims + bad * (1 + math.ceil(math.log2(min(max(users, 1), BATCH))))


def assert_parked_naming(engine: Engine, bad: dict[int, str]) -> None:
    reasons = {r.entity.removeprefix("user:"): r.last_error or "" for r in parked(engine)}
    assert sorted(reasons, key=int) == [str(i) for i in sorted(bad)]
    for i, kind in bad.items():
        assert BAD[kind][0] in reasons[str(i)], reasons[str(i)]


bad_users = st.integers(min_value=2, max_value=130).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.dictionaries(st.integers(0, n - 1), st.sampled_from(sorted(BAD)), max_size=4),
        st.dictionaries(st.integers(0, n - 1), st.sampled_from(sorted(BAD)), max_size=4),
    )
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=bad_users)
def test_bad_values_park_their_records_only_and_cost_few_requests(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine, drawn: tuple[int, dict[int, str], ...]
) -> None:
    n, bad_signups, bad_changes = drawn
    fresh_start(engine, fake, rt)

    # Sign-ups, committed together: one batch create per claim, answered per input.
    with Session(engine) as session:
        for i in range(n):
            pm.hook.skypanel_on_user_created(user=user(i, bad_signups.get(i)), session=session)
        session.commit()
    drain(rt, engine)
    # (An invalid email is parked by the plugin before any request.)
    assert batch_requests(fake) <= math.ceil(n / BATCH)
    assert_parked_naming(engine, bad_signups)
    good = [i for i in range(n) if i not in bad_signups]
    assert sorted(c["properties"]["email"] for c in fake.contacts()) == sorted(
        f"user{i}@example.com" for i in good
    )

    # Changes of the contacts HubSpot has: a batch update by id, refused whole for a bad one.
    bad_changes = {i: kind for i, kind in bad_changes.items() if i in good}
    before = batch_requests(fake)
    with Session(engine) as session:
        for i in good:
            changed = user(i, bad_changes.get(i), stage="customer")
            pm.hook.skypanel_on_user_updated(
                user=changed, changed=frozenset({"email", "stage"}), session=session
            )
        session.commit()
    drain(rt, engine)
    assert batch_requests(fake) - before <= bound(len(good), len(bad_changes))
    assert_parked_naming(engine, {**bad_signups, **bad_changes})
    for i in good:
        contact = fake.contact_by_email(f"user{i}@example.com")
        assert contact is not None
        stage = "lead" if i in bad_changes else "customer"  # nothing of a bad change applied
        assert contact["properties"]["lifecyclestage"] == stage
