"""Tickets opened in HubSpot for panel users, offered to the host's
``skypanel_on_hubspot_ticket_created`` once each.

With ``hubspot_import_hubspot_tickets`` on, a ticket an agent opens in HubSpot (from a chat,
an email or by hand) in one of the chosen pipelines, associated with a contact the plugin
made for a panel user, is offered to the host. In the transaction the host's hook writes
in, the offer is recorded (so it is made once, whatever the host answered) and, when the
host returns its new ticket's id, the HubSpot ticket is linked to it: later changes in
HubSpot come through ``skypanel_on_hubspot_ticket_changed``, the panel's updates go to that
ticket, and the ticket gets ``skypanel_ticket_id`` (a queued update), which polling needs
to find its changes. Tickets the panel opened itself carry ``skypanel_ticket_id`` from the
start and are never offered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from skypanel_hubspot_plugin.delivery.coalesce import TICKET_UPDATE
from skypanel_hubspot_plugin.delivery.outbox import Outbox
from skypanel_hubspot_plugin.delivery.outbox_table import ObjectLink
from skypanel_hubspot_plugin.hubspot import api as api
from skypanel_hubspot_plugin.hubspot.service import CrmObject
from skypanel_hubspot_plugin.mapping.ticket_fields import status_of_stage
from skypanel_hubspot_plugin.payloads import HubSpotBornTicket
from skypanel_hubspot_plugin.settings.model import HubSpotSettings
from skypanel_hubspot_plugin.webhooks.conversation_table import BornTicket
from skypanel_hubspot_plugin.webhooks.links import panel_ticket_of
from skypanel_hubspot_plugin.webhooks.polling import modified_ms
from skypanel_hubspot_plugin.webhooks.table import PolledTicket
from skypanel_hubspot_plugin.webhooks.told import poll_record

log = logging.getLogger(__name__)

CREATED_HOOK = "skypanel_on_hubspot_ticket_created"
#: The longest panel ticket id the plugin can link (its link table's column).
MAX_PANEL_ID = 255


def has_created_hook(pm: Any) -> bool:
    """Whether the host implements the hook that takes tickets opened in HubSpot."""
    caller = getattr(getattr(pm, "hook", None), CREATED_HOOK, None)
    return caller is not None and bool(caller.get_hookimpls())


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def wanted(settings: HubSpotSettings, ticket: CrmObject) -> bool:
    """A ticket the settings bring in: opened in HubSpot (no ``skypanel_ticket_id``), in a
    chosen pipeline, with an id that is HubSpot's."""
    props = ticket.properties
    return (
        ticket.id.isascii()
        and ticket.id.isdigit()
        and len(ticket.id) <= 30
        and not props.get(api.TICKET_ID_PROPERTY)
        and _text(props.get("hs_pipeline")) in settings.import_pipeline_ids
    )


def panel_user_of(session: Session, contact_ids: Sequence[str]) -> tuple[str, str] | None:
    """The first (by contact id) of ``contact_ids`` that the plugin made for a panel user:
    (contact id, panel user id)."""
    for contact_id in sorted(set(contact_ids), key=lambda c: (len(c), c)):
        user_id = session.exec(
            select(ObjectLink.panel_id).where(
                col(ObjectLink.kind) == "contact", col(ObjectLink.hubspot_id) == contact_id
            )
        ).first()
        if user_id is not None:
            return contact_id, user_id
    return None


def offer(
    outbox: Outbox,
    pm: Any,
    settings: HubSpotSettings,
    ticket: CrmObject,
    contact_ids: Sequence[str],
    contact_email: Callable[[str], str],
) -> bool:
    """Offers one ticket to the host when it is to be brought in and was never offered;
    True when the host took it. ``contact_email(contact_id)`` reads the contact's address
    (a HubSpot call, made only for a ticket that is offered). The hook's exception
    propagates with nothing recorded: the ticket is offered again later."""
    if not wanted(settings, ticket):
        return False
    with Session(outbox.engine) as session:
        if session.get(BornTicket, ticket.id) is not None or panel_ticket_of(session, ticket.id):
            return False
        found = panel_user_of(session, contact_ids)
    if found is None:
        return False  # no panel user's contact (yet): a later association offers it then
    contact_id, user_id = found
    email = contact_email(contact_id)
    props = ticket.properties
    stage = _text(props.get("hs_pipeline_stage"))
    created = modified_ms(_text(props.get("createdate")) or None)
    born = HubSpotBornTicket(
        hubspot_ticket_id=str(int(ticket.id)),
        user_id=user_id,
        contact_email=email,
        subject=_text(props.get("subject")),
        content=_text(props.get("content")),
        pipeline=_text(props.get("hs_pipeline")),
        stage=stage,
        created_at=datetime.fromtimestamp((created or 0) / 1000, UTC),
        status=status_of_stage(settings, stage) if stage else None,
        priority=_text(props.get("hs_ticket_priority")),
    )
    with Session(outbox.engine) as session:
        row = BornTicket(hubspot_id=born.hubspot_ticket_id, user_id=user_id)
        session.add(row)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return False  # another worker or a webhook offered it meanwhile
        panel_id = pm.hook.skypanel_on_hubspot_ticket_created(ticket=born, session=session)
        if panel_id is not None:
            panel_id = str(panel_id)
            if not 0 < len(panel_id) <= MAX_PANEL_ID:
                raise ValueError(
                    f"{CREATED_HOOK} returned a ticket id of {len(panel_id)} characters "
                    f"(1 to {MAX_PANEL_ID})"
                )
            _link(session, outbox, born, panel_id, ticket)
            row.panel_id = panel_id
            session.add(row)
        session.commit()
    if panel_id is None:
        log.info("HubSpot ticket %s left in HubSpot by the panel", born.hubspot_ticket_id)
    return panel_id is not None


def _link(
    session: Session, outbox: Outbox, born: HubSpotBornTicket, panel_id: str, ticket: CrmObject
) -> None:
    """Ties the HubSpot ticket to the new panel ticket, in the host's transaction."""
    hubspot_id = born.hubspot_ticket_id
    session.add(ObjectLink(kind="ticket", panel_id=panel_id, hubspot_id=hubspot_id))
    # What the host was told: the ticket as it was read, so polling reports only what
    # changes after.
    values = {
        k: str(v)
        for k in ("hs_pipeline", "hs_pipeline_stage", "hs_ticket_priority", "subject")
        if (v := ticket.properties.get(k)) is not None
    }
    at = modified_ms(_text(ticket.properties.get(api.TICKET_MODIFIED)) or None) or 0
    if session.get(PolledTicket, hubspot_id) is None:
        session.add(
            PolledTicket(
                hubspot_id=hubspot_id, modified_ms=at, properties=poll_record(values, at).text()
            )
        )
    session.flush()
    outbox.record(
        TICKET_UPDATE,
        f"ticket:{panel_id}",
        {"ticket_id": panel_id, "properties": {api.TICKET_ID_PROPERTY: panel_id}},
        session,
        user_id=born.user_id,
    )
