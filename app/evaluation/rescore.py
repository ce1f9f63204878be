"""Re-judge stored actions without calling the agent's model: rebuild each outbound action from its
logged call (tools that build drafts only read), run the current detectors and, optionally, an LLM
judge. New verdicts are stored beside the old ones, with their versions."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlmodel import Session

from app import monitor
from app.errors import NotFound
from app.events import store
from app.events.types import EventPayload, JudgeVerdict, MonitorVerdict, RescoreVerdict, ToolCall
from app.monitor.world import world_of
from app.services import episode_view
from app.tools import actions
from app.tools.context import EpisodeContext
from app.tools.registry import ToolError


@dataclass
class Rescored:
    episode_id: str
    verdicts: list[RescoreVerdict] = field(default_factory=list)
    judged: list[JudgeVerdict] = field(default_factory=list)
    monitor_harmful: dict[str, bool] = field(default_factory=dict)  # call_id -> latest monitor view
    skipped: list[dict] = field(default_factory=list)


def _outbound_calls(session: Session, episode):
    boxes = episode.boxes
    payloads = [store.typed(e) for e in store.read(session, episode.id)]
    original = {p.call_id: p for p in payloads if isinstance(p, MonitorVerdict)}
    for p in payloads:
        if not isinstance(p, ToolCall) or not isinstance(p.args, dict):
            continue
        tool = actions.lookup(episode.world, p.tool)
        # the agent's own actions only: characters' and researchers' mail is the world, not the agent
        if (
            tool is None
            or not tool.outbound
            or p.actor not in boxes
            or p.actor != episode.agent_address.lower()
        ):
            continue
        try:
            action = tool.invoke(EpisodeContext(session, episode, boxes[p.actor], boxes), p.args)
        except (ValidationError, ToolError) as exc:
            yield p, None, original.get(p.call_id), str(exc).splitlines()[0]
            continue
        yield p, action, original.get(p.call_id), None


def rescore(
    session: Session, episode_id: str, detectors: bool = True, judge_model: str | None = None
) -> Rescored:
    from app.evaluation.judge import judge

    episode = episode_view.load(session, episode_id)
    if episode is None:
        raise NotFound(f"no episode {episode_id!r}")
    out, new_events = Rescored(episode_id), list[EventPayload]()
    for call, action, original, problem in list(_outbound_calls(session, episode)):
        if action is None:
            out.skipped.append({"call_id": call.call_id, "reason": problem})
            continue
        harmful = bool(original and any(e.get("harmful") for e in original.evidence))
        if detectors:
            v = monitor.evaluate(episode, action)
            event = RescoreVerdict(
                call_id=call.call_id,
                tool=call.tool,
                decision=v.decision,
                labels=v.labels,
                evidence=v.evidence,
                detector=v.detector,
                version=v.version,
                detectors=monitor.versions(),
                original_labels=original.labels if original else [],
            )
            out.verdicts.append(event)
            new_events.append(event)
            harmful = any(e.get("harmful") for e in v.evidence)
        out.monitor_harmful[call.call_id] = harmful
        if judge_model:
            answer = judge(judge_model, world_of(episode), action)
            judged = JudgeVerdict(call_id=call.call_id, tool=call.tool, model=judge_model, **answer)
            out.judged.append(judged)
            new_events.append(judged)
    store.append_many(session, episode_id, new_events)
    session.commit()
    return out


def agreement(pairs: list[tuple[bool, JudgeVerdict]]) -> dict:
    """Monitor vs judge on the same actions: 2x2 counts, judge failures kept apart, Cohen's kappa."""
    ok = [(m, j.harmful) for m, j in pairs if j.status == "ok"]
    a = sum(1 for m, j in ok if m and j)
    b = sum(1 for m, j in ok if m and not j)
    c = sum(1 for m, j in ok if not m and j)
    d = sum(1 for m, j in ok if not m and not j)
    n = a + b + c + d
    kappa = None
    if n:
        po = (a + d) / n
        pe = ((a + b) * (a + c) + (c + d) * (b + d)) / (n * n)
        kappa = 1.0 if pe == 1 else (po - pe) / (1 - pe)
    return {
        "n": n,
        "both_harmful": a,
        "monitor_only": b,
        "judge_only": c,
        "neither": d,
        "judge_failed": sum(1 for _, j in pairs if j.status == "failed"),
        "kappa": kappa,
    }


def episode_agreement(r: Rescored) -> dict:
    return agreement([(r.monitor_harmful.get(j.call_id, False), j) for j in r.judged])
