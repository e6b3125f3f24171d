"""Webhook events that bring a support conversation back at once: an email tied to a
ticket (an agent's reply), a ticket created or tied to a contact (a ticket opened in
HubSpot for a panel user).

HubSpot reports an email tied to a ticket only to apps subscribed to
``object.associationChange`` for tickets in its generic format (``fromObjectTypeId`` 0-5,
``toObjectTypeId`` 0-49); a ticket's contacts also to legacy ``ticket.associationChange``
subscriptions (``associationType`` TICKET_TO_CONTACT), and new tickets to
``ticket.creation`` / ``object.creation``. The event names only the records: the email or
the ticket is read from HubSpot, then handed to the host as polling would (see
:mod:`.replies` and :mod:`.born_tickets`), so an event delivered twice, or found by a poll
too, reaches the host once. A hook that raises (or HubSpot failing to answer) fails the
webhook, and HubSpot delivers it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import Session

from skypanel_hubspot_plugin.hubspot import api as api
from skypanel_hubspot_plugin.hubspot import conversation_reads as reads
from skypanel_hubspot_plugin.webhooks import born_tickets, replies
from skypanel_hubspot_plugin.webhooks.conversation_poll import contact_email
from skypanel_hubspot_plugin.webhooks.conversation_table import BornTicket, HandledReply
from skypanel_hubspot_plugin.webhooks.events import CREATION, Event
from skypanel_hubspot_plugin.webhooks.links import panel_ticket_of
from skypanel_hubspot_plugin.webhooks.polling import PollContext

if TYPE_CHECKING:
    from skypanel_hubspot_plugin.settings.model import HubSpotSettings

ASSOCIATION_CHANGE = "associationChange"
EMAIL_TYPES = ("0-49", "TICKET_TO_EMAIL")
CONTACT_TYPES = ("0-1", "TICKET_TO_CONTACT")


def handle_conversation_event(rt: PollContext, settings: HubSpotSettings, event: Event) -> bool:
    """Hands on what one event brings (a reply, a ticket opened in HubSpot); False when it
    brings nothing new or is not about a ticket's conversation."""
    if event.portal_id != settings.portal_id or not event.is_ticket:
        return False
    added = event.action == ASSOCIATION_CHANGE and not event.association_removed
    if added and event.to_object_type in EMAIL_TYPES and event.to_object_id:
        return _reply(rt, event.object_id, event.to_object_id)
    if (added and event.to_object_type in CONTACT_TYPES) or event.action == CREATION:
        return _born_ticket(rt, settings, event.object_id)
    return False


def _reply(rt: PollContext, ticket_id: str, email_id: str) -> bool:
    pm = rt.plugin_manager
    if not replies.has_message_hook(pm):
        return False
    engine = rt.outbox.engine
    with Session(engine) as session:
        panel_id = panel_ticket_of(session, ticket_id)
        if panel_id is None or session.get(HandledReply, email_id) is not None:
            return False
    email = reads.get_record(rt.service(), reads.EMAILS, email_id, reads.EMAIL_PROPERTIES)
    reply = replies.read_reply(email) if email is not None else None
    if reply is None:
        return False  # a note, the customer's email, the panel's own message, or gone
    return replies.hand_on(engine, pm, reply, panel_id, ticket_id)


def _born_ticket(rt: PollContext, settings: HubSpotSettings, ticket_id: str) -> bool:
    pm = rt.plugin_manager
    if not (settings.imports_tickets and born_tickets.has_created_hook(pm)):
        return False
    with Session(rt.outbox.engine) as session:
        if session.get(BornTicket, ticket_id) is not None or panel_ticket_of(session, ticket_id):
            return False
    service = rt.service()
    ticket = reads.get_record(service, api.TICKETS, ticket_id, reads.BORN_TICKET_PROPERTIES)
    if ticket is None or not born_tickets.wanted(settings, ticket):
        return False
    contacts = reads.associated_ids(service, api.TICKETS, api.CONTACTS, [ticket.id])
    return born_tickets.offer(
        rt.outbox,
        pm,
        settings,
        ticket,
        contacts.get(ticket.id, []),
        lambda contact_id: contact_email(service, contact_id),
    )
