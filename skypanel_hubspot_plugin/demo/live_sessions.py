"""The demo's logged-in sessions, kept server-side, so logging out ends one for good.

The session cookie is signed, so nobody can forge one, but a copy of it taken before
logout would otherwise still say "admin" afterwards. Each login gets a random session
id, kept here and in the cookie; a cookie whose id is not here is nobody's, whatever
else it says. Logging out (or logging in again) forgets the id.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict

#: Past this many live sessions the oldest is forgotten (its owner logs in again).
MAX_SESSIONS = 10_000


class LiveSessions:
    """Thread-safe: the demo's sync routes run in a thread pool."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: OrderedDict[str, None] = OrderedDict()

    def start(self) -> str:
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            self._ids[session_id] = None
            while len(self._ids) > MAX_SESSIONS:
                self._ids.popitem(last=False)
        return session_id

    def end(self, session_id: object) -> None:
        if isinstance(session_id, str):
            with self._lock:
                self._ids.pop(session_id, None)

    def alive(self, session_id: object) -> bool:
        if not isinstance(session_id, str):
            return False
        with self._lock:
            return session_id in self._ids
