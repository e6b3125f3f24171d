"""A string that will not print itself: the access token while it is in memory."""

from __future__ import annotations

from skypanel_hubspot_plugin.common.scrub import remember


class Secret:
    """Holds a secret; ``repr``/``str`` show only that one is there.

    Use ``reveal()`` at the single place the value must leave (the HTTP header), and
    ``last4`` where an admin needs to recognise which token is stored.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        remember(value)  # from now on scrubbed from stored errors and log lines

    def reveal(self) -> str:
        """The plain value; call only where it is sent, never where it is shown or logged."""
        return self._value

    @property
    def last4(self) -> str:
        """The last four characters, which is all an admin ever sees again."""
        return self._value[-4:]

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a Secret is not pickled")
