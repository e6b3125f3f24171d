"""Settings a new demo panel starts with when it runs against the sandbox (the fake HubSpot).

So the whole support conversation works out of the box: tickets an agent opens in the
sandbox for a panel customer (a chat turned into a ticket) become panel tickets. Only a
setting the panel never had gets its default: what the admin saved, in a kept
``--data-dir``, stays as saved.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import Engine, inspect
from sqlmodel import Session

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.audit.trail import Actor
from skypanel_hubspot_plugin.settings.schema import IMPORT_TICKETS
from skypanel_hubspot_plugin.settings.table import Setting

log = logging.getLogger(__name__)

SANDBOX_DEFAULTS: Mapping[str, object] = {IMPORT_TICKETS: True}
#: Who the audit trail says set them.
SANDBOX = Actor(name="demo sandbox defaults")


def unset_defaults(engine: Engine) -> dict[str, object]:
    """The sandbox defaults whose setting the panel's database has no row for yet. Read
    before the plugin starts: starting writes every setting's own default."""
    if not inspect(engine).has_table(Setting.__tablename__):
        return dict(SANDBOX_DEFAULTS)
    with Session(engine) as session:
        return {k: v for k, v in SANDBOX_DEFAULTS.items() if session.get(Setting, k) is None}


def apply_defaults(defaults: Mapping[str, object]) -> None:
    """Saves ``defaults`` through the started plugin's settings (validated and audited)."""
    if not defaults:
        return
    try:
        runtime.current().store.save(defaults, SANDBOX)
    except runtime.PluginNotStarted:
        log.warning("The plugin has not started: the sandbox's default settings are not saved")
