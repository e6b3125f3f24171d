"""Agents' replies on HubSpot tickets, handed to the host's
``skypanel_on_hubspot_ticket_message`` once each, whichever way they were found.

A reply is an email engagement with ``hs_email_direction`` ``EMAIL`` associated with a
ticket that reports to a panel ticket. Only those reach the host: notes are HubSpot's
internal remarks, ``INCOMING_EMAIL`` is the customer writing (the panel has it already or
HubSpot received it by mail), and an email carrying ``skypanel_message_id`` is a panel
message the plugin logged itself (the panel's staff replies included), which coming back
would echo. Each reply is recorded by its email id in the transaction the host's hook
writes in; a hook that raises rolls both back, and the reply comes again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from skypanel_hubspot_plugin.hubspot.conversation_reads import OUTGOING, PANEL_MESSAGE_PROPERTY
from skypanel_hubspot_plugin.hubspot.service import CrmObject
from skypanel_hubspot_plugin.payloads import HubSpotTicketMessage
from skypanel_hubspot_plugin.webhooks.conversation_table import HandledReply
from skypanel_hubspot_plugin.webhooks.polling import modified_ms

log = logging.getLogger(__name__)

MESSAGE_HOOK = "skypanel_on_hubspot_ticket_message"
#: The longest reply handed on whole; HubSpot keeps a text property up to 65,536 characters.
MAX_TEXT = 65_536
#: Elements whose end (or, for br, whose start) ends a line of the text.
_BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})
#: Elements whose content is not text a reader sees.
_HIDDEN = frozenset({"script", "style", "head", "title"})


class _TextParser(HTMLParser):
    """Collects the text of an HTML body, as a reader sees it, with the standard parser."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def has_message_hook(pm: Any) -> bool:
    """Whether the host implements the reply hook (without one, replies stay in HubSpot)."""
    caller = getattr(getattr(pm, "hook", None), MESSAGE_HOOK, None)
    return caller is not None and bool(caller.get_hookimpls())


def html_to_text(markup: str) -> str:
    """An email's HTML body as plain text: line breaks kept, tags dropped, entities read.
    The host shows the result as text (escaped), never as markup."""
    parser = _TextParser()
    parser.feed(markup)
    parser.close()
    text = "".join(parser.parts)
    return "\n".join(line.rstrip() for line in text.splitlines()).strip()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def is_agent_reply(email: CrmObject) -> bool:
    """An outgoing email the plugin did not log itself."""
    props = email.properties
    return props.get("hs_email_direction") == OUTGOING and not props.get(PANEL_MESSAGE_PROPERTY)


@dataclass(frozen=True)
class Reply:
    """An agent's reply read from HubSpot, before it is tied to a panel ticket."""

    email_id: str
    at_ms: int
    text: str
    subject: str
    author_name: str
    author_email: str

    @property
    def order(self) -> tuple[int, int]:
        """Its place on the timeline: ``hs_timestamp``, then the email id."""
        return (self.at_ms, int(self.email_id))


def read_reply(email: CrmObject) -> Reply | None:
    """The reply an email holds; None when it is not an agent's reply or cannot be read
    (an id that is not HubSpot's, no timeline time)."""
    if not (email.id.isascii() and email.id.isdigit() and len(email.id) <= 30):
        return None
    if not is_agent_reply(email):
        return None
    props = email.properties
    at_ms = modified_ms(_text(props.get("hs_timestamp")) or None)
    if at_ms is None:
        return None
    text = _text(props.get("hs_email_text")).strip() or html_to_text(
        _text(props.get("hs_email_html"))
    )
    name = " ".join(
        p
        for p in (
            _text(props.get("hs_email_from_firstname")).strip(),
            _text(props.get("hs_email_from_lastname")).strip(),
        )
        if p
    )
    return Reply(
        email_id=str(int(email.id)),
        at_ms=at_ms,
        text=text[:MAX_TEXT],
        subject=_text(props.get("hs_email_subject"))[:1000],
        author_name=name[:255],
        author_email=_text(props.get("hs_email_from_email")).strip()[:255],
    )


def already_handled(engine: Engine, email_ids: list[str]) -> set[str]:
    """Which of ``email_ids`` reached the host already."""
    if not email_ids:
        return set()
    with Session(engine) as session:
        return {i for i in email_ids if session.get(HandledReply, i) is not None}


def hand_on(engine: Engine, pm: Any, reply: Reply, panel_id: str, hubspot_ticket_id: str) -> bool:
    """Hands one reply to the host, recorded in the same transaction; False when it was
    handed on already. The hook's exception propagates, with nothing recorded."""
    with Session(engine) as session:
        session.add(
            HandledReply(
                email_id=reply.email_id,
                panel_ticket_id=panel_id,
                hubspot_ticket_id=hubspot_ticket_id,
            )
        )
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return False
        message = HubSpotTicketMessage(
            ticket_id=panel_id,
            hubspot_ticket_id=hubspot_ticket_id,
            hubspot_email_id=reply.email_id,
            text=reply.text,
            sent_at=datetime.fromtimestamp(reply.at_ms / 1000, UTC),
            author_name=reply.author_name,
            author_email=reply.author_email,
            subject=reply.subject,
        )
        pm.hook.skypanel_on_hubspot_ticket_message(message=message, session=session)
        session.commit()
    log.debug("HubSpot reply %s reached panel ticket %s", reply.email_id, panel_id)
    return True
