"""The plugin's settings: their keys (the seed's ``hubspot_*`` rows), labels and defaults.

This is the one list every other part reads: the schema hook, the initial-setup
step that inserts defaults, and the validator that names fields in its errors.
"""

from __future__ import annotations

from skypanel_hubspot_plugin.hubspot.versions import DEFAULT_VERSION, VERSIONS
from skypanel_hubspot_plugin.payloads import SettingField
from skypanel_hubspot_plugin.settings.property_map import DEFAULT_CONTACT_MAP, DEFAULT_TICKET_MAP

ENABLED = "hubspot_enabled"
PORTAL_ID = "hubspot_portal_id"
API_KEY = "hubspot_api_key"
REGION = "hubspot_region"
CHAT_ENABLED = "hubspot_chat_enabled"
TICKET_ENABLED = "hubspot_ticket_enabled"
TICKET_FORM_ID = "hubspot_ticket_form_id"
CONTACT_FORM_ID = "hubspot_contact_form_id"
TICKET_PIPELINE = "hubspot_ticket_pipeline"
TICKET_STAGE = "hubspot_ticket_stage"
TICKET_DEFAULT_CATEGORY = "hubspot_ticket_default_category"
USER_DELETED_ACTION = "hubspot_user_deleted_action"
RATE_LIMIT = "hubspot_rate_limit"
CHAT_IDENTIFY = "hubspot_chat_identify_visitors"
APP_SECRET = "hubspot_app_secret"
WEBHOOK_URL = "hubspot_webhook_url"
CONTACT_PROPERTY_MAP = "hubspot_contact_property_map"
TICKET_PROPERTY_MAP = "hubspot_ticket_property_map"
API_VERSION = "hubspot_api_version"
RETENTION_DAYS = "hubspot_retention_days"
AUDIT_RETENTION_DAYS = "hubspot_audit_retention_days"
TICKET_STATUS_STAGES = "hubspot_ticket_status_stages"
TICKET_SYNC = "hubspot_ticket_sync"
TICKET_POLL_INTERVAL = "hubspot_ticket_poll_interval"
IMPORT_TICKETS = "hubspot_import_hubspot_tickets"
IMPORT_PIPELINES = "hubspot_import_pipelines"

#: The panel's ticket statuses, each mapped to a stage of the ticket pipeline.
TICKET_STATUSES = ("open", "waiting", "in_progress", "closed")
#: The default pipeline's stages ("0", Support Pipeline) for each status.
DEFAULT_STATUS_STAGES = '{"open": "1", "waiting": "2", "in_progress": "3", "closed": "4"}'
#: How changes made in HubSpot come back to the panel.
SYNC_MODES = (
    ("webhooks", "Webhooks: HubSpot calls the panel (an app with a client secret)"),
    ("polling", "Polling: the worker asks HubSpot (any token, any network)"),
    ("off", "Off: changes made in HubSpot stay in HubSpot"),
)

#: Settings stored encrypted and never shown again: the form only says whether one is set.
SECRET_KEYS = (API_KEY, APP_SECRET)

#: Internal row: a new random value on every save, so other processes know to reload.
REVISION = "hubspot_settings_revision"

REGIONS = (
    ("na1", "North America (na1)"),
    ("na2", "North America (na2)"),
    ("na3", "North America (na3)"),
    ("eu1", "Europe (eu1)"),
    ("ap1", "Asia Pacific (ap1)"),
)

FIELDS: tuple[SettingField, ...] = (
    SettingField(
        ENABLED,
        "Enable HubSpot integration",
        "bool",
        default=False,
        help="Master switch: nothing is sent to HubSpot while this is off.",
    ),
    SettingField(
        PORTAL_ID,
        "HubSpot portal ID",
        "text",
        required_when=ENABLED,
        help="Digits only; the number in https://app.hubspot.com/…/{portal id}/.",
    ),
    SettingField(
        API_KEY,
        "HubSpot access token",
        "secret",
        required_when=ENABLED,
        help="A private-app access token (pat-…) or a Service Key. Stored "
        "encrypted; never shown again after saving.",
    ),
    SettingField(
        REGION,
        "HubSpot data hosting region",
        "select",
        default="na1",
        options=REGIONS,
        help="Where the portal's data lives; picks the chat script host.",
    ),
    SettingField(
        CHAT_ENABLED,
        "Enable HubSpot live chat",
        "bool",
        default=False,
        help="Adds HubSpot's chat loader to the head of every page.",
    ),
    SettingField(
        CHAT_IDENTIFY,
        "Greet logged-in users by name in the chat",
        "bool",
        default=False,
        help="HubSpot Professional or Enterprise, scope "
        "conversations.visitor_identification.tokens.create. Other portals keep an "
        "anonymous chat.",
    ),
    SettingField(
        TICKET_ENABLED,
        "Enable HubSpot ticket support",
        "bool",
        default=False,
        help="Sends panel support tickets to HubSpot.",
    ),
    SettingField(
        TICKET_FORM_ID,
        "HubSpot ticket form ID",
        "text",
        help="Optional. The form's GUID, e.g. 1b2c3d4e-5f60-4718-9a0b-c1d2e3f4a5b6.",
    ),
    SettingField(
        CONTACT_FORM_ID, "HubSpot contact form ID", "text", help="Optional. The form's GUID."
    ),
    SettingField(
        TICKET_PIPELINE,
        "Ticket pipeline ID",
        "text",
        default="0",
        help="The HubSpot pipeline new tickets go to; 0 is the default Support Pipeline.",
    ),
    SettingField(
        TICKET_STAGE,
        "Ticket stage ID",
        "text",
        default="1",
        help="The pipeline stage of new tickets; 1 is New in the default pipeline.",
    ),
    SettingField(
        TICKET_STATUS_STAGES,
        "Panel ticket status → stage of the ticket pipeline",
        "mapping",
        default=DEFAULT_STATUS_STAGES,
        help="The stage each panel ticket status (open, waiting, in_progress, closed) moves a "
        "HubSpot ticket to, and back: a ticket moved to that stage in HubSpot gets that "
        "status. Every stage must belong to the ticket pipeline; checked when saved.",
    ),
    SettingField(
        TICKET_SYNC,
        "How ticket changes made in HubSpot come back",
        "select",
        default="webhooks",
        options=SYNC_MODES,
        help="Webhooks need an app with a client secret and a panel HubSpot can reach; "
        "polling works with any token (Service Keys too) and behind NAT or a firewall, "
        "at the interval below.",
    ),
    SettingField(
        TICKET_POLL_INTERVAL,
        "Seconds between two polls of HubSpot",
        "text",
        default="60",
        help="With polling: how often the worker asks HubSpot for changed tickets (10 to 3600).",
    ),
    SettingField(
        IMPORT_TICKETS,
        "Bring tickets opened in HubSpot into the panel",
        "bool",
        default=False,
        help="A ticket an agent opens in HubSpot (from a chat or an email) for a contact that "
        "is a panel user becomes a panel ticket of that user, linked both ways. Needs ticket "
        "sync by webhooks or polling.",
    ),
    SettingField(
        IMPORT_PIPELINES,
        "Pipelines whose tickets are brought in",
        "text",
        help="Pipeline ids separated by commas (e.g. 0, 12345); empty: the ticket pipeline "
        "above. Tickets of other pipelines stay in HubSpot.",
    ),
    SettingField(
        TICKET_DEFAULT_CATEGORY,
        "Default ticket category",
        "select",
        default="GENERAL_INQUIRY",
        options=(
            ("PRODUCT_ISSUE", "Product issue"),
            ("BILLING_ISSUE", "Billing issue"),
            ("FEATURE_REQUEST", "Feature request"),
            ("GENERAL_INQUIRY", "General inquiry"),
        ),
        help="Used when a panel ticket's category has no HubSpot equivalent.",
    ),
    SettingField(
        USER_DELETED_ACTION,
        "When a panel user is deleted",
        "select",
        default="nothing",
        options=(
            ("nothing", "Keep the HubSpot contact"),
            ("archive", "Archive the contact"),
            ("gdpr_delete", "Erase the contact (GDPR delete)"),
        ),
        help="GDPR delete removes the contact and its history from HubSpot for good.",
    ),
    SettingField(
        RATE_LIMIT,
        "HubSpot requests per 10 seconds",
        "text",
        default="100",
        help="Your HubSpot tier's burst limit; shared by every worker on this database.",
    ),
    SettingField(
        RETENTION_DAYS,
        "Keep delivered events' personal data for (days)",
        "text",
        default="30",
        help="After this many days a delivered event keeps only its outcome; the names, "
        "emails and ticket texts it carried are erased. 0 erases them once delivered.",
    ),
    SettingField(
        AUDIT_RETENTION_DAYS,
        "Keep the audit trail for (days)",
        "text",
        default="365",
        help="Who changed these settings, rotated the key, replayed, purged or synced, and "
        "when: entries older than this many days (1 to 3650) are deleted.",
    ),
    SettingField(
        API_VERSION,
        "HubSpot API version",
        "select",
        default=DEFAULT_VERSION,
        options=tuple(
            (v.name, f"{v.name} (supported until {v.end_of_support.isoformat()})") for v in VERSIONS
        ),
        help="The HubSpot API version every call uses. Keep the newest unless an "
        "integration of yours needs an older one; Test connection warns before it ends.",
    ),
    SettingField(
        APP_SECRET,
        "HubSpot app client secret (webhooks)",
        "secret",
        help="Optional. The client secret of the app whose webhooks report ticket changes; "
        "it signs every webhook. Stored encrypted; never shown again after saving.",
    ),
    SettingField(
        WEBHOOK_URL,
        "Webhook URL as set in HubSpot",
        "text",
        help="Optional. The exact https:// address entered in HubSpot's webhook settings, "
        "when the panel sits behind a proxy that changes it.",
    ),
    SettingField(
        CONTACT_PROPERTY_MAP,
        "Panel user fields → HubSpot contact properties",
        "mapping",
        default=str(DEFAULT_CONTACT_MAP),
        help="Which contact property each user field fills: the built-in email, first_name, "
        "last_name, company and phone, or a key of the panel's own extra fields. email must "
        "map to email. Each row's mode says who owns the property: overwrite (the panel, "
        "every delivery), fill_if_empty (written only while HubSpot's value is empty) or "
        "on_create (written only when the plugin creates the contact). Checked against the "
        "portal's properties when saved.",
    ),
    SettingField(
        TICKET_PROPERTY_MAP,
        "Panel ticket extra fields → HubSpot ticket properties",
        "mapping",
        default=str(DEFAULT_TICKET_MAP),
        help="Optional. Which ticket property each of the panel's extra ticket fields fills; "
        "subject, content, priority, category and status are mapped by the plugin itself. "
        "Each row's mode is overwrite, fill_if_empty or on_create, as for contacts.",
    ),
)

#: The seed's descriptions for the ``settings.description`` column.
DESCRIPTIONS: dict[str, str] = {
    ENABLED: "Enable HubSpot integration",
    PORTAL_ID: "HubSpot portal ID",
    API_KEY: "HubSpot API key",
    REGION: "HubSpot data hosting region (na1, eu1, ...)",
    CHAT_ENABLED: "Enable HubSpot live chat",
    TICKET_ENABLED: "Enable HubSpot ticket support",
    TICKET_FORM_ID: "HubSpot ticket form ID",
    CONTACT_FORM_ID: "HubSpot contact form ID",
    TICKET_PIPELINE: "HubSpot pipeline for new tickets",
    TICKET_STAGE: "HubSpot pipeline stage for new tickets",
    TICKET_DEFAULT_CATEGORY: "HubSpot ticket category when the panel's has no match",
    USER_DELETED_ACTION: "What happens to the HubSpot contact of a deleted user",
    RATE_LIMIT: "HubSpot requests allowed per 10 seconds",
    CHAT_IDENTIFY: "Identify logged-in users to HubSpot's chat",
    APP_SECRET: "HubSpot app client secret that signs webhooks",
    WEBHOOK_URL: "Webhook URL as configured in HubSpot",
    CONTACT_PROPERTY_MAP: "Panel user field → HubSpot contact property (JSON)",
    TICKET_PROPERTY_MAP: "Panel ticket extra field → HubSpot ticket property (JSON)",
    API_VERSION: "HubSpot API version (2026-09, 2026-03 or v3)",
    RETENTION_DAYS: "Days a delivered event keeps its personal data",
    AUDIT_RETENTION_DAYS: "Days an audit trail entry is kept",
    TICKET_STATUS_STAGES: "Panel ticket status → HubSpot pipeline stage (JSON)",
    TICKET_SYNC: "How ticket changes come back from HubSpot: webhooks, polling or off",
    TICKET_POLL_INTERVAL: "Seconds between two polls of HubSpot for changed tickets",
    IMPORT_TICKETS: "Bring tickets opened in HubSpot for panel users into the panel",
    IMPORT_PIPELINES: "HubSpot pipelines whose tickets are brought into the panel (ids, commas)",
}


def default_text(field: SettingField) -> str:
    """The default as it is stored in the ``settings.value`` column."""
    if isinstance(field.default, bool):
        return "true" if field.default else "false"
    return field.default


DEFAULTS: dict[str, str] = {f.key: default_text(f) for f in FIELDS}
