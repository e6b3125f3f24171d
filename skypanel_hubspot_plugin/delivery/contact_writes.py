"""The contact writes of one claim, sorted by how they go to HubSpot, 100 to a request.

Users with no link are created (a batch create HubSpot answers input by input), linked
users asked for whole are upserted by email, and linked users' changes are updated by id.
One write can turn into another within a claim: a create whose email HubSpot has already
becomes an update of that contact, and an update whose contact was deleted becomes a create.
"""

from __future__ import annotations

from skypanel_hubspot_plugin.delivery.coalesce import ContactPlan
from skypanel_hubspot_plugin.delivery.outbox import Group
from skypanel_hubspot_plugin.hubspot import api


class ContactWrites:
    """The contact writes of one claim, gathered so they go 100 to a request."""

    def __init__(self) -> None:
        self.creates: list[Group] = []  # not linked: created, HubSpot answering each one
        self.upserts: list[Group] = []  # linked, asked for whole: written whole by email
        self.updates: list[Group] = []  # by id: linked contacts' changes
        self.plans: dict[int, ContactPlan] = {}
        self.ids: dict[int, str] = {}
        self.whole: set[int] = set()  # updates that write the whole contact

    def create(self, group: Group, plan: ContactPlan) -> None:
        self.plans[id(group)] = plan
        self.creates.append(group)

    def upsert(self, group: Group, plan: ContactPlan) -> None:
        self.plans[id(group)] = plan
        self.upserts.append(group)

    def update(
        self, group: Group, plan: ContactPlan, contact_id: str, *, whole: bool = False
    ) -> None:
        self.plans[id(group)] = plan
        self.ids[id(group)] = contact_id
        if whole:
            self.whole.add(id(group))
        self.updates.append(group)

    def pending(self) -> list[Group]:
        return [*self.creates, *self.updates, *self.upserts]

    @staticmethod
    def take(groups: list[Group]) -> list[list[Group]]:
        """Empties ``groups`` into batches of at most 100 (a write may queue another meanwhile)."""
        taken = groups[:]
        groups.clear()
        return [taken[i : i + api.BATCH_LIMIT] for i in range(0, len(taken), api.BATCH_LIMIT)]


#: Rounds of contact writes in one claim: a create that finds its email taken becomes an
#: update, and an update whose contact was deleted meanwhile becomes a create.
CONTACT_ROUNDS = 3
