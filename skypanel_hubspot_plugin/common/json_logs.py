"""Log records as JSON lines, for log pipelines that index fields (Loki, Elasticsearch, Cloud Logging).

:class:`JsonLogFormatter` turns each record into one JSON object on one line: ``time``
(UTC, ISO 8601), ``level``, ``logger``, ``message``, every field the record was given with
``extra=`` (a delivery's ``outbox_id``, ``record``, ``worker_id``, HubSpot's
``correlation_id``), and ``exception`` when there is one. Every text in it goes through
the secrets scrubber, whatever logger the record came from, so an access token or an app
secret never reaches the line.

A host installs it on the plugin's logger like any formatter::

    from skypanel_hubspot_plugin import JsonLogFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    logging.getLogger("skypanel_hubspot_plugin").addHandler(handler)

The worker and the command line use it with ``--log-format json`` or
``SKYPANEL_HUBSPOT_LOG_FORMAT=json``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import IO

from skypanel_hubspot_plugin.common.scrub import PACKAGE, scrub

LOG_FORMAT_ENV = "SKYPANEL_HUBSPOT_LOG_FORMAT"
TEXT, JSON = "text", "json"
LOG_FORMATS = (TEXT, JSON)

#: What every record has: these are the line's own fields (or not shown), never extras.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "_skypanel_scrubbed",
}


def _plain(value: object) -> object:
    """``value`` as JSON holds it, every text in it scrubbed."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {scrub(str(k)): _plain(v) for k, v in value.items()}
    return scrub(str(value))


class JsonLogFormatter(logging.Formatter):
    """Formats each log record as one line of JSON, secrets scrubbed (see the module)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and key not in line:
                line[key] = _plain(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = scrub(record.exc_text)
        if record.stack_info:
            line["stack"] = scrub(self.formatStack(record.stack_info))
        return json.dumps(line, default=str)


def log_format(chosen: str | None) -> str:
    """The format asked for: ``chosen`` (an option's value), else the environment's, else
    text. Raises ValueError naming the variable when it holds something else."""
    if chosen:
        return chosen
    from_env = os.environ.get(LOG_FORMAT_ENV, "").strip().lower()
    if from_env and from_env not in LOG_FORMATS:
        raise ValueError(f"{LOG_FORMAT_ENV} must be {' or '.join(LOG_FORMATS)}")
    return from_env or TEXT


def json_handler(stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing JSON lines to ``stream`` (stderr by default)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    return handler


def has_json_handler(logger: logging.Logger) -> bool:
    return any(isinstance(h.formatter, JsonLogFormatter) for h in logger.handlers)


def send_package_logs_as_json(
    level: int = logging.INFO, stream: IO[str] | None = None
) -> logging.Handler | None:
    """Writes the plugin's records from ``level`` up as JSON lines on stderr, and only
    there (not also through the root logger's handlers). Returns the handler added, or None
    when the plugin's or the root logger already writes JSON."""
    package = logging.getLogger(PACKAGE)
    if has_json_handler(package) or has_json_handler(logging.getLogger()):
        return None
    handler = json_handler(stream)
    package.addHandler(handler)
    package.setLevel(level)
    package.propagate = False
    return handler


def stop_package_json_logs(handler: logging.Handler | None) -> None:
    """Undoes :func:`send_package_logs_as_json`."""
    if handler is None:
        return
    package = logging.getLogger(PACKAGE)
    package.removeHandler(handler)
    package.setLevel(logging.NOTSET)
    package.propagate = True
