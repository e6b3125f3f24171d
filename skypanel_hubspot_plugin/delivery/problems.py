"""The problems view: parked and long-waiting deliveries grouped by why.

An admin with 300 parked rows does not read 300 errors; they are a handful of causes (a
property HubSpot does not have, an option missing from an enumeration, a scope the app
lacks), each fixed once and then replayed together. Rows are grouped by HubSpot's answer
with its record-specific parts (values, ids, emails) taken out and by the property it names;
each group has its count, one example, the fix, and a key to replay the group with.

It reads the plugin's own tables only (at most :data:`SCAN_LIMIT` rows, newest first), so
it answers while HubSpot is down.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from skypanel_hubspot_plugin.audit.trail import Actor
from skypanel_hubspot_plugin.common import clock
from skypanel_hubspot_plugin.common.scrub import scrub
from skypanel_hubspot_plugin.delivery.outbox import PURGED, Outbox
from skypanel_hubspot_plugin.delivery.outbox_table import DEAD, QUEUED, OutboxRow
from skypanel_hubspot_plugin.hubspot.errors import readable_results

#: Rows read to build the view; the view says when there were more.
SCAN_LIMIT = 5000
#: A queued row is "long-waiting" once it has been in the queue this long.
WAITING_AFTER = timedelta(minutes=15)
PARKED = "parked"
WAITING = "waiting"

_PREFIX_RE = re.compile(
    r"^(?P<status>HTTP \d{3}|no answer)(?: (?P<category>[A-Z_]+))?: (?P<rest>.*)$", re.S
)
_PROPERTY_RE = re.compile(r"\(propert(?:y|ies) ([A-Za-z0-9_, ]+)\)")
_NAMED_RE = re.compile(
    r"[Pp]roperty (?!values? (?!for ))(?:named |values? for )?['\"]?([a-z][a-z0-9_]*)['\"]?"
)
_EMAIL_RE = re.compile(r"[^\s'\"@<>]+@[^\s'\"@<>]+")
_QUOTED_RE = re.compile(r"'[^']*'|\"[^\"]*\"")
_NUMBER_RE = re.compile(r"\b\d{2,}\b")
_SPACES_RE = re.compile(r"\s+")
_CODED_RE = re.compile(
    r"(?:^|; )(?P<name>[A-Za-z][A-Za-z0-9_.]*): .*? \[(?P<code>[A-Z][A-Z0-9_]*)\](?=; |$)", re.S
)
_FIELD_RE = re.compile(r"[a-z][a-z0-9_.]*")
MAX_REASON = 300
#: The category of a row refused by the plugin itself, before any request.
PANEL_VALUE = "PANEL_VALUE"


@dataclass(frozen=True)
class Cause:
    """Why a row failed, without what makes it this row's: the group's identity."""

    state: str  # parked | waiting
    status: str  # "HTTP 400", "no answer", or "" for a row that never failed
    category: str
    reason: str
    properties: tuple[str, ...]

    @property
    def key(self) -> str:
        text = json.dumps([self.state, self.status, self.category, self.reason, self.properties])
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class Problem:
    """One group of rows with the same cause."""

    cause: Cause
    fix: str
    ids: list[int] = field(default_factory=list)
    example: OutboxRow | None = None
    example_error: str | None = None

    @property
    def replayable(self) -> bool:
        return self.cause.state == PARKED

    def as_json(self) -> dict[str, Any]:
        example = self.example
        return {
            "key": self.cause.key,
            "state": self.cause.state,
            "status": self.cause.status or None,
            "category": self.cause.category or None,
            "reason": self.cause.reason,
            "properties": list(self.cause.properties),
            "count": len(self.ids),
            "fix": self.fix,
            "replayable": self.replayable,
            "example": None
            if example is None
            else {
                "id": example.id,
                "kind": example.kind,
                "entity": example.entity,
                "attempts": example.attempts,
                "createdAt": example.created_at.isoformat(),
                "lastError": self.example_error,
            },
        }


@dataclass
class Problems:
    """The groups, biggest first; ``truncated`` when more rows than were scanned need care."""

    groups: list[Problem]
    scanned: int
    truncated: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "groups": [g.as_json() for g in self.groups],
            "rows": sum(len(g.ids) for g in self.groups),
            "scanned": self.scanned,
            "truncated": self.truncated,
        }

    def find(self, key: str) -> Problem | None:
        return next((g for g in self.groups if g.cause.key == key), None)


def problems(outbox: Outbox, *, waiting_after: timedelta = WAITING_AFTER) -> Problems:
    """Parked rows, and queued rows older than ``waiting_after``, grouped by cause."""
    old = clock.utcnow() - waiting_after
    with Session(outbox.engine) as session:
        rows = list(
            session.exec(
                select(OutboxRow)
                .where(
                    or_(
                        col(OutboxRow.status) == DEAD,
                        (col(OutboxRow.status) == QUEUED) & (col(OutboxRow.created_at) < old),
                    ),
                    col(OutboxRow.payload) != PURGED,
                )
                .order_by(col(OutboxRow.id).desc())
                .limit(SCAN_LIMIT + 1)
            )
        )
    truncated = len(rows) > SCAN_LIMIT
    rows = rows[:SCAN_LIMIT]
    waits = outbox.waiting_for([r for r in rows if r.status == QUEUED])
    groups: dict[str, Problem] = {}
    for row in reversed(rows):  # oldest first: the example is the first row of its cause
        assert row.id is not None
        cause = cause_of(row, waits.get(row.id))
        group = groups.get(cause.key)
        if group is None:
            group = groups[cause.key] = Problem(cause, fix_for(cause))
            group.example = row
            group.example_error = None if row.last_error is None else scrub(row.last_error)
        group.ids.append(row.id)
    ordered = sorted(groups.values(), key=lambda g: (g.cause.state != PARKED, -len(g.ids)))
    return Problems(ordered, len(rows), truncated)


def replay_group(
    outbox: Outbox,
    key: str,
    contact_map: Mapping[str, str] | None = None,
    actor: Actor | None = None,
) -> int | None:
    """Queues a parked group's rows again (contact rows mapped again with ``contact_map``,
    the replay in the audit trail as ``actor``'s); None when no parked group has that key."""
    group = problems(outbox).find(key)
    if group is None or not group.replayable:
        return None
    return outbox.replay(group.ids, contact_map, actor)


def cause_of(row: OutboxRow, waiting_for: str | None = None) -> Cause:
    """The cause of one parked or waiting row."""
    state = PARKED if row.status == DEAD else WAITING
    error = scrub(row.last_error) if row.last_error else ""
    if state == WAITING and waiting_for and "(parked" in waiting_for:
        kind = waiting_for.split("#")[0].removeprefix("waiting for ").strip()
        return Cause(state, "", "", f"waiting behind a parked {kind} of the same record", ())
    if not error:
        return Cause(state, "", "", "waiting in the queue: no attempt has failed yet", ())
    match = _PREFIX_RE.match(error)
    if match is None and (fields := _panel_fields(error)):
        # Refused before it was sent (InvalidInput: "field: problem; field: problem").
        reason = "; ".join(f"{k}: {_SPACES_RE.sub(' ', v)}" for k, v in fields.items())
        return Cause(state, "", PANEL_VALUE, reason, tuple(sorted(fields)))
    status, category, rest = (
        (match["status"], match["category"] or "", match["rest"]) if match else ("", "", error)
    )
    rest = rest.split(". HubSpot refused the access token")[0]
    properties, reason = _hubspot_details(rest)
    return Cause(state, status, category, reason, properties)


def _panel_fields(error: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in error.split("; "):
        name, colon, problem = part.partition(": ")
        if not colon or not _FIELD_RE.fullmatch(name):
            return {}
        fields[name] = problem
    return fields


def _hubspot_details(message: str) -> tuple[tuple[str, ...], str]:
    """The properties HubSpot named and its message without this record's values.

    HubSpot's validation answers list per-property errors, read as ``name: why [CODE]``
    (:func:`~skypanel_hubspot_plugin.hubspot.errors.readable_results`); their names and
    codes are the cause, the values in their texts are the record's."""
    names: list[str] = []
    codes: list[str] = []
    message = readable_results(message)  # a row parked before refusals were read so
    head, sep, said = message.partition(": ")
    coded = list(_CODED_RE.finditer(said)) if sep else []
    if coded and "".join(m.group(0) for m in coded) == said:
        # The plugin's reading of HubSpot's per-property results: "name: why [CODE]; ...".
        # The why quotes the record's value; the names and codes are the cause.
        for match in coded:
            if match["name"] not in names:
                names.append(match["name"])
            if match["code"] not in codes:
                codes.append(match["code"])
        message = f"{head}: {', '.join(codes)}"
    for found in _PROPERTY_RE.findall(message):
        names.extend(n.strip() for n in found.split(",") if n.strip() and n.strip() not in names)
    message = _PROPERTY_RE.sub("", message)
    for name in _NAMED_RE.findall(message):
        if name not in names:
            names.append(name)
    reason = _EMAIL_RE.sub("<email>", message)
    reason = _QUOTED_RE.sub("'…'", reason)
    reason = _NUMBER_RE.sub("N", reason)
    reason = _SPACES_RE.sub(" ", reason).strip()
    if len(reason) > MAX_REASON:
        reason = reason[: MAX_REASON - 1] + "…"
    return tuple(sorted(names)), reason


def fix_for(cause: Cause) -> str:
    """What the admin does about a group, in one or two sentences."""
    named = ", ".join(cause.properties)
    prop = f"HubSpot property {named}" if named else "the HubSpot property it names"
    text = f"{cause.category} {cause.reason}".lower()
    then = " Then replay this group."
    if cause.state == WAITING:
        if "parked" in cause.reason:
            return "Fix the parked delivery they wait for (its group is above) and replay it."
        if not cause.status:
            return "Nothing yet: the worker has not reached them. Check a worker is running."
        return (
            "HubSpot keeps failing in a way retrying can fix; these retry by themselves. "
            "Check HubSpot's status and the rate-limit budget on the Health card."
        )
    if cause.category == PANEL_VALUE:
        return (
            f"The panel's value of {named} cannot be sent to HubSpot: correct it in the "
            "panel (the change is sent by itself) or change the property map." + then
        )
    if cause.status == "HTTP 401":
        return (
            "Fix the access token in the HubSpot settings (Test connection says when it works)."
            + then
        )
    if cause.status == "HTTP 403" or "missing_scopes" in text:
        return "Give the app the scopes HubSpot names, in HubSpot's app settings." + then
    if cause.status == "HTTP 404":
        return (
            "The HubSpot record was deleted in HubSpot. Replaying creates it again where the "
            "plugin can; otherwise delete the parked rows with `skypanel-hubspot purge`."
        )
    if "option" in text:
        return (
            f"The panel sends a value that is not an option of {prop}: map it to an allowed "
            "value in the property map, or add the option in HubSpot." + then
        )
    if "doesnt_exist" in text or "does not exist" in text or "unknown property" in text:
        return (
            f"{prop.capitalize()} does not exist: create it in HubSpot or remove it from the property map."
            + then
        )
    if "required" in text:
        return (
            f"The portal requires {prop} (a property rule or the creation form): map a panel "
            "field to it, or relax the rule in HubSpot." + then
        )
    if "email" in text:
        return "HubSpot refuses the user's email address: correct it in the panel; the change is sent by itself."
    if cause.status.startswith("HTTP 4"):
        return f"HubSpot refuses a value of {prop}: fix it in the panel or the property map." + then
    return (
        "HubSpot failed on every attempt (it was down or slow for long): once it works again, "
        "replay this group."
    )
