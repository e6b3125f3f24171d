"""Every call to HubSpot: API paths and enums, the service wrapper, errors, forms, properties.

Uses common only; knows nothing of settings, the outbox or the host.
"""
