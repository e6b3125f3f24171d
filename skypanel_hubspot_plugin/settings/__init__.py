"""The admin's settings: the table, the typed model, the schema, encrypted secrets, the store.

Uses common and hubspot (for HubSpot's names and enums).
"""
