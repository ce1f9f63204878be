"""Run tool calls with no model: a fresh episode of a scenario, then each call through run_tool.

Used by `corpmail monitor check` (a JSONL file of calls) and `corpmail monitor eval` (the labelled
corpus). A message may be named by its scenario key ("message_id": "design_pack") as well as its
id, and {"$sent": i} is the id of the message sent by the i-th call of the same run.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from app.events import store
from app.events.types import MonitorVerdict
from app.models import Episode, Message
from app.tools.runtime import run_tool


class ActionInputError(ValueError):
    """A call in the input cannot be run as written (bad reference or shape)."""


def _key_ids(session: Session, episode_id: str) -> dict[str, int]:
    rows = session.execute(
        select(col(Message.key), col(Message.id)).where(
            col(Message.episode_id) == episode_id, col(Message.key).is_not(None)
        )
    )
    return {k: i for k, i in rows}


def resolve(value: Any, keys: dict[str, int], sent: list[int | None], field: str = "") -> Any:
    if isinstance(value, dict) and set(value) == {"$sent"}:
        i = value["$sent"]
        if not isinstance(i, int) or not 0 <= i < len(sent) or sent[i] is None:
            raise ActionInputError(f"$sent {i!r} does not name an earlier call that sent a message")
        return sent[i]
    if isinstance(value, dict):
        return {k: resolve(v, keys, sent, k) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, keys, sent, field) for v in value]
    if field == "message_id" and isinstance(value, str) and not value.isdigit():
        if value not in keys:
            raise ActionInputError(f"message_id {value!r} is not a message key of this scenario")
        return keys[value]
    return value


def run_calls(session: Session, episode_id: str, calls: list[dict]) -> list[dict]:
    """Run calls in order; returns per call {index, ok, decision, labels, evidence, error}."""
    keys, out = _key_ids(session, episode_id), []
    sent: list[int | None] = []
    for i, call in enumerate(calls):
        args = resolve(call.get("args", {}), keys, sent)
        before = session.execute(
            select(col(Episode.event_seq)).where(col(Episode.id) == episode_id)
        ).scalar_one()
        outcome = run_tool(session, episode_id, call["tool"], args, call_id=f"check_{i}")
        verdict = next(
            (
                p
                for p in map(store.typed, store.read(session, episode_id, after=before))
                if isinstance(p, MonitorVerdict)
            ),
            None,
        )
        result = outcome.get("result") or {}
        sent.append(result.get("message_id") if isinstance(result, dict) else None)
        out.append(
            {
                "index": i,
                "tool": call["tool"],
                "ok": outcome["ok"],
                "decision": verdict.decision if verdict else "allow",
                "labels": verdict.labels if verdict else [],
                "evidence": verdict.evidence if verdict else [],
                "error": outcome["error"],
            }
        )
    return out
