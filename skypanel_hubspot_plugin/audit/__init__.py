"""Who changed the integration, and when: the ``hubspot_audit`` table and its entries.

Settings saves, encryption key rotations, replays, purges and contact backfills each add
one entry, in the same transaction as the change they describe where there is one. An
entry holds setting keys, counts, who did it (the admin the host named, or the shell user
of a command) and from which address: never a secret's value, and no customer data.
"""
