"""Panel form submissions reach HubSpot's Forms API through the outbox, as HubSpot takes them."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from skypanel_hubspot_plugin import FormConsent, SubscriptionConsent, Visitor
from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.delivery.form_submission import submission_body
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, DELIVERED, OutboxRow
from skypanel_hubspot_plugin.hubspot import forms_api
from skypanel_hubspot_plugin.hubspot.errors import BadRequest
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot

CONTACT_FORM = "1b2c3d4e-5f60-4718-9a0b-c1d2e3f4a5b6"
TICKET_FORM = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
HUTK = "6f453d92607b8108998dc213178ad214"
FIELDS = {"email": "ada@example.com", "firstname": "Ada", "message": "Line one\nline two"}
VISITOR = Visitor(
    hutk=HUTK,
    page_uri="https://panel.example.com/signup?plan=vps",
    page_name="Sign up",
    ip_address="203.0.113.7",
)
CONSENT = FormConsent(
    consent_to_process=True,
    text="I agree to allow Example Hosting to store and process my personal data.",
    communications=(
        SubscriptionConsent(999, True, "I agree to receive marketing communications."),
    ),
)


def enable(rt: Runtime, **extra: object) -> None:
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_contact_form_id": CONTACT_FORM,
            "hubspot_ticket_form_id": TICKET_FORM,
            **extra,
        }
    )


def rows(engine: Engine) -> list[OutboxRow]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxRow).order_by(col(OutboxRow.id))))


def wait_until(predicate, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.fixture
def forms(fake: FakeHubSpot) -> FakeHubSpot:
    fake.add_form(CONTACT_FORM, ["email", "firstname", "lastname", "message"], required=["email"])
    fake.add_form(TICKET_FORM, ["email", "subject", "content"])
    return fake


def submit(pm, form: str = "contact", fields=FIELDS, visitor=VISITOR, session=None) -> None:  # type: ignore[no-untyped-def]
    pm.hook.skypanel_on_form_submitted(form=form, fields=fields, visitor=visitor, session=session)


def test_a_submission_arrives_with_its_fields_context_and_consent(  # type: ignore[no-untyped-def]
    pm, started, forms: FakeHubSpot, engine: Engine
) -> None:
    enable(started)
    before_ms = int(time.time() * 1000)
    submit(pm, visitor=dataclasses.replace(VISITOR, consent=CONSENT))
    forms.wait_for(lambda f: len(f.form_submissions()) == 1)
    (got,) = forms.form_submissions(CONTACT_FORM)
    assert got["portalId"] == FAKE_PORTAL_ID and got["formGuid"] == CONTACT_FORM
    assert got["fields"] == FIELDS
    assert got["context"] == {
        "hutk": HUTK,
        "pageUri": "https://panel.example.com/signup?plan=vps",
        "pageName": "Sign up",
        "ipAddress": "203.0.113.7",
    }
    assert got["legalConsentOptions"] == {
        "consent": {
            "consentToProcess": True,
            "text": CONSENT.text,
            "communications": [
                {
                    "value": True,
                    "subscriptionTypeId": 999,
                    "text": "I agree to receive marketing communications.",
                }
            ],
        }
    }
    assert before_ms <= int(got["submittedAt"]) <= int(time.time() * 1000)
    wait_until(lambda: rows(engine)[0].status == DELIVERED)
    (row,) = rows(engine)
    assert (row.kind, row.entity, row.attempts) == ("form.submit", "form:contact", 0)
    (request,) = [r for r in forms.requests if r.path.startswith("/submissions/")]
    assert request.path == f"/submissions/v3/integration/submit/{FAKE_PORTAL_ID}/{CONTACT_FORM}"
    assert all(f["objectTypeId"] == "0-1" for f in request.body["fields"])


def test_the_ticket_form_goes_to_its_own_form_without_consent_when_none_was_given(  # type: ignore[no-untyped-def]
    pm, started, forms: FakeHubSpot
) -> None:
    enable(started)
    submit(pm, "ticket", {"email": "ada@example.com", "subject": "VPS down"}, Visitor())
    forms.wait_for(lambda f: len(f.form_submissions(TICKET_FORM)) == 1)
    (got,) = forms.form_submissions(TICKET_FORM)
    assert got["fields"] == {"email": "ada@example.com", "subject": "VPS down"}
    assert got["context"] == {} and got["legalConsentOptions"] is None


def test_a_malformed_hutk_is_left_out_and_the_submission_still_goes(  # type: ignore[no-untyped-def]
    pm, started, forms: FakeHubSpot, engine: Engine
) -> None:
    enable(started)
    submit(pm, visitor=Visitor(hutk="not-a-cookie", page_uri="javascript:alert(1)", page_name="Hi"))
    forms.wait_for(lambda f: len(f.form_submissions()) == 1)
    assert forms.form_submissions()[0]["context"] == {"pageName": "Hi"}
    sent = [r.body for r in forms.requests if r.path.startswith("/submissions/")]
    assert "hutk" not in json.dumps(sent)
    wait_until(lambda: rows(engine)[0].status == DELIVERED)


def test_a_refusal_from_hubspot_parks_the_row_with_its_reasons(  # type: ignore[no-untyped-def]
    pm, started, forms: FakeHubSpot, engine: Engine
) -> None:
    enable(started)
    submit(pm, fields={"email": "ada@example.com", "favourite_colour": "teal"})
    wait_until(lambda: rows(engine)[0].status == DEAD)
    (row,) = rows(engine)
    assert row.attempts == 1
    error = str(row.last_error)
    assert error.startswith("HTTP 400")
    assert "FIELD_NOT_IN_FORM_DEFINITION" in error and "favourite_colour" in error
    assert forms.form_submissions() == []


def test_an_unknown_portal_or_form_parks_the_row(  # type: ignore[no-untyped-def]
    pm, started, forms: FakeHubSpot, engine: Engine
) -> None:
    enable(started, hubspot_contact_form_id="00000000-0000-4000-8000-000000000000")
    submit(pm)
    wait_until(lambda: rows(engine)[0].status == DEAD)
    assert str(rows(engine)[0].last_error).startswith("HTTP 404")


def test_transient_failures_are_retried_until_delivered(  # type: ignore[no-untyped-def]
    pm, started, forms: FakeHubSpot, engine: Engine
) -> None:
    forms.fail_next(503)
    enable(started)
    submit(pm)
    forms.wait_for(lambda f: len(f.form_submissions()) == 1, timeout=20)
    wait_until(lambda: rows(engine)[0].status == DELIVERED)
    assert rows(engine)[0].attempts == 1


def test_a_rolled_back_panel_transaction_sends_nothing(  # type: ignore[no-untyped-def]
    pm, started, forms: FakeHubSpot, engine: Engine
) -> None:
    enable(started)
    with Session(engine) as session:
        submit(pm, fields={"email": "rolled@example.com"}, session=session)
        session.rollback()
    with Session(engine) as session:
        submit(pm, fields={"email": "kept@example.com"}, session=session)
        session.commit()
    forms.wait_for(lambda f: len(f.form_submissions()) == 1)
    wait_until(lambda: rows(engine)[0].status == DELIVERED)
    assert [s["fields"]["email"] for s in forms.form_submissions()] == ["kept@example.com"]
    assert len(rows(engine)) == 1


def test_nothing_is_recorded_while_hubspot_or_the_form_is_off(  # type: ignore[no-untyped-def]
    pm, started, engine: Engine
) -> None:
    submit(pm)
    enable(started, hubspot_enabled=False)
    submit(pm)
    enable(started, hubspot_ticket_form_id="")
    submit(pm, "ticket")
    assert rows(engine) == []


@pytest.mark.parametrize(
    ("fields", "consent", "named"),
    [
        ({"Email Address": "ada@example.com"}, None, "fields.Email Address"),
        ({"firstname": "Bad\x07Name"}, None, "fields.firstname"),
        ({"firstname": 42}, None, "fields.firstname"),
        ({}, None, "fields"),
        (FIELDS, FormConsent(True, "   "), "consent.text"),
        (
            FIELDS,
            FormConsent(True, "ok", (SubscriptionConsent(7, True, "a"),) * 2),
            "consent.communications[1].subscription_type_id",
        ),
    ],
)
def test_a_submission_hubspot_could_never_take_is_parked_naming_the_field(  # type: ignore[no-untyped-def]
    pm,
    started,
    forms: FakeHubSpot,
    engine: Engine,
    fields: dict[str, Any],
    consent: FormConsent | None,
    named: str,
) -> None:
    enable(started)
    submit(pm, fields=fields, visitor=Visitor(consent=consent))
    submit(pm, fields={"email": "fine@example.com"})
    forms.wait_for(lambda f: len(f.form_submissions()) == 1)
    parked = [r for r in rows(engine) if r.status == DEAD]
    assert len(parked) == 1 and str(parked[0].last_error).startswith(f"{named}:"), parked
    assert json.loads(parked[0].payload)["rejected"]["form"] == "contact"


def test_an_unknown_form_name_is_logged_with_the_event_and_never_raises(  # type: ignore[no-untyped-def]
    pm, started, engine: Engine, plugin_log: pytest.LogCaptureFixture
) -> None:
    enable(started)
    submit(pm, "newsletter")
    (record,) = [r for r in plugin_log.records if r.levelname == "ERROR"]
    assert "'contact' or 'ticket', not 'newsletter'" in record.getMessage()
    replay = json.loads(record.getMessage().split("to replay by hand: ", 1)[1])
    assert replay["fields"] == FIELDS and replay["visitor"]["hutk"] == HUTK
    assert rows(engine) == []


def test_a_hook_never_raises_into_the_panel_before_start_up(pm, plugin_log) -> None:  # type: ignore[no-untyped-def]
    submit(pm)
    (record,) = [r for r in plugin_log.records if r.levelname == "ERROR"]
    assert "PluginNotStarted" in record.getMessage()


class _Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, dict[str, str], Any]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length))
        self.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        payload = json.dumps({"inlineMessage": "Thanks for submitting the form."}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def forms_host() -> Iterator[tuple[str, list[tuple[str, dict[str, str], Any]]]]:
    seen: list[tuple[str, dict[str, str], Any]] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_the_forms_host_can_be_set_apart_and_never_receives_the_token(  # type: ignore[no-untyped-def]
    pm, started, engine: Engine, forms_host, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = forms_host
    monkeypatch.setenv(forms_api.FORMS_BASE_URL_ENV, url)
    enable(started)
    submit(pm)
    wait_until(lambda: rows(engine)[0].status == DELIVERED)
    ((path, headers, body),) = seen
    assert path == f"/submissions/v3/integration/submit/{FAKE_PORTAL_ID}/{CONTACT_FORM}"
    assert "authorization" not in headers
    assert FAKE_TOKEN not in json.dumps([headers, body])
    assert headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("crm_base", "env", "expected"),
    [
        ("https://api.hubapi.com", "", "https://api.hsforms.com"),
        ("https://api.hubapi.com/", "", "https://api.hsforms.com"),
        ("http://127.0.0.1:8080", "", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080", "https://forms.sandbox.test/", "https://forms.sandbox.test"),
        ("https://api.hubapi.com", "https://forms.sandbox.test", "https://forms.sandbox.test"),
    ],
)
def test_where_submissions_go(
    monkeypatch: pytest.MonkeyPatch, crm_base: str, env: str, expected: str
) -> None:
    monkeypatch.setenv(forms_api.FORMS_BASE_URL_ENV, env)
    assert forms_api.forms_base_url(crm_base) == expected


def test_a_refusal_names_each_of_hubspots_reasons() -> None:
    exc = BadRequest(
        "The request is not valid",
        status=400,
        details=[
            {
                "message": "Error in 'fields.email'. Invalid email address",
                "errorType": "INVALID_EMAIL",
            },
            {"message": "Error in 'context.hutk'. hutk is invalid", "errorType": "INVALID_HUTK"},
        ],
    )
    assert forms_api.name_the_reasons(exc).message == (
        "The request is not valid (INVALID_EMAIL: Error in 'fields.email'. Invalid email "
        "address; INVALID_HUTK: Error in 'context.hutk'. hutk is invalid)"
    )


# -- what comes from outside: the visitor's cookie, page and typing ------------------------------

field_names = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
typed = st.text(st.characters(codec="utf-8"), max_size=200)
cookies = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.text("0123456789abcdef", min_size=32, max_size=32),
    st.text("0123456789abcdefABCDEF", min_size=31, max_size=33),
)
page_uris = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda scheme, host, path: f"{scheme}://{host}/{path}",
        st.sampled_from(["https", "http", "javascript", "ftp", ""]),
        st.text(max_size=20),
        st.text(max_size=30),
    ),
)


@settings(max_examples=400, deadline=None)
@given(
    fields=st.dictionaries(field_names | st.text(max_size=10), typed, min_size=1, max_size=5),
    hutk=cookies,
    page_uri=page_uris,
    page_name=st.text(max_size=50),
    ip=st.one_of(st.none(), st.ip_addresses().map(str), st.text(max_size=20)),
)
def test_whatever_a_visitor_sends_the_body_is_valid_or_the_field_is_named(
    fields: dict[str, str], hutk: str | None, page_uri: str, page_name: str, ip: str | None
) -> None:
    visitor = Visitor(hutk=hutk, page_uri=page_uri, page_name=page_name, ip_address=ip)
    try:
        body = submission_body(fields, visitor, submitted_at_ms=1)
    except InvalidInput as exc:
        assert exc.errors and all(k.startswith("fields.") for k in exc.errors)
        assert set(exc.errors) <= {f"fields.{name}" for name in fields}
        return
    assert {f["name"]: f["value"] for f in body["fields"]} == fields
    context = body.get("context", {})
    assert ("hutk" in context) == (
        hutk is not None and forms_api.HUTK_RE.fullmatch(hutk.strip()) is not None
    )
    if "pageUri" in context:
        assert context["pageUri"].split(":", 1)[0] in ("http", "https")
    json.dumps(body)  # it is the JSON the outbox stores


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.fixed_dictionaries({"email": st.just("ada@example.com"), "message": typed}),
    hutk=cookies,
    page_uri=page_uris,
    ip=st.one_of(st.none(), st.ip_addresses().map(str), st.text(max_size=20)),
)
def test_what_we_build_hubspot_accepts(  # type: ignore[no-untyped-def]
    started,
    forms: FakeHubSpot,
    values: dict[str, str],
    hutk: str | None,
    page_uri: str,
    ip: str | None,
) -> None:
    # The fake refuses what HubSpot refuses (INVALID_HUTK, INVALID_PAGE_URI, …): a body we
    # build from anything a visitor sends must never be refused for its context.
    enable(started)
    visitor = Visitor(hutk=hutk, page_uri=page_uri, page_name="Sign up", ip_address=ip)
    try:
        body = submission_body(values, visitor, submitted_at_ms=1)
    except InvalidInput:
        return
    message = started.service().submit_form(str(FAKE_PORTAL_ID), CONTACT_FORM, body)
    assert message == "Thanks for submitting the form."
