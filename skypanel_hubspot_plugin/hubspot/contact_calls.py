"""The HubSpot calls on contacts: one at a time, in batches (create with a trace id per
input, upsert by email, update by id, read), GDPR delete; and the batch read tickets share.

Mixed into :class:`~skypanel_hubspot_plugin.hubspot.service.HubSpotService`, whose
transport, models and error mapping every call here goes through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    PublicGdprDeleteInput,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
)
from hubspot.crm.contacts import Configuration as ModelConfiguration
from hubspot.crm.contacts import SimplePublicObjectInput as PropertiesInput
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactCreate

from skypanel_hubspot_plugin.hubspot import api as api
from skypanel_hubspot_plugin.hubspot.calls import ServiceCalls
from skypanel_hubspot_plugin.hubspot.errors import NotFound
from skypanel_hubspot_plugin.hubspot.records import (
    Answers,
    BatchError,
    BatchResult,
    CrmObject,
    Page,
    chunks,
    crm_object,
)
from skypanel_hubspot_plugin.hubspot.records import batch_error as _batch_error
from skypanel_hubspot_plugin.hubspot.records import crm_object_json as _crm_object_json

#: Batch answers are read as JSON, not as the client's models: the models parse every
#: result's timestamps (which nothing here reads), most of a batch's cost on our side.
#: HubSpot refuses a batch update or upsert whole (an error status, raised); the 207 and
#: the errors of a 2026-09 answer are read all the same, should HubSpot ever send them.
BATCH_ANSWERS: Answers = {200: "object", 207: "object"}
#: A batch create whose inputs all carry an objectWriteTraceId answers each input: 201,
#: or 207 with the refused ones listed (2026-09 lists them in the 201).
CREATE_ANSWERS: Answers = {201: "object", 200: "object", 207: "object"}
#: Given to the batch inputs' models, which otherwise each deep-copy a configuration of
#: their own (a hundred copies per request); they read only its validation switch.
MODELS = ModelConfiguration()


class ContactCalls(ServiceCalls):
    """Contacts, one at a time and in batches; part of :class:`HubSpotService`."""

    def create_contact(self, properties: Mapping[str, str]) -> CrmObject:
        created = self._send(
            self._contacts,
            "POST",
            self.version.objects(api.CONTACTS),
            {201: "SimplePublicObject", 200: "SimplePublicObject"},
            body=ContactCreate(properties=dict(properties), associations=[]),
        )
        return crm_object(created)

    def get_contact_by_email(self, email: str) -> CrmObject | None:
        """A consistent read by the unique email property (search is only eventually consistent)."""
        try:
            found = self._send(
                self._contacts,
                "GET",
                self.version.object(api.CONTACTS, email),
                {200: "SimplePublicObjectWithAssociations"},
                query=[("idProperty", "email"), ("properties", list(api.CONTACT_PROPERTIES))],
            )
        except NotFound:
            return None
        return crm_object(found)

    def update_contact(self, contact_id: str, properties: Mapping[str, str]) -> CrmObject:
        return self._update(self._contacts, api.CONTACTS, contact_id, properties)

    def archive_contact(self, contact_id: str) -> None:
        self._send(
            self._contacts, "DELETE", self.version.object(api.CONTACTS, contact_id), {204: None}
        )

    def gdpr_delete_contact(self, contact_id: str) -> None:
        """HubSpot's permanent, GDPR-compliant erasure of a contact."""
        self._send(
            self._contacts,
            "POST",
            self.version.gdpr_delete(),
            {204: None},
            body=PublicGdprDeleteInput(object_id=contact_id),
        )

    def list_contacts(self, *, limit: int = 50, after: str | None = None) -> Page:
        return self._page(self._contacts, api.CONTACTS, api.CONTACT_PROPERTIES, limit, after)

    def upsert_contacts(self, contacts: Sequence[Mapping[str, str]]) -> BatchResult:
        """Creates or updates contacts by email, in batches of at most 100.

        HubSpot applies a batch upsert whole or refuses it whole: one bad record raises
        that record's error (BadRequest, Conflict) and nothing of its batch is applied.
        """
        results: list[CrmObject] = []
        errors: list[BatchError] = []
        for chunk in chunks(contacts, api.BATCH_LIMIT):
            inputs = [
                SimplePublicObjectBatchInputUpsert(
                    id=c["email"],
                    id_property="email",
                    properties=dict(c),
                    local_vars_configuration=MODELS,
                )
                for c in chunk
            ]
            answer = self._batch_upsert(
                self._contacts,
                api.CONTACTS,
                BatchInputSimplePublicObjectBatchInputUpsert(inputs=inputs),
            )
            results.extend(_crm_object_json(r) for r in answer.get("results") or [])
            errors.extend(_batch_error(e) for e in answer.get("errors") or [])
        return BatchResult(results=results, errors=errors)

    def create_contacts(
        self, contacts: Sequence[Mapping[str, str]]
    ) -> list[CrmObject | BatchError]:
        """Creates contacts in batches of at most 100; each input's outcome, in input order.

        Every input carries an ``objectWriteTraceId`` (its place in the batch), which is
        what makes HubSpot answer each input (its multi-status batch create) instead of
        refusing the batch for one bad record: a refused input comes back as a BatchError
        naming it, the others are created. An email that exists already is a refusal
        whose :attr:`BatchError.existing_id` names the contact holding it.
        """
        outcomes: list[CrmObject | BatchError] = []
        for chunk in chunks(contacts, api.BATCH_LIMIT):
            inputs = [
                SimplePublicObjectBatchInputForCreate(
                    properties=dict(c),
                    associations=[],
                    object_write_trace_id=str(i),
                    local_vars_configuration=MODELS,
                )
                for i, c in enumerate(chunk)
            ]
            answer = self._send(
                self._contacts,
                "POST",
                self.version.batch(api.CONTACTS, "create"),
                CREATE_ANSWERS,
                body=BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs),
            )
            answered: dict[str, CrmObject | BatchError] = {}
            for result in answer.get("results") or []:
                if isinstance(result, dict) and result.get("id"):
                    answered[str(result.get("objectWriteTraceId"))] = _crm_object_json(result)
            for err in answer.get("errors") or []:
                if isinstance(err, dict):
                    refusal = _batch_error(err)
                    for trace in refusal.trace_ids:
                        answered[trace] = refusal
            missing = BatchError("HubSpot's answer did not include this contact", None, ())
            outcomes.extend(answered.get(str(i), missing) for i in range(len(chunk)))
        return outcomes

    def update_contacts(self, updates: Sequence[tuple[str, Mapping[str, str]]]) -> BatchResult:
        """Updates contacts by id, ``(id, properties)`` each, in batches of at most 100.

        As with upserts, HubSpot refuses the batch whole for one bad input (a refused value,
        an id that no longer exists) and raises its error; nothing of it is applied.
        """
        results: list[CrmObject] = []
        errors: list[BatchError] = []
        for chunk in chunks(updates, api.BATCH_LIMIT):
            inputs = [
                SimplePublicObjectBatchInput(
                    id=contact_id, properties=dict(props), local_vars_configuration=MODELS
                )
                for contact_id, props in chunk
            ]
            answer = self._send(
                self._contacts,
                "POST",
                self.version.batch(api.CONTACTS, "update"),
                BATCH_ANSWERS,
                body=BatchInputSimplePublicObjectBatchInput(inputs=inputs),
            )
            results.extend(_crm_object_json(r) for r in answer.get("results") or [])
            errors.extend(_batch_error(e) for e in answer.get("errors") or [])
        return BatchResult(results=results, errors=errors)

    def read_contacts(
        self, ids: Sequence[str], properties: Sequence[str], *, id_property: str | None = None
    ) -> BatchResult:
        """The current ``properties`` of the contacts ``ids`` (by record id, or by the unique
        ``id_property`` such as ``email``), 100 to a request. A contact that does not exist
        is an error of category OBJECT_NOT_FOUND naming its id, not a failure."""
        return self._batch_read(self._contacts, api.CONTACTS, ids, properties, id_property)

    def read_tickets(
        self, ids: Sequence[str], properties: Sequence[str], *, id_property: str | None = None
    ) -> BatchResult:
        """As :meth:`read_contacts`, for tickets (``skypanel_ticket_id`` as ``id_property``
        reads them by the panel's ticket id)."""
        return self._batch_read(self._tickets, api.TICKETS, ids, properties, id_property)

    def _batch_read(
        self,
        api_client: Any,
        object_type: str,
        ids: Sequence[str],
        properties: Sequence[str],
        id_property: str | None,
    ) -> BatchResult:
        results: list[CrmObject] = []
        errors: list[BatchError] = []
        wanted = list(dict.fromkeys([*([id_property] if id_property else []), *properties]))
        for chunk in chunks(ids, api.BATCH_LIMIT):
            body = BatchReadInputSimplePublicObjectId(
                inputs=[SimplePublicObjectId(id=i, local_vars_configuration=MODELS) for i in chunk],
                properties=wanted,
                properties_with_history=[],
                id_property=id_property,
                local_vars_configuration=MODELS,
            )
            answer = self._send(
                api_client,
                "POST",
                self.version.batch(object_type, "read"),
                # Records that are not there come back in a 207, or (2026-09) in the 200.
                BATCH_ANSWERS,
                body=body,
            )
            results.extend(_crm_object_json(r) for r in answer.get("results") or [])
            errors.extend(_batch_error(e) for e in answer.get("errors") or [])
        return BatchResult(results=results, errors=errors)

    def _batch_upsert(self, api_client: Any, object_type: str, body: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self._send(
            api_client,
            "POST",
            self.version.batch(object_type, "upsert"),
            BATCH_ANSWERS,
            body=body,
        )
        return answer

    def _update(
        self, api_client: Any, object_type: str, object_id: str, properties: Mapping[str, str]
    ) -> CrmObject:
        updated = self._send(
            api_client,
            "PATCH",
            self.version.object(object_type, object_id),
            {200: "SimplePublicObject"},
            body=PropertiesInput(properties=dict(properties)),
        )
        return crm_object(updated)
