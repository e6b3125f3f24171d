"""The fake HubSpot's portal rules: what a portal admin requires of records, enforced on API
writes from API version 2026-09.

HubSpot's changelog ("CRM API write validation enforcement", 2026-09) says that from the
2026-09 version the API applies rules that used to bind only people in HubSpot's UI:

- a **conditionally required** property (``close_date`` required when ``dealstage`` is
  ``closedwon``): a create or update leaving the record with the trigger value and without
  the property is refused with ``MISSING_CONDITIONAL_REQUIRED_PROPERTY``, its message
  naming the property and, in brackets, the one whose value triggered the rule;
- a property **required by the record's creation form** (Settings → Objects → Create
  Record): a create without it is refused with ``MISSING_REQUIRED_PROPERTY``;
- association permissions of user-level OAuth apps, which a private-app token (the
  plugin's) is never subject to, so the fake does not play them.

Earlier versions (``v3``, ``2026-03``) ignore every rule, and a portal without rules sees no
change. The fake also knows ``required``: a property every write must leave filled (create
and update alike), the unconditional form of a conditional rule, answered like a creation
form's requirement. HubSpot serves none of these rules through its API, so a client learns
of them only from a refused write.

The check runs inside the store's validation of one record (:class:`~.fake_store.CrmStore`),
so a batch answers a broken rule however it answers any other invalid record. A portal
admin sets the rules through :class:`~.fake_properties.PropertiesApi`'s ``add_write_rule``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

REQUIRED = "required"
CONDITIONALLY_REQUIRED = "conditionally_required"
REQUIRED_BY_CREATION_FORM = "required_by_creation_form"
RULE_KINDS = (REQUIRED, CONDITIONALLY_REQUIRED, REQUIRED_BY_CREATION_FORM)
#: HubSpot's ``errors[].code`` for each kind.
RULE_CODES = {
    REQUIRED: "MISSING_REQUIRED_PROPERTY",
    CONDITIONALLY_REQUIRED: "MISSING_CONDITIONAL_REQUIRED_PROPERTY",
    REQUIRED_BY_CREATION_FORM: "MISSING_REQUIRED_PROPERTY",
}
#: The first dated version that enforces them.
FIRST_ENFORCING_VERSION = "2026-09"


def enforces_rules(api_version: str | None) -> bool:
    """Whether a request on this version's paths is held to the portal's rules: dated
    versions from 2026-09 on; ``v3`` and the numbered paths (None) never."""
    return (
        api_version is not None
        and api_version[:1].isdigit()
        and api_version >= FIRST_ENFORCING_VERSION
    )


@dataclass(frozen=True)
class WriteRule:
    """One rule of the portal: ``property`` must be filled, on ``object_type`` records, when
    ``kind`` says (and, for a conditional rule, while ``when``'s property holds its value)."""

    object_type: str
    kind: str
    property: str
    when: tuple[str, str] | None = None

    def broken_by(self, sent: Mapping[str, Any], after: Mapping[str, Any], creating: bool) -> bool:
        """Whether a write sending ``sent``, leaving the record at ``after``, breaks it."""
        if self.kind == REQUIRED_BY_CREATION_FORM:
            return creating and not _filled(sent.get(self.property))
        if self.when is not None and str(after.get(self.when[0]) or "") != self.when[1]:
            return False
        return not _filled(after.get(self.property))

    def detail(self) -> dict[str, Any]:
        """This rule's entry in HubSpot's ``errors``."""
        if self.kind == CONDITIONALLY_REQUIRED and self.when is not None:
            message = (
                f"{self.property} is required because of a conditional property rule "
                f"based on [{self.when[0]}]"
            )
        else:
            message = f"A value for {self.property} must be provided"
        return {
            "code": RULE_CODES[self.kind],
            "message": message,
            "context": {"propertyName": [self.property]},
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "objectType": self.object_type,
            "kind": self.kind,
            "property": self.property,
            "when": None
            if self.when is None
            else {"property": self.when[0], "value": self.when[1]},
        }


def _filled(value: Any) -> bool:
    return value is not None and str(value).strip() != ""


def refusal(
    rules: Iterable[WriteRule],
    object_type: str,
    sent: Mapping[str, Any],
    before: Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    """HubSpot's 400 body naming every rule the write breaks, None when it breaks none
    (``before`` is the record's properties before an update, None for a create)."""
    after = {**(before or {}), **{k: v for k, v in sent.items() if v is not None}}
    broken = [
        r.detail()
        for r in rules
        if r.object_type == object_type and r.broken_by(sent, after, before is None)
    ]
    if not broken:
        return None
    return {
        "status": "error",
        "message": "The property values provided are invalid",
        "category": "VALIDATION_ERROR",
        "errors": broken,
    }
