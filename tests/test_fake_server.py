"""The fake HubSpot's server mode, driven over HTTP only, as a panel in another language would.

Nothing of the fake is imported here: the server runs in its own process
(``python -m skypanel_hubspot_plugin.testing``), the test reads the address it prints and
speaks to it with a plain HTTP client, and receives its webhooks on a socket of its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import urllib3

HTTP = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2.0, read=10.0))


class Fake:
    """The served fake's address and the values it printed."""

    def __init__(self, base_url: str, token: str, app_secret: str) -> None:
        self.base_url = base_url
        self.token = token
        self.app_secret = app_secret

    def call(
        self, method: str, path: str, body: Any = None, *, token: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = HTTP.request(
            method,
            self.base_url + path,
            body=None if body is None else json.dumps(body).encode(),
            headers=headers,
        )
        return response.status, (json.loads(response.data) if response.data else None)

    def hubspot(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return self.call(method, path, body, token=self.token)


def _read_banner(process: subprocess.Popen[str], result: queue.Queue[dict[str, str]]) -> None:
    values: dict[str, str] = {}
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Fake HubSpot at "):
            values["base_url"] = line.split(" at ", 1)[1].strip()
        elif ":" in line and line.startswith("  "):
            key, value = line.strip().split(":", 1)
            values[key] = value.strip()
        elif line.startswith("Press Ctrl-C"):
            result.put(values)
            return


@pytest.fixture
def served() -> Iterator[Fake]:
    process = subprocess.Popen(
        [sys.executable, "-m", "skypanel_hubspot_plugin.testing", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    banner: queue.Queue[dict[str, str]] = queue.Queue()
    threading.Thread(target=_read_banner, args=(process, banner), daemon=True).start()
    try:
        try:
            values = banner.get(timeout=30)
        except queue.Empty:
            process.kill()
            pytest.fail(f"the fake server did not start: {process.communicate()[1]}")
        yield Fake(values["base_url"], values["access token"], values["app secret"])
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


class _Receiver(BaseHTTPRequestHandler):
    received: queue.Queue[tuple[str, dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.put((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[tuple[str, queue.Queue[tuple[str, dict[str, str], bytes]]]]:
    received: queue.Queue[tuple[str, dict[str, str], bytes]] = queue.Queue()
    handler = type("Handler", (_Receiver,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/hubspot", received
    finally:
        server.shutdown()
        server.server_close()


def test_hubspot_paths_and_state_dump(served: Fake) -> None:
    status, answer = served.hubspot(
        "POST",
        "/crm/objects/2026-09/contacts/batch/upsert",
        {"inputs": [{"idProperty": "email", "id": "ada@example.com", "properties": {}}]},
    )
    assert status == 200, answer
    assert served.call("POST", "/crm/objects/2026-09/contacts", {"properties": {}})[0] == 401

    status, state = served.call("GET", "/_fake/state")
    assert status == 200
    assert [c["properties"]["email"] for c in state["contacts"]] == ["ada@example.com"]
    status, info = served.call("GET", "/_fake/info")
    assert info["baseUrl"] == served.base_url and info["token"] == served.token

    assert served.call("POST", "/_fake/reset")[0] == 200
    assert served.call("GET", "/_fake/state")[1]["contacts"] == []


def test_scripted_answers_and_faults(served: Fake) -> None:
    body = {"status": "error", "message": "scripted", "category": "RATE_LIMITS"}
    assert (
        served.call("POST", "/_fake/fail-next", {"status": 429, "count": 2, "body": body})[0] == 200
    )
    path = "/crm/objects/2026-09/contacts"
    assert served.hubspot("GET", path)[0] == 429
    assert served.hubspot("GET", path)[1]["message"] == "scripted"
    assert served.hubspot("GET", path)[0] == 200

    served.call("POST", "/_fake/faults", {"script": ["500", "ok"]})
    assert [served.hubspot("GET", path)[0] for _ in range(3)] == [500, 200, 200]

    requests = served.call("GET", "/_fake/requests")[1]
    assert [r["status"] for r in requests["requests"]][-6:] == [429, 429, 200, 500, 200, 200]


def test_an_oauth_token_is_answered_without_the_daily_headers(served: Fake) -> None:
    added = {"token": "oauth-access", "kind": "oauth"}
    assert served.call("POST", "/_fake/tokens", added) == (200, {"token": "added"})
    path = served.base_url + "/crm/objects/2026-09/contacts"
    oauth = HTTP.request("GET", path, headers={"Authorization": "Bearer oauth-access"})
    assert oauth.status == 200 and "X-HubSpot-RateLimit-Max" in oauth.headers
    assert "X-HubSpot-RateLimit-Daily" not in oauth.headers
    private = HTTP.request("GET", path, headers={"Authorization": f"Bearer {served.token}"})
    assert "X-HubSpot-RateLimit-Daily" in private.headers
    anonymous = HTTP.request("GET", path)
    assert anonymous.status == 401 and "X-HubSpot-RateLimit-Max" not in anonymous.headers
    status, answer = served.call("POST", "/_fake/tokens", {"token": "t", "kind": "api-key"})
    assert status == 400 and "kind" in answer["errors"]


def test_bad_control_requests_name_the_field(served: Fake) -> None:
    status, answer = served.call("POST", "/_fake/fail-next", {"status": "soon"})
    assert status == 400 and "status" in answer["errors"]
    status, answer = served.call("POST", "/_fake/faults", {"kinds": ["earthquake"]})
    assert status == 400 and "earthquake" in answer["errors"]["kinds"]
    assert served.call("POST", "/_fake/nothing-here")[0] == 404
    assert served.call("POST", "/_fake/tickets/42/change", {"properties": {"x": "1"}})[0] == 404


def test_an_agents_change_reaches_the_panel_as_a_signed_webhook(
    served: Fake, receiver: tuple[str, queue.Queue[tuple[str, dict[str, str], bytes]]]
) -> None:
    url, received = receiver
    status, ticket = served.hubspot(
        "POST",
        "/crm/objects/2026-09/tickets",
        {"properties": {"subject": "Disk full", "hs_pipeline": "0", "hs_pipeline_stage": "1"}},
    )
    assert status == 201, ticket
    assert served.call("POST", "/_fake/webhooks", {"targetUrl": url})[0] == 200

    status, answer = served.call(
        "POST", f"/_fake/tickets/{ticket['id']}/change", {"properties": {"hs_pipeline_stage": "4"}}
    )
    assert status == 200 and answer["webhookStatuses"] == [204]

    _, headers, body = received.get(timeout=10)
    events = json.loads(body)
    assert [(e["objectId"], e["propertyName"], e["propertyValue"]) for e in events] == [
        (int(ticket["id"]), "hs_pipeline_stage", "4")
    ]
    # HubSpot's v3 signature: base64(HMAC-SHA256(secret, method + URI + body + timestamp)).
    signed = b"POST" + url.encode() + body + headers["x-hubspot-request-timestamp"].encode()
    expected = base64.b64encode(
        hmac.new(served.app_secret.encode(), signed, hashlib.sha256).digest()
    )
    assert headers["x-hubspot-signature-v3"] == expected.decode()
    state = served.call("GET", "/_fake/state")[1]
    assert state["tickets"][0]["properties"]["hs_pipeline_stage"] == "4"


def test_a_taken_port_is_one_line_and_exit_2(served: Fake) -> None:
    port = served.base_url.rsplit(":", 1)[1]
    done = subprocess.run(
        [sys.executable, "-m", "skypanel_hubspot_plugin.testing", "--port", port],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and f":{port}" in done.stderr


def test_portal_rules_are_set_listed_and_removed_over_http(served: Fake) -> None:
    rule = {
        "objectType": "contacts",
        "kind": "conditionally_required",
        "property": "company",
        "when": {"property": "lifecyclestage", "value": "customer"},
    }
    assert served.call("POST", "/_fake/rules", rule)[0] == 200
    assert served.call("GET", "/_fake/rules")[1] == {"rules": [rule]}
    assert served.call("GET", "/_fake/state")[1]["rules"] == [rule]
    customer = {"properties": {"email": "a@example.com", "lifecyclestage": "customer"}}
    status, answer = served.hubspot("POST", "/crm/objects/2026-09/contacts", customer)
    assert status == 400 and answer["errors"][0]["code"] == "MISSING_CONDITIONAL_REQUIRED_PROPERTY"
    assert served.hubspot("POST", "/crm/objects/2026-03/contacts", customer)[0] == 201
    status, answer = served.call("POST", "/_fake/rules", {**rule, "property": "nope"})
    assert status == 400 and "nope" in answer["errors"]["rule"]
    status, answer = served.call("POST", "/_fake/rules", {**rule, "when": "always"})
    assert status == 400 and "when" in answer["errors"]
    removed = served.call(
        "DELETE", "/_fake/rules", {"objectType": "contacts", "property": "company"}
    )
    assert removed == (200, {"removed": 1})
    assert served.call("GET", "/_fake/rules")[1] == {"rules": []}
