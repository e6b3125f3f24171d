"""Customers the demo panel starts with, as if they had signed up before the plugin came.

No hook fires for them, so HubSpot does not know them until the admin runs "Sync all
contacts" (the backfill): that is what the backfill is for on a real panel.
"""

from __future__ import annotations

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from .forms import PLANS
from .panel_tables import PanelUser

FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim")
LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")
COMPANIES = ("Analytical Engines", "Cobol Works", "Bletchley Hosting", "Semaphore Ltd")


def add_sample_customers(engine: Engine, count: int) -> int:
    """Adds ``count`` customers to an empty panel; a panel with customers is left as it is."""
    with Session(engine) as session:
        if count <= 0 or session.exec(select(func.count()).select_from(PanelUser)).one():
            return 0
        for n in range(1, count + 1):
            first, last = FIRST[n % len(FIRST)], LAST[n % len(LAST)]
            session.add(
                PanelUser(
                    email=f"{first}.{last}.{n}@example.com".lower(),
                    first_name=first,
                    last_name=last,
                    company=COMPANIES[n % len(COMPANIES)],
                    plan=PLANS[n % len(PLANS)][0],
                    server_count=n % 7,
                )
            )
        session.commit()
    return count
