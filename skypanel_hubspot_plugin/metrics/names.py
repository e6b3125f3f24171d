"""Every metric's name, help, labels and buckets, under the one prefix ``skypanel_hubspot_``.

Names follow Prometheus's conventions: counters end in ``_total``, durations are in
seconds (``_seconds``), and no label ever names a user, a ticket or any other record.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "skypanel_hubspot_"

COUNTER = "counter"
HISTOGRAM = "histogram"
GAUGE = "gauge"


@dataclass(frozen=True)
class Metric:
    """One metric family: how it is exposed and the labels its samples carry."""

    name: str
    kind: str
    help: str
    labels: tuple[str, ...] = ()
    #: Upper bounds of a histogram's buckets, in seconds (+Inf is added).
    buckets: tuple[float, ...] = ()


#: HubSpot answers within ~100 ms to a few seconds; a timeout is 10 s by default.
REQUEST_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: From the panel's commit to HubSpot's answer: well under a second when all is well,
#: minutes to hours while HubSpot refuses or the daily limit is spent.
DELAY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0)

DELIVERIES = Metric(
    f"{PREFIX}deliveries_total",
    COUNTER,
    "Outbox rows settled by the delivery workers: delivered, retried (an attempt failed, "
    "another follows) or parked (failed for good, replayable by an admin).",
    ("kind", "outcome"),
)
REQUESTS = Metric(
    f"{PREFIX}requests_total",
    COUNTER,
    "HubSpot API requests by API area and answer: the HTTP status of a refusal (429 is "
    "HubSpot's rate limit), 2xx for success, unreachable when no answer came.",
    ("area", "status"),
)
REQUEST_DURATION = Metric(
    f"{PREFIX}request_duration_seconds",
    HISTOGRAM,
    "Time from sending a HubSpot API request to its answer (or its failure).",
    ("area",),
    REQUEST_BUCKETS,
)
DELIVERY_DELAY = Metric(
    f"{PREFIX}delivery_delay_seconds",
    HISTOGRAM,
    "Time from the panel's commit of an event (its outbox row's creation) to HubSpot's "
    "answer that delivered it.",
    ("kind",),
    DELAY_BUCKETS,
)
WEBHOOK_EVENTS = Metric(
    f"{PREFIX}webhook_events_total",
    COUNTER,
    "HubSpot webhook events received, by subscription type and outcome: handled (handed to "
    "the panel), ignored (not a change the panel takes), refused (503: the panel cannot "
    "receive ticket changes; HubSpot sends them again); a request refused before its events "
    "were read counts once with type unknown (bad_signature, malformed).",
    ("type", "outcome"),
)

QUEUE_DEPTH = Metric(
    f"{PREFIX}queue_depth",
    GAUGE,
    "Queued outbox rows by status: due (waiting for a worker), leased (a worker holds "
    "them), retrying (waiting for the next attempt after a failure or behind another row).",
    ("status",),
)
OLDEST_QUEUED_AGE = Metric(
    f"{PREFIX}oldest_queued_age_seconds",
    GAUGE,
    "Age of the oldest queued outbox row, from the panel's commit; 0 when none is queued.",
)
PARKED = Metric(
    f"{PREFIX}parked_deliveries",
    GAUGE,
    "Outbox rows parked after failing for good, waiting for an admin's replay.",
)
RATE_LIMIT_REMAINING = Metric(
    f"{PREFIX}rate_limit_remaining",
    GAUGE,
    "HubSpot requests the workers may still start in the current rate-limit window "
    "(shared by every worker on the database).",
)
RATE_LIMIT = Metric(
    f"{PREFIX}rate_limit_requests",
    GAUGE,
    "HubSpot requests allowed per rate-limit window (the hubspot_rate_limit setting).",
)
RATE_LIMIT_WINDOW = Metric(
    f"{PREFIX}rate_limit_window_seconds",
    GAUGE,
    "Length of the rate-limit window.",
)
DAILY_LIMIT_PAUSED = Metric(
    f"{PREFIX}daily_limit_paused",
    GAUGE,
    "1 while delivery is paused because HubSpot's daily API limit is spent, else 0.",
)
DAILY_LIMIT_PAUSE = Metric(
    f"{PREFIX}daily_limit_pause_remaining_seconds",
    GAUGE,
    "Seconds until a pause for HubSpot's daily API limit ends; 0 when not paused.",
)
POLL_AGE = Metric(
    f"{PREFIX}ticket_poll_age_seconds",
    GAUGE,
    "Seconds since a worker last polled HubSpot for changed tickets; only while polling "
    "is the chosen way back (compare with hubspot_ticket_poll_interval).",
)

#: What the workers and routes count, stored in the counters table.
STORED = (DELIVERIES, REQUESTS, REQUEST_DURATION, DELIVERY_DELAY, WEBHOOK_EVENTS)
#: What a scrape reads from the outbox and the other tables as they are.
GAUGES = (
    QUEUE_DEPTH,
    OLDEST_QUEUED_AGE,
    PARKED,
    RATE_LIMIT_REMAINING,
    RATE_LIMIT,
    RATE_LIMIT_WINDOW,
    DAILY_LIMIT_PAUSED,
    DAILY_LIMIT_PAUSE,
    POLL_AGE,
)
