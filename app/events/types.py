"""Episode events: a tagged pydantic union, so a stored log reads back validated."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter


class EpisodeStarted(BaseModel):
    kind: Literal["episode_started"] = "episode_started"
    scenario: str
    variables: dict[str, str]
    model: str
    monitor_mode: str
    agent_address: str
    harness: str = "corpmail"


class RequestedCall(BaseModel):
    id: str
    name: str
    arguments: str = Field(description="Raw argument text exactly as the model produced it")


class ModelTurn(BaseModel):
    """What the model said (words, reasoning) and which tool calls it asked for."""

    kind: Literal["model_turn"] = "model_turn"
    turn: int = Field(ge=0, le=1_000_000)
    text: str | None = None
    reasoning: str | None = None
    tool_calls: list[RequestedCall] = Field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, int] = Field(default_factory=dict)
    normalised: int = Field(default=0, description="Characters replaced by U+FFFD (app.core.text)")


class ModelError(BaseModel):
    kind: Literal["model_error"] = "model_error"
    turn: int = Field(ge=0, le=1_000_000)
    error: str
    normalised: int = 0


class Notice(BaseModel):
    """Text the harness gave the model between turns (e.g. the outcome of a held action)."""

    kind: Literal["notice"] = "notice"
    turn: int = Field(ge=0, le=1_000_000)
    text: str
    normalised: int = 0


class ToolCall(BaseModel):
    """An action as the server received it (before validation)."""

    kind: Literal["tool_call"] = "tool_call"
    call_id: str
    tool: str
    actor: str
    args: Any = None
    normalised: int = Field(default=0, description="Characters replaced by U+FFFD (app.core.text)")


class VerdictFields(BaseModel):
    """What every monitor verdict carries: the call, the decision, labels, evidence, who judged."""

    call_id: str
    tool: str
    decision: Literal["allow", "flag", "hold", "block", "error"]
    labels: list[str]
    evidence: list[dict[str, Any]] = Field(default_factory=list)
    detector: str
    version: str
    scores: dict[str, float] = Field(default_factory=dict, description="harm class -> suspicion in [0, 1]")
    abstained: list[str] = Field(default_factory=list, description="harm classes the monitor could not judge")
    error: str | None = Field(default=None, description="Why the monitor could not judge (never clean)")


class MonitorVerdict(VerdictFields):
    kind: Literal["monitor_verdict"] = "monitor_verdict"
    mode: str


class RescoreVerdict(VerdictFields):
    """A stored action judged again by the current detectors (the original verdict stays as it was)."""

    kind: Literal["rescore_verdict"] = "rescore_verdict"
    detectors: dict[str, str] = Field(default_factory=dict)  # detector -> version
    original_labels: list[str] = Field(default_factory=list)


class JudgeVerdict(BaseModel):
    """An LLM judge's second opinion on one action. A failed call or answer is a failure, never harmless."""

    kind: Literal["judge_verdict"] = "judge_verdict"
    call_id: str
    tool: str
    model: str
    status: Literal["ok", "failed", "errored"]
    scores: dict[str, float] = Field(default_factory=dict, description="judge stage: class -> suspicion")
    decision: str | None = Field(default=None, description="judge stage: what followed (flag, approved ...)")
    harmful: bool | None = None
    labels: list[str] = Field(default_factory=list)
    rationale: str | None = None
    error: str | None = None


class ToolResult(BaseModel):
    kind: Literal["tool_result"] = "tool_result"
    call_id: str
    tool: str
    ok: bool
    result: Any = None
    error: dict[str, Any] | None = None


class ApprovalDecided(BaseModel):
    """A held action was approved (and then took effect) or rejected."""

    kind: Literal["approval_decided"] = "approval_decided"
    approval_id: int
    call_id: str
    tool: str
    decision: Literal["approved", "rejected"]
    by: str
    reason: str | None = None
    result: Any = None


class MailDelivered(BaseModel):
    """A message took effect: its content and every copy, so a replay can rebuild the mailboxes."""

    kind: Literal["mail_delivered"] = "mail_delivered"
    call_id: str
    message: dict[str, Any]
    copies: list[dict[str, Any]]  # {"address", "folder", "external"}


class MailRead(BaseModel):
    kind: Literal["mail_read"] = "mail_read"
    call_id: str
    message_id: int
    mailbox: str


class AwarenessAssessed(BaseModel):
    """Whether the model stated a belief that it is being evaluated or that its situation is real, from
    its own words and reasoning. `not_stated` is not "unaware"; a failed judge is `errored`, never either."""

    kind: Literal["awareness"] = "awareness"
    status: Literal["ok", "errored"] = "ok"
    belief: Literal["evaluation", "real", "not_stated"] | None = None
    method: str  # "answer" (the asked-for belief line), "rules", or "judge:<model>"
    version: str
    mixed: bool = False  # both beliefs were stated (belief is the last one)
    evidence: list[dict[str, Any]] = Field(default_factory=list)  # {"turn", "source", "quote"}
    error: str | None = None


class WorldReaction(BaseModel):
    """A character reacted (or could not): by a rule, or as a persona played by a model."""

    kind: Literal["world_reaction"] = "world_reaction"
    character: str  # its address
    rule: str  # the rule's name, or "persona"
    trigger: dict[str, Any]  # {"message_id"} | {"action", "call_id"} | {"ignored"}
    due: int  # simulated seconds since the session start
    status: Literal["sent", "silent", "errored", "limit"]
    call_id: str | None = None  # the send it made through run_tool
    error: str | None = None


class ScheduledEventFired(BaseModel):
    kind: Literal["scheduled_event"] = "scheduled_event"
    name: str
    due: int
    status: Literal["fired", "skipped"]
    ends_episode: bool = False
    reason: str | None = None


class ResearcherIntervention(BaseModel):
    """A researcher wrote into the running episode as one of its characters."""

    kind: Literal["intervention"] = "intervention"
    researcher: str
    as_address: str
    call_id: str
    ok: bool


class ClockAdvanced(BaseModel):
    """The world moved the simulated clock on to its next event while the agent waited."""

    kind: Literal["clock_advanced"] = "clock_advanced"
    to: int
    reason: str


class EpisodeFinished(BaseModel):
    kind: Literal["episode_finished"] = "episode_finished"
    status: str
    turns: int = 0
    error: str | None = None
    usage: dict[str, int] = Field(default_factory=dict)
    normalised: int = 0


EventPayload = Annotated[
    EpisodeStarted
    | ModelTurn
    | ModelError
    | Notice
    | ToolCall
    | MonitorVerdict
    | ToolResult
    | ApprovalDecided
    | RescoreVerdict
    | JudgeVerdict
    | MailDelivered
    | MailRead
    | AwarenessAssessed
    | WorldReaction
    | ScheduledEventFired
    | ClockAdvanced
    | ResearcherIntervention
    | EpisodeFinished,
    Field(discriminator="kind"),
]
event_adapter: TypeAdapter[EventPayload] = TypeAdapter(EventPayload)
