"""The only writer of mail tables. Mail never leaves the database: company addresses get a copy in
their mailbox; any other address is recorded as an external delivery.

Hot paths use SQLAlchemy Core statements built once and run on the session's connection (inside
the caller's transaction), most of them through app.core.direct: the ORM's, then SQLAlchemy's own
per-statement overhead was most of run_tool's time. Rows come back as read-only records with
attribute access (row.subject, row.to, ...).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, bindparam, func, or_, select, update
from sqlmodel import Session

from app.actions import Draft
from app.core.direct import Direct
from app.models import Delivery, Mailbox, Message, table
from app.scenarios.directory import expand

M, D, B = table(Message), table(Delivery), table(Mailbox)

_BOXES = Direct(select(B).where(B.c.episode_id == bindparam("eid")))
_HAS_BOXES = Direct(select(B.c.id).where(B.c.episode_id == bindparam("eid")).limit(1))
_INSERT_BOXES = Direct.insert(B)
_MESSAGE = Direct(select(M).where(M.c.id == bindparam("mid"), M.c.episode_id == bindparam("eid")))
_INSERT_MESSAGE = Direct.insert(M, returning=M.c.id)
_INSERT_MESSAGES = Direct.insert(M)  # many rows, one executemany
_KEYED = Direct(select(M.c.key, M.c.id).where(M.c.episode_id == bindparam("eid"), M.c.key.is_not(None)))
_LINK_REPLY = Direct(update(M).where(M.c.id == bindparam("mid")).values(in_reply_to=bindparam("parent")))
_INSERT_DELIVERY = Direct.insert(D)
_COPIES = Direct(select(D).where(D.c.message_id == bindparam("mid"), D.c.mailbox_id.is_not(None)))
_MARK_READ = Direct(update(D).where(D.c.id == bindparam("did")).values(is_read=True))


def _folder_queries(unread_only: bool) -> tuple[Direct, Direct]:
    """A folder's size and one page of it, newest first (each row: the message's columns and is_read)."""
    cond = [D.c.mailbox_id == bindparam("box"), D.c.folder == bindparam("folder")]
    if unread_only:
        cond.append(D.c.is_read.is_(False))
    count = select(func.count()).select_from(D).where(*cond)
    page = (
        select(M, D.c.is_read)
        .join(D, D.c.message_id == M.c.id)
        .where(*cond)
        .order_by(M.c.sent_at.desc(), M.c.id.desc())
        .limit(bindparam("lim"))
        .offset(bindparam("off"))
    )
    return Direct(count), Direct(page)


_FOLDER = {unread: _folder_queries(unread) for unread in (False, True)}
_SENT_BY = Direct(
    select(M.c.to, M.c.cc, M.c.bcc, M.c.subject, M.c.body, M.c.thread_id)
    .where(M.c.episode_id == bindparam("eid"), M.c.sender == bindparam("sender"), M.c.origin != "seed")
    .order_by(M.c.id.desc())
    .limit(bindparam("lim"))
)


@dataclass
class Delivered:
    message_id: int
    subject: str
    internal: list[str]  # company mailboxes that received a copy
    external: list[str]  # addresses outside the company (recorded, never sent)
    message: dict  # the stored message, as JSON-ready data
    copies: list[dict]  # {"address", "folder", "external"} per copy


def _conn(session: Session):
    return session.connection()


def mailboxes(session: Session, episode_id: str) -> dict[str, Row]:
    return {b.address: b for b in _BOXES.rows(session, {"eid": episode_id})}


def scenario_now(episode: Any) -> datetime:
    """The episode's simulated clock: the session start plus the simulated seconds its events have
    advanced it by (never the wall clock, so re-runs and replays give identical mail dates)."""
    return episode.clock + timedelta(seconds=episode.clock_seconds)


def create_mailboxes(session: Session, episode_id: str, boxes: list[dict]) -> None:
    """An episode's mailboxes, created once at seeding (the hot path caches them per process)."""
    if _HAS_BOXES.first(session, {"eid": episode_id}) is not None:
        raise RuntimeError(f"episode {episode_id} already has its mailboxes; they never change after seeding")
    _INSERT_BOXES.many(session, [{"episode_id": episode_id, **b} for b in boxes])


def _message_row(episode: Any, draft: Draft, origin: str, sent_at: datetime | None, key: str | None) -> dict:
    return {
        "episode_id": episode.id,
        "key": key,
        "sender": draft.sender,
        "to": draft.to,
        "cc": draft.cc,
        "bcc": draft.bcc,
        "subject": draft.subject,
        "body": draft.body,
        "sent_at": sent_at or scenario_now(episode),
        "thread_id": draft.thread_id or uuid.uuid4().hex,
        "in_reply_to": draft.in_reply_to,
        "forwarded_from": draft.forwarded_from,
        "attachments": draft.attachments,
        "labels": draft.labels,
        "origin": origin,
    }


def _copy_rows(episode: Any, draft: Draft, boxes: dict[str, Row], unread: bool) -> list[dict]:
    """The message's copies (without its id): the sender's Sent copy and one per recipient (groups
    expanded), company mailboxes in their inbox, anyone else as an external delivery."""
    base = {"episode_id": episode.id}
    copies = []
    if draft.sender in boxes:
        copies.append(
            base
            | {
                "mailbox_id": boxes[draft.sender].id,
                "address": draft.sender,
                "external": False,
                "folder": "sent",
                "is_read": True,
            }
        )
    for addr in expand(episode.world, episode.agent_address, draft.recipients):
        box = boxes.get(addr) or boxes.get(addr.lower())
        if box is None:
            copies.append(
                base
                | {
                    "mailbox_id": None,
                    "address": addr,
                    "external": True,
                    "folder": "outbound",
                    "is_read": True,
                }
            )
        elif box.address != draft.sender:
            copies.append(
                base
                | {
                    "mailbox_id": box.id,
                    "address": box.address,
                    "external": False,
                    "folder": "inbox",
                    "is_read": not unread,
                }
            )
    return copies


def deliver(
    session: Session,
    episode: Any,
    draft: Draft,
    *,
    origin: str,
    boxes: dict[str, Row],
    sent_at: datetime | None = None,
    key: str | None = None,
    unread: bool = True,
) -> Delivered:
    """Write the message, the sender's Sent copy and one copy per recipient (groups expanded)."""
    values = _message_row(episode, draft, origin, sent_at, key)
    msg_id = _INSERT_MESSAGE.rows(session, values)[0].id
    copies = [c | {"message_id": msg_id} for c in _copy_rows(episode, draft, boxes, unread)]
    if copies:
        _INSERT_DELIVERY.many(session, copies)
    message = {k: v for k, v in values.items() if k != "episode_id"} | {
        "id": msg_id,
        "sent_at": values["sent_at"].isoformat(),
    }
    return Delivered(
        msg_id,
        draft.subject,
        [c["address"] for c in copies if c["folder"] == "inbox"],
        [c["address"] for c in copies if c["external"]],
        message,
        [{"address": c["address"], "folder": c["folder"], "external": c["external"]} for c in copies],
    )


@dataclass
class Seeded:
    """One message of a scenario's seeded mail; `parent`: the index of the earlier one it answers."""

    draft: Draft
    sent_at: datetime | None
    key: str
    unread: bool
    parent: int | None = None


def deliver_seeded(session: Session, episode: Any, mail: list[Seeded], boxes: dict[str, Row]) -> list[int]:
    """A scenario's seeded mail, as `deliver` would write it one by one: the messages in one
    executemany (in the given order), their ids read back by their keys (unique in a scenario), the
    replies then linked to their parents, and every copy in one executemany. Returns the message ids
    in order. (An INSERT returning ids in parameter order is one statement per row on SQLite.)"""
    if not mail:
        return []
    _INSERT_MESSAGES.many(session, [_message_row(episode, m.draft, "seed", m.sent_at, m.key) for m in mail])
    id_of = ids_by_key(session, episode.id)  # only the seeded mail exists yet
    ids = [id_of[m.key] for m in mail]
    replies = [{"mid": ids[i], "parent": ids[m.parent]} for i, m in enumerate(mail) if m.parent is not None]
    if replies:
        _LINK_REPLY.many(session, replies)
    copies = [
        c | {"message_id": ids[i]}
        for i, m in enumerate(mail)
        for c in _copy_rows(episode, m.draft, boxes, m.unread)
    ]
    if copies:
        _INSERT_DELIVERY.many(session, copies)
    return ids


def ids_by_key(session: Session, episode_id: str) -> dict[str, int]:
    """The ids of the episode's messages that have a scenario key (its seeded mail), by key."""
    return {k: i for k, i in _KEYED.rows(session, {"eid": episode_id})}


def get_message(session: Session, episode_id: str, message_id: int) -> Row | None:
    return _MESSAGE.first(session, {"mid": message_id, "eid": episode_id})


def copy_in(session: Session, message_id: int, mailbox_ids: list[int], prefer: int) -> Row | None:
    """The copy of a message held by mailbox `prefer`, else by one of the others (None: not visible)."""
    allowed = set(mailbox_ids)
    copies = [c for c in _COPIES.rows(session, {"mid": message_id}) if c.mailbox_id in allowed]
    return min(copies, key=lambda c: (c.mailbox_id != prefer, c.id), default=None)


def mark_read(session: Session, delivery_id: int) -> None:
    _MARK_READ.rows(session, {"did": delivery_id})


def list_folder(
    session: Session, mailbox_id: int, folder: str, unread_only: bool, limit: int, offset: int
) -> tuple[int, list[Row]]:
    """(total, rows) of a folder, newest first; each row has the message columns plus is_read."""
    count, page = _FOLDER[unread_only]
    total = count.rows(session, {"box": mailbox_id, "folder": folder})[0][0]
    rows = page.rows(session, {"box": mailbox_id, "folder": folder, "lim": limit, "off": offset})
    return total, rows


def _literal(word: str) -> str:
    """A word for LIKE that matches only itself: %, _ and the escape character escaped."""
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(session: Session, mailbox_ids: list[int], query: str, limit: int) -> list[Row]:
    """Case-insensitive match of every word of the query, literally, in sender, subject or body; newest
    first. The caller bounds the query (app.tools.mail: length and number of words)."""
    cond: list[ColumnElement[bool]] = [D.c.mailbox_id.in_(mailbox_ids)]
    for word in query.split():
        like = f"%{_literal(word.lower())}%"
        cond.append(
            or_(
                func.lower(M.c.subject).like(like, escape="\\"),
                func.lower(M.c.body).like(like, escape="\\"),
                func.lower(M.c.sender).like(like, escape="\\"),
            )
        )
    rows = (
        _conn(session)
        .execute(
            select(M, D.c.is_read)
            .join(D, D.c.message_id == M.c.id)
            .where(*cond)
            .order_by(M.c.sent_at.desc(), M.c.id.desc(), (D.c.mailbox_id == mailbox_ids[0]).desc())
            .limit(limit * 4)
        )
        .all()
    )
    seen: dict[int, Row] = {}
    for r in rows:
        seen.setdefault(r.id, r)
    return list(seen.values())[:limit]


def carried_chain(session: Session, msg: Row) -> list[Row]:
    """The message and every message it forwards or answers, transitively (their content travels with it)."""
    chain, seen, todo = [], set(), [msg]
    while todo:
        m = todo.pop()
        if m is None or m.id in seen:
            continue
        seen.add(m.id)
        chain.append(m)
        for ref in (m.forwarded_from, m.in_reply_to):
            linked = get_message(session, m.episode_id, ref) if ref is not None else None
            if linked is not None:
                todo.append(linked)
    return chain


def sent_by(session: Session, episode_id: str, address: str, limit: int = 20) -> list[dict]:
    """The latest messages an address sent during the episode (not seeded mail), oldest first: what
    the monitor reads as the agent's earlier messages."""
    rows = _SENT_BY.rows(session, {"eid": episode_id, "sender": address, "lim": limit})
    return [
        {"recipients": [*r.to, *r.cc, *r.bcc], "subject": r.subject, "body": r.body, "thread_id": r.thread_id}
        for r in reversed(rows)
    ]
