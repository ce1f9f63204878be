"""What a harness tells the model between its actions, in the built-in loop's words: the world's
catch-up (characters' replies, scheduled events) and the outcome of held actions. Each text is
logged as a `notice` event, so the log holds exactly what the model was told."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session

from app.events.types import Notice
from app.services import approvals, episodes
from app.world.engine import tick


@dataclass
class CatchUp:
    notices: list[str] = field(default_factory=list)
    last_seq: int = 0
    ended: bool = False  # the world ended the episode
    status: str | None = None


def new_mail_text(mail: list[dict]) -> str:
    lines = [f'- from {m["from"]}: "{m["subject"]}" (message {m["id"]})' for m in mail]
    return "New mail in your inbox:\n" + "\n".join(lines)


def review_text(session: Session, episode_id: str, pending: set[int]) -> str | None:
    """Outcomes of held actions decided since the last look (their ids leave `pending`)."""
    if not pending:
        return None
    told = []
    for a in approvals.list_approvals(session, episode_id):
        if a.id in pending and a.status != "pending":
            pending.discard(a.id)
            told.append(
                f"Your {a.tool} call ({a.call_id}) held for review was {a.status} by {a.decided_by}"
                + (f": {a.reason}" if a.reason else ".")
            )
    return "Review outcomes:\n" + "\n".join(told) if told else None


def catch_up(
    session: Session,
    episode_id: str,
    pending: set[int],
    *,
    after: int,
    turn: int = 0,
    wait: bool = False,
    scenario_dir: Path | None = None,
) -> CatchUp:
    """Let the world catch up with the episode's clock (with `wait`, move the clock on to its next
    event), then gather and log what the model must be told."""
    world = tick(session, episode_id, wait=wait, after=after, scenario_dir=scenario_dir)
    out = CatchUp(last_seq=world.last_seq, ended=world.ended, status=world.status)
    if world.new_mail:
        out.notices.append(new_mail_text(world.new_mail))
    review = review_text(session, episode_id, pending)
    if review:
        out.notices.append(review)
    for text in out.notices:
        episodes.record_turn(session, episode_id, Notice(turn=turn, text=text))
    return out
