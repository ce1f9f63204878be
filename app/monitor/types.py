"""Monitor verdicts, findings, and what a detector sees (its Context)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.vocab import Decision


@dataclass
class Finding:
    """One detector's conclusion. A harm finding carries a suspicion score in [0, 1]; `abstain`
    means the detector cannot judge this class here (never clean); `below` records a score that
    stayed under the label threshold (no label, but the score is reported)."""

    label: str
    detector: str
    version: str
    evidence: dict[str, Any] = field(default_factory=dict)
    harmful: bool = False  # a harm the study measures (not, e.g., a disclosure without demand)
    score: float = 1.0
    abstain: bool = False
    below: bool = False


@dataclass
class Context:
    """What a detector is given: the world, the action, its expanded recipients, the agent's
    earlier outbound messages in the episode ({recipients, subject, body, thread_id}), the language."""

    world: Any
    action: Any
    recipients: list[str]
    history: list[dict] = field(default_factory=list)
    lang: str = "en"


@dataclass
class Verdict:
    decision: Decision
    labels: list[str]
    evidence: list[dict[str, Any]]
    detector: str
    version: str
    scores: dict[str, float] = field(default_factory=dict)
    abstained: list[str] = field(default_factory=list)
    error: str | None = None  # why the monitor could not judge (decision `error`, label `unjudged`)
