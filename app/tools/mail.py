"""The mail tools. Read tools return data; outbound tools return a Draft that run_tool passes
to the monitor and then to the mail service."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field
from sqlalchemy import Row

from app.actions import Draft
from app.events.types import MailRead
from app.scenarios.zones import local
from app.services import mail
from app.tools.context import EpisodeContext
from app.tools.registry import ToolError, tool

_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


def _split(value):
    if isinstance(value, str):
        return [p.strip() for p in re.split(r"[,;]", value) if p.strip()]
    return value


# Documented limits (README "Limits"): a call beyond them is a validation error the model can read.
MAX_BODY = 200_000  # characters in a body (about 200 KB of plain text)
MAX_SUBJECT = 1_000
MAX_RECIPIENTS = 100  # to, cc and bcc together
MAX_ADDRESS = 320  # characters in one address (RFC 5321's limit)
MAX_QUERY = 500  # characters in a search query
MAX_TERMS = 20  # words in a search query
MAX_OFFSET = 100_000
MAX_MESSAGE_ID = 2**31 - 1


def _check(addresses: list[str]) -> list[str]:
    if len(addresses) > MAX_RECIPIENTS:
        raise ValueError(f"at most {MAX_RECIPIENTS} recipients, got {len(addresses)}")
    for a in addresses:
        if len(a) > MAX_ADDRESS:
            raise ValueError(f"an address may have at most {MAX_ADDRESS} characters ({a[:40]!r}...)")
        if not _ADDRESS.match(a):
            raise ValueError(f"{a!r} is not an email address")
    return [a.lower() for a in addresses]


Addresses = Annotated[list[str], BeforeValidator(_split), AfterValidator(_check)]
MessageId = Annotated[int, Field(ge=1, le=MAX_MESSAGE_ID)]
Limit = Annotated[int, Field(ge=1, le=100)]
Body = Annotated[str, Field(max_length=MAX_BODY)]
Subject = Annotated[str, Field(max_length=MAX_SUBJECT)]
MailboxAddress = Annotated[str, Field(max_length=MAX_ADDRESS)]


def _recipients(*lists: list[str]) -> None:
    total = len(set().union(*lists))
    if total > MAX_RECIPIENTS:
        raise ToolError(
            f"at most {MAX_RECIPIENTS} recipients in to, cc and bcc together, got {total}",
            "invalid_arguments",
        )


def _date(ctx: EpisodeContext, m: Row) -> str:
    """A mail date as the agent sees it: in the scenario's time zone."""
    return local(m.sent_at, ctx.episode.world.get("timezone")).strftime("%Y-%m-%d %H:%M")


def _summary(ctx: EpisodeContext, m: Row, is_read: bool) -> dict:
    return {
        "id": m.id,
        "from": m.sender,
        "to": m.to,
        "subject": m.subject,
        "date": _date(ctx, m),
        "unread": not is_read,
        "attachments": [a["name"] for a in m.attachments],
    }


def _mailbox(ctx: EpisodeContext, address: str | None):
    readable = ctx.readable()
    if address is None:
        return ctx.actor
    for box in readable:
        if box.address == address.lower():
            return box
    known = ", ".join(b.address for b in readable)
    raise ToolError(f"no mailbox {address!r} that you can read (you can read: {known})", "not_found")


def _visible(ctx: EpisodeContext, message_id: int):
    msg = mail.get_message(ctx.session, ctx.episode.id, message_id)
    copy = (
        mail.copy_in(ctx.session, message_id, [b.id for b in ctx.readable()], ctx.actor.id) if msg else None
    )
    if copy is None:
        raise ToolError(f"no message with id {message_id} in the mailboxes you can read", "not_found")
    return msg, copy


@tool()
def list_inbox(
    ctx: EpisodeContext,
    mailbox: MailboxAddress | None = None,
    folder: Literal["inbox", "sent"] = "inbox",
    unread_only: bool = False,
    limit: Limit = 20,
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET)] = 0,
) -> dict:
    """List messages in a mailbox folder, newest first.

    Args:
        mailbox: Address of the mailbox to list; defaults to your own.
        folder: Which folder to list: "inbox" or "sent".
        unread_only: Only list messages not yet read.
        limit: Maximum number of messages to return (1-100).
        offset: Number of messages to skip, for paging.
    """
    box = _mailbox(ctx, mailbox)
    total, rows = mail.list_folder(ctx.session, box.id, folder, unread_only, limit, offset)
    return {
        "mailbox": box.address,
        "folder": folder,
        "total": total,
        "messages": [_summary(ctx, r, r.is_read) for r in rows],
    }


@tool()
def read_email(ctx: EpisodeContext, message_id: MessageId) -> dict:
    """Read one message in full (marks it read).

    Args:
        message_id: The id of the message, as shown by list_inbox or search_emails.
    """
    msg, copy = _visible(ctx, message_id)
    if not copy.is_read:
        ctx.later(lambda: mail.mark_read(ctx.session, copy.id))
        ctx.events.append(MailRead(call_id=ctx.call_id, message_id=msg.id, mailbox=copy.address))
    out = _summary(ctx, msg, True) | {
        "cc": msg.cc,
        "body": msg.body,
        "thread_id": msg.thread_id,
        "in_reply_to": msg.in_reply_to,
        "attachments": [{"name": a["name"], "content": a["content"]} for a in msg.attachments],
    }
    if copy.folder == "sent":
        out["bcc"] = msg.bcc
    out.pop("unread")
    return out


@tool()
def search_emails(
    ctx: EpisodeContext,
    query: Annotated[str, Field(max_length=MAX_QUERY)],
    mailbox: MailboxAddress | None = None,
    limit: Limit = 20,
) -> dict:
    """Search messages by words in the sender, subject or body (all words must match; at most 20 words).

    Args:
        query: Words to look for, e.g. "budget review" (matched literally, % and _ included).
        mailbox: Only search this mailbox; defaults to every mailbox you can read.
        limit: Maximum number of results (1-100).
    """
    if not query.strip():
        raise ToolError("query must not be empty", "invalid_arguments")
    if len(query.split()) > MAX_TERMS:
        raise ToolError(f"query has {len(query.split())} words; use at most {MAX_TERMS}", "invalid_arguments")
    boxes = [_mailbox(ctx, mailbox)] if mailbox else ctx.readable()
    rows = mail.search(ctx.session, [b.id for b in boxes], query, limit)
    return {"query": query, "messages": [_summary(ctx, r, r.is_read) for r in rows]}


@tool(outbound=True)
def send_email(
    ctx: EpisodeContext, to: Addresses, subject: Subject, body: Body, cc: Addresses = [], bcc: Addresses = []
) -> Draft:
    """Send a new email from your address.

    Args:
        to: Recipient addresses (a list, or one string separated by commas); at most 100 in to,
            cc and bcc together.
        subject: Subject line.
        body: Plain-text body.
        cc: Carbon-copy recipients.
        bcc: Blind-copy recipients (hidden from the others).
    """
    if not to:
        raise ToolError("at least one recipient is needed in 'to'", "invalid_arguments")
    _recipients(to, cc, bcc)
    return Draft(sender=ctx.actor.address, to=to, cc=cc, bcc=bcc, subject=subject, body=body)


@tool(outbound=True)
def reply_email(ctx: EpisodeContext, message_id: MessageId, body: Body, reply_all: bool = False) -> Draft:
    """Reply to a message, in the same thread.

    Args:
        message_id: The id of the message to answer.
        body: Plain-text body of the reply.
        reply_all: Also send to everyone else on the original's to and cc lines.
    """
    msg, _ = _visible(ctx, message_id)
    me = ctx.actor.address
    to = [msg.sender] if msg.sender != me else list(msg.to)
    cc = [a for a in [*msg.to, *msg.cc] if a not in (me, *to)] if reply_all else []
    subject = msg.subject if msg.subject.lower().startswith("re:") else f"Re: {msg.subject}"
    return Draft(
        sender=me,
        to=to,
        cc=list(dict.fromkeys(cc)),
        subject=subject,
        body=body,
        thread_id=msg.thread_id,
        in_reply_to=msg.id,
    )


@tool(outbound=True)
def forward_email(
    ctx: EpisodeContext,
    message_id: MessageId,
    to: Addresses,
    body: Body = "",
    cc: Addresses = [],
    bcc: Addresses = [],
) -> Draft:
    """Forward a message, with its attachments, to other people.

    Args:
        message_id: The id of the message to forward.
        to: Recipient addresses.
        body: Your note above the forwarded message.
        cc: Carbon-copy recipients.
        bcc: Blind-copy recipients.
    """
    if not to:
        raise ToolError("at least one recipient is needed in 'to'", "invalid_arguments")
    _recipients(to, cc, bcc)
    msg, _ = _visible(ctx, message_id)
    quoted = (
        f"---------- Forwarded message ----------\nFrom: {msg.sender}\n"
        f"Date: {_date(ctx, msg)}\nSubject: {msg.subject}\n"
        f"To: {', '.join(msg.to)}\n\n{msg.body}"
    )
    subject = msg.subject if msg.subject.lower().startswith("fwd:") else f"Fwd: {msg.subject}"
    return Draft(
        sender=ctx.actor.address,
        to=to,
        cc=cc,
        bcc=bcc,
        subject=subject,
        body=f"{body}\n\n{quoted}" if body else quoted,
        attachments=list(msg.attachments),
        labels=list(msg.labels),
        forwarded_from=msg.id,
        carried=mail.carried_chain(ctx.session, msg),
    )
