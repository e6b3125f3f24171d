"""The key the plugin encrypts the HubSpot token with, for the demo panel.

A real panel sets ``SKYPANEL_HUBSPOT_SECRET_KEYS``; the demo honours it, and otherwise
keeps one generated key in its data directory (readable by its owner only), so a demo
restarted on the same ``--data-dir`` can still read the token it saved.
"""

from __future__ import annotations

import os
from pathlib import Path

from skypanel_hubspot_plugin.settings.secrets import KEYS_ENV, generate_key

KEY_FILE = "hubspot-secret.key"


def secret_keys(data_dir: Path) -> tuple[str, ...]:
    """The keys from the environment when set, else the data directory's key (made on first use)."""
    from_env = tuple(k.strip() for k in os.environ.get(KEYS_ENV, "").split(",") if k.strip())
    if from_env:
        return from_env
    return (_key_in(data_dir),)


def _key_in(data_dir: Path) -> str:
    path = data_dir / KEY_FILE
    try:
        # O_EXCL: two demos starting on one data directory must not each write a key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    key = generate_key()
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    return key
