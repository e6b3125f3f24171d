"""What people do in HubSpot, played by the fake: agents changing, merging and deleting
tickets (and the webhooks HubSpot sends about it), users editing contacts; and what a test
reads back of the fake's CRM."""

from __future__ import annotations

from typing import Any

from skypanel_hubspot_plugin.webhooks.polling import modified_ms

from .fake_state import FakeState
from .fake_webhooks import (
    Subscription,
    Transport,
    deliver,
    lifecycle_event,
    merge_event,
    property_change_events,
)


class PeopleApi(FakeState):
    """Agents' and users' actions in HubSpot, and the fake's CRM as a test inspects it."""

    def subscribe_webhooks(
        self,
        target_url: str,
        client_secret: str,
        *,
        app_id: int = 1,
        format: str = "legacy",
        transport: Transport | None = None,
    ) -> None:
        """Sends ticket change events to ``target_url``, signed with ``client_secret``, in
        the ``legacy`` format (``ticket.propertyChange``) or the ``generic`` one
        (``object.propertyChange`` with ``objectTypeId`` 0-5); through ``transport`` (in
        process, see :mod:`.in_process`) instead of over HTTP when given."""
        if format not in ("legacy", "generic"):
            raise ValueError("format must be legacy or generic")
        with self._lock:
            self._webhooks = Subscription(target_url, client_secret, app_id, format, transport)

    def unsubscribe_webhooks(self) -> None:
        """Stops sending webhooks, as for a Service Key or a panel HubSpot cannot reach."""
        with self._lock:
            self._webhooks = None

    def delete_ticket(self, ticket_id: str, *, deliveries: int = 1) -> list[int]:
        """Deletes (archives) a ticket as an agent would and sends the deletion event."""
        with self._lock:
            self._store.archive("tickets", ticket_id)
            sub = self._webhooks
        if sub is None:
            return []
        event = lifecycle_event(sub, self.portal_id, "ticket", ticket_id, "deletion")
        return [deliver(sub, [event]) for _ in range(deliveries)]

    def merge_tickets(self, primary_id: str, merged_id: str, *, deliveries: int = 1) -> list[int]:
        """Merges ``merged_id`` into ``primary_id`` as an agent would: the merged ticket is
        gone, the primary survives; then sends the merge event."""
        with self._lock:
            self._store.get("tickets", primary_id)
            self._store.archive("tickets", merged_id)
            sub = self._webhooks
        if sub is None:
            return []
        event = merge_event(sub, self.portal_id, "ticket", primary_id, [merged_id], None)
        return [deliver(sub, [event]) for _ in range(deliveries)]

    def change_ticket(
        self, ticket_id: str, properties: dict[str, str], *, deliveries: int = 1
    ) -> list[int]:
        """Changes a ticket as an agent in HubSpot would, then delivers the change events
        (``deliveries`` times, as HubSpot's retries can); returns the receiver's statuses."""
        with self._lock:
            ticket = self._store.update("tickets", ticket_id, dict(properties), None)
            occurred = modified_ms(ticket["properties"]["hs_lastmodifieddate"])
            sub = self._webhooks
        if sub is None:
            return []
        events = property_change_events(
            sub, self.portal_id, "ticket", ticket_id, properties, occurred
        )
        return [deliver(sub, events) for _ in range(deliveries)]

    def change_contact(self, contact_id: str, properties: dict[str, str]) -> dict[str, Any]:
        """Changes a contact as a user in HubSpot would (``""`` clears a property); returns
        the contact as it is then. No webhook: the plugin subscribes to ticket events only."""
        with self._lock:
            return self._store.snapshot(
                self._store.update("contacts", contact_id, dict(properties), None)
            )

    def created_properties(self, object_type: str, object_id: str) -> dict[str, Any]:
        """The properties a record had when it was created (its first version), to tell the
        value written at creation from later ones."""
        with self._lock:
            versions = self._store.first_versions.get((object_type, object_id))
            return dict(versions) if versions is not None else {}

    # -- inspection ----------------------------------------------------------------------------

    def contacts(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._store.snapshot(o) for o in self._store.live("contacts")]

    def tickets(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._store.snapshot(o) for o in self._store.live("tickets")]

    def contact_by_email(self, email: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._store.find_by("contacts", "email", email)
            return self._store.snapshot(found) if found else None

    def associations(self, from_type: str, from_id: str, to_type: str) -> list[str]:
        with self._lock:
            return self._store.associated(from_type, from_id, to_type)
