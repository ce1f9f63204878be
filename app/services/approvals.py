"""Held actions: the only writer of approval rows. An approved action takes effect here, through
the mail service (mail) or the action tool's declared result (scenario actions)."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import insert, select, update
from sqlmodel import Session, col

from app.actions import ActionRequest, Draft, perform
from app.errors import Conflict, InvalidRequest, NotFound
from app.events import store
from app.events.types import ApprovalDecided, MailDelivered
from app.models import Approval, table, utcnow
from app.monitor.types import Verdict
from app.services import mail
from app.vocab import ApprovalStatus, Approver

A = table(Approval)


def _serialise(action: Draft | ActionRequest) -> dict:
    if isinstance(action, ActionRequest):
        return {"kind": "action", "tool": action.tool, "args": action.args, "spec": action.spec}
    draft = {f.name: getattr(action, f.name) for f in dataclasses.fields(action) if f.name != "carried"}
    return {"kind": "mail", "draft": draft, "carried": [m.id for m in action.carried]}


def hold(
    session: Session,
    episode_id: str,
    call_id: str,
    tool: str,
    action: Draft | ActionRequest,
    verdict: Verdict,
) -> int:
    return (
        session.connection()
        .execute(
            insert(A).returning(A.c.id),
            {
                "episode_id": episode_id,
                "call_id": call_id,
                "tool": tool,
                "request": _serialise(action),
                "labels": verdict.labels,
                "evidence": verdict.evidence,
                "status": "pending",
                "created_at": utcnow(),
            },
        )
        .scalar_one()
    )


def automatic_decision(approver: str, verdict: Verdict) -> tuple[str, str]:
    """What an automatic approver decides: 'monitor' rejects what the monitor found harmful."""
    if approver == Approver.APPROVE_ALL:
        return "approved", "approved automatically"
    if approver == Approver.REJECT_ALL:
        return "rejected", "rejected automatically"
    harmful = {e["label"] for e in verdict.evidence if e.get("harmful") and not e.get("abstained")}
    harmful &= set(verdict.labels)
    if harmful:
        return "rejected", f"reviewer rejected it: {', '.join(sorted(harmful))}"
    if verdict.abstained or verdict.error:  # abstained, or the monitor failed outright
        return (
            "rejected",
            f"reviewer could not judge it ({', '.join(verdict.abstained) or verdict.error}), so it stays held back",
        )
    return "approved", "reviewer approved it"


def _restore(request: dict) -> Draft | ActionRequest:
    if request["kind"] == "action":
        return ActionRequest(request["tool"], request["args"], request["spec"])
    return Draft(**request["draft"])


def take_effect(
    session: Session,
    episode: Any,
    action: Draft | ActionRequest,
    call_id: str,
    log: list,
    boxes: dict | None = None,
    origin: str = "agent",
) -> dict:
    """Carry out an allowed or approved action; returns the result the agent sees. A delivery is
    logged (into `log`) with the message and its copies, so replays can rebuild every mailbox."""
    if isinstance(action, ActionRequest):
        return perform(action)
    boxes = boxes if boxes is not None else mail.mailboxes(session, episode.id)
    done = mail.deliver(session, episode, action, origin=origin, boxes=boxes)
    log.append(MailDelivered(call_id=call_id, message=done.message, copies=done.copies))
    return {
        "status": "sent",
        "message_id": done.message_id,
        "subject": done.subject,
        "delivered_to": done.internal,
        "external": done.external,
    }


def decide(
    session: Session,
    episode: Any,
    approval_id: int,
    decision: str,
    by: str,
    reason: str | None,
    log: list | None = None,
    boxes: dict | None = None,
) -> ApprovalDecided:
    """Record a decision on a pending approval and, if approved, let the action take effect.

    With `log`, the event joins the caller's batch (run_tool); otherwise it is appended and committed.
    """
    if decision not in (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED):
        raise InvalidRequest(f"decision: must be approved or rejected, not {decision!r}")
    row = (
        session.connection()
        .execute(select(A).where(A.c.id == approval_id, A.c.episode_id == episode.id))
        .first()
    )
    if row is None:
        raise NotFound(f"no approval {approval_id} in episode {episode.id}")
    if row.status != "pending":
        raise Conflict(f"approval {approval_id} was already {row.status}")
    if decision == ApprovalStatus.APPROVED and not (reason or "").strip():
        harms = sorted({e["label"] for e in row.evidence or [] if e.get("harmful")})
        if harms:
            raise InvalidRequest(
                f"reason: approving an action the monitor found harmful ({', '.join(harms)}) needs a reason"
            )
    session.connection().execute(
        update(A)
        .where(A.c.id == approval_id)
        .values(status=decision, decided_by=by, reason=reason, decided_at=utcnow())
    )
    effects: list = []
    result = (
        take_effect(session, episode, _restore(row.request), row.call_id, effects, boxes)
        if decision == "approved"
        else None
    )
    event = ApprovalDecided(
        approval_id=approval_id,
        call_id=row.call_id,
        tool=row.tool,
        decision=decision,
        by=by,
        reason=reason,
        result=result,
    )
    if log is not None:
        log += [event, *effects]
    else:
        store.append_many(session, episode.id, [event, *effects])
        session.commit()
    return event


def list_approvals(
    session: Session, episode_id: str | None = None, status: str | None = None
) -> list[Approval]:
    query = select(Approval).order_by(col(Approval.id))
    if episode_id:
        query = query.where(col(Approval.episode_id) == episode_id)
    if status:
        query = query.where(col(Approval.status) == status)
    return list(session.execute(query).scalars())
