"""Summaries of an episode computed from its event log (the log is the record; nothing else is counted)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from app.evaluation.rescore import agreement
from app.events.types import (
    ApprovalDecided,
    AwarenessAssessed,
    EpisodeFinished,
    EpisodeStarted,
    EventPayload,
    JudgeVerdict,
    ModelTurn,
    MonitorVerdict,
    RescoreVerdict,
    ResearcherIntervention,
    ScheduledEventFired,
    ToolCall,
    ToolResult,
    WorldReaction,
)


def held_outcome(verdict: MonitorVerdict, decided: ApprovalDecided | None) -> dict | None:
    """What became of a held action: {outcome: approved|rejected|pending, by, reason}; None if not held."""
    if verdict.decision != "hold":
        return None
    if decided is None:
        return {"outcome": "pending", "by": None, "reason": None}
    return {"outcome": decided.decision, "by": decided.by, "reason": decided.reason}


def summarize(events: list[EventPayload]) -> dict:
    """Counts of the agent's own actions (the world's and researchers' mail is counted apart)."""
    started = next((e for e in events if isinstance(e, EpisodeStarted)), None)
    agent = started.agent_address.lower() if started else None
    every_call = [e for e in events if isinstance(e, ToolCall)]
    tool_calls = [e for e in every_call if agent is None or e.actor.lower() == agent]
    mine = {c.call_id for c in tool_calls}
    results = [e for e in events if isinstance(e, ToolResult) and e.call_id in mine]
    verdicts = [e for e in events if isinstance(e, MonitorVerdict) and e.call_id in mine]
    turns = [e for e in events if isinstance(e, ModelTurn)]
    finished = next((e for e in reversed(events) if isinstance(e, EpisodeFinished)), None)
    judged = [e for e in events if isinstance(e, JudgeVerdict)]
    assessed = [e for e in events if isinstance(e, AwarenessAssessed)]
    latest = {
        v.call_id: any(x.get("harmful") for x in v.evidence)
        for v in [*verdicts, *(e for e in events if isinstance(e, RescoreVerdict))]
    }
    decided = {e.call_id: e for e in events if isinstance(e, ApprovalDecided)}
    usage: Counter = Counter()
    for t in turns:
        usage.update(t.usage)
    return {
        "status": finished.status if finished else "running",
        "turns": len(turns),
        "tool_calls": len(tool_calls),
        "tool_errors": sum(1 for r in results if not r.ok),
        "tools_used": dict(Counter(c.tool for c in tool_calls)),
        "verdicts": [
            {
                "call_id": v.call_id,
                "tool": v.tool,
                "decision": v.decision,
                "labels": v.labels,
                "evidence": v.evidence,
                "approval": held_outcome(v, decided.get(v.call_id)),
            }
            for v in verdicts
        ],
        "held": dict(
            Counter(o["outcome"] for v in verdicts if (o := held_outcome(v, decided.get(v.call_id))))
        ),
        "flagged": sum(1 for v in verdicts if v.labels),
        "harmful": sum(1 for v in verdicts if any(x.get("harmful") for x in v.evidence)),
        "judge": [
            {
                "call_id": j.call_id,
                "model": j.model,
                "status": j.status,
                "harmful": j.harmful,
                "labels": j.labels,
                "error": j.error,
            }
            for j in judged
        ],
        "agreement": agreement([(latest.get(j.call_id, False), j) for j in judged]) if judged else None,
        "usage": dict(usage),
        "awareness": awareness_view(assessed),
        "world": {
            "messages": sum(1 for e in events if isinstance(e, WorldReaction) and e.status == "sent"),
            "interventions": sum(1 for e in events if isinstance(e, ResearcherIntervention)),
            "scheduled": [
                e.name for e in events if isinstance(e, ScheduledEventFired) and e.status == "fired"
            ],
        },
        "error": finished.error if finished else None,
    }


def awareness_view(assessed: list[AwarenessAssessed]) -> dict | None:
    """The latest rules (or answer) assessment, and the latest judge's when one ran."""
    rules = [a for a in assessed if not a.method.startswith("judge:")]
    judged = [a for a in assessed if a.method.startswith("judge:")]
    if not rules and not judged:
        return None
    view: dict[str, Any] = {}
    if rules:
        a = rules[-1]
        view = {"belief": a.belief, "method": a.method, "mixed": a.mixed, "evidence": a.evidence[-3:]}
    if judged:
        j = judged[-1]
        view["judge"] = {
            "model": j.method.split(":", 1)[1],
            "status": j.status,
            "belief": j.belief,
            "error": j.error,
        }
    return view


def summary_from_events(episode_id: str, model: str, payloads: list[dict]) -> dict:
    """The run summary (`corpmail run --json`) from an episode's logged payloads."""
    from app.events.types import event_adapter

    events = [event_adapter.validate_python(p) for p in payloads]
    started = events[0]
    assert isinstance(started, EpisodeStarted), "an episode's log starts with episode_started"
    return {
        "episode_id": episode_id,
        "scenario": started.scenario,
        "model": model,
        "variables": started.variables,
        **summarize(events),
    }


def episode_summary(engine, episode_id: str, model: str, judge_model: str | None = None) -> dict:
    """The run summary from the database, after the judge's second opinion if one was asked for."""
    from app.core.db import new_session
    from app.events import store

    with new_session(engine) as session:
        if judge_model:
            from app.evaluation.rescore import rescore

            rescore(session, episode_id, detectors=False, judge_model=judge_model)
        payloads = [r.payload for r in store.rows_since(session, episode_id, 0)]
    return summary_from_events(episode_id, model, payloads)
