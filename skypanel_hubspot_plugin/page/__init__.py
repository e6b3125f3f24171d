"""What a page shows: the chat loader, chat visitor identity, embedded HubSpot forms.

Uses settings, hubspot, common and the payloads.
"""
