"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, PrivateAttr, model_validator

from app.core import text
from app.events.types import ModelError, ModelTurn, Notice
from app.vocab import EpisodeStatus

MAX_ID = 2**31 - 1  # sequence numbers and row ids fit a 32-bit integer on both databases
Name = Annotated[str, Field(max_length=100)]
Value = Annotated[str, Field(max_length=500)]
Count = Annotated[int, Field(ge=0, le=2**53)]


class CleanIn(BaseModel):
    """A request body whose text is normalised before validation (NUL and lone surrogates become
    U+FFFD: app.core.text); `normalised` is how many characters were replaced."""

    _normalised: int = PrivateAttr(default=0)

    @model_validator(mode="wrap")
    @classmethod
    def _clean(cls, data, handler):
        n = 0
        if isinstance(data, dict):
            data, n = text.clean(data)
        model = handler(data)
        model._normalised = n
        return model

    @property
    def normalised(self) -> int:
        return self._normalised


class EpisodeCreate(CleanIn):
    scenario: str = Field(
        max_length=1000,
        description="Scenario slug, or a folder inside the scenarios folder or an allowed folder "
        "(CORPMAIL_SCENARIOS_DIR, CORPMAIL_ALLOWED_SCENARIO_DIRS)",
    )
    variables: dict[Name, Value] = Field(default_factory=dict, max_length=100)
    model: str = Field(max_length=200)
    monitor_mode: str | None = Field(default=None, max_length=20)
    approver: str = Field(
        default="human",
        max_length=20,
        description="Who decides held actions: human, monitor, approve_all or reject_all",
    )
    monitor: str | None = Field(
        default=None, description="Monitor engine: rules, judge or rules+judge (default: the scenario's)"
    )
    judge_model: str | None = Field(default=None, description="LiteLLM model string of the judge stage")
    harness: str = Field(
        default="corpmail",
        max_length=80,
        description="Who plays it: corpmail (the built-in loop), mcp, inspect",
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
    mcp_path: str = Field(description="The episode's MCP endpoint (streamable HTTP) on this server")
    mcp_token: str = Field(description="Bearer token for the MCP endpoint (always required there)")
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
    harness: str
    purpose: str = "run"
    agent_address: str
    error: str | None
    event_count: int = Field(validation_alias="event_seq")
    created_at: datetime
    finished_at: datetime | None

    model_config = {"from_attributes": True, "populate_by_name": True}


class TurnIn(CleanIn):
    event: ModelTurn | ModelError | Notice = Field(discriminator="kind")


class FinishIn(CleanIn):
    status: str = Field(max_length=20, description="A final status: " + ", ".join(EpisodeStatus.final()))
    turns: int = Field(default=0, ge=0, le=1_000_000)
    error: str | None = Field(default=None, max_length=10_000)
    usage: dict[Name, Count] = Field(default_factory=dict, max_length=20)


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


class DecisionIn(CleanIn):
    decision: Literal["approve", "reject", "approved", "rejected"] = Field(description="approve or reject")
    reason: str | None = Field(default=None, max_length=2000)
    by: str = Field(default="staff", min_length=1, max_length=100)


class ValidationProblem(BaseModel):
    """One problem with a request (the documented 422 item)."""

    loc: list[str | int]
    msg: str
    type: str


class ValidationBody(BaseModel):
    """Every 422 answer: a list of problems, whether the schema or a service found them."""

    detail: list[ValidationProblem]


def answers(*codes: int) -> dict[int | str, dict]:
    """OpenAPI entries for the error statuses a route may answer (besides 422)."""
    text_ = {
        400: "The body is not readable JSON (e.g. not UTF-8)",
        404: "No such episode (or approval in it)",
        409: "The episode is finished, or the approval already decided",
    }
    return {c: {"description": text_[c]} for c in codes}


SSE: dict[int | str, dict] = {
    200: {
        "description": "Server-sent events",
        "content": {"text/event-stream": {"schema": {"type": "object"}}},
    }
}
