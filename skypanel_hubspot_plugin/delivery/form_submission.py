"""Panel form submissions → HubSpot's Forms submission API, through the outbox.

When the panel's own sign-up or ticket form is sent, the host fires
``skypanel_on_form_submitted``; :func:`form_submitted` records one ``form.submit`` row in
the host's transaction and returns, and the delivery worker posts the row to
``/submissions/v3/integration/submit/{portalId}/{formGuid}``. HubSpot then files the
submission under its form, and under the visitor's browsing history when the ``hutk``
came along.

The request is built whole when the event is recorded, from what the host gave:

- ``fields``: each HubSpot contact property and its value. A name or value HubSpot could
  never take parks the row at once, naming the field.
- ``context``: the visitor's ``hutk``, page address and title, and IP address. Each is
  left out when malformed instead of failing the submission, since HubSpot refuses the
  whole submission for a malformed one (INVALID_HUTK, INVALID_PAGE_URI, …).
- ``legalConsentOptions``: only when the host passed the visitor's GDPR consent.
- ``submittedAt``: when the event happened, since delivery may come later.

Idempotency: a form submission has no key HubSpot could upsert it by; every POST files a
new one. Delivery is at least once: a row is posted again only after a 429, a 5xx or a
lost answer, so a duplicate in HubSpot is possible only when HubSpot's answer to an
attempt it had carried out was lost on the way back.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import logging
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from skypanel_hubspot_plugin.common.invalid_input import InvalidInput
from skypanel_hubspot_plugin.delivery.context import DeliveryContext
from skypanel_hubspot_plugin.delivery.deliverer import FORM_SUBMIT
from skypanel_hubspot_plugin.hubspot import forms_api
from skypanel_hubspot_plugin.page.form_embed import UnknownForm, form_guid
from skypanel_hubspot_plugin.payloads import FormConsent, Visitor

log = logging.getLogger(__name__)

#: HubSpot's internal property names: lower case, digits and _, starting with a letter.
PROPERTY_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,99}")
FIELD_VALUE_MAX = 65_536  # HubSpot's limit for a property value (INPUT_TOO_LARGE)
PAGE_URI_MAX = 2_048
PAGE_NAME_MAX = 1_000
CONSENT_TEXT_MAX = 10_000


def form_submitted(
    rt: DeliveryContext, form: str, fields: Mapping[str, str], visitor: Visitor, session: Any
) -> None:
    """Records the submission for delivery, or skips it while HubSpot or the form is off."""
    settings = rt.settings()
    try:
        guid = form_guid(settings, form)
    except UnknownForm as exc:
        raise InvalidInput({"form": str(exc).removeprefix("form ")}) from None
    if not (settings.enabled and guid):
        log.debug("HubSpot disabled or no %s form id set: submission not sent", form)
        return
    entity = f"form:{form}"
    try:
        body = submission_body(fields, visitor, submitted_at_ms=int(time.time() * 1000))
    except InvalidInput as exc:
        log.warning("HubSpot %s for %s parked: %s", FORM_SUBMIT, entity, exc)
        rejected = {"rejected": replayable(form, fields, visitor)}
        rt.outbox.record(FORM_SUBMIT, entity, rejected, session, dead_reason=str(exc))
        return
    payload = {"form": form, "portal_id": settings.portal_id, "form_guid": guid, "body": body}
    rt.outbox.record(FORM_SUBMIT, entity, payload, session)


def submission_body(
    fields: Mapping[str, str], visitor: Visitor, *, submitted_at_ms: int
) -> dict[str, Any]:
    """The JSON HubSpot's submission endpoint takes; raises InvalidInput naming bad fields."""
    body: dict[str, Any] = {
        "submittedAt": str(submitted_at_ms),
        "fields": submission_fields(fields),
    }
    context = submission_context(visitor)
    if context:
        body["context"] = context
    if visitor.consent is not None:
        body["legalConsentOptions"] = {"consent": consent_options(visitor.consent)}
    return body


def submission_fields(fields: Mapping[str, str]) -> list[dict[str, str]]:
    if not isinstance(fields, Mapping) or not fields:
        raise InvalidInput({"fields": "must map HubSpot property names to the values entered"})
    if len(fields) > forms_api.MAX_FIELDS:
        raise InvalidInput({"fields": f"must hold at most {forms_api.MAX_FIELDS} fields"})
    errors: dict[str, str] = {}
    out: list[dict[str, str]] = []
    for name, value in fields.items():
        key = f"fields.{name}"
        if not isinstance(name, str) or not PROPERTY_NAME_RE.fullmatch(name):
            errors[key] = (
                "is not a HubSpot property name (lower-case letters, digits and _, "
                "starting with a letter)"
            )
        elif not isinstance(value, str):
            errors[key] = "must be text"
        elif len(value) > FIELD_VALUE_MAX:
            errors[key] = f"must be at most {FIELD_VALUE_MAX} characters"
        elif _has_control_chars(value):
            errors[key] = "must not contain control characters"
        else:
            out.append(
                {"objectTypeId": forms_api.CONTACT_OBJECT_TYPE_ID, "name": name, "value": value}
            )
    if errors:
        raise InvalidInput(errors)
    return out


def submission_context(visitor: Visitor) -> dict[str, str]:
    """What HubSpot files the submission under; anything malformed is left out."""
    candidates = {
        "hutk": clean_hutk(visitor.hutk),
        "pageUri": clean_page_uri(visitor.page_uri),
        "pageName": clean_page_name(visitor.page_name),
        "ipAddress": clean_ip_address(visitor.ip_address),
    }
    given = {
        "hutk": visitor.hutk,
        "pageUri": visitor.page_uri,
        "pageName": visitor.page_name,
        "ipAddress": visitor.ip_address,
    }
    for key, value in candidates.items():
        if value is None and given[key]:
            log.debug("HubSpot form submission: malformed %s left out", key)
    return {k: v for k, v in candidates.items() if v is not None}


def clean_hutk(value: object) -> str | None:
    """The ``hubspotutk`` cookie when it has its shape (32 lower-case hex digits), else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text if forms_api.HUTK_RE.fullmatch(text) else None


def clean_page_uri(value: object) -> str | None:
    """An absolute http(s) address HubSpot can file the submission under, else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > PAGE_URI_MAX or any(ch.isspace() for ch in text):
        return None
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return None
    return text if parts.scheme in ("http", "https") and host else None


def clean_page_name(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > PAGE_NAME_MAX or _has_control_chars(text, allowed=""):
        return None
    return text


def clean_ip_address(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def consent_options(consent: FormConsent) -> dict[str, Any]:
    """HubSpot's ``legalConsentOptions.consent``; raises InvalidInput naming what is wrong."""
    errors: dict[str, str] = {}
    if not isinstance(consent.consent_to_process, bool):
        errors["consent.consent_to_process"] = "must be true or false"
    _check_text(errors, "consent.text", consent.text)
    communications: list[dict[str, Any]] = []
    seen: set[int] = set()
    for i, item in enumerate(consent.communications):
        where = f"consent.communications[{i}]"
        type_id = item.subscription_type_id
        if isinstance(type_id, bool) or not isinstance(type_id, int) or type_id <= 0:
            errors[f"{where}.subscription_type_id"] = "must be a HubSpot subscription type id"
        elif type_id in seen:
            errors[f"{where}.subscription_type_id"] = "appears twice"
        else:
            seen.add(type_id)
        if not isinstance(item.value, bool):
            errors[f"{where}.value"] = "must be true or false"
        _check_text(errors, f"{where}.text", item.text)
        communications.append(
            {"value": item.value, "subscriptionTypeId": type_id, "text": item.text}
        )
    if errors:
        raise InvalidInput(errors)
    return {
        "consentToProcess": consent.consent_to_process,
        "text": consent.text,
        "communications": communications,
    }


def replayable(form: object, fields: object, visitor: object) -> dict[str, Any]:
    """The event as plain JSON, for the admin to read or replay by hand, whatever it held."""
    raw = {
        "form": form,
        "fields": dict(fields) if isinstance(fields, Mapping) else fields,
        "visitor": dataclasses.asdict(visitor) if isinstance(visitor, Visitor) else visitor,
    }
    parsed: dict[str, Any] = json.loads(json.dumps(raw, default=repr))
    return parsed


def _check_text(errors: dict[str, str], key: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        errors[key] = "must be the wording shown to the visitor"
    elif len(value) > CONSENT_TEXT_MAX or _has_control_chars(value):
        errors[key] = f"must be plain text of at most {CONSENT_TEXT_MAX} characters"


def _has_control_chars(text: str, allowed: str = "\n\r\t") -> bool:
    # Line breaks and tabs are text in a form (a ticket's description); the rest is not.
    return any((ord(ch) < 32 and ch not in allowed) or ord(ch) == 127 for ch in text)
