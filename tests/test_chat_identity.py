"""Chat visitor identification: logged-in users are greeted as themselves, never at a page's cost."""

from __future__ import annotations

import json
import logging
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skypanel_hubspot_plugin import PageContext, User
from skypanel_hubspot_plugin.page.chat_identity import Identity
from skypanel_hubspot_plugin.page.rendering import chat_loader
from skypanel_hubspot_plugin.runtime import Runtime
from skypanel_hubspot_plugin.settings.model import HubSpotSettings
from skypanel_hubspot_plugin.testing import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot

ADA = User(
    id="1", email="Ada@Example.com", first_name="Ada", last_name="Lovelace", email_verified=True
)
SETTINGS_RE = re.compile(r"window\.hsConversationsSettings = (\{.*?\});</script>")


def configure(rt: Runtime, *, identify: bool = True) -> None:
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": str(FAKE_PORTAL_ID),
            "hubspot_api_key": FAKE_TOKEN,
            "hubspot_chat_enabled": True,
            "hubspot_chat_identify_visitors": identify,
        }
    )


def head(pm, user: User | None = ADA) -> str:  # type: ignore[no-untyped-def]
    return "".join(pm.hook.skypanel_page_head(page=PageContext(csp_nonce="n0nce", user=user)))


def token_requests(fake: FakeHubSpot) -> int:
    return sum(
        1
        for r in fake.requests
        if r.path.startswith("/visitor-identification/") and r.path.endswith("/tokens/create")
    )


def test_a_logged_in_user_is_identified_from_the_next_page_on(
    pm, started, fake: FakeHubSpot
) -> None:  # type: ignore[no-untyped-def]
    configure(started)
    fake.set_faults(latency_s=0.5)  # HubSpot is slow: the page must not wait for it
    first = head(pm)
    assert "hsConversationsSettings" not in first and "hs-script-loader" in first
    fake.wait_for(lambda f: len(f.visitor_tokens) == 1)
    fake.set_faults()
    ((email, token),) = fake.visitor_tokens
    assert email == "ada@example.com"

    def identified() -> bool:
        return "hsConversationsSettings" in head(pm)

    fake.wait_for(lambda f: identified())
    page = head(pm)
    settings = json.loads(SETTINGS_RE.search(page).group(1))  # type: ignore[union-attr]
    assert settings == {"identificationEmail": "ada@example.com", "identificationToken": token}
    assert page.index("hsConversationsSettings") < page.index("hs-script-loader")
    assert page.count('nonce="n0nce"') == 2
    for _ in range(20):
        head(pm)
    assert token_requests(fake) == 1  # cached within its lifetime


def test_a_portal_without_the_feature_keeps_an_anonymous_chat_silently(
    pm,
    started,
    fake: FakeHubSpot,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    caplog.set_level(logging.WARNING)
    configure(started)
    fake.visitor_identification = False
    head(pm)
    fake.wait_for(lambda f: token_requests(f) == 1 and f.requests[-1].status == 403)
    for _ in range(20):
        page = head(pm)
        assert "hsConversationsSettings" not in page and "hs-script-loader" in page
    assert token_requests(fake) == 1
    assert [r for r in caplog.records if r.name.startswith("skypanel_hubspot_plugin")] == []


def test_nothing_is_sent_unless_the_admin_asked_and_someone_is_logged_in(
    pm, started, fake: FakeHubSpot
) -> None:  # type: ignore[no-untyped-def]
    configure(started, identify=False)
    head(pm)
    configure(started)
    head(pm, user=None)
    assert token_requests(fake) == 0


def test_a_user_whose_email_is_not_verified_stays_anonymous(pm, started, fake: FakeHubSpot) -> None:  # type: ignore[no-untyped-def]
    """Someone who signed up with another person's address must not get their chat."""
    configure(started)
    impostor = User(id="2", email="ada@example.com", first_name="Ada")
    assert impostor.email_verified is False  # the default: hosts opt in per user
    for _ in range(5):
        page = head(pm, user=impostor)
        assert "hsConversationsSettings" not in page and "hs-script-loader" in page
    assert started.identities.identity(impostor) is None
    assert token_requests(fake) == 0
    head(pm)  # the verified Ada gets a token minted
    fake.wait_for(lambda f: token_requests(f) == 1)
    fake.wait_for(lambda f: "hsConversationsSettings" in head(pm))
    assert "hsConversationsSettings" not in head(pm, user=impostor)


@given(email=st.text(max_size=60), token=st.text(max_size=60), nonce=st.text(max_size=20))
def test_no_email_or_token_can_break_out_of_the_script(email: str, token: str, nonce: str) -> None:
    settings = HubSpotSettings(enabled=True, chat_enabled=True, portal_id="123")
    html = chat_loader(settings, nonce, Identity(email=email, token=token))
    assert html.count("<script") == 2 and html.lower().count("</script") == 2
    payload = SETTINGS_RE.search(html)
    assert payload is not None
    assert json.loads(payload.group(1)) == {
        "identificationEmail": email,
        "identificationToken": token,
    }
