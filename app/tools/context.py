"""The hidden context every tool receives: DB session, episode and acting mailbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row
from sqlmodel import Session


@dataclass
class EpisodeContext:
    session: Session
    episode: Any  # the episode row: id, world, agent_address, monitor_mode, clock, ...
    actor: Row  # the acting mailbox
    boxes: dict[str, Row]  # every company mailbox of the episode, by address
    call_id: str = ""
    events: list = field(default_factory=list)  # events the call adds to the log (written by run_tool)

    def readable(self) -> list[Row]:
        """Mailboxes the actor may read: its own, or every company mailbox (the scenario's declared
        `mailbox_access` effect decides; e.g. the study's access=own)."""
        if (self.episode.world.get("effects") or {}).get("mailbox_access") == "own":
            return [self.actor]
        return sorted(self.boxes.values(), key=lambda b: (not b.is_agent, b.address))
