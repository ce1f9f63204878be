"""The seeded snapshot of an episode: its mailboxes and seeded mail before the agent's first step.
Replays (and the live view) apply the event log to this."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session, col

from app.models import Delivery, Episode, Mailbox, Message


def seeded_snapshot(session: Session, ep: Episode) -> dict:
    episode_id = ep.id
    unread = {e["key"]: e["unread"] for e in ep.world["emails"]}
    boxes = (
        session.execute(
            select(Mailbox)
            .where(col(Mailbox.episode_id) == episode_id)
            .order_by(col(Mailbox.is_agent).desc(), col(Mailbox.name))
        )
        .scalars()
        .all()
    )
    rows = session.execute(
        select(Message, Delivery)
        .join(Delivery, col(Delivery.message_id) == col(Message.id))
        .where(col(Message.episode_id) == episode_id, col(Message.origin) == "seed")
        .order_by(col(Message.sent_at), col(Message.id))
    ).all()
    messages: dict[int, dict] = {}
    copies: list[dict] = []
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
            "timezone": w.get("timezone", "UTC"),
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
