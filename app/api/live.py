"""Live views: server-sent event streams (resumable with Last-Event-ID) and the seeded snapshot
that replays start from."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request
from pydantic import Field
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from app.api.deps import EpisodeDep, SessionDep
from app.api.schemas import MAX_ID, SSE, answers
from app.core import text
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


Seq = Annotated[int, Field(ge=0, le=MAX_ID)]


@router.get(
    "/episodes/{episode_id}/stream", response_class=EventSourceResponse, responses={**SSE, **answers(404)}
)
async def stream(
    episode_id: str,
    request: Request,
    after: Annotated[Seq, Query(description="Start after this sequence number")] = 0,
    # not in the schema: an optional header shows as nullable, which no client can send
    last_event_id: Annotated[Seq | None, Header(include_in_schema=False)] = None,
):
    """Server-sent events of the episode's log, from the resume point on: the `Last-Event-ID` header
    a browser sends on reconnect (wins), else `after`. 422 if either is not 0 to 2^31 - 1."""
    engine = request.app.state.engine
    if await run_in_threadpool(_exists, engine, episode_id) is False:
        raise HTTPException(404, f"no episode {episode_id}")
    last = last_event_id if last_event_id is not None else after

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


@router.get("/stream/episodes", response_class=EventSourceResponse, responses=SSE)
async def stream_all(request: Request):
    """One 'changed' message whenever any episode gets events (the list page then refetches)."""

    async def changes():
        yield {"event": "changed", "data": "{}"}
        while not await request.is_disconnected():
            await bus.wait(bus.ALL, timeout=5.0)
            yield {"event": "changed", "data": "{}"}

    return EventSourceResponse(changes(), ping=15)


def _exists(engine, episode_id: str) -> bool:
    if not text.is_id(episode_id):
        return False
    with new_session(engine) as session:
        return session.get(Episode, episode_id) is not None


@router.get("/episodes/{episode_id}/snapshot", responses=answers(404))
def snapshot(episode: EpisodeDep, session: SessionDep) -> dict:
    """The mailboxes as seeded, before the agent's first step: replays apply events to this."""
    return seeded_snapshot(session, episode)
