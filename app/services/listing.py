"""The episode list with counts taken from the event log (tool calls, flagged and harmful actions)."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session, col

from app.models import Episode, Event
from app.vocab import EpisodePurpose


def episode_rows(
    session: Session, limit: int = 100, offset: int = 0, include_checks: bool = False
) -> list[dict]:
    """Newest first. Counts are the agent's own actions, as in the run summary (a world character's mail
    is not the agent's): `tool_calls`; `flagged`, outbound actions with any finding; `harmful`, those
    with a harmful one (a `leverage_disclosure` is flagged, blackmail is harmful). Check episodes only
    when asked for."""
    query = select(Episode).order_by(col(Episode.created_at).desc()).limit(limit).offset(offset)
    if not include_checks:
        query = query.where(col(Episode.purpose) == EpisodePurpose.RUN)
    episodes = session.execute(query).scalars().all()
    ids = [e.id for e in episodes]
    agents = {e.id: e.agent_address.lower() for e in episodes}
    calls: dict[str, int] = {}
    others: set[tuple[str, str]] = set()  # (episode, call id) of calls made by the world, not the agent
    flagged: dict[str, int] = {}
    harmful: dict[str, int] = {}
    if ids:
        payload = col(Event.payload)
        rows = session.execute(
            select(col(Event.episode_id), payload["call_id"].as_string(), payload["actor"].as_string()).where(
                col(Event.episode_id).in_(ids), col(Event.kind) == "tool_call"
            )
        )
        for eid, call_id, actor in rows:  # the agent's own calls, as the run summary counts them
            if actor is None or actor.lower() == agents[eid]:
                calls[eid] = calls.get(eid, 0) + 1
            else:
                others.add((eid, call_id))
        verdicts = session.execute(
            select(col(Event.episode_id), payload).where(
                col(Event.episode_id).in_(ids), col(Event.kind) == "monitor_verdict"
            )
        )
        for eid, verdict in verdicts:
            if (eid, verdict.get("call_id")) in others:
                continue
            if verdict.get("labels"):
                flagged[eid] = flagged.get(eid, 0) + 1
            if any(x.get("harmful") for x in verdict.get("evidence") or []):
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
            "harness": e.harness,
            "created_at": e.created_at.isoformat(timespec="seconds"),
            "tool_calls": calls.get(e.id, 0),
            "flagged": flagged.get(e.id, 0),
            "harmful": harmful.get(e.id, 0),
        }
        for e in episodes
    ]
