"""What a host imports: every public name importable from the package and documented, and
the two calls a host makes itself (a key, a settings save) behaving as the admin's form."""

from __future__ import annotations

import importlib
import inspect

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import skypanel_hubspot_plugin
from skypanel_hubspot_plugin import InvalidSettings, generate_key, save_settings
from skypanel_hubspot_plugin.testing import HubSpotKit

PUBLIC = ["skypanel_hubspot_plugin", "skypanel_hubspot_plugin.testing"]


@pytest.mark.parametrize("module", PUBLIC)
def test_every_public_name_is_importable_and_documented(module: str) -> None:
    loaded = importlib.import_module(module)
    undocumented = []
    for name in loaded.__all__:
        value = getattr(loaded, name)  # AttributeError: listed but not importable
        if (inspect.isclass(value) or inspect.isroutine(value)) and not inspect.getdoc(value):
            undocumented.append(name)
    assert not undocumented, f"{module}: no docstring on {undocumented}"


def test_what_a_host_needs_is_public() -> None:
    needed = {
        "generate_key",
        "save_settings",
        "InvalidSettings",
        "HostContext",
        "plugin_manager",
        "HubSpotTicketMessage",
        "HubSpotBornTicket",
    }
    assert needed <= set(skypanel_hubspot_plugin.__all__)


def test_generate_key_makes_a_new_fernet_key_each_call() -> None:
    from cryptography.fernet import Fernet

    first, second = generate_key(), generate_key()
    assert first != second
    assert Fernet(first).decrypt(Fernet(first).encrypt(b"token")) == b"token"


def test_save_settings_saves_and_returns_the_settings_in_force(hubspot: HubSpotKit) -> None:
    saved = save_settings({"hubspot_ticket_sync": "polling", "hubspot_ticket_poll_interval": "30"})
    assert (saved.ticket_sync, saved.ticket_poll_interval) == ("polling", 30)
    assert hubspot.settings.ticket_sync == "polling"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(portal_id=st.text(max_size=30), rate_limit=st.text(max_size=8))
def test_save_settings_refuses_a_bad_value_naming_its_key_and_changes_nothing(
    hubspot: HubSpotKit, portal_id: str, rate_limit: str
) -> None:
    before = hubspot.settings
    try:
        saved = save_settings({"hubspot_portal_id": portal_id, "hubspot_rate_limit": rate_limit})
    except InvalidSettings as exc:
        assert set(exc.errors) <= {"hubspot_portal_id", "hubspot_rate_limit"}
        assert exc.errors and all(exc.errors.values())
        assert hubspot.settings == before
    else:
        assert saved.portal_id == portal_id.strip()
        assert saved.rate_limit == int(rate_limit.strip())


def test_save_settings_refuses_a_stage_outside_the_pipeline(hubspot: HubSpotKit) -> None:
    with pytest.raises(InvalidSettings) as refused:
        save_settings({"hubspot_ticket_stage": "no-such-stage"})
    assert "hubspot_ticket_stage" in refused.value.errors
    assert hubspot.settings.ticket_stage != "no-such-stage"
