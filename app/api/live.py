"""Live views: server-sent event streams (resumable with Last-Event-ID) and the seeded snapshot
that replays start from."""

from __future__ import annotations

import json

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import select
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from app.api.deps import SessionDep
from app.core.db import new_session
from app.events import bus, store
from app.models import Delivery, Episode, Mailbox, Message

router = APIRouter(prefix="/api")
PAGE = 500


def _read(engine, episode_id: str, after: int) -> list[dict]:
    with new_session(engine) as session:
        return [
            {"seq": e.seq, "kind": e.kind, "payload": e.payload, "created_at": e.created_at.isoformat()}
            for e in store.read(session, episode_id, after, PAGE)
        ]


def _start(request: Request) -> int:
    """Resume point: the Last-Event-ID the browser sends on reconnect, else ?after=N, else 0."""
    for raw in (request.headers.get("last-event-id"), request.query_params.get("after")):
        if raw and raw.isdigit():
            return int(raw)
    return 0


@router.get("/episodes/{episode_id}/stream")
async def stream(episode_id: str, request: Request):
    engine = request.app.state.engine
    if await run_in_threadpool(_exists, engine, episode_id) is False:
        raise HTTPException(404, f"no episode {episode_id}")
    last = _start(request)

    async def events():
        nonlocal last
        while True:
            batch = await run_in_threadpool(_read, engine, episode_id, last)
            for e in batch:
                last = e["seq"]
                yield {"id": str(e["seq"]), "event": "event", "data": json.dumps(e, default=str)}
            if len(batch) == PAGE:
                continue
            if await request.is_disconnected():
                return
            await bus.wait(episode_id, timeout=1.0)

    return EventSourceResponse(events(), ping=15, headers={"Cache-Control": "no-store"})


@router.get("/stream/episodes")
async def stream_all(request: Request):
    """One 'changed' message whenever any episode gets events (the list page then refetches)."""

    async def changes():
        yield {"event": "changed", "data": "{}"}
        while not await request.is_disconnected():
            await bus.wait(bus.ALL, timeout=5.0)
            yield {"event": "changed", "data": "{}"}

    return EventSourceResponse(changes(), ping=15)


def _exists(engine, episode_id: str) -> bool:
    with new_session(engine) as session:
        return session.get(Episode, episode_id) is not None


@router.get("/episodes/{episode_id}/snapshot")
def snapshot(episode_id: str, session: SessionDep) -> dict:
    """The mailboxes as seeded, before the agent's first step: replays apply events to this."""
    ep = session.get(Episode, episode_id)
    if ep is None:
        raise HTTPException(404, f"no episode {episode_id}")
    unread = {e["key"]: e["unread"] for e in ep.world["emails"]}
    boxes = (
        session.execute(
            select(Mailbox)
            .where(Mailbox.episode_id == episode_id)
            .order_by(Mailbox.is_agent.desc(), Mailbox.name)
        )
        .scalars()
        .all()
    )
    rows = session.execute(
        select(Message, Delivery)
        .join(Delivery, Delivery.message_id == Message.id)
        .where(Message.episode_id == episode_id, Message.origin == "seed")
        .order_by(Message.sent_at, Message.id)
    ).all()
    messages, copies = {}, []
    for m, d in rows:
        messages.setdefault(
            m.id,
            {
                "id": m.id,
                "key": m.key,
                "sender": m.sender,
                "to": m.to,
                "cc": m.cc,
                "bcc": m.bcc,
                "subject": m.subject,
                "body": m.body,
                "sent_at": m.sent_at.isoformat(),
                "thread_id": m.thread_id,
                "in_reply_to": m.in_reply_to,
                "forwarded_from": m.forwarded_from,
                "labels": m.labels,
                "attachments": m.attachments,
                "origin": m.origin,
            },
        )
        read = True if d.folder != "inbox" else not unread.get(m.key, True)
        copies.append(
            {
                "message_id": m.id,
                "address": d.address,
                "folder": d.folder,
                "external": d.external,
                "read": read,
            }
        )
    w = ep.world
    return {
        "episode": {
            "id": ep.id,
            "scenario": ep.scenario,
            "variables": ep.variables,
            "model": ep.model,
            "monitor_mode": ep.monitor_mode,
            "approver": ep.approver,
            "agent": ep.agent_address,
            "company": w["company_name"],
            "domain": w["domain"],
            "canary": w["canary"],
        },
        "mailboxes": [
            {"address": b.address, "name": b.name, "title": b.title, "is_agent": b.is_agent} for b in boxes
        ],
        "external_contacts": w.get("external_contacts", []),
        "leverage_facts": [
            {"key": f["key"], "indicators": f["indicators"]}
            for f in w.get("monitor", {}).get("leverage_facts", [])
        ],
        "messages": list(messages.values()),
        "copies": copies,
    }
