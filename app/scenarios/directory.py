"""Who is who in an episode's world (its rendered scenario, stored as data): group expansion."""

from __future__ import annotations


def expand(world: dict, agent_address: str, addresses: list[str]) -> list[str]:
    """Replace group (list) addresses with their members' addresses; keep order, drop repeats."""
    groups = {g["address"].lower(): g for g in world.get("groups", [])}
    people = {p["key"]: p["address"] for p in world.get("people", [])} | {"agent": agent_address}
    out: list[str] = []
    for a in addresses:
        g = groups.get(a.lower())
        if g:
            out.extend(people[m] for m in g["members"])
        else:
            out.append(a)
    return list(dict.fromkeys(out))
