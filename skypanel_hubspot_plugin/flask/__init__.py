"""HubSpot in a Flask panel (``pip install skypanel-hubspot-plugin[flask]``)::

    db = SQLAlchemy(app)
    hubspot = HubSpot(app, require_admin=lambda: current_user.is_admin)

    hubspot.user_created(User(id=str(user.id), email=user.email))  # in db.session
    db.session.commit()  # delivered after the commit; a rollback sends nothing

See :class:`HubSpot` and the host guide's Flask section.
"""

from __future__ import annotations

from .extension import CONFIG_DEFAULTS, HubSpot

__all__ = ["CONFIG_DEFAULTS", "HubSpot"]
