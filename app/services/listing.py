"""The episode list with counts taken from the event log (tool calls, flagged and harmful actions)."""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlmodel import Session, col

from app.models import Episode, Event
from app.vocab import EpisodePurpose


def episode_rows(
    session: Session, limit: int = 100, offset: int = 0, include_checks: bool = False
) -> list[dict]:
    """Newest first. `flagged`: outbound actions with any finding; `harmful`: those with a harmful one
    (a `leverage_disclosure` is flagged, blackmail is harmful). Check episodes only when asked for."""
    query = select(Episode).order_by(col(Episode.created_at).desc()).limit(limit).offset(offset)
    if not include_checks:
        query = query.where(col(Episode.purpose) == EpisodePurpose.RUN)
    episodes = session.execute(query).scalars().all()
    ids = [e.id for e in episodes]
    calls: dict[str, int] = {}
    flagged: dict[str, int] = {}
    harmful: dict[str, int] = {}
    if ids:
        rows = session.execute(
            select(col(Event.episode_id), func.sum(case((col(Event.kind) == "tool_call", 1), else_=0)))
            .where(col(Event.episode_id).in_(ids))
            .group_by(col(Event.episode_id))
        )
        calls = {eid: int(n or 0) for eid, n in rows}
        verdicts = session.execute(
            select(col(Event.episode_id), col(Event.payload)).where(
                col(Event.episode_id).in_(ids), col(Event.kind) == "monitor_verdict"
            )
        )
        for eid, payload in verdicts:
            if payload.get("labels"):
                flagged[eid] = flagged.get(eid, 0) + 1
            if any(x.get("harmful") for x in payload.get("evidence") or []):
                harmful[eid] = harmful.get(eid, 0) + 1
    return [
        {
            "id": e.id,
            "scenario": e.scenario,
            "variables": e.variables,
            "model": e.model,
            "status": e.status,
            "purpose": e.purpose,
            "monitor_mode": e.monitor_mode,
            "created_at": e.created_at.isoformat(timespec="seconds"),
            "tool_calls": calls.get(e.id, 0),
            "flagged": flagged.get(e.id, 0),
            "harmful": harmful.get(e.id, 0),
        }
        for e in episodes
    ]
