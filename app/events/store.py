"""The only writer of events: append-only, with a per-episode sequence number."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, case, func, or_, select, update
from sqlalchemy.sql import Update
from sqlmodel import Session, col

from app.core.direct import Direct
from app.errors import NotFound
from app.events import bus
from app.events.types import EventPayload, event_adapter
from app.models import Episode, Event, table, utcnow
from app.vocab import EpisodeStatus

E, EP = table(Event), table(Episode)
_RESERVE_ANY = (
    update(EP)
    .where(EP.c.id == bindparam("eid"))
    .values(event_seq=EP.c.event_seq + bindparam("n"), clock_seconds=EP.c.clock_seconds + bindparam("dt"))
    .returning(EP.c.event_seq, EP.c.clock_seconds)
)


def is_open(status: Any) -> Any:
    """`status` is an open one, as (a = ? OR b = ?): an IN list would be re-rendered on every execution
    (SQLAlchemy expands it per call), which cost ~20 us per statement."""
    return or_(*(status == s.value for s in EpisodeStatus.open()))


# the agent's own turn: only while the episode is open, which the same statement marks running and
# whose lease it renews (a turn is a sign of life) - one statement, no read before it
_RESERVE_OPEN = _RESERVE_ANY.where(is_open(EP.c.status)).values(
    status=case((EP.c.status == EpisodeStatus.PENDING.value, EpisodeStatus.RUNNING.value), else_=EP.c.status),
    heartbeat_at=bindparam("at"),
)


def _with_notify(stmt: Update) -> dict[str, Direct]:
    """The statement per dialect: on PostgreSQL it also queues a NOTIFY on bus.CHANNEL (delivered when
    the transaction commits, never on rollback), so web apps in other processes wake their live views
    (app.events.listen). Both built once (statement caching keys on the object)."""
    return {
        "postgresql": Direct(stmt.returning(func.pg_notify(bus.CHANNEL, EP.c.id))),
        "sqlite": Direct(stmt),
    }


_RESERVE, _RESERVE_TURN = _with_notify(_RESERVE_ANY), _with_notify(_RESERVE_OPEN)
_INSERT_ROWS = Direct.insert(E)


def append_many(
    session: Session,
    episode_id: str,
    payloads: list[EventPayload],
    advance_seconds: int = 0,
    origin: str = "system",
    actor: str | None = None,
) -> list[int]:
    """Append events inside the caller's transaction; returns their sequence numbers. The episode's
    simulated clock moves on by `advance_seconds` in the same statement (the step these events record).

    One atomic UPDATE ... RETURNING reserves a block of sequence numbers on the episode row, which
    also serialises concurrent writers of one episode (row lock on PostgreSQL, write lock on SQLite),
    then one multi-row INSERT writes them.
    """
    seqs = _append(session, episode_id, payloads, _RESERVE, {"dt": advance_seconds}, origin, actor)
    if seqs is None:
        raise NotFound(f"no episode {episode_id}")
    return seqs


def append_turn(
    session: Session, episode_id: str, payload: EventPayload, advance_seconds: int, actor: str
) -> int | None:
    """Append the agent's turn (a model turn, error or notice) if the episode is open, marking it
    running and renewing its lease in the same statement; None when it is finished (or unknown)."""
    params = {"dt": advance_seconds, "at": utcnow()}
    seqs = _append(session, episode_id, [payload], _RESERVE_TURN, params, "agent", actor)
    return seqs[0] if seqs else None


def _append(
    session: Session,
    episode_id: str,
    payloads: list[EventPayload],
    reserve: dict[str, Direct],
    params: dict[str, Any],
    origin: str,
    actor: str | None,
) -> list[int] | None:
    """Reserve seqs with `reserve` (None when it matched no row), then insert the events."""
    if not payloads:
        return []
    # the rows first: serialising payloads (mail bodies, verdicts) is the Python work of an append, done
    # before the UPDATE below takes the episode row (PostgreSQL) or the write lock (SQLite)
    rows: list[dict[str, Any]] = [
        {
            "episode_id": episode_id,
            "kind": p.kind,
            "payload": p.model_dump(mode="json"),
            "origin": origin,
            "actor": actor,
        }
        for p in payloads
    ]
    bus.touched(session, episode_id)
    dialect = session.get_bind().dialect.name
    reserved = reserve[dialect].first(session, {"eid": episode_id, "n": len(payloads), **params})
    if reserved is None:
        return None
    last, clock = reserved[:2]
    clock -= params["dt"]  # the events happened at the start of the step they record
    seqs = list(range(last - len(payloads) + 1, last + 1))
    now = utcnow()
    for seq, row in zip(seqs, rows, strict=True):
        row.update(seq=seq, clock=clock, created_at=now)
    if len(rows) == 1:
        _INSERT_ROWS.rows(session, rows[0])
    else:
        _INSERT_ROWS.many(session, rows)
    return seqs


def append(
    session: Session,
    episode_id: str,
    payload: EventPayload,
    advance_seconds: int = 0,
    origin: str = "system",
    actor: str | None = None,
) -> int:
    return append_many(session, episode_id, [payload], advance_seconds, origin, actor)[0]


def read(session: Session, episode_id: str, after: int = 0, limit: int | None = None) -> list[Event]:
    query = (
        select(Event)
        .where(col(Event.episode_id) == episode_id, col(Event.seq) > after)
        .order_by(col(Event.seq))
    )
    if limit:
        query = query.limit(limit)
    return list(session.execute(query).scalars())


_SINCE = Direct(
    select(E.c.seq, E.c.kind, E.c.origin, E.c.actor, E.c.clock, E.c.payload)
    .where(E.c.episode_id == bindparam("eid"), E.c.seq > bindparam("after"))
    .order_by(E.c.seq)
)


def rows_since(session: Session, episode_id: str, after: int) -> list:
    """Events after `after` as plain rows (seq, kind, origin, actor, clock, payload), oldest first:
    the light read for a caller that follows an episode's log incrementally. Sequence numbers are
    gapless and become visible in order (a writer holds the episode row from reserving them until it
    commits), so reading after the last seq seen misses nothing."""
    return _SINCE.rows(session, {"eid": episode_id, "after": after})


_OF_KIND = (
    select(E.c.payload)
    .where(E.c.episode_id == bindparam("eid"), E.c.kind == bindparam("kind"))
    .order_by(E.c.seq)
)


def of_kind(session: Session, episode_id: str, kind: str) -> list[EventPayload]:
    """The episode's events of one kind, typed, oldest first (only their rows are read and parsed)."""
    rows = session.connection().execute(_OF_KIND, {"eid": episode_id, "kind": kind}).scalars()
    return [typed_payload(p) for p in rows]


def typed_payload(payload: dict) -> EventPayload:
    return event_adapter.validate_python(payload)


def typed(event: Event) -> EventPayload:
    return event_adapter.validate_python(event.payload)
