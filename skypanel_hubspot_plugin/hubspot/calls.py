"""What the HubSpot service's parts (contacts, tickets, the conversation's emails) call on
it: its API clients and its transport, declared once for the type checker.

:class:`~skypanel_hubspot_plugin.hubspot.service.HubSpotService` defines them; each part is
a mixin of it and reaches them through ``self``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from skypanel_hubspot_plugin.hubspot.records import Answers, CrmObject, Page
from skypanel_hubspot_plugin.hubspot.versions import ApiVersion


class ServiceCalls:
    """The service's clients and transport, as its parts see them."""

    version: ApiVersion
    _client: Any
    _contacts: Any
    _tickets: Any
    _properties: Any
    _associations: Any

    if TYPE_CHECKING:

        def _send(
            self,
            api_client: Any,
            method: str,
            path: str,
            answers: Answers,
            *,
            body: Any = None,
            query: Sequence[tuple[str, Any]] = (),
        ) -> Any: ...

        def _page(
            self,
            api_client: Any,
            object_type: str,
            properties: Sequence[str],
            limit: int,
            after: str | None,
        ) -> Page: ...

        def _bounded_json(self, api_client: Any, path: str, body: Any) -> dict[str, Any]: ...

        def _batch_upsert(self, api_client: Any, object_type: str, body: Any) -> dict[str, Any]: ...

        def _update(
            self, api_client: Any, object_type: str, object_id: str, properties: Mapping[str, str]
        ) -> CrmObject: ...
