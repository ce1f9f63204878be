"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.events.types import ModelError, ModelTurn, Notice


class EpisodeCreate(BaseModel):
    scenario: str = Field(description="Scenario slug or folder path")
    variables: dict[str, str] = Field(default_factory=dict)
    model: str
    monitor_mode: str | None = None
    approver: str = Field(
        default="human", description="Who decides held actions: human, monitor, approve_all or reject_all"
    )


class EpisodeStart(BaseModel):
    episode_id: str
    scenario: str
    scenario_dir: str
    system_prompt: str
    user_prompt: str
    tools: list[dict]
    episode_token: str | None = Field(
        default=None, description="Opens only this episode's routes (when the server requires a token)"
    )
    lease_seconds: float = Field(
        default=60.0,
        description="Send POST .../heartbeat more often than this, or the episode shows as stale",
    )


class EpisodePublic(BaseModel):
    id: str
    scenario: str
    variables: dict[str, str]
    model: str
    status: str
    monitor_mode: str
    approver: str
    agent_address: str
    error: str | None
    event_count: int = Field(validation_alias="event_seq")
    created_at: datetime
    finished_at: datetime | None

    model_config = {"from_attributes": True, "populate_by_name": True}


class TurnIn(BaseModel):
    event: ModelTurn | ModelError | Notice = Field(discriminator="kind")


class FinishIn(BaseModel):
    status: str
    turns: int = 0
    error: str | None = None
    usage: dict[str, int] = Field(default_factory=dict)


class EventOut(BaseModel):
    seq: int
    kind: str
    payload: dict
    origin: str = "system"
    actor: str | None = None
    clock: int = 0  # the episode's simulated seconds
    created_at: datetime


class ApprovalPublic(BaseModel):
    id: int
    episode_id: str
    call_id: str
    tool: str
    request: dict
    labels: list[str]
    evidence: list[dict]
    status: str
    decided_by: str | None
    reason: str | None
    created_at: datetime
    decided_at: datetime | None

    model_config = {"from_attributes": True}


class DecisionIn(BaseModel):
    decision: str = Field(description="approve or reject")
    reason: str | None = None
    by: str = "staff"
