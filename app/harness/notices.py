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


def world_turn_due(world: dict, clock_seconds: int, last_tick: int | None) -> bool:
    """For a harness without turns (MCP): is it time to let the world catch up? Once the scenario
    clock has moved a model turn's length (`clock.turn_seconds`) since the last catch-up — the
    loop's rhythm — and only if the scenario has characters or a schedule. (A catch-up reads the
    whole log, so doing it on every call would make long episodes slow.)"""
    if not (world.get("characters") or world.get("schedule")):
        return False
    step = int((world.get("clock") or {}).get("turn_seconds", 60)) or 1
    return clock_seconds - (last_tick or 0) >= step


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


def world_news(
    session: Session, episode_id: str, *, after: int, wait: bool = False, scenario_dir: Path | None = None
) -> CatchUp:
    """Let the world catch up with the episode's clock (with `wait`, move the clock on to its next
    event); the notice for mail that reached the agent after `after` (not logged yet)."""
    done = tick(session, episode_id, wait=wait, after=after, scenario_dir=scenario_dir)
    out = CatchUp(last_seq=done.last_seq, ended=done.ended, status=done.status)
    if done.new_mail:
        out.notices.append(new_mail_text(done.new_mail))
    return out


def tell(session: Session, episode_id: str, texts: list[str], turn: int = 0) -> None:
    """Log what the model is being told, as the loop logs its notices."""
    for text in texts:
        episodes.record_turn(session, episode_id, Notice(turn=turn, text=text))


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
    """Between two turns: the world's news and the outcome of held actions, logged as told."""
    out = world_news(session, episode_id, after=after, wait=wait, scenario_dir=scenario_dir)
    review = review_text(session, episode_id, pending)
    if review:
        out.notices.append(review)
    tell(session, episode_id, out.notices, turn)
    return out
