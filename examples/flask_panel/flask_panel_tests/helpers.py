"""What the panel's tests do often, as a customer or a staff member would in a browser."""

from __future__ import annotations

from flask.testing import FlaskClient


def sign_up(panel: FlaskClient, email: str = "ann@example.com", name: str = "Ann Lee") -> str:
    """Signs up (and in); returns the session's CSRF token."""
    response = panel.post("/signup", json={"email": email, "name": name})
    assert response.status_code == 201, response.get_data(as_text=True)
    return str(response.get_json()["csrf"])


def log_in(panel: FlaskClient, email: str) -> str:
    response = panel.post("/login", json={"email": email})
    assert response.status_code == 200
    return str(response.get_json()["csrf"])


def open_ticket(panel: FlaskClient, subject: str = "Server down") -> int:
    csrf = sign_up(panel)
    response = panel.post("/tickets", json={"subject": subject}, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 201, response.get_data(as_text=True)
    return int(response.get_json()["id"])
