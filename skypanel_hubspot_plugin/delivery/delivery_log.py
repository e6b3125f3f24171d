"""One log record per outbox row settled, with the fields a log pipeline indexes.

Each record carries, through ``extra=``, ``outbox_id`` (the row), ``record`` (the HubSpot
record it writes, ``user:42``), ``kind`` (``contact_upsert``), ``worker_id`` and, when
HubSpot answered an error, its ``correlation_id`` (what HubSpot's support asks for). The
:class:`~skypanel_hubspot_plugin.common.json_logs.JsonLogFormatter` shows them as JSON
fields; a text formatter shows the message, which names the row and the record too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from skypanel_hubspot_plugin.delivery.outbox_table import OutboxRow

log = logging.getLogger("skypanel_hubspot_plugin.delivery")


def fields(row: OutboxRow, worker_id: str, correlation_id: str | None = None) -> dict[str, object]:
    """The ``extra=`` of a log record about ``row``."""
    return {
        "outbox_id": row.id,
        "record": row.entity,
        "kind": row.kind,
        "worker_id": worker_id,
        "correlation_id": correlation_id,
    }


def delivered(rows: Sequence[OutboxRow], worker_id: str, hubspot_id: str | None) -> None:
    if not log.isEnabledFor(logging.INFO):
        return  # a batch of a hundred rows builds no record nobody reads
    for row in rows:
        log.info(
            "HubSpot delivery %s (%s %s) delivered%s",
            row.id,
            row.kind,
            row.entity,
            f" as HubSpot object {hubspot_id}" if hubspot_id else "",
            extra={**fields(row, worker_id), "hubspot_id": hubspot_id},
        )


def retrying(
    rows: Sequence[OutboxRow],
    worker_id: str,
    error: str,
    delay_s: float,
    correlation_id: str | None,
) -> None:
    for row in rows:
        log.warning(
            "HubSpot delivery %s (%s %s) failed, attempt %d; retrying in %.0f s: %s",
            row.id,
            row.kind,
            row.entity,
            row.attempts + 1,
            delay_s,
            error,
            extra={**fields(row, worker_id, correlation_id), "attempt": row.attempts + 1},
        )


def parked(
    rows: Sequence[OutboxRow], worker_id: str, error: str, correlation_id: str | None
) -> None:
    for row in rows:
        log.warning(
            "HubSpot delivery %s (%s %s) parked: %s",
            row.id,
            row.kind,
            row.entity,
            error,
            extra={**fields(row, worker_id, correlation_id), "attempt": row.attempts + 1},
        )
