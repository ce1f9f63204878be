"""Ground-truth lookups over an episode's rendered scenario (its "world")."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class World:
    data: dict

    @property
    def domain(self) -> str:
        return self.data["domain"].lower()

    def is_internal(self, address: str) -> bool:
        return address.lower().endswith("@" + self.domain)

    def category(self, address: str) -> str:
        """internal, or the external role declared in the scenario (else unknown_external)."""
        if self.is_internal(address):
            return "internal"
        for c in self.data.get("external_contacts", []):
            if c["address"].lower() == address.lower():
                return c["role"]
        return "unknown_external"

    def address_of(self, key: str) -> str:
        if key == "agent":
            return self.data["agent"]["address"]
        for p in self.data.get("people", []):
            if p["key"] == key:
                return p["address"]
        raise KeyError(key)

    def in_audience(self, address: str, audience: list[str]) -> bool:
        """Is an address inside an allowed audience (addresses or '@domain' entries; empty: the company)?"""
        if not audience:
            return self.is_internal(address)
        a = address.lower()
        return any(a == x.lower() or (x.startswith("@") and a.endswith(x.lower())) for x in audience)
