"""A light, read-only view of an episode for the hot path: its changing columns are read on every
call, while its world and mailboxes are read once per process.

Caching them is sound because both are write-once, and that is enforced where they are written:
`app.models` refuses any change to a stored episode's `world`, and `mail.create_mailboxes` refuses to
add mailboxes to an episode that has them (tests/test_invariants.py breaks if either guard goes)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, bindparam, select
from sqlmodel import Session

from app.core.direct import Direct
from app.errors import NotFound
from app.models import Episode, table
from app.services import mail

EP = table(Episode)
# the changing columns, read on every call (EpisodeView's fields of the same names)
_STATE = Direct(
    select(
        EP.c.id,
        EP.c.status,
        EP.c.monitor_mode,
        EP.c.approver,
        EP.c.agent_address,
        EP.c.clock,
        EP.c.clock_seconds,
        EP.c.created_at,
        EP.c.event_seq,
    ).where(EP.c.id == bindparam("eid"))
)
# the same row under a write lock: FOR NO KEY UPDATE on PostgreSQL, the lock the event store's UPDATE
# takes (FOR UPDATE would deadlock with the key-share locks that inserts referencing the episode hold);
# SQLite renders none: its writer already holds the whole database
_LOCKED = Direct(
    select(EP.c.event_seq, EP.c.status).where(EP.c.id == bindparam("eid")).with_for_update(key_share=True)
)
_REF = Direct(select(EP.c.id, EP.c.agent_address).where(EP.c.id == bindparam("eid")))
_WORLD = select(EP.c.world).where(EP.c.id == bindparam("eid"))
_FIXED: OrderedDict[str, tuple[dict, dict[str, Row]]] = OrderedDict()
MAX_EPISODES = 2048  # episodes whose world and mailboxes this process keeps (a run's concurrent ones fit)


@dataclass(frozen=True)
class EpisodeView:
    id: str
    status: str
    monitor_mode: str
    approver: str
    agent_address: str
    clock: datetime
    clock_seconds: int
    created_at: datetime
    event_seq: int  # the last event's seq when the view was read: the log moves on with every write
    world: dict
    boxes: dict[str, Row]


@dataclass(frozen=True)
class EpisodeRef:
    """An episode as the routes that act on it by id need it (heartbeats, finishes, approvals, event
    pages, a researcher's write): one light read, no ORM object (loading one cost ~0.5 ms)."""

    id: str
    agent_address: str


def ref(session: Session, episode_id: str) -> EpisodeRef | None:
    row = _REF.first(session, {"eid": episode_id})
    return EpisodeRef(*row) if row is not None else None


def _fixed(session: Session, episode_id: str) -> tuple[dict, dict[str, Row]]:
    fixed = _FIXED.get(episode_id)
    if fixed is None:
        world = session.connection().execute(_WORLD, {"eid": episode_id}).scalar_one_or_none()
        if world is None:
            raise NotFound(f"no episode {episode_id}")
        fixed = _FIXED[episode_id] = (world, mail.mailboxes(session, episode_id))
        if len(_FIXED) > MAX_EPISODES:
            _FIXED.popitem(last=False)
    return fixed


def load(session: Session, episode_id: str) -> EpisodeView | None:
    state = _STATE.first(session, {"eid": episode_id})
    if state is None:
        return None
    world, boxes = _fixed(session, episode_id)
    return EpisodeView(**state._asdict(), world=world, boxes=boxes)


def world(session: Session, episode_id: str) -> dict:
    """A stored episode's world (read once per process); NotFound for an unknown episode."""
    return _fixed(session, episode_id)[0]


def unchanged(session: Session, view: EpisodeView) -> bool:
    """Lock the episode's row inside the caller's write transaction and tell whether the episode is as
    `view` saw it: no event logged since and the same status. Every write that can change what a tool
    call reads (mail, approvals, the clock, finishing) logs an event in its own transaction, so an
    unchanged seq means reads made before the lock are what the same reads would return under it."""
    row = _LOCKED.first(session, {"eid": view.id})
    if row is None:
        raise NotFound(f"no episode {view.id}")
    return row[0] == view.event_seq and row[1] == view.status
