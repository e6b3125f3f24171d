"""Opening the panel's database from a URL typed on a command line.

SQLAlchemy reports a bad URL with a traceback-shaped error (``NoSuchModuleError`` for an
unknown scheme, ``OperationalError`` on first use for a SQLite file in a missing folder);
:func:`engine_from_url` checks what it can before connecting and says in one line what
is wrong. The URL's password is never part of a message.

SQLite creates a missing file on first use, so a mistyped path to the panel's database
would give an empty one that looks healthy; a command that reads the panel's database
asks for ``existing=True`` and is refused instead (only ``init-db`` creates one).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.common.scrub import scrub

FIELD = "--database-url"
EXAMPLES = "sqlite:///path/to/panel.sqlite3 or postgresql+psycopg://user@host/dbname"


def engine_from_url(url: str, *, existing: bool = False) -> Engine:
    """An engine for ``url``; InvalidInput({"--database-url": ...}) naming what is wrong.

    With ``existing``, a SQLite file that is not there is refused rather than created."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidInput({FIELD: f"is not a database URL; expected {EXAMPLES}"}) from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        folder = Path(parsed.database).expanduser().parent
        if not folder.is_dir():
            raise InvalidInput({FIELD: f"the folder {folder} for the SQLite file does not exist"})
        file = Path(parsed.database).expanduser()
        if existing and not file.is_file():
            raise InvalidInput(
                {FIELD: f"there is no SQLite database at {file} (init-db creates one)"}
            )
    try:
        return create_engine(parsed)
    except NoSuchModuleError:
        raise InvalidInput(
            {FIELD: f"unknown database kind {parsed.drivername!r}; expected {EXAMPLES}"}
        ) from None
    except (ArgumentError, ImportError) as exc:
        shown = parsed.render_as_string(hide_password=True)
        raise InvalidInput({FIELD: f"cannot be used ({shown}): {exc}"}) from None


def database_problem(exc: SQLAlchemyError) -> str:
    """One line for a database that refused: the driver's own first line, no SQL, no URL."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return scrub(f"cannot use the panel's database: {lines[0] if lines else type(exc).__name__}")
