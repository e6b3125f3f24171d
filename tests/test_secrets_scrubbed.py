"""The access token and the app client secret never reach a stored error or a log line.

A token from ``SKYPANEL_HUBSPOT_ACCESS_TOKEN`` is checked like one typed in the form; and
whatever text the plugin stores as a delivery's error or logs is scrubbed of every secret
it has read, whole, escaped, or in pieces.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections.abc import Callable, Iterator
from urllib.parse import unquote

import pytest
from conftest import start_plugin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine
from sqlalchemy import select as sa_select

from skypanel_hubspot_plugin.admin.connection_test import check_connection
from skypanel_hubspot_plugin.admin.delivery_routes import get_deliveries
from skypanel_hubspot_plugin.admin.routes import post_test_connection
from skypanel_hubspot_plugin.admin.settings_routes import post_settings
from skypanel_hubspot_plugin.cli import main
from skypanel_hubspot_plugin.common import scrub as scrub_module
from skypanel_hubspot_plugin.common.scrub import REDACTED, ScrubFilter, scrub
from skypanel_hubspot_plugin.common.secret import Secret
from skypanel_hubspot_plugin.delivery.outbox_table import OutboxRow
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.payloads import AdminRequest, User
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.settings.store import TOKEN_ENV
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot

BROKEN = "pat-na1-11111111-2222-3333-4444\n-555555555555"
APP_SECRET = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


@pytest.fixture
def started(pm, sqlite_engine: Engine, secret_key: str, fake: FakeHubSpot) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    rt = start_plugin(pm, sqlite_engine, secret_key, fake.base_url)
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_app_secret": APP_SECRET,
        }
    )
    yield rt
    pm.hook.skypanel_shutdown()


def test_a_token_with_a_line_break_in_the_environment_is_refused_naming_the_variable(
    started: Runtime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(TOKEN_ENV, BROKEN)
    with caplog.at_level(logging.INFO):
        settings = started.store.reload()
    assert settings.token is None
    problem = settings.problems["hubspot_api_key"]
    assert TOKEN_ENV in problem and "line breaks" in problem
    shown = problem + caplog.text
    assert "pat-na1-1111" not in shown and "5555555" not in shown
    assert TOKEN_ENV in caplog.text
    checked = check_connection(settings, None)  # what "Test connection" tells the admin
    assert not checked.success and checked.message.startswith(f"The access token in {TOKEN_ENV}")


def test_a_clean_token_in_the_environment_is_used(
    started: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, f"  {FAKE_TOKEN}\n")
    settings = started.store.reload()
    assert settings.token == Secret(FAKE_TOKEN) and settings.token_source == "environment"


def test_a_stored_error_never_holds_the_token_or_the_app_secret(started: Runtime) -> None:
    started.outbox.record(
        "contact_upsert",
        "user:1",
        {},
        dead_reason=f"HubSpot said: Bearer {FAKE_TOKEN} / secret {APP_SECRET!r}",
    )
    [row] = started.outbox.rows(status="dead", limit=10)
    assert row.last_error is not None
    assert FAKE_TOKEN not in row.last_error and APP_SECRET not in row.last_error
    assert row.last_error.count(REDACTED) == 2


def test_a_log_line_never_holds_the_token_or_the_app_secret(
    started: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("skypanel_hubspot_plugin.delivery.outbox")
    with caplog.at_level(logging.INFO):
        log.warning("refused: %s and %r", FAKE_TOKEN, APP_SECRET)
        try:
            raise RuntimeError(f"Invalid header value b'Bearer {FAKE_TOKEN}'")
        except RuntimeError:
            log.exception("delivery failed")
    assert FAKE_TOKEN not in caplog.text and APP_SECRET not in caplog.text
    assert REDACTED in caplog.text and "delivery failed" in caplog.text


@pytest.fixture
def forgets_its_secrets() -> Iterator[None]:
    """Random secrets are forgotten after the test: hypothesis also tries strings it finds in
    the package's code, and a remembered "hubspot-secret.key" would be redacted from the
    messages other tests read."""
    with scrub_module._lock:
        saved = dict(scrub_module._known)
    yield
    with scrub_module._lock:
        scrub_module._known.clear()
        scrub_module._known.update(saved)
        scrub_module._pieces = frozenset().union(*saved.values())


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    token=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~+/", min_size=8, max_size=60),
    cut=st.integers(0, 60),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
)
def test_a_secret_is_scrubbed_whole_escaped_or_split_by_a_line_break(
    forgets_its_secrets: None, token: str, cut: int, before: str, after: str
) -> None:
    cut = min(cut, len(token))
    value = token[:cut] + "\n" + token[cut:]
    Secret(value)
    for shown in (value, repr(value), value.strip()):
        text = scrub(before + shown + after)
        for piece in value.split():
            if len(piece) >= 8:
                assert piece not in text


def test_every_logger_of_the_package_scrubs_once_the_plugin_started(started: Runtime) -> None:
    names = [n for n in logging.root.manager.loggerDict if n.startswith("skypanel_hubspot_plugin")]
    assert "skypanel_hubspot_plugin.delivery.outbox" in names
    unfiltered = [
        n
        for n in names
        if not any(isinstance(f, ScrubFilter) for f in logging.getLogger(n).filters)
    ]
    assert unfiltered == []


# -- HubSpot echoing a secret, in any encoding, reaches no surface --------------------------

ECHO_STATUSES = {
    400: "VALIDATION_ERROR",
    403: "FORBIDDEN",
    404: "OBJECT_NOT_FOUND",
    409: "OBJECT_ALREADY_EXISTS",
}


def readable(text: str) -> str:
    """``text`` as a reader could decode it: escapes (nested too) and URL encoding undone,
    whitespace removed, lower case. Written apart from the scrubber, so it checks it."""
    for _ in range(3):
        text = re.sub(r"\\[uU]([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), text)
        text = re.sub(r"\\([\"\\/])", r"\1", text)
        text = re.sub(r"\\[nrtNRT]", " ", text)
        text = unquote(text)
    return "".join(text.split()).lower()


def leaked(secret: str, text: str) -> list[str]:
    """Each run of 8 characters of ``secret`` that a reader finds in ``text``."""
    shown = readable(text)
    plain = secret.lower()
    return [plain[i : i + 8] for i in range(len(plain) - 7) if plain[i : i + 8] in shown]


@st.composite
def echoes(draw: st.DrawFn, secret: str) -> str:
    """``secret``, whole or a long part of it, as HubSpot might echo it back."""
    start = draw(st.integers(0, len(secret) - 8))
    end = draw(st.integers(start + 8, len(secret)))
    piece = draw(st.sampled_from([secret, secret[start:end]]))
    for encoding in draw(st.lists(st.sampled_from(list(ENCODINGS)), min_size=1, max_size=2)):
        flags = draw(st.lists(st.booleans(), min_size=len(piece), max_size=len(piece)))
        piece = ENCODINGS[encoding](piece, flags)
    return piece


def _split(text: str, flags: list[bool]) -> str:
    cuts = [i for i, cut in enumerate(flags) if cut][:3] or [len(text) // 2]
    return "".join(c + ("\r\n  " if i in cuts else "") for i, c in enumerate(text))


def _unicode(text: str, flags: list[bool]) -> str:
    return "".join(
        f"\\u{ord(c):04x}" if f or not any(flags) else c for c, f in zip(text, flags, strict=True)
    )


ENCODINGS: dict[str, Callable[[str, list[bool]], str]] = {
    "raw": lambda text, flags: text,
    "split over lines": _split,
    "\\u-escaped": _unicode,
    # a JSON document inside the message, its string \u-escaped, quoted once more
    "JSON-escaped": lambda text, flags: json.dumps(
        '{"authorization": "' + _unicode(text, flags) + '"}'
    ),
    "URL-encoded": lambda text, flags: "".join(
        f"%{ord(c):02X}" if f or not any(flags) else c for c, f in zip(text, flags, strict=True)
    ),
    "upper-cased": lambda text, flags: text.upper(),
}

SURFACES = (
    "admin test-connection (JSON)",
    "test-connection message (text)",
    "settings save",
    "stored error of a parked delivery",
    "admin deliveries",
    "cli test-connection",
    "cli test-connection --json",
    "cli deliveries",
    "cli status",
)
DELIVERY_SURFACES = SURFACES[3:5] + SURFACES[7:]


@pytest.fixture
def echoing(pm, tmp_path, secret_key: str, fake: FakeHubSpot, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The plugin on a SQLite file (so the command line can open it too), no worker thread."""
    url = f"sqlite:///{tmp_path / 'panel.sqlite3'}"
    monkeypatch.setenv("SKYPANEL_HUBSPOT_SECRET_KEYS", secret_key)
    engine = create_engine(url)
    rt = start_plugin(pm, engine, secret_key, fake.base_url, run_worker=False)
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_app_secret": APP_SECRET,
            "hubspot_ticket_enabled": True,
        }
    )
    yield rt, url, pm
    pm.hook.skypanel_shutdown()
    engine.dispose()


def read_surface(  # type: ignore[no-untyped-def]
    surface: str, pm, rt: Runtime, url: str, fake: FakeHubSpot, capsys: pytest.CaptureFixture[str]
) -> str:
    """Makes the next HubSpot answer reach ``surface``; returns what the admin reads there."""
    cli = ["--database-url", url, "--base-url", fake.base_url]
    if surface == "admin test-connection (JSON)":
        return json.dumps(post_test_connection(AdminRequest(method="POST")).body)
    if surface == "test-connection message (text)":
        return check_connection(rt.settings(), rt.service(require_enabled=False)).message
    if surface == "settings save":
        answer = post_settings(AdminRequest(method="POST", body={"hubspot_ticket_stage": "2"}))
        assert answer.status >= 400  # the pipeline check met HubSpot's error: nothing saved
        return json.dumps(answer.body)
    if surface.startswith("cli test-connection"):
        assert main(["test-connection", *cli, *(["--json"] if "json" in surface else [])]) == 1
        captured = capsys.readouterr()
        return captured.out + captured.err
    # the rest show a delivery HubSpot refused, and so parked
    user_id = str(next(USER_IDS))
    pm.hook.skypanel_on_user_created(
        user=User(id=user_id, email=f"user{user_id}@example.com"), session=None
    )
    Worker(rt).run_once()
    [row] = [r for r in rt.outbox.rows(status="dead") if r.entity == f"user:{user_id}"]
    if surface == "stored error of a parked delivery":
        with rt.store.engine.connect() as conn:  # the column as stored, not as shown
            stored = conn.execute(
                sa_select(OutboxRow.last_error).where(OutboxRow.id == row.id)  # type: ignore[arg-type]
            ).scalar_one()
        assert stored
        return str(stored)
    if surface == "admin deliveries":
        return json.dumps(get_deliveries(AdminRequest()).body)
    command = "deliveries" if surface == "cli deliveries" else "status"
    assert main([command, "--database-url", url]) == 0
    captured = capsys.readouterr()
    return captured.out + captured.err


USER_IDS = itertools.count(1000)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_secret_hubspot_echoes_in_any_encoding_reaches_no_surface(  # type: ignore[no-untyped-def]
    echoing,
    fake: FakeHubSpot,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    data,
) -> None:
    rt, url, pm = echoing
    secret = data.draw(st.sampled_from([FAKE_TOKEN, APP_SECRET]), label="secret")
    echo = data.draw(echoes(secret), label="echo")
    surface = data.draw(st.sampled_from(SURFACES), label="surface")
    # A refused delivery is parked at once only for a 400; the others reach an admin as is.
    statuses = [400] if surface in DELIVERY_SURFACES else sorted(ECHO_STATUSES)
    status = data.draw(st.sampled_from(statuses), label="status")
    fake.reset()
    body = {
        "status": "error",
        "message": f"Invalid value for header Authorization: Bearer {echo} (request refused)",
        "category": ECHO_STATUSES[status],
        "errors": [{"message": f"token {echo}", "context": {"propertyName": [echo]}}],
    }
    fake.fail_next(status, body=body)
    with caplog.at_level(logging.DEBUG, logger="skypanel_hubspot_plugin"):
        shown = read_surface(surface, pm, rt, url, fake, capsys)
    assert fake.requests and fake.requests[-1].status == status  # HubSpot did echo it
    assert leaked(secret, shown) == [], (surface, shown)
    assert leaked(secret, caplog.text) == [], "log records"


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    secret=st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEF0123456789-._~+/", min_size=16, max_size=60
    ),
    data=st.data(),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
)
def test_any_secret_is_scrubbed_in_any_encoding_whatever_surrounds_it(
    forgets_its_secrets: None, secret: str, data: st.DataObject, before: str, after: str
) -> None:
    Secret(secret)
    echo = data.draw(echoes(secret), label="echo")
    assert leaked(secret, scrub(before + echo + after)) == []
