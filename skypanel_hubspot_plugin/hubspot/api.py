"""HubSpot's API facts in one place: base URL, unversioned paths, ids, enums, scopes.

The versioned paths (CRM objects, associations, properties, pipelines, account details,
visitor identification) are built by :mod:`skypanel_hubspot_plugin.hubspot.versions`;
every other number and name we depend on lives here.
"""

from __future__ import annotations

DEFAULT_BASE_URL = "https://api.hubapi.com"

PRIVATE_APP_TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"

CONTACTS = "contacts"
TICKETS = "tickets"
EMAILS = "emails"

#: Contacts are unique by email: HubSpot reads and upserts them by it.
EMAIL_PROPERTY = "email"

#: HUBSPOT_DEFINED association type ids (associations v4).
TICKET_TO_CONTACT = 16
CONTACT_TO_TICKET = 15
EMAIL_TO_CONTACT = 198
EMAIL_TO_TICKET = 224
NOTE_TO_CONTACT = 202
NOTE_TO_TICKET = 228

#: Our unique ticket property: upserting by it makes ticket creation idempotent.
TICKET_ID_PROPERTY = "skypanel_ticket_id"
#: Our unique email property: upserting by it logs each panel ticket message once.
MESSAGE_ID_PROPERTY = "skypanel_message_id"
#: When HubSpot last changed a ticket (ISO text in answers, epoch milliseconds in filters).
TICKET_MODIFIED = "hs_lastmodifieddate"
#: Records one CRM search request returns at most.
SEARCH_LIMIT = 200

#: Batch endpoints take at most this many inputs.
BATCH_LIMIT = 100

#: The default ticket pipeline and its first stage ("New") in every portal.
DEFAULT_PIPELINE = "0"
DEFAULT_PIPELINE_STAGE = "1"

#: hs_ticket_priority / hs_ticket_category options of a portal that has not changed them.
DEFAULT_PRIORITIES = ("LOW", "MEDIUM", "HIGH")
DEFAULT_CATEGORIES = ("PRODUCT_ISSUE", "BILLING_ISSUE", "FEATURE_REQUEST", "GENERAL_INQUIRY")

CONTACT_PROPERTIES = ("email", "firstname", "lastname", "company", "phone")
TICKET_PROPERTIES = (
    "subject",
    "content",
    "hs_pipeline",
    "hs_pipeline_stage",
    "hs_ticket_priority",
    "hs_ticket_category",
)

SCOPE_CONTACTS_READ = "crm.objects.contacts.read"
SCOPE_CONTACTS_WRITE = "crm.objects.contacts.write"
SCOPE_TICKETS = "tickets"
#: Email engagements (a ticket's messages) are read and written with it, besides the
#: contacts scopes. Only the conversation needs it: without it Test connection says that
#: part is unavailable, and everything else works.
SCOPE_SALES_EMAIL_READ = "sales-email-read"


def required_scopes(*, tickets: bool) -> tuple[str, ...]:
    """The scopes the private app needs for what the admin enabled."""
    scopes = (SCOPE_CONTACTS_READ, SCOPE_CONTACTS_WRITE)
    return (*scopes, SCOPE_TICKETS) if tickets else scopes


#: HubSpot's data-hosting regions (an account's ``dataHostingLocation``), each with the
#: chat script host ``js-<region>.hs-scripts.com``. A code outside this list is refused:
#: it would point every page at a host HubSpot does not serve.
KNOWN_REGIONS = ("na1", "na2", "na3", "eu1", "ap1")


def chat_script_host(region: str) -> str:
    """The host serving the chat loader: ``js.hs-scripts.com`` for na1, ``js-<region>.…`` otherwise."""
    return "js.hs-scripts.com" if region == "na1" else f"js-{region}.hs-scripts.com"


def chat_script_url(region: str, portal_id: str) -> str:
    """The chat loader's address for a portal."""
    return f"https://{chat_script_host(region)}/{portal_id}.js"
