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


def parse_bounded_json(
    raw: object, *, max_chars: int, max_depth: int, field: str, expected: str
) -> Any:
    """A JSON value from text (or one already decoded, as a request body's member is),
    refused unless it fits ``max_chars`` characters and nests at most ``max_depth`` levels.

    For values kept and read again and again (settings): the bounds hold whatever wrote
    them, a form, a script or a hand edit, so a hostile value costs one short refusal.
    Raises InvalidInput({field: ...}) like :func:`parse_json`."""
    if isinstance(raw, str):
        if len(raw) > max_chars:
            raise InvalidInput(
                {field: f"must be {expected}; it is longer than {max_chars} characters"}
            )
        value = parse_json(raw, field=field, expected=expected)
    else:
        value = raw
    if nesting(value, max_depth) > max_depth:
        raise InvalidInput({field: f"must be {expected}; it nests deeper than {max_depth} levels"})
    if not isinstance(raw, str):
        try:
            size = len(json.dumps(value, ensure_ascii=False))
        except (TypeError, ValueError):
            raise InvalidInput({field: f"must be {expected}"}) from None
        if size > max_chars:
            raise InvalidInput(
                {field: f"must be {expected}; it is longer than {max_chars} characters"}
            )
    return value


def nesting(value: object, stop_after: int) -> int:
    """How many levels of arrays and objects ``value`` nests (0 for a scalar), counted
    without recursion and only up to ``stop_after + 1``, so a hostile value costs little."""
    deepest = 0
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: list[object] = list(item.values())
        elif isinstance(item, list | tuple):
            children = list(item)
        else:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > stop_after:
            return deepest
        pending.extend((child, depth + 1) for child in children)
    return deepest
