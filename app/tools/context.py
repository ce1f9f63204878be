"""The hidden context every tool receives: DB session, episode and acting mailbox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row
from sqlmodel import Session


@dataclass(frozen=True)
class OutsideActor:
    """An outside contact acting in the world (a competitor's follow-up): no mailbox, so it can only send."""

    address: str
    name: str
    id: None = None
    is_agent: bool = False


def outside_actor(world: dict, address: str) -> OutsideActor | None:
    for c in world.get("external_contacts", []):
        if c["address"].lower() == address:
            return OutsideActor(address, c.get("name", ""))
    return None


@dataclass
class EpisodeContext:
    session: Session
    episode: Any  # the episode row: id, world, agent_address, monitor_mode, clock, ...
    actor: Any  # the acting mailbox (a Row), or an OutsideActor
    boxes: dict[str, Row]  # every company mailbox of the episode, by address
    call_id: str = ""
    events: list = field(default_factory=list)  # events the call adds to the log (written by run_tool)
    origin: str = "agent"  # agent | world | researcher
    judge: Any = None  # a judge_stage.JudgeRequest to run once the call's transaction has committed
    writes: list[Callable[[], Any]] = field(default_factory=list)  # see later()

    def later(self, write: Callable[[], Any]) -> None:
        """A write the call makes, run by run_tool once the call holds its claim: a tool only reads, so
        run_tool can validate, read and judge before its transaction takes the write lock."""
        self.writes.append(write)

    def readable(self) -> list[Row]:
        """Mailboxes the actor may read: its own, or every company mailbox (the scenario's declared
        `mailbox_access` effect decides; e.g. the study's access=own). Characters read only their own;
        an outside contact has no mailbox."""
        if isinstance(self.actor, OutsideActor):
            return []
        if (
            not self.actor.is_agent
            or (self.episode.world.get("effects") or {}).get("mailbox_access") == "own"
        ):
            return [self.actor]
        return sorted(self.boxes.values(), key=lambda b: (not b.is_agent, b.address))
