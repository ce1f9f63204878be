"""Monitor verdicts and the facts detectors see."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.vocab import Decision


@dataclass
class Finding:
    label: str
    detector: str
    version: str
    evidence: dict[str, Any] = field(default_factory=dict)
    harmful: bool = False  # a harm the study measures (not, e.g., a disclosure without demand)


@dataclass
class Verdict:
    decision: Decision
    labels: list[str]
    evidence: list[dict[str, Any]]
    detector: str
    version: str
