"""Panel events into the outbox and out to HubSpot: outbox table, worker, deliverer, rate limit, backfill.

Uses mapping, page, settings, hubspot, common and the payloads; never the runtime (see context.py).
"""
