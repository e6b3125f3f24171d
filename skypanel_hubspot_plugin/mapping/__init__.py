"""Panel users and tickets into HubSpot properties, and the property maps' check against the portal.

Uses settings, hubspot, common and the payloads.
"""
