"""The fake HubSpot's forms: forms a portal admin defines, and the forms API's submissions
(public: no token), refused field by field as HubSpot refuses them."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .fake_http import Answer, RouteSpec
from .fake_state import FakeState

SUBMIT = r"/submissions/v3/integration/submit/(?P<portal_id>[^/]+)/(?P<form_guid>[^/]+)"


@dataclass(frozen=True)
class _Form:
    portal_id: int
    fields: frozenset[str]
    required: frozenset[str]


class FormsApi(FakeState):
    """``POST /submissions/v3/integration/submit/<portal>/<form>``, and forms to submit to."""

    _forms: dict[str, _Form]

    def _forms_routes(self) -> list[RouteSpec]:
        return [("POST", SUBMIT, self._submit_form, lambda p: set())]

    def add_form(
        self,
        guid: str,
        fields: Iterable[str] = ("email", "firstname", "lastname"),
        *,
        required: Iterable[str] = (),
        portal_id: int | None = None,
    ) -> None:
        """Defines a form, as a portal admin does in HubSpot's form editor: submissions to it
        may carry only these contact properties, and must carry the required ones."""
        with self._lock:
            self._forms[guid.lower()] = _Form(
                portal_id or self.portal_id, frozenset(fields), frozenset(required)
            )

    def form_submissions(self, guid: str | None = None) -> list[dict[str, Any]]:
        """The submissions HubSpot accepted (of one form, or all), oldest first: each with
        ``formGuid``, ``fields`` (name → value), ``context``, ``legalConsentOptions`` and
        ``submittedAt`` as they arrived."""
        with self._lock:
            return [
                json.loads(json.dumps(s))
                for s in self._form_submissions
                if guid is None or s["formGuid"] == guid.lower()
            ]

    def _submit_form(self, *, portal_id: str, form_guid: str, body: Any, **_: Any) -> Answer:
        form = self._forms.get(form_guid.lower())
        if form is None or str(form.portal_id) != portal_id:
            return 404, {
                "status": "error",
                "message": f"Form {form_guid} not found for portal {portal_id}",
                "errors": [],
            }
        body = body if isinstance(body, dict) else {}
        errors = _submission_errors(form, body)
        if errors:
            return 400, {"status": "error", "message": "The request is not valid", "errors": errors}
        self._form_submissions.append(
            {
                "portalId": form.portal_id,
                "formGuid": form_guid.lower(),
                "fields": {f["name"]: f["value"] for f in body["fields"]},
                "context": body.get("context") or {},
                "legalConsentOptions": body.get("legalConsentOptions"),
                "submittedAt": body.get("submittedAt"),
            }
        )
        return 200, {"inlineMessage": "Thanks for submitting the form."}


_HUTK_RE = re.compile(r"[0-9a-f]{32}")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_FORM_FIELDS = 1000
MAX_FIELD_VALUE = 65_536


def _submission_errors(form: _Form, body: dict[str, Any]) -> list[dict[str, str]]:
    """What HubSpot's forms API finds wrong with a submission, in its ``errors`` shape."""
    errors: list[dict[str, str]] = []

    def refuse(where: str, message: str, error_type: str) -> None:
        errors.append({"message": f"Error in '{where}'. {message}", "errorType": error_type})

    fields = body.get("fields")
    if not isinstance(fields, list) or not all(
        isinstance(f, dict) and isinstance(f.get("name"), str) and isinstance(f.get("value"), str)
        for f in fields
    ):
        refuse("fields", "Fields must be a list of names and text values", "INVALID_METADATA")
        return errors
    if len(fields) > MAX_FORM_FIELDS:
        refuse(
            "fields",
            f"More than {MAX_FORM_FIELDS} values",
            "MAX_NUMBER_OF_SUBMITTED_VALUES_EXCEEDED",
        )
    for f in fields:
        name, value = f["name"], f["value"]
        if name not in form.fields:
            refuse(
                f"fields.{name}",
                "This field is not in the form definition",
                "FIELD_NOT_IN_FORM_DEFINITION",
            )
        elif len(value) > MAX_FIELD_VALUE:
            refuse(f"fields.{name}", "Value is too large", "INPUT_TOO_LARGE")
        elif name == "email" and not _EMAIL_RE.fullmatch(value):
            refuse("fields.email", "Invalid email address", "INVALID_EMAIL")
    for name in sorted(form.required - {f["name"] for f in fields if f["value"]}):
        refuse(f"fields.{name}", f"Required field '{name}' is missing", "REQUIRED_FIELD")
    context = body.get("context") or {}
    if "hutk" in context and not _HUTK_RE.fullmatch(str(context["hutk"])):
        refuse("context.hutk", "hutk is invalid", "INVALID_HUTK")
    if "ipAddress" in context:
        try:
            ipaddress.ip_address(str(context["ipAddress"]))
        except ValueError:
            refuse("context.ipAddress", "Invalid IP address", "INVALID_IP_ADDRESS")
    if "pageUri" in context:
        parts = urlsplit(str(context["pageUri"]))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            refuse("context.pageUri", "Invalid page URI", "INVALID_PAGE_URI")
    legal = body.get("legalConsentOptions")
    if legal is not None:
        consent = legal.get("consent") if isinstance(legal, dict) else None
        if not isinstance(consent, dict) or not isinstance(consent.get("consentToProcess"), bool):
            refuse(
                "legalConsentOptions",
                "Invalid legal consent options",
                "INVALID_LEGAL_OPTION_FORMAT",
            )
            return errors
        if not consent.get("text"):
            refuse(
                "legalConsentOptions.consent.text",
                "Missing processing consent text",
                "MISSING_PROCESSING_CONSENT_TEXT",
            )
        seen: set[Any] = set()
        for item in consent.get("communications") or []:
            if not isinstance(item, dict) or not item.get("text"):
                refuse(
                    "legalConsentOptions.consent.communications",
                    "Missing communication consent text",
                    "MISSING_COMMUNICATION_CONSENT_TEXT",
                )
                continue
            type_id = item.get("subscriptionTypeId")
            if type_id in seen:
                refuse(
                    "legalConsentOptions.consent.communications",
                    f"Duplicate subscription type {type_id}",
                    "DUPLICATE_SUBSCRIPTION_TYPE_ID",
                )
            seen.add(type_id)
    return errors
