"""The episode list with counts taken from the event log (tool calls, flagged actions)."""

from __future__ import annotations

from sqlalchemy import and_, case, func, select
from sqlmodel import Session, col

from app.models import Episode, Event


def episode_rows(session: Session, limit: int = 100, offset: int = 0) -> list[dict]:
    episodes = (
        session.execute(select(Episode).order_by(col(Episode.created_at).desc()).limit(limit).offset(offset))
        .scalars()
        .all()
    )
    ids = [e.id for e in episodes]
    counts = {}
    if ids:
        flagged = and_(
            col(Event.kind) == "monitor_verdict", col(Event.payload)["decision"].as_string() != "allow"
        )
        rows = session.execute(
            select(
                col(Event.episode_id),
                func.sum(case((col(Event.kind) == "tool_call", 1), else_=0)),
                func.sum(case((flagged, 1), else_=0)),
            )
            .where(col(Event.episode_id).in_(ids))
            .group_by(col(Event.episode_id))
        )
        counts = {eid: (int(calls or 0), int(flags or 0)) for eid, calls, flags in rows}
    return [
        {
            "id": e.id,
            "scenario": e.scenario,
            "variables": e.variables,
            "model": e.model,
            "status": e.status,
            "monitor_mode": e.monitor_mode,
            "harness": e.harness,
            "created_at": e.created_at.isoformat(timespec="seconds"),
            "tool_calls": counts.get(e.id, (0, 0))[0],
            "flagged": counts.get(e.id, (0, 0))[1],
        }
        for e in episodes
    ]
