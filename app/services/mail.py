"""The only writer of mail tables. Mail never leaves the database: company addresses get a copy in
their mailbox; any other address is recorded as an external delivery."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlmodel import Session

from app.models import Delivery, Episode, Mailbox, Message, utcnow


@dataclass
class Draft:
    """An outbound message before delivery: what the monitor judges."""

    sender: str
    to: list[str]
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    subject: str = ""
    body: str = ""
    attachments: list[dict] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    thread_id: str | None = None
    in_reply_to: int | None = None
    forwarded_from: int | None = None
    carried: list[Message] = field(default_factory=list)  # messages whose content travels with it

    @property
    def recipients(self) -> list[str]:
        return list(dict.fromkeys([*self.to, *self.cc, *self.bcc]))


def mailboxes(session: Session, episode_id: str) -> dict[str, Mailbox]:
    rows = session.execute(select(Mailbox).where(Mailbox.episode_id == episode_id)).scalars()
    return {m.address: m for m in rows}


def expand(episode: Episode, addresses: list[str]) -> list[str]:
    """Replace group (list) addresses with their members' addresses."""
    groups = {g["address"].lower(): g for g in episode.world.get("groups", [])}
    people = {p["key"]: p["address"] for p in episode.world.get("people", [])}
    people["agent"] = episode.agent_address
    out: list[str] = []
    for a in addresses:
        g = groups.get(a.lower())
        out.extend(people[m] for m in g["members"]) if g else out.append(a)
    return list(dict.fromkeys(out))


def scenario_now(episode: Episode) -> datetime:
    """Scenario clock: the session start plus the real time elapsed since the episode began."""
    return episode.clock + (utcnow() - episode.created_at)


def create_mailbox(session: Session, episode_id: str, address: str, name: str, title: str,
                   is_agent: bool = False) -> Mailbox:
    box = Mailbox(episode_id=episode_id, address=address, name=name, title=title, is_agent=is_agent)
    session.add(box)
    session.flush()
    return box


@dataclass
class Delivered:
    message: Message
    internal: list[str]  # company mailboxes that received a copy
    external: list[str]  # addresses outside the company (recorded, never sent)


def deliver(session: Session, episode: Episode, draft: Draft, *, origin: str, sent_at: datetime | None = None,
            key: str | None = None, unread: bool = True, boxes: dict[str, Mailbox] | None = None) -> Delivered:
    """Write the message, the sender's Sent copy and one copy per recipient (groups expanded)."""
    boxes = boxes if boxes is not None else mailboxes(session, episode.id)
    msg = Message(
        episode_id=episode.id, key=key, sender=draft.sender, to=draft.to, cc=draft.cc, bcc=draft.bcc,
        subject=draft.subject, body=draft.body, sent_at=sent_at or scenario_now(episode),
        thread_id=draft.thread_id or uuid.uuid4().hex, in_reply_to=draft.in_reply_to,
        forwarded_from=draft.forwarded_from, attachments=draft.attachments, labels=draft.labels, origin=origin,
    )
    session.add(msg)
    session.flush()
    copies = []
    if draft.sender in boxes:
        copies.append(Delivery(episode_id=episode.id, message_id=msg.id, mailbox_id=boxes[draft.sender].id,
                               address=draft.sender, folder="sent", is_read=True))
    for addr in expand(episode, draft.recipients):
        box = boxes.get(addr) or boxes.get(addr.lower())
        if box is None:
            copies.append(Delivery(episode_id=episode.id, message_id=msg.id, address=addr, external=True,
                                   folder="outbound", is_read=True))
        elif box.address != draft.sender:
            copies.append(Delivery(episode_id=episode.id, message_id=msg.id, mailbox_id=box.id,
                                   address=box.address, folder="inbox", is_read=not unread))
    session.add_all(copies)
    session.flush()
    return Delivered(msg, [c.address for c in copies if c.folder == "inbox"],
                     [c.address for c in copies if c.external])


def get_message(session: Session, episode_id: str, message_id: int) -> Message | None:
    msg = session.get(Message, message_id)
    return msg if msg is not None and msg.episode_id == episode_id else None


def copy_in(session: Session, message_id: int, mailbox_ids: list[int], prefer: int) -> Delivery | None:
    """The copy of a message held by mailbox `prefer`, else by one of the others (None: not visible)."""
    return session.execute(
        select(Delivery).where(Delivery.message_id == message_id, Delivery.mailbox_id.in_(mailbox_ids))
        .order_by((Delivery.mailbox_id == prefer).desc(), Delivery.id).limit(1)
    ).scalar_one_or_none()


def mark_read(session: Session, delivery_id: int) -> None:
    session.execute(update(Delivery).where(Delivery.id == delivery_id).values(is_read=True))


def list_folder(session: Session, mailbox_id: int, folder: str, unread_only: bool, limit: int,
                offset: int) -> tuple[int, list[tuple[Message, Delivery]]]:
    cond = [Delivery.mailbox_id == mailbox_id, Delivery.folder == folder]
    if unread_only:
        cond.append(Delivery.is_read.is_(False))
    total = session.execute(select(func.count()).select_from(Delivery).where(*cond)).scalar_one()
    rows = session.execute(
        select(Message, Delivery).join(Delivery, Delivery.message_id == Message.id).where(*cond)
        .order_by(Message.sent_at.desc(), Message.id.desc()).limit(limit).offset(offset)
    ).all()
    return total, [(m, d) for m, d in rows]


def search(session: Session, mailbox_ids: list[int], query: str, limit: int) -> list[tuple[Message, Delivery]]:
    """Case-insensitive match of every word of the query in sender, subject or body."""
    cond = [Delivery.mailbox_id.in_(mailbox_ids)]
    for word in query.split():
        like = f"%{word.lower()}%"
        cond.append(or_(func.lower(Message.subject).like(like), func.lower(Message.body).like(like),
                        func.lower(Message.sender).like(like)))
    rows = session.execute(
        select(Message, Delivery).join(Delivery, Delivery.message_id == Message.id).where(*cond)
        .order_by(Message.sent_at.desc(), Message.id.desc()).limit(limit * 4)
    ).all()
    seen: dict[int, tuple[Message, Delivery]] = {}
    for m, d in rows:
        seen.setdefault(m.id, (m, d))
    return list(seen.values())[:limit]


def carried_chain(session: Session, msg: Message) -> list[Message]:
    """The message and every message it forwards or answers, transitively (their content travels with it)."""
    chain, seen, todo = [], set(), [msg]
    while todo:
        m = todo.pop()
        if m is None or m.id in seen:
            continue
        seen.add(m.id)
        chain.append(m)
        for ref in (m.forwarded_from, m.in_reply_to):
            if ref is not None:
                todo.append(session.get(Message, ref))
    return chain
