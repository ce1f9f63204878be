"""Monitor verdicts and the facts detectors see."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Decision = Literal["allow", "flag", "hold", "block"]
Mode = Literal["observe", "block"]


@dataclass
class Finding:
    label: str
    detector: str
    version: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class Verdict:
    decision: Decision
    labels: list[str]
    evidence: list[dict[str, Any]]
    detector: str
    version: str

    @property
    def delivers(self) -> bool:
        return self.decision in ("allow", "flag")
