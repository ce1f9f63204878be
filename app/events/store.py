"""The only writer of events: append-only, with a per-episode sequence number."""
from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlmodel import Session

from app.events.types import EventPayload, event_adapter
from app.models import Episode, Event, utcnow


def append(session: Session, episode_id: str, payload: EventPayload) -> int:
    """Append one event inside the caller's transaction; returns its sequence number.

    The sequence comes from an atomic UPDATE ... RETURNING on the episode row, which also
    serialises concurrent writers of one episode (row lock on PostgreSQL, write lock on SQLite).
    """
    seq = session.execute(
        update(Episode).where(Episode.id == episode_id)
        .values(event_seq=Episode.event_seq + 1).returning(Episode.event_seq)
    ).scalar_one()
    session.execute(insert(Event).values(
        episode_id=episode_id, seq=seq, kind=payload.kind,
        payload=payload.model_dump(mode="json"), created_at=utcnow(),
    ))
    return seq


def read(session: Session, episode_id: str, after: int = 0, limit: int | None = None) -> list[Event]:
    query = select(Event).where(Event.episode_id == episode_id, Event.seq > after).order_by(Event.seq)
    if limit:
        query = query.limit(limit)
    return list(session.execute(query).scalars())


def typed(event: Event) -> EventPayload:
    return event_adapter.validate_python(event.payload)
