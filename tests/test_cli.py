"""The ``skypanel-hubspot`` command as an admin or a script uses it."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from panel_users import INTERRUPT_ENV, add_users
from sqlalchemy import create_engine

from skypanel_hubspot_plugin.cli import main
from skypanel_hubspot_plugin.cli import parser as cli_parser
from skypanel_hubspot_plugin.delivery.outbox import Outbox
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, QUEUED
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.settings.secrets import SecretBox
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot
from skypanel_hubspot_plugin.worker import parser as worker_parser


@pytest.fixture
def db(tmp_path: Path, secret_key: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SKYPANEL_HUBSPOT_SECRET_KEYS", secret_key)
    return f"sqlite:///{tmp_path / 'panel.sqlite3'}"


def configure(url: str, secret_key: str, token: str = FAKE_TOKEN) -> Runtime:
    rt = Runtime(create_engine(url), SecretBox([secret_key]))
    rt.store.setup()
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": token,
        }
    )
    return rt


def test_the_installed_command_answers_help() -> None:
    out = subprocess.run(
        [str(Path(sys.executable).parent / "skypanel-hubspot"), "--help"],  # the venv's script
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    for command in (
        "generate-key",
        "init-db",
        "test-connection",
        "sync-contacts",
        "rotate-key",
        "deliveries",
    ):
        assert command in out


def test_generate_key_prints_a_usable_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate-key"]) == 0
    Fernet(capsys.readouterr().out.strip())  # raises if it is not a Fernet key


def test_init_db_creates_the_settings(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init-db", "--database-url", db]) == 0
    rt = Runtime(create_engine(db), SecretBox([]))
    assert rt.settings().enabled is False and rt.outbox.counts() == {}


def test_test_connection_exit_codes_fit_scripts(
    db: str, secret_key: str, fake: FakeHubSpot, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(db, secret_key)
    assert main(["test-connection", "--database-url", db, "--base-url", fake.base_url]) == 0
    assert "HubSpot connection successful" in capsys.readouterr().out
    configure(db, secret_key, "pat-na1-00000000-0000-4000-8000-000000000000")
    assert (
        main(["test-connection", "--json", "--database-url", db, "--base-url", fake.base_url]) == 1
    )
    result = json.loads(capsys.readouterr().out)
    assert result["success"] is False and "Invalid API key" in result["message"]


def test_deliveries_are_listed_and_parked_ones_replayed(
    db: str, secret_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rt = configure(db, secret_key)
    outbox = Outbox(rt.store.engine)
    outbox.record("contact.upsert", "user:1", {"user_id": "1"}, dead_reason="email: is required")
    assert main(["deliveries", "--database-url", db, "--status", "parked"]) == 0
    out = capsys.readouterr().out
    assert "parked: 1" in out and "email: is required" in out  # the admin pages' word
    assert "dead" not in out
    assert main(["deliveries", "--database-url", db, "--replay"]) == 0
    assert "Queued 1 parked delivery again." in capsys.readouterr().out
    assert outbox.counts() == {QUEUED: 1}
    assert DEAD not in outbox.counts()


def test_problems_are_listed_by_cause_and_one_group_replayed(
    db: str, secret_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rt = configure(db, secret_key)
    outbox = Outbox(rt.store.engine)
    for n in (1, 2):
        outbox.record(
            "contact.upsert", f"user:{n}", {"user_id": n}, dead_reason="email: is required"
        )
    outbox.record("ticket.create", "ticket:7", {"user_id": 1}, dead_reason="subject: is required")
    assert main(["problems", "--database-url", db]) == 0
    out = capsys.readouterr().out
    assert "parked x2" in out and "parked x1" in out and "fix:" in out
    assert main(["problems", "--database-url", db, "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)["groups"]
    email = next(g for g in groups if g["properties"] == ["email"])
    assert email["count"] == 2
    assert main(["problems", "--database-url", db, "--replay", email["key"]]) == 0
    assert "Queued 2 parked deliveries again." in capsys.readouterr().out
    assert outbox.counts() == {QUEUED: 2, DEAD: 1}
    assert main(["problems", "--database-url", db, "--replay", email["key"]]) == 1


def test_rotate_key_reencrypts_under_the_newest_key(
    db: str, secret_key: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(db, secret_key)
    newest = Fernet.generate_key().decode()
    monkeypatch.setenv("SKYPANEL_HUBSPOT_SECRET_KEYS", f"{newest},{secret_key}")
    assert main(["rotate-key", "--database-url", db]) == 0
    assert SecretBox([newest]).primary_key_id in capsys.readouterr().out
    only_newest = Runtime(create_engine(db), SecretBox([newest]))
    assert only_newest.settings().token.reveal() == FAKE_TOKEN


def test_a_missing_database_url_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SKYPANEL_DATABASE_URL", raising=False)
    with pytest.raises(SystemExit) as raised:
        main(["init-db"])
    assert raised.value.code == 2
    assert "--database-url" in capsys.readouterr().err


def emails(n: int) -> list[str]:
    return [f"user{i}@example.com" for i in range(n)]


def sync(db: str, fake: FakeHubSpot, *extra: str) -> int:
    return main(
        [
            "sync-contacts",
            "--database-url",
            db,
            "--base-url",
            fake.base_url,
            "--users",
            "panel_users:users_source",
            *extra,
        ]
    )


def test_sync_contacts_sends_every_user_in_batches(
    db: str, secret_key: str, fake: FakeHubSpot, capsys: pytest.CaptureFixture[str]
) -> None:
    rt = configure(db, secret_key)
    add_users(rt.store.engine, [*emails(248), "not-an-email", ""])
    assert sync(db, fake, "--page-size", "64") == 1  # two users HubSpot can never take
    captured = capsys.readouterr()
    assert "250 users, 248 delivered, 2 parked." in captured.out
    assert "deliveries --status parked" in captured.err
    assert sorted(c["properties"]["email"] for c in fake.contacts()) == sorted(emails(248))
    # Users not linked yet go in batch creates (HubSpot answers each one).
    batches = [r for r in fake.requests if r.path.endswith("/contacts/batch/create")]
    assert all(len(r.body["inputs"]) <= 100 for r in batches)
    # 250 users in 3 full batches at best; sending starts while users are still being read
    # (pages of 64), so a sender may go with part of a batch rather than wait.
    assert 3 <= len(batches) <= 5
    # Running it again is a new backfill: the same contacts, updated, not duplicated.
    assert sync(db, fake) == 1
    assert len(fake.contacts()) == 248


def test_sync_contacts_resumes_after_an_interruption(
    db: str,
    secret_key: str,
    fake: FakeHubSpot,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rt = configure(db, secret_key)
    add_users(rt.store.engine, emails(1000))
    monkeypatch.setenv(INTERRUPT_ENV, "3")  # Ctrl-C while reading the 4th page of users
    assert sync(db, fake, "--page-size", "100") == 130
    assert "run sync-contacts again to resume" in capsys.readouterr().err
    assert len(fake.contacts()) <= 300  # at most the users read before Ctrl-C
    monkeypatch.delenv(INTERRUPT_ENV)
    assert sync(db, fake, "--page-size", "100") == 0
    captured = capsys.readouterr()
    assert "Resuming contact backfill" in captured.err
    assert "1000 users, 1000 delivered, 0 parked." in captured.out
    assert sorted(c["properties"]["email"] for c in fake.contacts()) == sorted(emails(1000))
    assert rt.outbox.counts() == {"delivered": 1000}  # each user queued exactly once


def test_sync_contacts_stopped_by_ctrl_c_while_sending_resumes(
    db: str, secret_key: str, fake: FakeHubSpot, tmp_path: Path
) -> None:
    rt = configure(db, secret_key)
    add_users(rt.store.engine, emails(600))
    fake.set_faults(latency_s=1.0)  # each batch takes a while, so there is time to press Ctrl-C
    command = [
        str(Path(sys.executable).parent / "skypanel-hubspot"),
        "sync-contacts",
        "--database-url",
        db,
        "--base-url",
        fake.base_url,
        "--users",
        "panel_users:users_source",
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    fake.wait_for(lambda f: len(f.contacts()) >= 100, timeout=30)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=30)
    assert first.returncode == 130, err
    assert len(fake.contacts()) < 600
    fake.set_faults()
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert "600 users, 600 delivered, 0 parked." in second.stdout
    assert len(fake.contacts()) == 600
    assert sum(rt.outbox.counts().values()) == 600  # resumed: nobody queued twice


def test_sync_contacts_keeps_its_word_through_many_ctrl_cs(
    db: str, secret_key: str, fake: FakeHubSpot
) -> None:
    rt = configure(db, secret_key)
    # Enough users that no run in between can finish the backfill (two senders, 100 a
    # request, each run pressed once it has sent something).
    add_users(rt.store.engine, emails(1500))
    fake.set_faults(latency_s=0.3)
    command = [
        str(Path(sys.executable).parent / "skypanel-hubspot"),
        "sync-contacts",
        "--database-url",
        db,
        "--base-url",
        fake.base_url,
        "--users",
        "panel_users:users_source",
        "--page-size",
        "100",
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    for round_ in range(1, 6):
        before = len(fake.contacts())
        run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # Pressed once this run has sent something (so it is up and listening for Ctrl-C).
        fake.wait_for(lambda f, n=before: len(f.contacts()) > n, timeout=30)
        run.send_signal(signal.SIGINT)
        if round_ % 2:
            run.send_signal(signal.SIGINT)  # pressed twice: stops at once, still cleanly
        _, err = run.communicate(timeout=30)
        assert run.returncode == 130, err
        assert b"Traceback" not in err, err.decode()
        assert b"run sync-contacts again to resume" in err
    fake.set_faults()
    last = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert last.returncode == 0, last.stderr
    assert "1500 users, 1500 delivered, 0 parked." in last.stdout
    assert sum(rt.outbox.counts().values()) == 1500  # each user queued once, in one backfill
    job = rt.backfills.latest()
    assert job is not None and job.id == 1
    progress = rt.backfills.progress(job)
    assert progress.state == "done"
    # Finished means delivered: after the last batch, not when the users were read.
    assert progress.finished_at is not None and progress.queued_all_at is not None
    assert progress.finished_at > progress.queued_all_at


def test_test_connection_speaks_the_version_asked_for_on_the_command_line(
    db: str, secret_key: str, fake: FakeHubSpot, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(db, secret_key)
    args = ["test-connection", "--json", "--database-url", db, "--base-url", fake.base_url]
    assert main([*args, "--api-version", "2026-03"]) == 0
    assert json.loads(capsys.readouterr().out)["apiVersion"] == "2026-03"
    assert fake.requests[0].path == "/account-info/2026-03/details"
    assert main(args) == 0  # no override: the setting's default
    assert json.loads(capsys.readouterr().out)["apiVersion"] == "2026-09"
    with pytest.raises(SystemExit) as stopped:
        main([*args, "--api-version", "2024-01"])
    assert stopped.value.code == 2
    assert "2026-09, 2026-03, v3" in capsys.readouterr().err


# -- a first run: bad URLs, help texts ------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("foo://somewhere/db", "unknown database kind 'foo'"),
        ("not a url", "is not a database URL"),
        ("sqlite:////no/such/folder/panel.sqlite3", "folder /no/such/folder"),
    ],
)
@pytest.mark.parametrize(
    "command",
    [
        ["skypanel-hubspot", "init-db"],
        ["skypanel-hubspot", "deliveries"],
        [sys.executable, "-m", "skypanel_hubspot_plugin.worker"],
    ],
    ids=["init-db", "deliveries", "worker"],
)
def test_a_bad_database_url_is_one_line_and_exit_2(
    command: list[str], url: str, words: str
) -> None:
    if command[0] == "skypanel-hubspot":
        command = [str(Path(sys.executable).parent / "skypanel-hubspot"), *command[1:]]
    done = subprocess.run(
        [*command, "--database-url", url], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--database-url" in lines[0] and words in lines[0]
    assert "Traceback" not in done.stderr


def test_an_unreachable_database_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "postgresql+psycopg://panel:hunter2secret@127.0.0.1:1/panel"
    assert main(["init-db", "--database-url", url]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot use the panel's database" in err
    assert "hunter2secret" not in err


def all_options(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.Action]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += [(f"{name} {o}", a) for o, a in all_options(sub)]
        elif not isinstance(action, argparse._HelpAction):
            found.append(
                (action.option_strings[0] if action.option_strings else action.dest, action)
            )
    return found


@pytest.mark.parametrize("build", [cli_parser, worker_parser], ids=["cli", "worker"])
def test_every_option_has_help_showing_its_default(build) -> None:  # type: ignore[no-untyped-def]
    for name, action in all_options(build()):
        assert action.help, f"{name} has no help text"
        assert "default" in action.help, f"{name}'s help does not show its default"


def test_the_help_texts_read_as_plain_text_and_name_the_right_program() -> None:
    top = cli_parser().format_help()
    assert "``" not in top and ":mod:" not in top
    worker = subprocess.run(
        [sys.executable, "-m", "skypanel_hubspot_plugin.worker", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert worker.startswith("usage: python -m skypanel_hubspot_plugin.worker ")
    assert "__main__.py" not in worker


def test_sync_contacts_without_the_key_says_the_token_is_saved_and_how_to_give_the_key(
    db: str,
    secret_key: str,
    fake: FakeHubSpot,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rt = configure(db, secret_key)
    add_users(rt.store.engine, emails(3))
    monkeypatch.delenv("SKYPANEL_HUBSPOT_SECRET_KEYS")  # a new shell on a kept --data-dir
    assert sync(db, fake) == 1
    err = capsys.readouterr().err
    assert "An access token is saved, encrypted" in err
    assert "SKYPANEL_HUBSPOT_SECRET_KEYS" in err and "hubspot-secret.key" in err
    assert FAKE_TOKEN not in err


def test_sync_contacts_against_an_unreachable_hubspot_stops_with_the_reason(
    db: str, secret_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rt = configure(db, secret_key)
    add_users(rt.store.engine, emails(5))
    closed = "http://127.0.0.1:9"  # nothing listens there
    args = ["sync-contacts", "--database-url", db, "--base-url", closed]
    args += ["--users", "panel_users:users_source", "--give-up-after", "1"]
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: no contact reached HubSpot for 1 s; HubSpot's last answer: ")
    assert "could not be reached" in err and "run sync-contacts again to resume" in err
    assert rt.outbox.counts() == {"queued": 5}  # nothing lost, nothing parked


# -- every option checked; nothing created by a command that reads -----------------------

#: Options whose value is checked by the command itself, not by argparse (each has a test).
CHECKED_BY_THE_COMMAND = {"--database-url", "--users"}

#: Values no option of any command may accept: negative or huge numbers, not-numbers,
#: empty, out-of-range floats, hexadecimal.
BAD_VALUES = st.one_of(
    st.integers(max_value=-1).map(str),
    st.integers(min_value=10**19, max_value=10**40).map(str),
    st.sampled_from(["", " ", "nan", "inf", "-inf", "1e999", "0x10", "abc", "5 days"]),
)


def valued_options() -> list[tuple[str, str, argparse.Action]]:
    """(command, option, action) for every option of every command that takes a value."""
    found = []
    for action in cli_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, sub in action.choices.items():
                for option in sub._actions:
                    if option.option_strings and option.nargs != 0:
                        found.append((command, option.option_strings[0], option))
    return found


def test_every_option_that_takes_a_value_is_checked_where_it_is_read() -> None:
    unchecked = [
        f"{command} {name}"
        for command, name, action in valued_options()
        if action.type is None and action.choices is None and name not in CHECKED_BY_THE_COMMAND
    ]
    assert unchecked == []


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(option=st.sampled_from(valued_options()), value=BAD_VALUES)
def test_a_bad_value_for_any_option_is_one_line_exit_2_and_changes_nothing(
    db_file: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
    option: tuple[str, str, argparse.Action],
    value: str,
) -> None:
    url, path = db_file
    command, name, _ = option
    if name in CHECKED_BY_THE_COMMAND:
        return  # their own tests: a bad database URL, a bad users source
    before = path.read_bytes()
    argv = [command, "--database-url", url]
    if command == "sync-contacts":
        argv += ["--users", "panel_users:users_source"]
    with pytest.raises(SystemExit) as stopped:
        main([*argv, f"{name}={value}"])  # "=": a value starting with "-" is still a value
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and name in err, err
    assert "Traceback" not in err
    assert path.read_bytes() == before  # nothing erased, replayed or written


@pytest.fixture
def db_file(tmp_path: Path, secret_key: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A configured panel database with one delivery of each status."""
    monkeypatch.setenv("SKYPANEL_HUBSPOT_SECRET_KEYS", secret_key)
    path = tmp_path / "panel.sqlite3"
    rt = configure(f"sqlite:///{path}", secret_key)
    outbox = Outbox(rt.store.engine)
    outbox.record("contact.upsert", "user:1", {"user_id": "1"})
    outbox.record("contact.upsert", "user:2", {"user_id": "2"}, dead_reason="email: is required")
    rt.store.engine.dispose()
    return f"sqlite:///{path}", path


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["purge", "--older-than", "-5"], "--older-than: -5 is out of range: use 0 to 36500"),
        (["purge", "--older-than", "999999999"], "--older-than: 999999999 is out of range"),
        (["deliveries", "--limit", "-1"], "--limit: -1 is out of range: use 1 to 10000"),
        (["deliveries", "--limit", "9" * 20], "--limit: 99999999999999999999 is out of range"),
        (["deliveries", "--replay", "9" * 20], "--replay: 99999999999999999999 is out of range"),
        (["sync-contacts", "--users", "x:y", "--page-size", "0"], "--page-size: 0 is out of"),
    ],
)
def test_the_values_that_used_to_do_harm_are_refused(
    db_file: tuple[str, Path], capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    url, path = db_file
    before = path.read_bytes()
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "--database-url", url])
    assert stopped.value.code == 2
    assert words in capsys.readouterr().err
    assert path.read_bytes() == before


def database_commands() -> list[str]:
    return sorted({command for command, name, _ in valued_options() if name == "--database-url"})


@pytest.mark.parametrize("command", [c for c in database_commands() if c != "init-db"])
def test_a_command_that_reads_never_creates_the_database_it_was_given(
    command: str, tmp_path: Path, secret_key: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SKYPANEL_HUBSPOT_SECRET_KEYS", secret_key)
    typo = tmp_path / "pannel.sqlite3"
    extra = ["--users", "panel_users:users_source"] if command == "sync-contacts" else []
    assert main([command, "--database-url", f"sqlite:///{typo}", *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"error: --database-url: there is no SQLite database at {typo} (init-db creates one)"
    ]
    assert not typo.exists()


def test_init_db_is_the_command_that_creates_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "new.sqlite3"
    assert main(["init-db", "--database-url", f"sqlite:///{path}"]) == 0
    assert path.is_file()
    assert main(["status", "--database-url", f"sqlite:///{path}"]) == 0


# -- words ------------------------------------------------------------------------------------


def test_an_unreachable_base_url_is_named_in_the_advice(
    db: str, secret_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(db, secret_key)
    closed = "http://127.0.0.1:9"  # nothing listens there
    assert main(["test-connection", "--database-url", db, "--base-url", closed]) == 1
    out = capsys.readouterr().out
    assert f"Check that this server can open connections to {closed}." in out
    assert "api.hubapi.com" not in out


def test_without_the_key_the_error_is_printed_once_and_names_each_secret_rightly(
    db: str,
    secret_key: str,
    fake: FakeHubSpot,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rt = configure(db, secret_key)
    rt.store.save({"hubspot_app_secret": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"})
    add_users(rt.store.engine, emails(2))
    monkeypatch.delenv("SKYPANEL_HUBSPOT_SECRET_KEYS")
    assert sync(db, fake) == 1
    err = capsys.readouterr().err
    assert err.count("no encryption key is configured") == 1, err
    assert err.startswith("error: An access token is saved, encrypted")
    keyless = Runtime(create_engine(db), SecretBox([]))
    problems = keyless.store.reload().problems
    assert problems["hubspot_app_secret"].startswith("An app client secret is saved, encrypted")
    assert problems["hubspot_api_key"].startswith("An access token is saved, encrypted")


def test_sync_contacts_check_lists_who_hubspot_would_refuse_and_sends_nothing(
    db: str, secret_key: str, fake: FakeHubSpot, capsys: pytest.CaptureFixture[str]
) -> None:
    rt = configure(db, secret_key)
    fake.add_property(
        "contacts",
        "support_level",
        type="enumeration",
        field_type="select",
        options=["User 0", "User 1"],
    )
    rt.store.save(
        {
            "hubspot_contact_property_map": json.dumps(
                {"email": "email", "first_name": "support_level"}
            )
        }
    )
    add_users(rt.store.engine, [*emails(5), "not-an-email"])  # ids 1-6, "User 0".."User 5"
    assert sync(db, fake, "--check", "--show", "3") == 1
    captured = capsys.readouterr()
    assert "Checked 6 users: 4 would be refused by HubSpot (4 problems)." in captured.out
    assert "unknown option: 3" in captured.out and "missing required: 1" in captured.out
    assert "user 3: support_level: unknown option — 'User 2' is not one of its options" in (
        captured.out
    )
    assert "… and 1 more" in captured.out
    assert FAKE_TOKEN not in captured.out + captured.err
    assert {(r.method, r.path) for r in fake.requests} == {
        ("GET", "/crm/properties/2026-09/contacts")
    }
    assert rt.outbox.counts() == {}

    assert sync(db, fake, "--check", "--json") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["users"] == 6 and report["refusedUsers"] == 4
    assert {k: v for k, v in report["problems"][-1].items() if k != "detail"} == {
        "userId": "6",
        "property": "email",
        "kind": "missing required",
    }
    assert all(r.method == "GET" for r in fake.requests)

    fake.set_property_options(
        "contacts",
        "support_level",
        [{"label": f"User {i}", "value": f"User {i}"} for i in range(6)],
    )
    rt.store.save({"hubspot_contact_property_map": json.dumps({"email": "email"})})
    with create_engine(db).begin() as conn:
        conn.exec_driver_sql("DELETE FROM panel_users WHERE email = 'not-an-email'")
    assert sync(db, fake, "--check") == 0
    assert "Checked 5 users: 0 would be refused" in capsys.readouterr().out
