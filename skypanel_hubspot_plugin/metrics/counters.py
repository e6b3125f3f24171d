"""Adding to the shared counters and reading them back: one statement either way.

Workers add their counts in the transaction that changes the outbox rows they count, so a
count commits (or rolls back) with the state it describes and no process ever holds counts
of its own: whichever process is scraped sees every process's.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from skypanel_hubspot_plugin.metrics.names import Metric
from skypanel_hubspot_plugin.metrics.table import MetricCounter

_COUNTERS = MetricCounter.metadata.tables["hubspot_metric_counters"]
#: Longest label value stored; values come from fixed vocabularies and are far shorter.
MAX_VALUE = 40

#: Counts to add: (stored name, labels text) → amount.
Increments = dict[tuple[str, str], float]


def _clean(value: str) -> str:
    """A label value as stored: the characters of the vocabularies, nothing that could
    break the ``name=value,`` text."""
    kept = "".join(c if c.isascii() and (c.isalnum() or c in "_.:-+") else "_" for c in value)
    return kept[:MAX_VALUE] or "_"


def label_text(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={_clean(v)}" for k, v in sorted(labels.items()))


def parse_labels(text: str) -> dict[str, str]:
    pairs = (part.partition("=") for part in text.split(",") if part)
    return {name: value for name, _, value in pairs}


def count(into: Increments, metric: Metric, by: float = 1.0, **labels: str) -> None:
    """Adds ``by`` to ``metric``'s counter with ``labels``."""
    key = (metric.name, label_text(labels))
    into[key] = into.get(key, 0.0) + by


def observe(into: Increments, metric: Metric, seconds: float, **labels: str) -> None:
    """Counts one observation of ``metric`` (a histogram): its bucket, and its sum."""
    seconds = max(0.0, seconds)
    at = bisect.bisect_left(metric.buckets, seconds)
    le = repr(float(metric.buckets[at])) if at < len(metric.buckets) else "+Inf"
    bucket = (f"{metric.name}_bucket", label_text({**labels, "le": le}))
    into[bucket] = into.get(bucket, 0.0) + 1.0
    total = (f"{metric.name}_sum", label_text(labels))
    into[total] = into.get(total, 0.0) + seconds


def _upsert(dialect: str) -> Any:
    values: dict[str, Any] = {c: bindparam(c) for c in ("name", "labels", "value")}
    keys = [_COUNTERS.c.name, _COUNTERS.c.labels]
    if dialect == "postgresql":
        pg = postgresql.insert(_COUNTERS).values(values)
        return pg.on_conflict_do_update(
            index_elements=keys, set_={"value": _COUNTERS.c.value + pg.excluded.value}
        )
    lite = sqlite.insert(_COUNTERS).values(values)
    return lite.on_conflict_do_update(
        index_elements=keys, set_={"value": _COUNTERS.c.value + lite.excluded.value}
    )


_ADD = {name: _upsert(name) for name in ("postgresql", "sqlite")}
_BUMP = (
    update(_COUNTERS)
    .where(_COUNTERS.c.name == bindparam("key_name"), _COUNTERS.c.labels == bindparam("key_labels"))
    .values(value=_COUNTERS.c.value + bindparam("by"))
)


def _rows(increments: Mapping[tuple[str, str], float]) -> list[dict[str, Any]]:
    # Always in one order: two transactions adding to the same counters never deadlock.
    return [
        {"name": name, "labels": labels, "value": by}
        for (name, labels), by in sorted(increments.items())
        if by
    ]


def add(connection: Connection, increments: Mapping[tuple[str, str], float]) -> None:
    """Adds ``increments`` inside ``connection``'s transaction: one statement on SQLite
    and PostgreSQL (an upsert), an UPDATE and the INSERTs it missed elsewhere."""
    rows = _rows(increments)
    if not rows:
        return
    statement = _ADD.get(connection.dialect.name)
    if statement is not None:
        connection.execute(statement, rows)
        return
    for row in rows:  # other databases: no portable upsert
        bump = {"key_name": row["name"], "key_labels": row["labels"], "by": row["value"]}
        if connection.execute(_BUMP, bump).rowcount:
            continue
        try:
            with connection.begin_nested():
                connection.execute(insert(_COUNTERS), row)
        except IntegrityError:  # another process made it first
            connection.execute(_BUMP, bump)


def add_now(engine: Engine, increments: Mapping[tuple[str, str], float]) -> None:
    """Adds ``increments`` in a transaction of their own."""
    if any(increments.values()):
        with engine.begin() as connection:
            add(connection, increments)


def read_all(connection: Connection) -> Iterable[tuple[str, str, float]]:
    """Every stored counter: (name, labels text, value)."""
    found = connection.execute(select(_COUNTERS.c.name, _COUNTERS.c.labels, _COUNTERS.c.value))
    return [(str(n), str(labels), float(v)) for n, labels, v in found]
