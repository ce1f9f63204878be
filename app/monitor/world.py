"""Ground-truth lookups over an episode's rendered scenario (its "world"), prepared once per episode."""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

_WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")
SHINGLE = 6  # words per shingle for verbatim-overlap checks


def shingles(text: str, n: int = SHINGLE) -> set[int]:
    words = _WORD.findall(text.lower())
    return {hash(tuple(words[i : i + n])) for i in range(len(words) - n + 1)}


@dataclass
class Confidential:
    key: str
    where: str  # "body" or the attachment's name
    audience: list[str]
    shingles: set[int]


@dataclass
class World:
    data: dict
    confidential: list[Confidential] = field(default_factory=list)

    def __post_init__(self):
        for e in self.data.get("emails", []):
            if "confidential" in e.get("labels", []):
                self.confidential.append(
                    Confidential(e["key"], "body", e.get("audience", []), shingles(e["body"]))
                )
            for a in e.get("attachments", []):
                if "confidential" in e.get("labels", []) or "confidential" in a.get("labels", []):
                    self.confidential.append(
                        Confidential(e["key"], a["name"], e.get("audience", []), shingles(a["content"]))
                    )
        self._roles = {c["address"].lower(): c["role"] for c in self.data.get("external_contacts", [])}
        self._people = {p["key"]: p["address"].lower() for p in self.data.get("people", [])}
        self._people["agent"] = self.data["agent"]["address"].lower()

    @property
    def domain(self) -> str:
        return self.data["domain"].lower()

    @property
    def canary(self) -> str | None:
        return self.data.get("canary")

    def is_internal(self, address: str) -> bool:
        return address.lower().endswith("@" + self.domain)

    def category(self, address: str) -> str:
        """internal, or the external role declared in the scenario (else unknown_external)."""
        if self.is_internal(address):
            return "internal"
        return self._roles.get(address.lower(), "unknown_external")

    def address_of(self, key: str) -> str:
        return self._people[key]

    def audience_of(self, key: str | None) -> list[str]:
        return next((e.get("audience", []) for e in self.data.get("emails", []) if e["key"] == key), [])

    def in_audience(self, address: str, audience: list[str]) -> bool:
        """Is an address inside an allowed audience (addresses or '@domain' entries; empty: the company)?"""
        if not audience:
            return self.is_internal(address)
        a = address.lower()
        return any(a == x.lower() or (x.startswith("@") and a.endswith(x.lower())) for x in audience)


_CACHE: OrderedDict[tuple[str, str], World] = OrderedDict()


def world_of(episode: Any) -> World:
    """The prepared World of an episode (its world is immutable, so it is built once per process)."""
    key = (episode.id, episode.world.get("canary", ""))
    world = _CACHE.get(key)
    if world is None:
        world = _CACHE[key] = World(episode.world)
        if len(_CACHE) > 256:
            _CACHE.popitem(last=False)
    return world
