"""HubSpot in a Django panel (``pip install skypanel-hubspot-plugin[django]``).

Add ``"skypanel_hubspot_plugin.django"`` to ``INSTALLED_APPS``, configure it with
``SKYPANEL_HUBSPOT = {...}`` (see :class:`~skypanel_hubspot_plugin.django.config.Config`),
``include("skypanel_hubspot_plugin.django.urls")`` at the site's root, put
``{% load skypanel_hubspot %}{% hubspot_page_head %}`` in the base template's ``<head>``,
and record events with :mod:`hubspot <skypanel_hubspot_plugin.django.events>` inside the
``transaction.atomic()`` that makes the panel's change::

    from skypanel_hubspot_plugin.django import hubspot

    hubspot.user_created(User(id=str(account.pk), email=account.email))

Importing this package imports nothing of the plugin's runtime and touches no database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skypanel_hubspot_plugin.django import events as hubspot

__all__ = ["hubspot"]


def __getattr__(name: str) -> Any:
    # Lazily: Django imports this package while its app registry is still loading.
    if name == "hubspot":
        from skypanel_hubspot_plugin.django import events

        return events
    raise AttributeError(name)
