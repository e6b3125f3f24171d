"""The HubSpot calls that log a ticket's conversation: email engagements on the ticket.

A panel message becomes an email engagement (``/crm/objects/<version>/emails``) associated
with the HubSpot ticket and its contact. It is written by an upsert on the unique
``skypanel_message_id`` email property, so a retry after an answer that never came (HubSpot
did the work, we did not hear) finds the email instead of logging a second one; the
associations are PUTs, which HubSpot applies once however often they are sent.

Mixed into :class:`~skypanel_hubspot_plugin.hubspot.service.HubSpotService`, whose
transport, models and error mapping every call here goes through.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from hubspot.crm.associations.v4 import AssociationSpec
from hubspot.crm.objects.emails import (
    BatchInputSimplePublicObjectBatchInputUpsert as EmailUpsertBatch,
)
from hubspot.crm.objects.emails import SimplePublicObjectBatchInputUpsert as EmailUpsert
from hubspot.crm.properties import PropertyCreate

from skypanel_hubspot_plugin.hubspot import api as api
from skypanel_hubspot_plugin.hubspot.calls import ServiceCalls
from skypanel_hubspot_plugin.hubspot.errors import Conflict, NotFound
from skypanel_hubspot_plugin.hubspot.records import (
    BatchError,
    BatchResult,
    CrmObject,
    batch_error,
    crm_object_json,
)

if TYPE_CHECKING:
    pass


class EngagementCalls(ServiceCalls):
    """Logging emails on tickets; part of :class:`HubSpotService`."""

    @cached_property
    def _emails(self) -> Any:
        return self._client.crm.objects.emails.basic_api.api_client

    def ensure_message_id_property(self) -> None:
        """Creates the unique ``skypanel_message_id`` email property if the portal lacks it
        (a concurrent creator's 409 means it is there, as wanted)."""
        try:
            self._send(
                self._client.crm.properties.core_api.api_client,
                "GET",
                self.version.property(api.EMAILS, api.MESSAGE_ID_PROPERTY),
                {200: "ModelProperty"},
            )
        except NotFound:
            with contextlib.suppress(Conflict):
                self._send(
                    self._client.crm.properties.core_api.api_client,
                    "POST",
                    self.version.properties(api.EMAILS),
                    {201: "ModelProperty", 200: "ModelProperty"},
                    body=PropertyCreate(
                        name=api.MESSAGE_ID_PROPERTY,
                        label="Panel message id",
                        type="string",
                        field_type="text",
                        group_name="emailinformation",
                        has_unique_value=True,
                        description="Set by the hosting panel; logs each ticket message once.",
                    ),
                )

    def upsert_emails(self, emails: Sequence[tuple[str, Mapping[str, str]]]) -> BatchResult:
        """Logs each (panel message id, email properties) once, up to 100 a request: an
        email already logged under that message id is updated, never logged twice."""
        results: list[CrmObject] = []
        errors: list[BatchError] = []
        for start in range(0, len(emails), api.BATCH_LIMIT):
            inputs = [
                EmailUpsert(
                    id=message_id, id_property=api.MESSAGE_ID_PROPERTY, properties=dict(props)
                )
                for message_id, props in emails[start : start + api.BATCH_LIMIT]
            ]
            answer = self._batch_upsert(self._emails, api.EMAILS, EmailUpsertBatch(inputs=inputs))
            results.extend(crm_object_json(r) for r in answer.get("results") or [])
            errors.extend(batch_error(e) for e in answer.get("errors") or [])
        return BatchResult(results=results, errors=errors)

    def associate_email(self, email_id: str, to_type: str, to_id: str) -> None:
        """Ties an email to a ticket or a contact with HubSpot's own association type."""
        type_id = api.EMAIL_TO_TICKET if to_type == api.TICKETS else api.EMAIL_TO_CONTACT
        spec = AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=type_id)
        self._send(
            self._associations,
            "PUT",
            self.version.association(api.EMAILS, email_id, to_type, to_id),
            {201: "object", 200: "object"},
            body=[spec],
        )
