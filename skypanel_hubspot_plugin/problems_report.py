"""``skypanel-hubspot problems``: the problems view on a terminal, and replaying one group."""

from __future__ import annotations

import json

from skypanel_hubspot_plugin.audit.trail import Actor
from skypanel_hubspot_plugin.delivery.outbox import Outbox
from skypanel_hubspot_plugin.delivery.problems import problems, replay_group
from skypanel_hubspot_plugin.runtime import Runtime


def print_problems(outbox: Outbox, *, as_json: bool) -> int:
    """Prints the groups (biggest parked first), each with its count, fix and example."""
    found = problems(outbox)
    if as_json:
        print(json.dumps(found.as_json(), indent=2))
        return 0
    if not found.groups:
        print("No problems: nothing is parked or waiting long.")
        return 0
    for group in found.groups:
        cause, example = group.cause, group.example
        named = f" [{', '.join(cause.properties)}]" if cause.properties else ""
        answer = " ".join(x for x in (cause.status, cause.category) if x)
        print(f"{group.cause.key}  {cause.state} x{len(group.ids)}  {answer}{named}")
        print(f"    {cause.reason}")
        print(f"    fix: {group.fix}")
        if example is not None:
            print(f"    e.g. #{example.id} {example.kind} {example.entity}")
        if group.replayable:
            print(f"    replay: skypanel-hubspot problems --replay {cause.key}")
    if found.truncated:
        print(f"(the newest {found.scanned} rows were read; there are more)")
    return 0


def replay_problem(rt: Runtime, key: str, actor: Actor) -> int:
    """Queues one parked group again; exit code 1 when there is no such group."""
    replayed = replay_group(rt.outbox, key, rt.settings().contact_property_map, actor)
    if replayed is None:
        print(f"No parked group has the key {key}: list them with `skypanel-hubspot problems`.")
        return 1
    print(f"Queued {replayed} parked deliver{'y' if replayed == 1 else 'ies'} again.")
    return 0
