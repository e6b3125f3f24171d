"""The demo panel's logins, over HTTP: failed passwords slow the next tries down, and logging
out ends the session for every copy of its cookie.

The demo runs in-process (Starlette's TestClient) against the fake HubSpot; the login
throttle reads the demo's clock, which each test moves instead of sleeping.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from skypanel_hubspot_plugin.demo.app import SESSION_COOKIE, create_app
from skypanel_hubspot_plugin.demo.config import DemoConfig
from skypanel_hubspot_plugin.testing import FakeHubSpot

PASSWORD = "correct horse battery staple"
SETTINGS_API = "/api/admin/settings/hubspot/settings"


class Clock:
    """The demo's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def demo(tmp_path: Path, fake_hubspot: FakeHubSpot, clock: Clock) -> Iterator[FastAPI]:
    app = create_app(
        DemoConfig(
            data_dir=tmp_path / "panel",
            admin_password=PASSWORD,
            hubspot_base_url=fake_hubspot.base_url,
            clock=clock,
        )
    )
    with TestClient(app):  # runs start-up and shut-down once for every client below
        yield app


def browser(app: FastAPI, address: str = "192.0.2.1") -> TestClient:
    """A client of its own (its own cookies) from ``address``."""
    return TestClient(app, client=(address, 50000), follow_redirects=False)


def csrf(client: TestClient, path: str = "/admin/login") -> str:
    page = client.get(path)
    found = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def log_in(client: TestClient, password: str, username: str = "admin") -> int:
    form = {"username": username, "password": password, "csrf_token": csrf(client)}
    return client.post("/admin/login", data=form).status_code


def test_failed_logins_refuse_even_the_right_password_until_the_window_passes(
    demo: FastAPI, clock: Clock
) -> None:
    attacker = browser(demo)
    assert [log_in(attacker, f"guess {n}") for n in range(5)] == [401] * 5
    # Locked: the right password is refused too, and the page says how long to wait.
    form = {"username": "admin", "password": PASSWORD, "csrf_token": csrf(attacker)}
    refused = attacker.post("/admin/login", data=form)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "30"
    assert "Too many failed logins: wait 30 seconds" in refused.text
    assert attacker.get(SETTINGS_API).status_code == 401
    # From another address, for the same username: the username is locked as well.
    assert log_in(browser(demo, "198.51.100.7"), PASSWORD) == 429
    # Another username from another address is not: it is only told the password is wrong.
    assert log_in(browser(demo, "198.51.100.8"), "guess", username="root") == 401

    clock.now += 29
    assert log_in(attacker, PASSWORD) == 429
    clock.now += 1
    # The window passed; one more wrong guess locks again, for twice as long.
    assert log_in(attacker, "guess 6") == 401
    assert log_in(attacker, PASSWORD) == 429
    clock.now += 59
    assert log_in(attacker, PASSWORD) == 429
    clock.now += 1
    assert log_in(attacker, PASSWORD) == 303
    assert attacker.get(SETTINGS_API).status_code == 200
    # A successful login starts the count again from zero.
    later = browser(demo)
    assert [log_in(later, "typo") for n in range(4)] == [401] * 4
    assert log_in(later, PASSWORD) == 303


def test_failures_from_one_address_lock_that_address_for_every_username(
    demo: FastAPI, clock: Clock
) -> None:
    sprayer = browser(demo, "203.0.113.5")
    names = [f"user{n}" for n in range(5)]
    assert [log_in(sprayer, "guess", username=name) for name in names] == [401] * 5
    assert log_in(sprayer, PASSWORD) == 429
    assert log_in(browser(demo, "203.0.113.6"), PASSWORD) == 303  # the admin, elsewhere


def test_a_cookie_copied_before_logout_is_refused_after_it(demo: FastAPI) -> None:
    admin = browser(demo)
    assert log_in(admin, PASSWORD) == 303
    copied = admin.cookies[SESSION_COOKIE]
    assert admin.get(SETTINGS_API).status_code == 200
    token = csrf(admin, "/admin/settings")
    assert admin.post("/logout", data={"csrf_token": token}).status_code == 303

    thief = browser(demo, "198.51.100.9")
    thief.cookies.set(SESSION_COOKIE, copied)
    assert thief.get(SETTINGS_API).status_code == 401
    page = thief.get("/admin/settings")
    assert page.status_code == 303 and page.headers["location"] == "/admin/login"
    # Logging in again makes a new session; the old cookie stays dead.
    assert log_in(admin, PASSWORD) == 303
    assert thief.get(SETTINGS_API).status_code == 401


def test_a_customer_cookie_copied_before_logout_is_refused_after_it(demo: FastAPI) -> None:
    customer = browser(demo)
    form = {"email": "ada@example.com", "first_name": "Ada", "csrf_token": csrf(customer, "/")}
    assert customer.post("/signup", data=form).status_code == 303
    copied = customer.cookies[SESSION_COOKIE]
    assert customer.get("/tickets").status_code == 200
    token = csrf(customer, "/tickets")
    assert customer.post("/logout", data={"csrf_token": token}).status_code == 303

    thief = browser(demo, "198.51.100.9")
    thief.cookies.set(SESSION_COOKIE, copied)
    page = thief.get("/tickets")
    assert page.status_code == 303 and page.headers["location"] == "/"
