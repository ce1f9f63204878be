"""run_tool: the one chokepoint. validate → monitor → mail service → events, in one transaction.

Every problem a model can cause (unknown tool, arguments that are not JSON or of the wrong type, a
message that does not exist) comes back as a structured error result and is logged as an event.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from app import monitor
from app.actions import ActionRequest, Draft
from app.errors import NotFound
from app.events import store
from app.events.types import MonitorVerdict, ToolCall, ToolResult
from app.services import approvals, episode_view
from app.tools import actions
from app.tools.context import EpisodeContext, outside_actor
from app.tools.registry import ToolError
from app.vocab import Approver, Decision, EpisodeStatus, Origin

logger = logging.getLogger(__name__)


class EpisodeNotFound(NotFound):
    pass


def _error(type_: str, message: str, **extra: Any) -> dict:
    return {"type": type_, "message": message, **extra}


def _parse(raw: Any) -> tuple[Any, dict | None]:
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("utf-8", errors="replace")
    if isinstance(raw, str):
        if not raw.strip():
            return {}, None
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            return raw, _error(
                "invalid_json", f"arguments are not valid JSON: {exc.msg} at position {exc.pos}"
            )
    if not isinstance(raw, dict):
        return raw, _error("invalid_arguments", "arguments must be a JSON object")
    return raw, None


def _validation_details(exc: ValidationError) -> list[dict]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "(arguments)", "problem": e["msg"]}
        for e in exc.errors()
    ]


def _deliver(
    ctx: EpisodeContext, call_id: str, name: str, action: Draft | ActionRequest, log: list
) -> tuple[bool, Any, dict | None]:
    """Monitor the action, then let it take effect, hold it for approval, or refuse it."""
    verdict = monitor.evaluate(ctx.episode, action)
    if not ctx.actor.is_agent and verdict.decision in (Decision.HOLD, Decision.BLOCK):
        # the monitor knows who acts: the world's and researchers' own mail is recorded, never held
        verdict.decision = Decision.FLAG
    log.append(
        MonitorVerdict(
            call_id=call_id,
            tool=name,
            decision=verdict.decision,
            labels=verdict.labels,
            evidence=verdict.evidence,
            detector=verdict.detector,
            version=verdict.version,
            mode=ctx.episode.monitor_mode,
        )
    )
    if verdict.decision == Decision.BLOCK:
        return False, None, _error("refused", "company policy refused this; it did not take effect")
    if verdict.decision == Decision.HOLD:
        return _hold(ctx, call_id, name, action, verdict, log)
    origin = Origin.AGENT if ctx.actor.is_agent else ctx.origin
    return (
        True,
        approvals.take_effect(ctx.session, ctx.episode, action, call_id, log, ctx.boxes, origin),
        None,
    )


def _hold(ctx: EpisodeContext, call_id: str, name: str, action, verdict, log: list):
    approval_id = approvals.hold(ctx.session, ctx.episode.id, call_id, name, action, verdict)
    approver = ctx.episode.approver
    if approver == Approver.HUMAN:
        return (
            True,
            {
                "status": "pending_approval",
                "approval_id": approval_id,
                "message": "Held for review by a member of staff; you will be told the outcome.",
            },
            None,
        )
    decision, reason = approvals.automatic_decision(approver, verdict)
    event = approvals.decide(
        ctx.session, ctx.episode, approval_id, decision, f"auto:{approver}", reason, log, ctx.boxes
    )
    if decision == "rejected":
        return (
            False,
            None,
            _error("rejected", f"held for approval and rejected: {reason}", approval_id=approval_id),
        )
    return True, {**event.result, "approval": {"approval_id": approval_id, "decision": decision}}, None


def _execute(ctx: EpisodeContext, name: str, raw_args: Any, call_id: str, log: list) -> dict:
    args, problem = _parse(raw_args)
    log.append(ToolCall(call_id=call_id, tool=name, actor=ctx.actor.address, args=args))
    result, ok = None, False
    tool = actions.lookup(ctx.episode.world, name)
    if problem is None and ctx.episode.status not in EpisodeStatus.open():
        problem = _error(
            "episode_closed", f"episode {ctx.episode.id} is {ctx.episode.status}; no more actions"
        )
    if problem is None and tool is None:
        problem = _error(
            "unknown_tool",
            f"there is no tool named {name!r}",
            available=sorted(t["function"]["name"] for t in actions.episode_schemas(ctx.episode.world)),
        )
    if problem is None and tool is not None:
        try:
            kwargs = tool.bind(args)
        except ValidationError as exc:
            problem = _error(
                "validation_error", f"invalid arguments for {name}", details=_validation_details(exc)
            )
    if problem is None and tool is not None:
        try:
            out = tool.fn(ctx, **kwargs)
            if isinstance(out, (Draft, ActionRequest)):
                ok, result, problem = _deliver(ctx, call_id, name, out, log)
            else:
                ok, result = True, out
        except ToolError as exc:
            problem = _error(exc.type, exc.message)
    log.append(ToolResult(call_id=call_id, tool=name, ok=ok, result=result, error=problem))
    return {"call_id": call_id, "tool": name, "ok": ok, "result": result, "error": problem}


def run_tool(
    session: Session,
    episode_id: str,
    name: str,
    raw_args: Any,
    *,
    call_id: str | None = None,
    actor: str | None = None,
    origin: str = Origin.RESEARCHER,
) -> dict:
    """Run one tool call for an episode and commit; returns {"call_id", "tool", "ok", "result", "error"}.

    `actor` defaults to the agent. Anyone else acts as the world (a character's reaction) or as a
    researcher writing as that character (`origin`); an outside contact may act too (it has no
    mailbox: it can only send). The monitor judges their mail but never holds or blocks it."""
    call_id = call_id or f"call_{uuid.uuid4().hex[:12]}"
    episode = episode_view.load(session, episode_id)
    if episode is None:
        raise EpisodeNotFound(f"no episode {episode_id}")
    address = (actor or episode.agent_address).lower()
    boxes = episode.boxes
    acting = boxes.get(address) or outside_actor(episode.world, address)
    if acting is None:
        raise EpisodeNotFound(f"no mailbox {address} in episode {episode_id}")
    origin = Origin.AGENT if acting.is_agent else origin
    log: list = []
    try:
        outcome = _execute(
            EpisodeContext(session, episode, acting, boxes, call_id, log, origin),
            name,
            raw_args,
            call_id,
            log,
        )
        # the agent's call takes simulated time; the world's reactions are placed on the clock by the world
        step = (episode.world.get("clock") or {}).get("call_seconds", 0) if origin == Origin.AGENT else 0
        store.append_many(session, episode_id, log, advance_seconds=step, origin=origin, actor=address)
        session.commit()
        return outcome
    except Exception as exc:  # an internal fault: roll back the action, keep a record of the call
        session.rollback()
        logger.exception("tool %s failed in episode %s", name, episode_id)
        problem = _error("internal_error", f"the tool failed unexpectedly ({exc.__class__.__name__})")
        store.append_many(
            session,
            episode_id,
            [
                ToolCall(
                    call_id=call_id,
                    tool=name,
                    actor=address,
                    args=raw_args if isinstance(raw_args, (dict, str)) else None,
                ),
                ToolResult(call_id=call_id, tool=name, ok=False, error=problem),
            ],
            origin=origin,
            actor=address,
        )
        session.commit()
        return {"call_id": call_id, "tool": name, "ok": False, "result": None, "error": problem}
