"""JSON log lines as a log pipeline reads them: one JSON object per line, each delivery's
outbox row, record, worker and HubSpot correlation id as fields, and never a secret."""

from __future__ import annotations

import io
import json
import logging
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pluggy
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine

from skypanel_hubspot_plugin.cli import main
from skypanel_hubspot_plugin.common.json_logs import LOG_FORMAT_ENV, JsonLogFormatter
from skypanel_hubspot_plugin.common.scrub import PACKAGE, install_log_filter
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.payloads import User
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.testing import FAKE_TOKEN, FakeHubSpot

CORRELATION_ID = "8c6a2d1f-3b4e-4f5a-9c7d-0e1f2a3b4c5d"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The package's records, formatted by the public formatter as a host installs it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter())
    logger = logging.getLogger(PACKAGE)
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def parsed(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def deliver_one(
    rt: Runtime,
    pm: pluggy.PluginManager,
    user_id: str,
    answer: tuple[int, dict[str, str]] | None,
    fake: FakeHubSpot,
) -> Worker:
    """Records user ``user_id`` and has a worker try it once, HubSpot answering ``answer``."""
    pm.hook.skypanel_on_user_created(
        user=User(id=user_id, email=f"user{user_id}@example.com"), session=None
    )
    if answer is not None:
        fake.fail_next(answer[0], body=answer[1])
    worker = Worker(rt)
    assert worker.run_once() == 1
    return worker


def hubspot_error(status: int) -> tuple[int, dict[str, str]]:
    return status, {
        "status": "error",
        "message": f"Refused (you sent Bearer {FAKE_TOKEN})",
        "correlationId": CORRELATION_ID,
        "category": "VALIDATION_ERROR" if status == 400 else "INTERNAL_ERROR",
    }


def test_every_delivery_line_is_json_with_its_fields_and_no_token(
    rt: Runtime, pm: pluggy.PluginManager, fake: FakeHubSpot, json_lines: io.StringIO
) -> None:
    install_log_filter()
    workers = {
        "41": deliver_one(rt, pm, "41", None, fake),
        "42": deliver_one(rt, pm, "42", hubspot_error(400), fake),
        "43": deliver_one(rt, pm, "43", hubspot_error(503), fake),
    }
    rows = {r.entity: r for r in rt.outbox.rows()}
    lines = parsed(json_lines)
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line)
    about = {line["record"]: line for line in lines if "record" in line}
    assert set(about) == {"user:41", "user:42", "user:43"}
    for user_id, worker in workers.items():
        line = about[f"user:{user_id}"]
        assert line["outbox_id"] == rows[f"user:{user_id}"].id
        assert line["worker_id"] == worker.worker_id
        assert line["kind"] == "contact.upsert"
    delivered, parked, retrying = (about[f"user:{n}"] for n in ("41", "42", "43"))
    assert delivered["level"] == "INFO" and delivered["correlation_id"] is None
    assert delivered["hubspot_id"] == rows["user:41"].hubspot_id
    assert parked["level"] == "WARNING" and "parked" in str(parked["message"])
    assert retrying["level"] == "WARNING" and "retrying" in str(retrying["message"])
    assert parked["correlation_id"] == retrying["correlation_id"] == CORRELATION_ID
    assert FAKE_TOKEN not in json_lines.getvalue()


def test_the_formatter_scrubs_secrets_in_every_field_and_keeps_one_line(
    rt: Runtime, json_lines: io.StringIO
) -> None:
    log = logging.getLogger(f"{PACKAGE}.anywhere")
    try:
        raise RuntimeError(f"header was Bearer {FAKE_TOKEN}\nsecond line")
    except RuntimeError:
        log.exception(
            "refused %s", FAKE_TOKEN, extra={"record": "user:7", "detail": {"token": FAKE_TOKEN}}
        )
    text = json_lines.getvalue()
    assert FAKE_TOKEN not in text
    [line] = parsed(json_lines)
    assert line["record"] == "user:7"
    assert "[redacted]" in str(line["message"]) and "[redacted]" in str(line["detail"])
    assert "RuntimeError" in str(line["exception"])
    assert text.count("\n") == 1


def test_a_record_from_another_logger_is_scrubbed_too() -> None:
    from skypanel_hubspot_plugin.common.secret import Secret

    Secret(FAKE_TOKEN)  # known to the scrubber, as a token read from the settings is
    record = logging.LogRecord("sqlalchemy", logging.ERROR, "", 0, "sent %s", (FAKE_TOKEN,), None)
    line = JsonLogFormatter().format(record)
    assert FAKE_TOKEN not in line and json.loads(line)["logger"] == "sqlalchemy"


def test_the_command_line_writes_json_lines_on_stderr(
    rt: Runtime,
    engine: Engine,
    secret_key: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    new_key = Fernet.generate_key().decode()
    monkeypatch.setenv("SKYPANEL_HUBSPOT_SECRET_KEYS", f"{new_key},{secret_key}")
    url = engine.url.render_as_string(hide_password=False)
    assert main(["rotate-key", "--database-url", url, "--log-format", "json"]) == 0
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.err.splitlines()]  # each line is JSON
    assert [line["message"] for line in lines if "re-encrypted" in str(line["message"])]
    assert all(str(line["logger"]).startswith(PACKAGE) for line in lines)
    assert FAKE_TOKEN not in captured.err and "re-encrypted with key" in captured.out
    assert not logging.getLogger(PACKAGE).handlers or all(
        not isinstance(h.formatter, JsonLogFormatter) for h in logging.getLogger(PACKAGE).handlers
    )  # the command's handler is gone once it returned


def test_a_wrong_log_format_in_the_environment_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(LOG_FORMAT_ENV, "xml")
    assert main(["generate-key"]) == 2
    assert LOG_FORMAT_ENV in capsys.readouterr().err


def test_the_worker_process_logs_json_lines(
    rt: Runtime, engine: Engine, secret_key: str, tmp_path: object
) -> None:
    """``--log-format json`` on the worker: its start, each delivery and its stop as JSON."""
    url = engine.url.render_as_string(hide_password=False)
    rt.outbox.record("contact.upsert", "user:77", {"email": "x@example.com"})
    env = {"SKYPANEL_HUBSPOT_SECRET_KEYS": secret_key, "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "skypanel_hubspot_plugin.worker",
            "--database-url",
            url,
            "--base-url",
            rt.base_url,
            "--log-format",
            "json",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stderr is not None
    stream = process.stderr

    def read() -> None:
        for text in stream:
            lines.put(text)

    threading.Thread(target=read, daemon=True).start()
    found: list[dict[str, object]] = []
    try:
        deadline = time.monotonic() + 60
        while not any(line.get("record") == "user:77" for line in found):
            raw = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert raw.startswith("{"), raw  # every line is JSON
            found.append(json.loads(raw))
    finally:
        process.terminate()
        process.wait(timeout=30)
    [delivered] = [line for line in found if line.get("record") == "user:77"]
    assert str(delivered["message"]).startswith("HubSpot delivery")
    assert delivered["worker_id"] and delivered["outbox_id"]
    assert any(str(line["message"]).startswith("HubSpot delivery worker") for line in found)
