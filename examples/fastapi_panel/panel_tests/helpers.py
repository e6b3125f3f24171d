"""What the panel's tests do often: sign a customer up, open a ticket, as the customer would."""

from __future__ import annotations

from starlette.testclient import TestClient

ADMIN = {"X-Admin-Token": "test-admin-token"}


def sign_up(panel: TestClient, email: str = "ann@example.com", name: str = "Ann Lee") -> int:
    response = panel.post("/signup", json={"email": email, "name": name})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def open_ticket(panel: TestClient, subject: str = "Server down") -> int:
    user_id = sign_up(panel)
    response = panel.post("/tickets", json={"user_id": user_id, "subject": subject})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])
