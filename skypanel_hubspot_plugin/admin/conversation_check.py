"""What Test connection says about a ticket's conversation coming back from HubSpot: which
part cannot work with the saved credential, and why.

Agents' replies are email engagements: reading them needs ``sales-email-read`` besides the
contacts scopes (HubSpot's emails API), so a token without it keeps replies in HubSpot.
Tickets opened in HubSpot need the ``tickets`` scope the ticket sync already asks for. A
private app's token is asked for its scopes; other credentials (Service Keys) are probed
with one small read.
"""

from __future__ import annotations

from skypanel_hubspot_plugin.hubspot import conversation_reads as reads
from skypanel_hubspot_plugin.hubspot.errors import BadRequest, HubSpotError, MissingScopes, NotFound
from skypanel_hubspot_plugin.hubspot.service import HubSpotService
from skypanel_hubspot_plugin.settings.model import HubSpotSettings

#: What reading email engagements (agents' replies) needs, beyond the contacts scopes.
SCOPE_SALES_EMAIL_READ = "sales-email-read"


def _lacks_email_scope(service: HubSpotService, settings: HubSpotSettings) -> bool | None:
    """True when the credential cannot read emails, None when HubSpot would not say."""
    if settings.token_kind == "private-app":
        try:
            return SCOPE_SALES_EMAIL_READ not in set(service.private_app_scopes())
        except (BadRequest, NotFound):
            pass  # not known as a private-app token: probe instead
        except HubSpotError:
            return None
    try:
        reads.search_outgoing_emails(service, 0, limit=1)
    except MissingScopes:
        return True
    except HubSpotError:
        return None
    return False


def conversation_warnings(service: HubSpotService, settings: HubSpotSettings) -> list[str]:
    """The parts of the conversation that cannot work with this credential, each with its
    reason and fix; the rest of the integration works without them."""
    if not settings.ticket_enabled or not _lacks_email_scope(service, settings):
        return []
    fix = (
        f"the token lacks scope {SCOPE_SALES_EMAIL_READ}, which HubSpot's email engagements "
        "need. Add it to the private app's scopes and paste the new token here."
    )
    warnings = [
        "The panel's ticket messages cannot reach HubSpot (they wait, parked, to be "
        f"replayed): {fix}"
    ]
    if settings.ticket_sync != "off":
        warnings.append(f"Agents' replies cannot reach the panel: {fix}")
    return warnings
