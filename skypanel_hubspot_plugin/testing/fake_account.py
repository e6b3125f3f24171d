"""The fake HubSpot's account APIs: account details, the private-app token's info, and the
chat's visitor identification tokens."""

from __future__ import annotations

import uuid
from typing import Any

from .fake_http import VERSION, Answer, RouteSpec, error_body
from .fake_state import FakeState, Token

VISITOR_SCOPE = "conversations.visitor_identification.tokens.create"
#: The token-info call's path: public (no token asked), answered for POST only.
TOKEN_INFO = r"/oauth/v2/private-apps/get/access-token-info"


class AccountApi(FakeState):
    """``/account-info``, ``/oauth/v2/private-apps/...`` and ``/visitor-identification``."""

    def _account_routes(self) -> list[RouteSpec]:
        return [
            ("GET", rf"/account-info/{VERSION}/details", self._account, lambda p: {"oauth"}),
            (
                "POST",
                rf"/visitor-identification/{VERSION}/tokens/create",
                self._visitor_token,
                lambda p: {VISITOR_SCOPE},
            ),
            ("token-info", TOKEN_INFO, self._token_info, lambda p: set()),
        ]

    def _account(self, *, token: Token, **_: Any) -> Answer:
        return 200, {
            "portalId": token.portal_id,
            "accountType": "STANDARD",
            "timeZone": "US/Eastern",
            "companyCurrency": "USD",
            "additionalCurrencies": [],
            "utcOffset": "-05:00",
            "utcOffsetMilliseconds": -18000000,
            "uiDomain": "app.hubspot.com",
            "dataHostingLocation": self.region,
        }

    def _token_info(self, *, body: Any, **_: Any) -> Answer:
        key = body.get("tokenKey") if isinstance(body, dict) else None
        token = self._tokens.get(key) if isinstance(key, str) else None
        if token is None:
            return 400, error_body("The access token is not valid", "VALIDATION_ERROR")
        return 200, {
            "userId": 1,
            "hubId": token.portal_id,
            "appId": 4242,
            "scopes": sorted(token.scopes),
        }

    def _visitor_token(self, *, body: Any, api_version: str, **_: Any) -> Answer:
        if not isinstance(body, dict) or not isinstance(body.get("email"), str):
            return 400, error_body("email is required", "VALIDATION_ERROR")
        # The v3 and 2026-03 specs require hsCustomerAgentContext; 2026-09 dropped it.
        if api_version != "2026-09" and not isinstance(body.get("hsCustomerAgentContext"), dict):
            return 400, error_body("hsCustomerAgentContext is required", "VALIDATION_ERROR")
        if not self.visitor_identification:
            return 403, error_body(
                "This portal's subscription does not include visitor identification", "FORBIDDEN"
            )
        token = f"vid.{uuid.uuid4().hex}"
        self.visitor_tokens.append((body["email"], token))
        return 200, {"token": token}
