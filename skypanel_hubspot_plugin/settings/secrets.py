"""Encryption of stored secrets with Fernet, several keys at once so keys can rotate.

A stored value reads ``fernet:<key id>:<token>``: the key id (a short fingerprint of the
key, not the key) records which key encrypted it, so an admin can tell what a rotation
still has to re-encrypt. The first configured key encrypts; all of them decrypt.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

KEYS_ENV = "SKYPANEL_HUBSPOT_SECRET_KEYS"
PREFIX = "fernet:"
HOW_TO_SET_A_KEY = (
    f"Generate a key with `skypanel-hubspot generate-key` and set it in {KEYS_ENV} "
    "(comma-separated, newest first), or pass secret_keys to the plugin's HostContext."
)


class SecretsError(RuntimeError):
    """A secret cannot be stored or read with the keys configured; the message says what to do."""


class MissingEncryptionKey(SecretsError):
    def __init__(self) -> None:
        super().__init__(
            "No encryption key is configured, so the access token cannot be stored. "
            + HOW_TO_SET_A_KEY
        )


class KeyNeededToRead(SecretsError):
    """``what`` names the secret (the access token, the app client secret) for the admin."""

    def __init__(self, what: str = "access token") -> None:
        article = "An" if what[:1] in "aeiou" else "A"
        super().__init__(
            f"{article} {what} is saved, encrypted, but no encryption key is configured to "
            "read it: give the key it was saved with. "
            + HOW_TO_SET_A_KEY
            + " (The demo panel keeps its key in hubspot-secret.key in its --data-dir.)"
        )


class KeyMissingHere(SecretsError):
    """A stored secret was encrypted with a key this process was not given: typically a
    rotation (``rotate-key``) ran before every process had the new key."""

    def __init__(self, name: str, missing: str | None, configured: Sequence[str]) -> None:
        self.key_id = missing
        super().__init__(
            f"The stored {name} is encrypted with key {missing}, which this process does not "
            f"have (it has {', '.join(configured)}). Add that key to {KEYS_ENV} of every "
            "process that reads these settings (newest first) and restart them, or save the "
            f"{name} again."
        )


def key_id(key: str) -> str:
    """A fingerprint naming a key in stored values and messages without revealing it."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def generate_key() -> str:
    """A new random Fernet key, as text."""
    return Fernet.generate_key().decode()


class SecretBox:
    """Encrypts with the newest key, decrypts with any configured key. Its repr shows key ids only."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._fernets: list[Fernet] = []
        ids: list[str] = []
        for position, key in enumerate(k.strip() for k in keys):
            if not key:
                continue
            try:
                self._fernets.append(Fernet(key))
            except (ValueError, TypeError):
                raise SecretsError(
                    f"Encryption key #{position + 1} is not a Fernet key "
                    "(32 bytes, url-safe base64). " + HOW_TO_SET_A_KEY
                ) from None
            ids.append(key_id(key))
        self.key_ids: tuple[str, ...] = tuple(ids)
        self._multi = MultiFernet(self._fernets) if self._fernets else None

    @classmethod
    def from_config(cls, keys: Sequence[str] = ()) -> SecretBox:
        """Keys given by the host win; otherwise ``SKYPANEL_HUBSPOT_SECRET_KEYS``."""
        if not keys:
            keys = os.environ.get(KEYS_ENV, "").split(",")
        return cls(keys)

    def __repr__(self) -> str:
        return f"SecretBox(key_ids={list(self.key_ids)!r})"

    @property
    def primary_key_id(self) -> str | None:
        return self.key_ids[0] if self.key_ids else None

    def encrypt(self, plain: str) -> str:
        if self._multi is None:
            raise MissingEncryptionKey()
        return f"{PREFIX}{self.key_ids[0]}:{self._multi.encrypt(plain.encode()).decode()}"

    @staticmethod
    def is_encrypted(stored: str) -> bool:
        return stored.startswith(PREFIX)

    @staticmethod
    def key_id_of(stored: str) -> str | None:
        """Which key encrypted ``stored``, or None for a plaintext value."""
        if not stored.startswith(PREFIX):
            return None
        return stored[len(PREFIX) :].partition(":")[0]

    def decrypt(self, stored: str, what: str = "access token") -> str:
        """The plain value; ``what`` names it in the error when it cannot be read."""
        if not self.is_encrypted(stored):
            return stored
        if self._multi is None:
            raise KeyNeededToRead(what)
        token = stored[len(PREFIX) :].partition(":")[2]
        try:
            return self._multi.decrypt(token.encode()).decode()
        except InvalidToken:
            raise KeyMissingHere(what, self.key_id_of(stored), self.key_ids) from None

    def needs_rewrite(self, stored: str) -> bool:
        """True for plaintext and for values encrypted with a key other than the newest."""
        return bool(stored) and self.key_id_of(stored) != self.primary_key_id

    def reencrypt(self, stored: str) -> str:
        """The same secret, encrypted with the newest key."""
        return self.encrypt(self.decrypt(stored))
