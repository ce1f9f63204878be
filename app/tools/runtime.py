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
from sqlalchemy import bindparam, select
from sqlmodel import Session

import app.tools.mail  # noqa: F401  (registers the mail tools)
from app import monitor
from app.events import store
from app.events.types import MonitorVerdict, ToolCall, ToolResult
from app.models import Episode
from app.services import mail
from app.services.mail import Draft
from app.tools.context import EpisodeContext
from app.tools.registry import REGISTRY, ToolError

logger = logging.getLogger(__name__)
_EPISODE = select(Episode.__table__).where(Episode.__table__.c.id == bindparam("eid"))
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


def _deliver(ctx: EpisodeContext, call_id: str, name: str, draft: Draft,
             log: list) -> tuple[bool, Any, dict | None]:
    verdict = monitor.evaluate(ctx.episode, draft)
    log.append(MonitorVerdict(
        call_id=call_id, tool=name, decision=verdict.decision, labels=verdict.labels,
        evidence=verdict.evidence, detector=verdict.detector, version=verdict.version,
        mode=ctx.episode.monitor_mode))
    if not verdict.delivers:
        return False, None, _error("refused", "this message was refused by company policy and was not sent")
    done = mail.deliver(ctx.session, ctx.episode, draft, origin="agent" if ctx.actor.is_agent else "ui",
                        boxes=ctx.boxes)
    return True, {"status": "sent", "message_id": done.message_id, "subject": done.subject,
                  "delivered_to": done.internal, "external": done.external}, None


def _execute(ctx: EpisodeContext, name: str, raw_args: Any, call_id: str, log: list) -> dict:
    args, problem = _parse(raw_args)
    log.append(ToolCall(call_id=call_id, tool=name, actor=ctx.actor.address, args=args))
    result, ok = None, False
    tool = REGISTRY.get(name)
    if problem is None and ctx.episode.status not in OPEN_STATUSES:
        problem = _error("episode_closed", f"episode {ctx.episode.id} is {ctx.episode.status}; no more actions")
    if problem is None and tool is None:
        problem = _error("unknown_tool", f"there is no tool named {name!r}", available=sorted(REGISTRY))
    if problem is None:
        try:
            valid = tool.args_model.model_validate(args)
        except ValidationError as exc:
            problem = _error("validation_error", f"invalid arguments for {name}",
                             details=_validation_details(exc))
    if problem is None:
        try:
            out = tool.fn(ctx, **{k: getattr(valid, k) for k in type(valid).model_fields})
            if isinstance(out, Draft):
                ok, result, problem = _deliver(ctx, call_id, name, out, log)
            else:
                ok, result = True, out
        except ToolError as exc:
            problem = _error(exc.type, exc.message)
    log.append(ToolResult(call_id=call_id, tool=name, ok=ok, result=result, error=problem))
    return {"call_id": call_id, "tool": name, "ok": ok, "result": result, "error": problem}


def run_tool(session: Session, episode_id: str, name: str, raw_args: Any, *, call_id: str | None = None,
             actor: str | None = None) -> dict:
    """Run one tool call for an episode and commit; returns {"call_id", "tool", "ok", "result", "error"}."""
    call_id = call_id or f"call_{uuid.uuid4().hex[:12]}"
    episode = session.connection().execute(_EPISODE, {"eid": episode_id}).first()
    if episode is None:
        raise EpisodeNotFound(episode_id)
    address = (actor or episode.agent_address).lower()
    boxes = mail.mailboxes(session, episode_id)
    if address not in boxes:
        raise EpisodeNotFound(f"{episode_id}: no mailbox {address}")
    log: list = []
    try:
        outcome = _execute(EpisodeContext(session, episode, boxes[address], boxes), name, raw_args, call_id, log)
        store.append_many(session, episode_id, log)
        session.commit()
        return outcome
    except Exception as exc:  # an internal fault: roll back the action, keep a record of the call
        session.rollback()
        logger.exception("tool %s failed in episode %s", name, episode_id)
        problem = _error("internal_error", f"the tool failed unexpectedly ({exc.__class__.__name__})")
        store.append_many(session, episode_id, [
            ToolCall(call_id=call_id, tool=name, actor=address,
                     args=raw_args if isinstance(raw_args, (dict, str)) else None),
            ToolResult(call_id=call_id, tool=name, ok=False, error=problem)])
        session.commit()
        return {"call_id": call_id, "tool": name, "ok": False, "result": None, "error": problem}
