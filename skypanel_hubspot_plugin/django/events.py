"""Panel events from Django code, recorded in the caller's database transaction.

Call these where the panel's own write happens, inside its ``transaction.atomic()``::

    with transaction.atomic():
        account = Account.objects.create(...)
        hubspot.user_created(User(id=str(account.pk), email=account.email))

The event is written on Django's own connection, so it commits with the account or not
at all; once Django commits, this process's workers are woken. Each fires the matching
``skypanel_on_*`` hook through the adapter's plugin manager, so every installed plugin
sees it. ``using`` names the Django database (default: the ``DATABASE`` setting).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection

from skypanel_hubspot_plugin import Ticket, User, Visitor
from skypanel_hubspot_plugin.django import config, database, lifecycle


@contextmanager
def connection(using: str | None = None) -> Iterator[Connection]:
    """The ``session`` to hand the plugin's hooks yourself, on Django's connection::

    with hubspot.connection() as session:
        pm.hook.skypanel_on_user_created(user=user, session=session)
    """
    lifecycle.ensure_started()
    with database.shared_connection(using or config.current().database) as shared:
        yield shared


def _fire(hook: str, using: str | None, **arguments: Any) -> None:
    with connection(using) as session:
        getattr(lifecycle.plugin_manager().hook, hook)(session=session, **arguments)


def user_created(user: User, *, using: str | None = None) -> None:
    """The panel created ``user``: HubSpot gets (or updates) the contact."""
    _fire("skypanel_on_user_created", using, user=user)


def user_updated(user: User, changed: frozenset[str], *, using: str | None = None) -> None:
    """The panel changed ``user``'s fields named in ``changed``."""
    _fire("skypanel_on_user_updated", using, user=user, changed=frozenset(changed))


def user_deleted(user: User, *, using: str | None = None) -> None:
    """The panel deleted ``user``."""
    _fire("skypanel_on_user_deleted", using, user=user)


def ticket_created(ticket: Ticket, user: User, *, using: str | None = None) -> None:
    """The panel opened ``ticket`` for ``user``: HubSpot gets a ticket on their contact."""
    _fire("skypanel_on_ticket_created", using, ticket=ticket, user=user)


def ticket_updated(ticket: Ticket, changed: frozenset[str], *, using: str | None = None) -> None:
    """The panel changed ``ticket``'s fields named in ``changed``."""
    _fire("skypanel_on_ticket_updated", using, ticket=ticket, changed=frozenset(changed))


def form_submitted(
    form: str, fields: Mapping[str, str], visitor: Visitor, *, using: str | None = None
) -> None:
    """The panel's own ``form`` ("contact" or "ticket") was sent with ``fields``."""
    _fire("skypanel_on_form_submitted", using, form=form, fields=dict(fields), visitor=visitor)
