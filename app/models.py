"""SQLModel tables. Every row carries an episode_id so episodes are isolated and replayable.

Mail is stored once per message (Message) and once per mailbox or external address that holds
a copy (Delivery: folder, read state). Events are an append-only log with a per-episode sequence.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Table, UniqueConstraint, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm.base import NEVER_SET, NO_VALUE
from sqlmodel import Field, SQLModel

JsonType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


def json_field(default_factory=dict) -> Any:
    return Field(default_factory=default_factory, sa_column=Column(JsonType, nullable=False))


class Episode(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=32)
    scenario: str = Field(index=True, max_length=200)
    variables: dict = json_field()
    model: str = Field(max_length=200)
    status: str = Field(default="pending", index=True, max_length=20)
    monitor_mode: str = Field(default="observe", max_length=10)
    approver: str = Field(default="human", max_length=20)  # who decides held actions
    # who played it: corpmail (the built-in loop), mcp or mcp:<client name>, inspect
    harness: str = Field(default="corpmail", max_length=80, sa_column_kwargs={"server_default": "corpmail"})
    # run: an agent episode; check: `corpmail monitor check` (no model; hidden from the list by default)
    purpose: str = Field(default="run", max_length=10, sa_column_kwargs={"server_default": "run"})
    agent_address: str = Field(max_length=320)
    clock: datetime = Field(description="Scenario time at which the agent's session starts")
    clock_seconds: int = Field(
        default=0, description="Simulated seconds elapsed since `clock`, advanced by events"
    )
    world: dict = json_field()  # rendered scenario: people, annotations, canary (monitor ground truth)
    error: str | None = None
    event_seq: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None  # lease: the playing process's last sign of life


class Mailbox(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("episode_id", "address"),)
    id: int | None = Field(default=None, primary_key=True)
    episode_id: str = Field(foreign_key="episode.id", index=True, max_length=32)
    address: str = Field(max_length=320)
    name: str = Field(max_length=200)
    title: str = Field(default="", max_length=200)
    is_agent: bool = False


class Message(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    episode_id: str = Field(foreign_key="episode.id", index=True, max_length=32)
    key: str | None = Field(default=None, max_length=100)  # scenario key of seeded mail
    sender: str = Field(max_length=320)
    to: list = json_field(list)
    cc: list = json_field(list)
    bcc: list = json_field(list)
    subject: str = ""
    body: str = ""
    sent_at: datetime
    thread_id: str = Field(index=True, max_length=64)
    in_reply_to: int | None = None
    forwarded_from: int | None = None
    attachments: list = json_field(list)  # [{"name", "content", "labels"}]
    labels: list = json_field(list)  # sensitivity labels, e.g. ["confidential"]
    origin: str = Field(default="seed", max_length=20)  # seed | agent | ui


class Delivery(SQLModel, table=True):
    """A copy of a message held by a company mailbox (folder, read state) or sent outside."""

    id: int | None = Field(default=None, primary_key=True)
    episode_id: str = Field(foreign_key="episode.id", index=True, max_length=32)
    message_id: int = Field(foreign_key="message.id", index=True)
    mailbox_id: int | None = Field(default=None, foreign_key="mailbox.id", index=True)
    address: str = Field(max_length=320)
    external: bool = False
    folder: str = Field(default="inbox", max_length=20)  # inbox | sent | outbound
    is_read: bool = False


class Event(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("episode_id", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    episode_id: str = Field(foreign_key="episode.id", index=True, max_length=32)
    seq: int
    kind: str = Field(max_length=40)
    payload: dict = json_field()
    origin: str = Field(default="system", max_length=12)  # agent | world | researcher | system
    actor: str | None = Field(default=None, max_length=320)  # the acting mailbox or character
    clock: int = Field(default=0, description="The episode's simulated seconds when the event happened")
    created_at: datetime = Field(default_factory=utcnow)


class Approval(SQLModel, table=True):
    """An outbound action held by the monitor until a person (or an automatic approver) decides."""

    id: int | None = Field(default=None, primary_key=True)
    episode_id: str = Field(foreign_key="episode.id", index=True, max_length=32)
    call_id: str = Field(max_length=64)
    tool: str = Field(max_length=100)
    request: dict = json_field()  # {"kind": "mail", "draft": {...}} or {"kind": "action", ...}
    labels: list = json_field(list)
    evidence: list = json_field(list)
    status: str = Field(default="pending", index=True, max_length=10)  # pending | approved | rejected
    decided_by: str | None = Field(default=None, max_length=100)
    reason: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    decided_at: datetime | None = None


class ToolOutcome(SQLModel, table=True):
    """The first outcome of each tool call id in an episode: a retried call id gets this back and
    never acts twice (the unique key also settles concurrent retries)."""

    __tablename__ = "tool_outcome"
    __table_args__ = (UniqueConstraint("episode_id", "call_id"),)
    id: int | None = Field(default=None, primary_key=True)
    episode_id: str = Field(foreign_key="episode.id", max_length=32)
    call_id: str = Field(max_length=64)
    outcome: dict | None = Field(default=None, sa_column=Column(JsonType, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)


@event.listens_for(Episode.world, "set", propagate=True)
def _world_is_write_once(target, value, oldvalue, initiator):
    """An episode's world is its ground truth and is cached per process: it is set once, never changed."""
    if oldvalue not in (NO_VALUE, NEVER_SET) and oldvalue is not None and value != oldvalue:
        raise RuntimeError(f"episode {target.id}: the world of a stored episode never changes")


def table(model: type[SQLModel]) -> Table:
    """A model's Core table, typed (hot paths use SQLAlchemy Core on these)."""
    return SQLModel.metadata.tables[model.__tablename__]  # type: ignore[index]


class Experiment(SQLModel, table=True):
    """A named grid of trials (app.experiments); its config and the scenario versions it was run on."""

    name: str = Field(primary_key=True, max_length=200)
    config: dict = json_field()
    scenario_hashes: dict = json_field()  # slug -> content hash the trials were made from
    status: str = Field(default="pending", max_length=20)  # pending | running | stopped | done
    message: str | None = None  # why a run stopped
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Trial(SQLModel, table=True):
    """One sample of one cell with one model: the unit of work, identified by a hash of what it is."""

    id: str = Field(primary_key=True, max_length=32)
    experiment: str = Field(foreign_key="experiment.name", index=True, max_length=200)
    cell: str = Field(index=True, max_length=32)  # hash of (scenario, variables)
    scenario: str = Field(max_length=200)
    scenario_hash: str = Field(max_length=32)
    variables: dict = json_field()
    model: str = Field(max_length=200)  # the model's name in the experiment file
    sample: int
    status: str = Field(default="pending", index=True, max_length=20)  # pending|running|completed|errored
    episode_id: str | None = Field(default=None, index=True, max_length=32)
    attempts: list = json_field(list)  # every episode id played for this trial, oldest first
    error: str | None = None
    claimed_by: str | None = Field(default=None, max_length=200)  # host:pid:token of the runner
    claimed_at: datetime | None = None
    result: dict = json_field()  # the episode's summary counts once completed
