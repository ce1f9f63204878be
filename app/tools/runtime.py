"""run_tool: the one chokepoint. validate → monitor → mail service → events, in one transaction.

The reads come first (validation, the tool's reads, the monitor's verdict), before the call claims its
id; the writes (effects, events, outcome) follow under the episode's lock and commit together. A call
whose episode moved on in between reads and judges again under the lock (docs/ARCHITECTURE.md).

Every problem a model can cause (unknown tool, arguments that are not JSON or of the wrong type, a
message that does not exist) comes back as a structured error result and is logged as an event.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from app import monitor
from app.actions import ActionRequest, Draft
from app.core import text
from app.errors import NotFound
from app.events import store
from app.events.types import MonitorVerdict, ToolCall, ToolResult
from app.monitor.types import Verdict
from app.services import approvals, episode_view, judge_stage, mail, tool_outcomes
from app.tools import actions
from app.tools.context import EpisodeContext, outside_actor
from app.tools.registry import REGISTRY, ToolError
from app.vocab import Approver, Decision, EpisodeStatus, Origin

logger = logging.getLogger(__name__)
MAX_ARGUMENT_BYTES = 2_000_000  # a request body larger than this is refused unread
MAX_LOGGED_ARGS = 20_000  # characters of unusable argument text kept in the log
UNJUDGED = "unjudged"  # the label of a verdict the monitor could not reach


class EpisodeNotFound(NotFound):
    pass


def _error(type_: str, message: str, **extra: Any) -> dict:
    return {"type": type_, "message": message, **extra}


def _as_text(raw: Any) -> str:
    """The call's arguments as text, for the log whatever they were (bytes, text, a value)."""
    if isinstance(raw, (bytes, bytearray)):
        out = text.decode(bytes(raw))[0]
    elif isinstance(raw, str):
        out = raw
    else:
        try:
            out = json.dumps(raw, default=str)
        except (ValueError, RecursionError):
            out = repr(raw)
    out = text.clean_text(out)[0]
    if len(out) > MAX_LOGGED_ARGS:
        out = out[:MAX_LOGGED_ARGS] + f"... [{len(out) - MAX_LOGGED_ARGS} more characters not logged]"
    return out


def _parse(raw: Any) -> tuple[Any, dict | None, int]:
    """(arguments, problem or None, characters normalised). Model text is normalised here, once,
    before anything (the monitor included) reads it: see app.core.text."""
    normalised = 0
    if isinstance(raw, (bytes, bytearray)):
        if len(raw) > MAX_ARGUMENT_BYTES:
            return _as_text(raw), _error("too_large", f"arguments exceed {MAX_ARGUMENT_BYTES:,} bytes"), 0
        raw, normalised = text.decode(bytes(raw))
    elif isinstance(raw, str):
        raw, normalised = text.clean_text(raw)
    if isinstance(raw, str):
        if not raw.strip():
            return {}, None, normalised
        try:
            raw = text.loads(raw)
        except json.JSONDecodeError as exc:
            return (
                _as_text(raw),
                _error("invalid_json", f"arguments are not valid JSON: {exc.msg} at position {exc.pos}"),
                normalised,
            )
        except (ValueError, RecursionError) as exc:  # 4,300+ digit integers, NaN, nesting too deep
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(";")[0]
            return (
                _as_text(raw),
                _error("invalid_json", f"arguments are not usable JSON: {reason}"),
                normalised,
            )
    try:
        raw, more = text.clean(raw)
    except text.Unusable as exc:
        return _as_text(raw), _error("invalid_arguments", str(exc)), normalised
    if not isinstance(raw, dict):
        return raw, _error("invalid_arguments", "arguments must be a JSON object"), normalised + more
    return raw, None, normalised + more


def _validation_details(exc: ValidationError) -> list[dict]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "(arguments)", "problem": e["msg"]}
        for e in exc.errors()
    ]


def _judge(ctx: EpisodeContext, call_id: str, name: str, action: Draft | ActionRequest, log: list) -> Verdict:
    """The monitor's verdict on an action (reads only: the actor's earlier mail, then pure detectors)."""
    history = (
        mail.sent_by(ctx.session, ctx.episode.id, ctx.actor.address)
        if isinstance(action, Draft) and ctx.actor.is_agent
        else []
    )
    try:
        verdict = monitor.evaluate(ctx.episode, action, history)
    except Exception as exc:  # the monitor failed: say so in the verdict, never record it as clean
        logger.exception("monitor failed on %s in episode %s", name, ctx.episode.id)
        verdict = _unjudged(ctx.episode.monitor_mode, f"the monitor failed ({exc.__class__.__name__})")
    if not ctx.actor.is_agent and verdict.decision in (Decision.HOLD, Decision.BLOCK):
        # the monitor knows who acts: the world's and researchers' own mail is recorded, never held
        verdict.decision = Decision.FLAG
    log.append(_verdict_event(call_id, name, verdict, ctx.episode.monitor_mode))
    if ctx.actor.is_agent and judge_stage.wanted(ctx.episode.world, verdict):
        ctx.judge = judge_stage.JudgeRequest(call_id, name, action, history)
    return verdict


def _deliver(
    ctx: EpisodeContext, call_id: str, name: str, action: Draft | ActionRequest, verdict: Verdict, log: list
) -> tuple[bool, Any, dict | None]:
    """Let a judged action take effect, hold it for approval, or refuse it (the call's writes)."""
    if ctx.judge is not None and judge_stage.decides(ctx.episode):  # held; the judge decides later
        ctx.judge.approval_id = approvals.hold(ctx.session, ctx.episode.id, call_id, name, action, verdict)
        return True, {"status": "pending_approval", "approval_id": ctx.judge.approval_id}, None
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


def _verdict_event(call_id: str, tool: str, verdict: Verdict, mode: str) -> MonitorVerdict:
    return MonitorVerdict(
        call_id=call_id,
        tool=tool,
        decision=verdict.decision,
        labels=verdict.labels,
        evidence=verdict.evidence,
        detector=verdict.detector,
        version=verdict.version,
        scores=verdict.scores,
        abstained=verdict.abstained,
        mode=mode,
        error=verdict.error,
    )


def _unjudged(mode: str, reason: str) -> Verdict:
    """A verdict for an action the monitor could not judge: decision `error` (delivered only in
    observe mode; held in hold mode, where an automatic reviewer rejects it; refused in block mode)."""
    decision = {"hold": Decision.HOLD, "block": Decision.BLOCK}.get(mode, Decision.ERROR)
    evidence = [{"label": UNJUDGED, "harmful": None, "detector": monitor.ENGINE, "error": reason}]
    return Verdict(decision, [UNJUDGED], evidence, monitor.ENGINE, monitor.ENGINE_VERSION, error=reason)


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


@dataclass
class _Prepared:
    """What a call's reads decided, before any write: an action and its verdict, a read tool's
    result, or the problem to report."""

    ok: bool = False
    result: Any = None
    problem: dict | None = None
    action: Draft | ActionRequest | None = None
    verdict: Verdict | None = None


def _prepare(ctx: EpisodeContext, name: str, raw_args: Any) -> _Prepared:
    """Parse and validate the arguments, run the tool (it only reads; its writes wait in ctx.writes)
    and judge an outbound action. Writes nothing, so it runs before the call's transaction."""
    call_id, log = ctx.call_id, ctx.events
    args, problem, normalised = _parse(raw_args)
    log.append(
        ToolCall(call_id=call_id, tool=name, actor=ctx.actor.address, args=args, normalised=normalised)
    )
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
    if problem is not None or tool is None:
        return _Prepared(problem=problem)
    try:
        out = tool.fn(ctx, **tool.bind(args))
    except ValidationError as exc:
        return _Prepared(
            problem=_error(
                "validation_error", f"invalid arguments for {name}", details=_validation_details(exc)
            )
        )
    except ToolError as exc:
        return _Prepared(problem=_error(exc.type, exc.message))
    if isinstance(out, (Draft, ActionRequest)):
        return _Prepared(action=out, verdict=_judge(ctx, call_id, name, out, log))
    return _Prepared(ok=True, result=out)


def _apply(ctx: EpisodeContext, name: str, prepared: _Prepared) -> dict:
    """The call's writes, inside its transaction: the tool's own (marking mail read), then the
    action's effect; logs the result."""
    call_id, log = ctx.call_id, ctx.events
    ok, result, problem = prepared.ok, prepared.result, prepared.problem
    for write in ctx.writes:
        write()
    if prepared.action is not None and prepared.verdict is not None:
        ok, result, problem = _deliver(ctx, call_id, name, prepared.action, prepared.verdict, log)
    log.append(ToolResult(call_id=call_id, tool=name, ok=ok, result=result, error=problem))
    return {"call_id": call_id, "tool": name, "ok": ok, "result": result, "error": problem}


def call_id_of(given: str | None) -> str:
    """The call's id: the caller's (cleaned; hashed when longer than 64 characters, so a retry maps to
    the same id), else a new one."""
    if not given:
        return f"call_{uuid.uuid4().hex[:12]}"
    given = text.clean_text(given)[0]
    if len(given) <= 64:
        return given
    return "call_h" + hashlib.sha256(given.encode()).hexdigest()[:40]


def _after_judge(session: Session, episode, req: judge_stage.JudgeRequest, outcome: dict) -> dict:
    """Run the judge stage (its own transaction); a held action's outcome is the judge's decision."""
    judged = judge_stage.run(session, episode, req)
    event = judged.get("approval")
    if event is None:
        return outcome
    if event.decision == "approved":
        approval = {"approval_id": event.approval_id, "decision": "approved"}
        return {**outcome, "ok": True, "result": {**(event.result or {}), "approval": approval}}
    error = _error("rejected", f"held for review and rejected: {event.reason}", approval_id=event.approval_id)
    return {**outcome, "ok": False, "result": None, "error": error}


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
    mailbox: it can only send). The monitor judges their mail but never holds or blocks it.

    A call id already used in the episode returns that call's stored outcome and does nothing else."""
    call_id = call_id_of(call_id)
    name = text.clean_text(name)[0]
    episode = episode_view.load(session, episode_id) if text.is_id(episode_id) else None
    if episode is None:
        raise EpisodeNotFound(f"no episode {episode_id}")
    address = text.clean_text(actor or episode.agent_address)[0].lower()
    boxes = episode.boxes
    acting = boxes.get(address) or outside_actor(episode.world, address)
    if acting is None:
        raise EpisodeNotFound(f"no mailbox {address} in episode {episode_id}")
    origin = Origin.AGENT if acting.is_agent else origin
    first = tool_outcomes.stored(session, episode_id, call_id)
    if first is not None:
        return first
    ctx = EpisodeContext(session, episode, acting, boxes, call_id, [], origin)
    try:
        # reads only (validation, the tool's reads, the monitor): no write lock is held yet
        prepared = _prepare(ctx, name, raw_args)
        # the first write: claim the call id; a concurrent call with the same id blocks here, then
        # finds this one's outcome
        if not tool_outcomes.claim(session, episode_id, call_id):
            return _stored(session, episode_id, call_id)
        if not episode_view.unchanged(session, episode):
            # the episode moved on while this call read and judged: do it again, now under the lock
            episode = episode_view.load(session, episode_id) or episode
            ctx = EpisodeContext(session, episode, acting, boxes, call_id, [], origin)
            prepared = _prepare(ctx, name, raw_args)
        outcome = _apply(ctx, name, prepared)
        # the agent's call takes simulated time; the world's reactions are placed on the clock by the world
        step = (episode.world.get("clock") or {}).get("call_seconds", 0) if origin == Origin.AGENT else 0
        store.append_many(session, episode_id, ctx.events, advance_seconds=step, origin=origin, actor=address)
        tool_outcomes.record(session, episode_id, call_id, outcome)
        session.commit()
        if ctx.judge is not None:
            outcome = _after_judge(session, episode, ctx.judge, outcome)
            tool_outcomes.record(session, episode_id, call_id, outcome)  # a retry gets the judge's decision
            session.commit()
        return outcome
    except Exception as exc:  # an internal fault: roll back the action, keep a record of the call
        session.rollback()
        logger.exception("tool %s failed in episode %s", name, episode_id)
        return _record_fault(session, episode_id, name, call_id, (address, origin), raw_args, ctx.events, exc)


def _stored(session: Session, episode_id: str, call_id: str) -> dict:
    """The outcome of a concurrent call with the same id, which has committed by now."""
    outcome = tool_outcomes.stored(session, episode_id, call_id)
    session.rollback()
    if outcome is None:
        raise RuntimeError(f"call {call_id} in episode {episode_id} was claimed but has no outcome")
    return outcome


def _record_fault(
    session: Session,
    episode_id: str,
    name: str,
    call_id: str,
    who: tuple[str, str],
    raw_args: Any,
    log: list,
    exc: Exception,
) -> dict:
    """Log a call that failed inside: its raw arguments as text, the monitor's verdict if one was
    reached (or an `unjudged` verdict for an outbound tool), and an internal_error result. The action
    itself was rolled back. `who` is the acting address and the call's origin."""
    address, origin = who
    problem = _error("internal_error", f"the tool failed unexpectedly ({exc.__class__.__name__})")
    outcome = {"call_id": call_id, "tool": name, "ok": False, "result": None, "error": problem}
    verdicts = [e for e in log if isinstance(e, MonitorVerdict)]
    tool = REGISTRY.get(name)
    outbound = tool.outbound if tool is not None else any(e.tool == name for e in verdicts)
    if not verdicts and outbound:
        v = _unjudged("observe", f"not judged: the call failed before the monitor ({exc.__class__.__name__})")
        verdicts = [_verdict_event(call_id, name, v, "observe")]
    call = ToolCall(call_id=call_id, tool=name, actor=address, args=_as_text(raw_args))
    result = ToolResult(call_id=call_id, tool=name, ok=False, error=problem)
    attempts: list[list[Any]] = [[call, *verdicts, result], [call, result]]
    for events in attempts:
        try:
            if not tool_outcomes.claim(session, episode_id, call_id, outcome):
                return _stored(session, episode_id, call_id)
            store.append_many(session, episode_id, events, origin=origin, actor=address)
            session.commit()
            return outcome
        except Exception:
            session.rollback()
            logger.exception("could not log the failed call %s in episode %s", call_id, episode_id)
    raise RuntimeError(f"call {call_id} in episode {episode_id} failed and could not be logged")
