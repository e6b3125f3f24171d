"""Chat visitor identification: a logged-in panel user is greeted in the chat as themselves.

HubSpot mints an identification token per visitor (Professional and Enterprise portals;
others answer 403) that stays valid for 12 hours. A page must never wait for HubSpot, so
the page head only reads this cache: on a miss it asks a background thread to mint one
and renders anonymous chat this once; the next page has the token. A 403 switches the
feature off for an hour, silently: the chat simply stays anonymous.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from skypanel_hubspot_plugin.hubspot.errors import HubSpotError
from skypanel_hubspot_plugin.hubspot.service import HubSpotService
from skypanel_hubspot_plugin.payloads import User

log = logging.getLogger(__name__)

TOKEN_LIFETIME_S = 11 * 3600  # HubSpot's is 12 h; renew before the widget sees it expire
RETRY_AFTER_FAILURE_S = 60.0
FEATURE_OFF_S = 3600.0
MAX_CACHED = 10_000


@dataclass(frozen=True)
class Identity:
    """What ``hsConversationsSettings`` needs: the visitor's email and its token."""

    email: str
    token: str


class IdentityTokens:
    """Per-email identification tokens, minted off the page path, cached within their lifetime."""

    def __init__(
        self, service: Callable[[], HubSpotService], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._service = service
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}
        self._retry_at: dict[str, float] = {}
        self._pending: set[str] = set()
        self._feature_off_until = 0.0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hubspot-chat-identity")

    def __repr__(self) -> str:
        return f"IdentityTokens(cached={len(self._tokens)})"

    def identity(self, user: User) -> Identity | None:
        """The cached identity for ``user``, or None (and a mint is queued). Never blocks.

        None, and nothing asked of HubSpot, for a user whose email the host has not
        verified: the token would hand that address's chat history to whoever typed it."""
        email = user.email.strip().lower()
        if not email or not user.email_verified:
            return None
        now = self._clock()
        with self._lock:
            cached = self._tokens.get(email)
            if cached is not None and cached[1] > now:
                return Identity(email, cached[0])
            if (
                now < self._feature_off_until
                or email in self._pending
                or self._retry_at.get(email, 0.0) > now
            ):
                return None
            self._pending.add(email)
        try:
            self._pool.submit(self._mint, email, user.first_name, user.last_name)
        except RuntimeError:  # shutting down
            with self._lock:
                self._pending.discard(email)
        return None

    def _mint(self, email: str, first_name: str, last_name: str) -> None:
        try:
            token = self._service().visitor_token(email, first_name, last_name)
        except HubSpotError as exc:
            with self._lock:
                if exc.status == 403:
                    self._feature_off_until = self._clock() + FEATURE_OFF_S
                    log.info("HubSpot chat visitor identification unavailable for this portal")
                else:
                    self._retry_at[email] = self._clock() + RETRY_AFTER_FAILURE_S
                    log.debug("HubSpot chat identity not minted: %s", exc.message)
            return
        except Exception:  # the service may be unusable right now (settings changed)
            log.debug("HubSpot chat identity not minted", exc_info=True)
            with self._lock:
                self._retry_at[email] = self._clock() + RETRY_AFTER_FAILURE_S
            return
        finally:
            with self._lock:
                self._pending.discard(email)
        with self._lock:
            if len(self._tokens) >= MAX_CACHED:
                self._tokens.clear()
            self._tokens[email] = (token, self._clock() + TOKEN_LIFETIME_S)
            self._retry_at.pop(email, None)

    def clear(self) -> None:
        """Forgets every token: the portal or token changed."""
        with self._lock:
            self._tokens.clear()
            self._retry_at.clear()
            self._feature_off_until = 0.0

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
