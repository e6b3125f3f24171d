"""An operator sees delivery's health at a glance: from the command line and the admin route."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine

from skypanel_hubspot_plugin import User
from skypanel_hubspot_plugin.admin.delivery_routes import get_status
from skypanel_hubspot_plugin.cli import main
from skypanel_hubspot_plugin.delivery.deliverer import RetryPolicy
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.payloads import AdminRequest
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FakeHubSpot


def test_status_shows_depth_age_parked_last_delivery_budget_and_version(  # type: ignore[no-untyped-def]
    pm, rt: Runtime, fake: FakeHubSpot, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = get_status(AdminRequest()).body
    assert empty["counts"] == {"queued": 0, "delivered": 0, "dead": 0}  # type: ignore[index]
    assert empty["lastDeliveredAt"] is None and empty["oldestWaitingSeconds"] is None  # type: ignore[index]
    worker = Worker(rt, policy=RetryPolicy(max_attempts=1))
    pm.hook.skypanel_on_user_created(user=User(id="1", email="one@example.com"), session=None)
    worker.run_once()  # delivered
    pm.hook.skypanel_on_user_created(user=User(id="2", email="two@example.com"), session=None)
    fake.fail_next(500)
    worker.run_once()  # parked after its only attempt
    pm.hook.skypanel_on_user_created(user=User(id="3", email="three@example.com"), session=None)
    body = get_status(AdminRequest()).body
    assert body["counts"] == {"queued": 1, "delivered": 1, "dead": 1}  # type: ignore[index]
    assert body["parked"] == 1  # type: ignore[index]
    assert body["oldestWaitingSeconds"] >= 0  # type: ignore[index,operator]
    assert body["lastDeliveredAt"] is not None  # type: ignore[index]
    assert body["rateLimit"] == {"left": 1000 - 2, "per10s": 1000}  # type: ignore[index]
    assert body["apiVersion"] == "2026-09"  # type: ignore[index]
    url = engine.url.render_as_string(hide_password=False)
    assert main(["status", "--json", "--database-url", url]) == 0
    assert json.loads(capsys.readouterr().out)["counts"] == body["counts"]  # type: ignore[index]
    assert main(["status", "--database-url", url]) == 0
    text = capsys.readouterr().out
    assert "queued: 1" in text and "parked: 1" in text and "HubSpot API version: 2026-09" in text
