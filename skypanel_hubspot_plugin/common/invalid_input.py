"""The one error type for input a person must fix: each bad field named, with what is wrong."""

from __future__ import annotations

from collections.abc import Mapping


class InvalidInput(ValueError):
    """Raised before anything changes; ``errors`` maps field names to messages."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))
