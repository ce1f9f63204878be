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

import app.tools.mail  # noqa: F401  (registers the mail tools)
from app import monitor
from app.events import store
from app.events.types import MonitorVerdict, ToolCall, ToolResult
from app.models import Episode, Mailbox
from app.services import mail
from app.services.mail import Draft
from app.tools.context import EpisodeContext
from app.tools.registry import REGISTRY, ToolError

log = logging.getLogger(__name__)
OPEN_STATUSES = ("pending", "running")


class EpisodeNotFound(LookupError):
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
            return raw, _error("invalid_json", f"arguments are not valid JSON: {exc.msg} at position {exc.pos}")
    if not isinstance(raw, dict):
        return raw, _error("invalid_arguments", "arguments must be a JSON object")
    return raw, None


def _validation_details(exc: ValidationError) -> list[dict]:
    return [{"field": ".".join(str(p) for p in e["loc"]) or "(arguments)", "problem": e["msg"]}
            for e in exc.errors()]


def _deliver(ctx: EpisodeContext, call_id: str, name: str, draft: Draft) -> tuple[bool, Any, dict | None]:
    verdict = monitor.evaluate(ctx.episode, draft)
    store.append(ctx.session, ctx.episode.id, MonitorVerdict(
        call_id=call_id, tool=name, decision=verdict.decision, labels=verdict.labels,
        evidence=verdict.evidence, detector=verdict.detector, version=verdict.version,
        mode=ctx.episode.monitor_mode))
    if not verdict.delivers:
        return False, None, _error("refused", "this message was refused by company policy and was not sent")
    done = mail.deliver(ctx.session, ctx.episode, draft, origin="agent" if ctx.actor.is_agent else "ui",
                        boxes=ctx.boxes)
    return True, {"status": "sent", "message_id": done.message.id, "subject": done.message.subject,
                  "delivered_to": done.internal, "external": done.external}, None


def _execute(session: Session, episode: Episode, actor: Mailbox, name: str, raw_args: Any,
             call_id: str) -> dict:
    args, problem = _parse(raw_args)
    store.append(session, episode.id, ToolCall(call_id=call_id, tool=name, actor=actor.address, args=args))
    result, ok = None, False
    tool = REGISTRY.get(name)
    if problem is None and episode.status not in OPEN_STATUSES:
        problem = _error("episode_closed", f"episode {episode.id} is {episode.status}; no more actions")
    if problem is None and tool is None:
        problem = _error("unknown_tool", f"there is no tool named {name!r}", available=sorted(REGISTRY))
    if problem is None:
        try:
            valid = tool.args_model.model_validate(args)
        except ValidationError as exc:
            problem = _error("validation_error", f"invalid arguments for {name}",
                             details=_validation_details(exc))
    if problem is None:
        ctx = EpisodeContext(session, episode, actor)
        try:
            out = tool.fn(ctx, **{k: getattr(valid, k) for k in type(valid).model_fields})
            if isinstance(out, Draft):
                ok, result, problem = _deliver(ctx, call_id, name, out)
            else:
                ok, result = True, out
        except ToolError as exc:
            problem = _error(exc.type, exc.message)
    store.append(session, episode.id, ToolResult(call_id=call_id, tool=name, ok=ok, result=result, error=problem))
    return {"call_id": call_id, "tool": name, "ok": ok, "result": result, "error": problem}


def run_tool(session: Session, episode_id: str, name: str, raw_args: Any, *, call_id: str | None = None,
             actor: str | None = None) -> dict:
    """Run one tool call for an episode and commit; returns {"call_id", "tool", "ok", "result", "error"}."""
    call_id = call_id or f"call_{uuid.uuid4().hex[:12]}"
    episode = session.get(Episode, episode_id)
    if episode is None:
        raise EpisodeNotFound(episode_id)
    address = (actor or episode.agent_address).lower()
    box = mail.mailboxes(session, episode_id).get(address)
    if box is None:
        raise EpisodeNotFound(f"{episode_id}: no mailbox {address}")
    try:
        outcome = _execute(session, episode, box, name, raw_args, call_id)
        session.commit()
        return outcome
    except Exception as exc:  # an internal fault: roll back the action, keep a record of the call
        session.rollback()
        log.exception("tool %s failed in episode %s", name, episode_id)
        problem = _error("internal_error", f"the tool failed unexpectedly ({exc.__class__.__name__})")
        store.append(session, episode_id, ToolCall(call_id=call_id, tool=name, actor=address,
                                                   args=raw_args if isinstance(raw_args, (dict, str)) else None))
        store.append(session, episode_id, ToolResult(call_id=call_id, tool=name, ok=False, error=problem))
        session.commit()
        return {"call_id": call_id, "tool": name, "ok": False, "result": None, "error": problem}
