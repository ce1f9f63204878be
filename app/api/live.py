"""Live views: server-sent event streams (resumable with Last-Event-ID) and the seeded snapshot
that replays start from."""

from __future__ import annotations

import json

from fastapi import APIRouter, HTTPException, Request
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from app.api.deps import EpisodeDep, SessionDep
from app.core.db import new_session
from app.events import bus, store
from app.models import Episode
from app.services.snapshot import seeded_snapshot

router = APIRouter(prefix="/api")
PAGE = 500


def _read(engine, episode_id: str, after: int) -> list[dict]:
    with new_session(engine) as session:
        return [
            {
                "seq": e.seq,
                "kind": e.kind,
                "payload": e.payload,
                "origin": e.origin,
                "actor": e.actor,
                "clock": e.clock,
                "created_at": e.created_at.isoformat(),
            }
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
            await bus.wait(episode_id, timeout=request.app.state.settings.stream_poll_seconds)

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
def snapshot(episode: EpisodeDep, session: SessionDep) -> dict:
    """The mailboxes as seeded, before the agent's first step: replays apply events to this."""
    return seeded_snapshot(session, episode)
