"""The fake HubSpot's schema as a new portal has it: every object type's property
definitions (HubSpot's own, read-only ones among them) and the default ticket pipeline, in
the shapes the properties and pipelines APIs answer with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from skypanel_hubspot_plugin.common import clock

from .fake_engagement_rules import engagement_properties


def now_iso() -> str:
    """HubSpot's timestamp format: ISO 8601, milliseconds, ``Z``; on the plugin's clock, so a
    test that moves it (the kit's ``advance``) moves HubSpot's modification times too."""
    return clock.utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def prop(
    name: str,
    label: str,
    *,
    type_: str = "string",
    field_type: str = "text",
    options: list[tuple[str, str]] | None = None,
    unique: bool = False,
    group: str = "info",
    read_only: bool = False,
    calculated: bool = False,
) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "groupName": group,
        "description": "",
        "displayOrder": -1,
        "calculated": calculated,
        "externalOptions": False,
        "hasUniqueValue": unique,
        "hidden": False,
        "formField": True,
        "archived": False,
        "createdAt": "2020-01-01T00:00:00.000Z",
        "updatedAt": "2020-01-01T00:00:00.000Z",
        "modificationMetadata": {
            "archivable": not (read_only or calculated),
            "readOnlyDefinition": read_only or calculated,
            "readOnlyValue": read_only or calculated,
        },
        "options": [
            {"label": lab, "value": val, "displayOrder": i, "hidden": False}
            for i, (val, lab) in enumerate(options or [])
        ],
    }


def _read_only_properties() -> list[dict[str, Any]]:
    """What HubSpot sets on every record itself; a write to one is refused (READ_ONLY_VALUE)."""
    return [
        prop("hs_object_id", "Record ID", type_="number", field_type="number", read_only=True),
        prop("createdate", "Create Date", type_="datetime", field_type="date", read_only=True),
        prop(
            "lastmodifieddate",
            "Last Modified Date",
            type_="datetime",
            field_type="date",
            read_only=True,
        ),
    ]


def default_properties() -> dict[str, dict[str, dict[str, Any]]]:
    contacts = [
        prop("email", "Email", unique=True),
        prop("firstname", "First Name"),
        prop("lastname", "Last Name"),
        prop("company", "Company Name"),
        prop("phone", "Phone Number", field_type="phonenumber"),
        prop("website", "Website URL"),
        prop(
            "lifecyclestage",
            "Lifecycle Stage",
            type_="enumeration",
            field_type="select",
            options=[("subscriber", "Subscriber"), ("lead", "Lead"), ("customer", "Customer")],
        ),
        prop(
            "hs_lead_status",
            "Lead Status",
            type_="enumeration",
            field_type="select",
            options=[("NEW", "New"), ("OPEN", "Open"), ("IN_PROGRESS", "In Progress")],
        ),
        prop("total_revenue", "Total Revenue", type_="number", field_type="number"),
        *_read_only_properties(),
        prop(
            "num_associated_deals",
            "Number of Associated Deals",
            type_="number",
            field_type="number",
            calculated=True,
        ),
    ]
    tickets = [
        prop("subject", "Ticket name"),
        prop("content", "Ticket description", field_type="textarea"),
        prop(
            "hs_pipeline",
            "Pipeline",
            type_="enumeration",
            field_type="select",
            options=[("0", "Support Pipeline")],
        ),
        prop(
            "hs_pipeline_stage",
            "Ticket status",
            type_="enumeration",
            field_type="select",
            options=[
                ("1", "New"),
                ("2", "Waiting on contact"),
                ("3", "Waiting on us"),
                ("4", "Closed"),
            ],
        ),
        prop(
            "hs_ticket_priority",
            "Priority",
            type_="enumeration",
            field_type="select",
            options=[("LOW", "Low"), ("MEDIUM", "Medium"), ("HIGH", "High"), ("URGENT", "Urgent")],
        ),
        prop(
            "hs_ticket_category",
            "Category",
            type_="enumeration",
            field_type="checkbox",
            options=[
                ("PRODUCT_ISSUE", "Product issue"),
                ("BILLING_ISSUE", "Billing issue"),
                ("FEATURE_REQUEST", "Feature request"),
                ("GENERAL_INQUIRY", "General inquiry"),
            ],
        ),
        *_read_only_properties(),
        prop(
            "hs_lastmodifieddate",
            "Last Modified Date",
            type_="datetime",
            field_type="date",
            read_only=True,
        ),
    ]
    return {
        "contacts": {p["name"]: p for p in contacts},
        "tickets": {p["name"]: p for p in tickets},
        **engagement_properties(prop),
    }


def default_pipelines() -> dict[str, dict[str, dict[str, Any]]]:
    """Every portal's default ticket pipeline ("0", Support Pipeline) and its four stages."""
    stages = [("1", "New"), ("2", "Waiting on contact"), ("3", "Waiting on us"), ("4", "Closed")]
    return {"tickets": {"0": pipeline_body("0", "Support Pipeline", stages)}}


def pipeline_body(
    pipeline_id: str, label: str, stages: list[tuple[str, str]], closed: Sequence[str] = ()
) -> dict[str, Any]:
    """A pipeline in HubSpot's answer shape; ``closed`` stages (and any labelled "Closed")
    have ticket state CLOSED."""
    stamp = "2020-01-01T00:00:00.000Z"
    return {
        "id": pipeline_id,
        "label": label,
        "displayOrder": 0,
        "archived": False,
        "createdAt": stamp,
        "updatedAt": stamp,
        "stages": [
            {
                "id": stage_id,
                "label": stage_label,
                "displayOrder": i,
                "archived": False,
                "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                "metadata": {
                    "ticketState": "CLOSED"
                    if stage_label == "Closed" or stage_id in closed
                    else "OPEN"
                },
                "createdAt": stamp,
                "updatedAt": stamp,
            }
            for i, (stage_id, stage_label) in enumerate(stages)
        ],
    }
