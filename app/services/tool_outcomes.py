"""Idempotent tool calls: the only writer of tool_outcome rows.

A call first claims its (episode, call id) inside its own transaction; a concurrent retry of the same
id blocks on the unique key until the first commits, then fails to claim and reads the stored
outcome. The outcome is written in the same transaction as the call's effects and events, so it
exists exactly when they do.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.core.direct import Direct
from app.models import ToolOutcome, table, utcnow

T = table(ToolOutcome)
_GET = Direct(select(T.c.outcome).where(T.c.episode_id == bindparam("eid"), T.c.call_id == bindparam("cid")))
_SET = Direct(
    update(T)
    .where(T.c.episode_id == bindparam("eid"), T.c.call_id == bindparam("cid"))
    .values(outcome=bindparam("outcome"))
)
_CLAIM = Direct.insert(T)


def stored(session: Session, episode_id: str, call_id: str) -> dict | None:
    """The outcome recorded for this call id, if any."""
    row = _GET.first(session, {"eid": episode_id, "cid": call_id})
    return row[0] if row is not None else None


def claim(session: Session, episode_id: str, call_id: str, outcome: dict | None = None) -> bool:
    """Claim the call id: the first write of the caller's transaction. False if another call holds
    it; the session is then rolled back (nothing else had been written)."""
    try:
        _CLAIM.rows(
            session,
            {"episode_id": episode_id, "call_id": call_id, "outcome": outcome, "created_at": utcnow()},
        )
    except IntegrityError:
        session.rollback()
        return False
    return True


def record(session: Session, episode_id: str, call_id: str, outcome: dict) -> None:
    _SET.rows(session, {"eid": episode_id, "cid": call_id, "outcome": outcome})
