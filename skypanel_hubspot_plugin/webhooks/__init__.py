"""HubSpot's webhooks: the v3 signature, the table of handled events, events into host hook calls.

Uses delivery, mapping, common and the payloads; the route that receives them is in admin.
"""
