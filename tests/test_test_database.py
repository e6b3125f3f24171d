"""The PostgreSQL tests' skip message says what is missing and how to point them elsewhere."""

from __future__ import annotations

import pytest
import sqlalchemy
from conftest import POSTGRES_ENV, POSTGRES_URL, postgres_problem
from sqlalchemy import create_engine


def refusal(url: str) -> sqlalchemy.exc.OperationalError:
    engine = create_engine(url)
    try:
        with engine.connect():
            pass
    except sqlalchemy.exc.OperationalError as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError(f"{url} was usable")


@pytest.mark.postgres
def test_a_missing_database_on_a_running_server_is_named_as_missing() -> None:
    url = sqlalchemy.engine.make_url(POSTGRES_URL).set(database="no_such_db_for_tests")
    shown = url.render_as_string(hide_password=False)
    server = create_engine(url.set(database="postgres"))
    try:
        with server.connect():
            pass
    except sqlalchemy.exc.OperationalError:
        pytest.skip(f"PostgreSQL is not running at {POSTGRES_URL}")
    finally:
        server.dispose()
    message = postgres_problem(shown, refusal(shown))
    assert "answers at" in message and "not reachable" not in message
    assert "'no_such_db_for_tests'" in message and "createdb no_such_db_for_tests" in message
    assert POSTGRES_ENV in message


def test_an_unreachable_server_is_named_as_unreachable() -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/test"  # nothing listens on port 1
    message = postgres_problem(url, refusal(url))
    assert message.startswith("PostgreSQL is not reachable at postgresql+psycopg://")
    assert POSTGRES_ENV in message
