"""The hidden context every tool receives: DB session, episode and acting mailbox."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from app.models import Episode, Mailbox
from app.services import mail


@dataclass
class EpisodeContext:
    session: Session
    episode: Episode
    actor: Mailbox
    _boxes: dict[str, Mailbox] | None = field(default=None, repr=False)

    @property
    def boxes(self) -> dict[str, Mailbox]:
        if self._boxes is None:
            self._boxes = mail.mailboxes(self.session, self.episode.id)
        return self._boxes

    def readable(self) -> list[Mailbox]:
        """Mailboxes the actor may read: its own, or every company mailbox when access is full."""
        if self.episode.world.get("variables", {}).get("access", "full") == "own":
            return [self.actor]
        return sorted(self.boxes.values(), key=lambda b: (not b.is_agent, b.address))
