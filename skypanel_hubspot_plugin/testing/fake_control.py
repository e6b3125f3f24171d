"""The fake HubSpot's control API: what a test in any language uses to drive the fake.

A panel written in PHP, Go or anything else cannot import :class:`FakeHubSpot`; started
as a server (``python -m skypanel_hubspot_plugin.testing``), the fake answers HubSpot's
paths as usual and, under ``/_fake/``, this small JSON API to reset it, script failures,
set the portal's rules on writes, read its state and play an agent whose changes send signed webhooks, like moto's
``/moto-api/``. Every answer is JSON; a bad request answers 400 naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.common.json_body import parse_json

from .fake_errors import CrmError
from .fake_hubspot import ALL_SCOPES, FAKE_TOKEN, FakeHubSpot
from .fake_store import OBJECT_TYPES
from .fake_webhooks import FAKE_APP_SECRET

#: Paths under this prefix are the control API's, never HubSpot's.
CONTROL_PREFIX = "/_fake/"
FAULT_KINDS = ("429", "500", "502", "503", "slow", "timeout-before", "lost-504", "lost-drop")

Answer = tuple[int, Any]


class ControlApi:
    """Routes ``/_fake/…`` requests to the fake's own methods; see docs/fake-hubspot-server.md."""

    def __init__(self, fake: FakeHubSpot) -> None:
        self.fake = fake
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Answer]]] = [
            (m, re.compile(rf"{CONTROL_PREFIX}{p}", re.ASCII), h)
            for m, p, h in (
                ("GET", "info", self._info),
                ("GET", "state", self._state),
                ("GET", "requests", self._requests),
                ("POST", "reset", self._reset),
                ("POST", "faults", self._faults),
                ("POST", "fail-next", self._fail_next),
                ("POST", "tokens", self._add_token),
                ("POST", "forms", self._add_form),
                ("POST", "pipelines", self._add_pipeline),
                ("POST", "properties", self._add_property),
                ("GET", "rules", self._rules),
                ("POST", "rules", self._add_rule),
                ("DELETE", "rules", self._remove_rules),
                ("POST", "webhooks", self._subscribe),
                ("DELETE", "webhooks", self._unsubscribe),
                ("POST", r"tickets/(?P<ticket_id>[0-9]+)/change", self._change_ticket),
                ("POST", r"contacts/(?P<contact_id>[0-9]+)/change", self._change_contact),
                ("POST", r"tickets/(?P<ticket_id>[0-9]+)/delete", self._delete_ticket),
                ("POST", "tickets/merge", self._merge_tickets),
                ("POST", r"tickets/(?P<ticket_id>[0-9]+)/reply", self._reply_as_agent),
                ("POST", r"tickets/(?P<ticket_id>[0-9]+)/note", self._add_internal_note),
                ("GET", r"tickets/(?P<ticket_id>[0-9]+)/thread", self._thread),
                ("POST", "tickets/open", self._open_ticket_as_agent),
            )
        ]

    def handle(self, method: str, path: str, raw: bytes) -> Answer:
        """Status and JSON body for one control request."""
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                try:
                    body = parse_json(raw, expected="a JSON object") if raw.strip() else {}
                    if not isinstance(body, dict):
                        raise InvalidInput({"body": "must be a JSON object"})
                    return handler(body, **match.groupdict())
                except InvalidInput as exc:
                    return 400, {"status": "error", "errors": exc.errors}
                except CrmError as exc:
                    return exc.status, exc.body
        return 404, {"status": "error", "message": f"No control route {method} {path}"}

    # -- reading ---------------------------------------------------------------------------

    def _info(self, body: dict[str, Any]) -> Answer:
        return 200, {
            "baseUrl": self.fake.base_url,
            "portalId": self.fake.portal_id,
            "region": self.fake.region,
            "token": FAKE_TOKEN,
            "appSecret": FAKE_APP_SECRET,
        }

    def _state(self, body: dict[str, Any]) -> Answer:
        fake = self.fake
        contacts = fake.contacts()
        tickets = fake.tickets()
        for ticket in tickets:
            ticket["contactIds"] = fake.associations("tickets", ticket["id"], "contacts")
        return 200, {
            "contacts": contacts,
            "tickets": tickets,
            "emails": fake.emails(),
            "notes": fake.notes(),
            "formSubmissions": fake.form_submissions(),
            "pipelines": fake.ticket_pipelines(),
            "rules": fake.write_rules(),
            "requestCount": len(fake.requests),
        }

    def _requests(self, body: dict[str, Any]) -> Answer:
        return 200, {
            "requests": [
                {k: v for k, v in asdict(r).items() if k != "at"} for r in list(self.fake.requests)
            ]
        }

    # -- configuring -----------------------------------------------------------------------

    def _reset(self, body: dict[str, Any]) -> Answer:
        self.fake.reset()
        self.fake.unsubscribe_webhooks()
        return 200, {"reset": True}

    def _faults(self, body: dict[str, Any]) -> Answer:
        kinds = _strings(body, "kinds", default=["429", "500", "slow"])
        for kind in kinds:
            if kind not in FAULT_KINDS:
                raise InvalidInput({"kinds": f"{kind!r} is not one of {', '.join(FAULT_KINDS)}"})
        script = _strings(body, "script", default=[])
        for kind in script:
            if kind != "ok" and kind not in FAULT_KINDS:
                raise InvalidInput({"script": f"{kind!r} is not ok or a fault kind"})
        self.fake.set_faults(
            error_rate=_number(body, "errorRate", 0.0, high=1.0),
            kinds=kinds,
            slow_seconds=_number(body, "slowSeconds", 0.0, high=60.0),
            latency_s=_number(body, "latencySeconds", 0.0, high=60.0),
        )
        self.fake.script_faults(script)
        return 200, {"faults": True}

    def _fail_next(self, body: dict[str, Any]) -> Answer:
        status = int(_number(body, "status", None, low=100, high=599))
        answer = body.get("body")
        if answer is not None and not isinstance(answer, dict):
            raise InvalidInput({"body": "must be a JSON object (the answer's body)"})
        headers = body.get("headers") or {}
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise InvalidInput({"headers": "must be an object of strings"})
        count = int(_number(body, "count", 1, low=1, high=10_000))
        self.fake.fail_next(status, count=count, body=answer, headers=headers)
        return 200, {"scripted": count}

    def _add_token(self, body: dict[str, Any]) -> Answer:
        token = _string(body, "token")
        scopes = _strings(body, "scopes", default=sorted(ALL_SCOPES))
        portal = body.get("portalId")
        kind = body.get("kind", "private-app")
        if kind not in ("private-app", "oauth"):
            raise InvalidInput({"kind": "must be private-app or oauth"})
        self.fake.add_token(
            token,
            scopes,
            portal_id=int(_number(body, "portalId", None, low=1)) if portal is not None else None,
            expired=bool(body.get("expired", False)),
            kind=kind,
        )
        return 200, {"token": "added"}

    def _add_form(self, body: dict[str, Any]) -> Answer:
        self.fake.add_form(
            _string(body, "guid"),
            _strings(body, "fields", default=["email", "firstname", "lastname"]),
            required=_strings(body, "required", default=[]),
        )
        return 200, {"form": "added"}

    def _add_pipeline(self, body: dict[str, Any]) -> Answer:
        stages = body.get("stages")
        if (
            not isinstance(stages, list)
            or not stages
            or not all(
                isinstance(s, dict)
                and isinstance(s.get("id"), str)
                and isinstance(s.get("label"), str)
                for s in stages
            )
        ):
            raise InvalidInput({"stages": "must be a list of {id, label} objects"})
        self.fake.add_pipeline(
            _string(body, "id"),
            _string(body, "label"),
            [(s["id"], s["label"]) for s in stages],
            closed=_strings(body, "closed", default=[]),
        )
        return 200, {"pipeline": "added"}

    def _add_property(self, body: dict[str, Any]) -> Answer:
        self.fake.add_property(
            _object_type(body),
            _string(body, "name"),
            type=str(body.get("type") or "string"),
            field_type=str(body.get("fieldType") or "text"),
            options=_strings(body, "options", default=[]),
            label=body.get("label") if isinstance(body.get("label"), str) else None,
            read_only=bool(body.get("readOnly", False)),
        )
        return 200, {"property": "added"}

    def _rules(self, body: dict[str, Any]) -> Answer:
        return 200, {"rules": self.fake.write_rules()}

    def _add_rule(self, body: dict[str, Any]) -> Answer:
        when = body.get("when")
        if when is not None and not (
            isinstance(when, dict)
            and isinstance(when.get("property"), str)
            and isinstance(when.get("value"), str)
        ):
            raise InvalidInput({"when": "must be null or {property, value} (strings)"})
        try:
            self.fake.add_write_rule(
                _object_type(body),
                _string(body, "kind"),
                _string(body, "property"),
                when=(when["property"], when["value"]) if when else None,
            )
        except ValueError as exc:
            raise InvalidInput({"rule": str(exc)}) from None
        return 200, {"rule": "added"}

    def _remove_rules(self, body: dict[str, Any]) -> Answer:
        kind = body.get("kind")
        if kind is not None and not isinstance(kind, str):
            raise InvalidInput({"kind": "must be null or a rule kind"})
        removed = self.fake.remove_write_rules(
            _object_type(body), _string(body, "property"), kind=kind
        )
        return 200, {"removed": removed}

    # -- playing HubSpot's side ------------------------------------------------------------

    def _subscribe(self, body: dict[str, Any]) -> Answer:
        target = _string(body, "targetUrl")
        if not target.startswith(("http://", "https://")):
            raise InvalidInput({"targetUrl": "must be an http:// or https:// URL"})
        event_format = str(body.get("format") or "legacy")
        if event_format not in ("legacy", "generic"):
            raise InvalidInput({"format": "must be legacy or generic"})
        self.fake.subscribe_webhooks(
            target,
            str(body.get("clientSecret") or FAKE_APP_SECRET),
            app_id=int(_number(body, "appId", 1, low=1)),
            format=event_format,
        )
        return 200, {"webhooks": "subscribed"}

    def _unsubscribe(self, body: dict[str, Any]) -> Answer:
        self.fake.unsubscribe_webhooks()
        return 200, {"webhooks": "unsubscribed"}

    def _change_ticket(self, body: dict[str, Any], ticket_id: str) -> Answer:
        properties = body.get("properties")
        if not isinstance(properties, dict) or not properties:
            raise InvalidInput({"properties": "must be a non-empty object of property values"})
        statuses = self.fake.change_ticket(
            ticket_id,
            {str(k): str(v) for k, v in properties.items()},
            deliveries=_deliveries(body),
        )
        return 200, {"webhookStatuses": statuses}

    def _change_contact(self, body: dict[str, Any], contact_id: str) -> Answer:
        properties = body.get("properties")
        if not isinstance(properties, dict) or not properties:
            raise InvalidInput({"properties": "must be a non-empty object of property values"})
        contact = self.fake.change_contact(
            contact_id, {str(k): "" if v is None else str(v) for k, v in properties.items()}
        )
        return 200, {"contact": contact}

    def _delete_ticket(self, body: dict[str, Any], ticket_id: str) -> Answer:
        return 200, {
            "webhookStatuses": self.fake.delete_ticket(ticket_id, deliveries=_deliveries(body))
        }

    def _merge_tickets(self, body: dict[str, Any]) -> Answer:
        primary = _string(body, "primaryId")
        merged = _string(body, "mergedId")
        if not (primary.isascii() and primary.isdigit() and merged.isascii() and merged.isdigit()):
            raise InvalidInput({"primaryId": "ticket ids are digits"})
        statuses = self.fake.merge_tickets(primary, merged, deliveries=_deliveries(body))
        return 200, {"webhookStatuses": statuses}

    def _reply_as_agent(self, body: dict[str, Any], ticket_id: str) -> Answer:
        email_id = self.fake.reply_as_agent(ticket_id, _string(body, "text"), at_ms=_at_ms(body))
        return 200, {"id": email_id}

    def _add_internal_note(self, body: dict[str, Any], ticket_id: str) -> Answer:
        note_id = self.fake.add_internal_note(ticket_id, _string(body, "text"), at_ms=_at_ms(body))
        return 200, {"id": note_id}

    def _thread(self, body: dict[str, Any], ticket_id: str) -> Answer:
        return 200, {"thread": self.fake.thread(ticket_id)}

    def _open_ticket_as_agent(self, body: dict[str, Any]) -> Answer:
        optional = {k: _string(body, k) for k in ("pipeline", "stage", "priority") if k in body}
        ticket_id = self.fake.open_ticket_as_agent(
            _string(body, "contactEmail"),
            _string(body, "subject"),
            _string(body, "text") if "text" in body else "",
            **optional,
        )
        return 200, {"id": ticket_id}


def _at_ms(body: dict[str, Any]) -> int | None:
    """The optional ``timestamp`` (epoch ms) an agent's entry is logged at."""
    if body.get("timestamp") is None:
        return None
    return int(_number(body, "timestamp", None, low=0, high=2**53))


def _string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput({name: "is required (a non-empty string)"})
    return value


def _object_type(body: dict[str, Any]) -> str:
    object_type = _string(body, "objectType")
    if object_type not in OBJECT_TYPES:
        raise InvalidInput({"objectType": f"must be one of {', '.join(OBJECT_TYPES)}"})
    return object_type


def _strings(body: dict[str, Any], name: str, *, default: list[str]) -> list[str]:
    value = body.get(name, default)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput({name: "must be a list of strings"})
    return value


def _number(
    body: dict[str, Any],
    name: str,
    default: float | None,
    *,
    low: float = 0.0,
    high: float = 2**31,
) -> float:
    value = body.get(name, default)
    if value is None:
        raise InvalidInput({name: "is required (a number)"})
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidInput({name: f"must be a number from {low:g} to {high:g}"})
    return float(value)


def _deliveries(body: dict[str, Any]) -> int:
    """How many times the webhook is sent (HubSpot may deliver one event more than once)."""
    return int(_number(body, "deliveries", 1, low=0, high=10))
