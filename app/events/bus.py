"""Wake-ups for live views: after a transaction that appended events commits, every waiter on that
episode (and on the episode list) is woken, from whatever thread committed. Waiters still re-read
the database, and also wake on a timeout. On PostgreSQL the event store also NOTIFYs in the writing
transaction and the web app LISTENs (app.events.listen), so events written by other processes (workers)
wake live views at once; the timeout is only a fallback there."""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession

ALL = "*"  # the channel for "some episode changed"
CHANNEL = "corpmail_events"  # PostgreSQL NOTIFY channel, payload the episode id (app.events.listen)
_lock = threading.Lock()
_waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = defaultdict(set)


def touched(session: OrmSession, episode_id: str) -> None:
    """Called by the event store: remember that this transaction appended events for an episode."""
    session.info.setdefault("corpmail_touched", set()).add(episode_id)


def notify(episode_ids: set[str]) -> None:
    with _lock:
        targets = [w for eid in (*episode_ids, ALL) for w in _waiters.get(eid, ())]
    for loop, ev in targets:
        loop.call_soon_threadsafe(ev.set)


def waiting(episode_id: str) -> int:
    """How many live views are waiting on an episode right now."""
    with _lock:
        return len(_waiters.get(episode_id, ()))


async def wait(episode_id: str, timeout: float) -> None:
    """Return when the episode (or, for ALL, any episode) gets new events, or after `timeout`."""
    waiter = (asyncio.get_running_loop(), asyncio.Event())
    with _lock:
        _waiters[episode_id].add(waiter)
    try:
        await asyncio.wait_for(waiter[1].wait(), timeout)
    except TimeoutError:
        pass
    finally:
        with _lock:
            _waiters[episode_id].discard(waiter)


@event.listens_for(OrmSession, "after_commit")
def _after_commit(session: OrmSession) -> None:
    ids = session.info.pop("corpmail_touched", None)
    if ids:
        notify(ids)


@event.listens_for(OrmSession, "after_rollback")
def _after_rollback(session: OrmSession) -> None:
    session.info.pop("corpmail_touched", None)
