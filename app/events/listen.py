"""Cross-process live wake-ups on PostgreSQL: the event store NOTIFYs `bus.CHANNEL` with the episode id in
the transaction that appends events (delivered on commit); a web app LISTENs on one connection of its own
and wakes the in-process bus, so live views show episodes that workers in other processes (or on other
machines) play as promptly as its own. SQLite has no such channel: streams re-read on their timeout."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from sqlalchemy.engine import Engine

from app.core.db import libpq_url
from app.events import bus

logger = logging.getLogger(__name__)
listening = 0  # LISTEN connections open in this process (tests wait for one)


async def listen(conninfo: str) -> None:
    """Forward every notification to the bus until cancelled; reconnect (with backoff) when the
    connection drops — events missed meanwhile are still read by the streams' timed re-read."""
    global listening
    import psycopg

    delay = 0.5
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                await conn.execute(f"LISTEN {bus.CHANNEL}")
                listening += 1
                try:
                    delay = 0.5
                    async for note in conn.notifies():
                        bus.notify({note.payload})
                finally:
                    listening -= 1
        except psycopg.Error as exc:
            logger.warning("live wake-ups: LISTEN connection lost (%s); retrying in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


@contextlib.asynccontextmanager
async def running(engine: Engine) -> AsyncIterator[None]:
    """LISTEN while the block runs (PostgreSQL only; nothing on SQLite)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    task = asyncio.create_task(listen(libpq_url(engine)), name="corpmail-listen")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
