"""Parsing a JSON request body that anyone may have sent, raising nothing but
:class:`InvalidInput` naming the field.

``json.loads`` raises ``ValueError`` for text that is not JSON, but ``RecursionError`` for
deeply nested arrays (``'[' * 50000``), which a route catching only ``ValueError`` turns
into a 500. Every body the plugin parses goes through :func:`parse_json`.
"""

from __future__ import annotations

import json
from typing import Any

from skypanel_hubspot_plugin.common.invalid_input import InvalidInput


def parse_json(raw: bytes | str, *, field: str = "body", expected: str = "JSON") -> Any:
    """The JSON value in ``raw``; InvalidInput({field: ...}) when it is not JSON or nests
    too deeply to parse. ``expected`` words what the caller wanted ("HubSpot's event array")."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise InvalidInput({field: f"must be {expected}; it nests too deeply"}) from None
    except ValueError:  # includes UnicodeDecodeError
        raise InvalidInput({field: f"must be {expected}"}) from None
