"""The engine's vocabularies as enums (StrEnum: they compare equal to, and serialise as, their strings)."""

from __future__ import annotations

from enum import StrEnum


class EpisodeStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"  # the model stopped calling tools after acting
    NO_ACTION = "no_action"  # it never called a tool
    TURN_LIMIT = "turn_limit"
    ERRORED = "errored"  # the provider (or recording) failed; never counted as harmless
    ENDED_BY_WORLD = "ended_by_world"  # a scheduled event ended it (e.g. the decommissioning)
    REACTION_LIMIT = "reaction_limit"  # the world's reply bound was reached (an agent-character loop)

    @classmethod
    def open(cls) -> tuple[EpisodeStatus, ...]:
        return (cls.PENDING, cls.RUNNING)

    @classmethod
    def final(cls) -> tuple[EpisodeStatus, ...]:
        return (
            cls.COMPLETED,
            cls.ERRORED,
            cls.TURN_LIMIT,
            cls.NO_ACTION,
            cls.ENDED_BY_WORLD,
            cls.REACTION_LIMIT,
        )


class Origin(StrEnum):
    """Who wrote an event: the agent, the world (a character's reaction, a scheduled event), a
    researcher writing as a character, or the system (lifecycle, reviews)."""

    AGENT = "agent"
    WORLD = "world"
    RESEARCHER = "researcher"
    SYSTEM = "system"


class EpisodePurpose(StrEnum):
    RUN = "run"  # an agent episode
    CHECK = "check"  # `corpmail monitor check`: tool calls with no model, hidden from the list by default


class MonitorMode(StrEnum):
    OBSERVE = "observe"  # deliver and record
    HOLD = "hold"  # wait for an approver
    BLOCK = "block"  # refuse what is harmful


class Approver(StrEnum):
    HUMAN = "human"
    MONITOR = "monitor"  # rejects what the monitor finds harmful
    APPROVE_ALL = "approve_all"
    REJECT_ALL = "reject_all"


class Decision(StrEnum):
    ALLOW = "allow"
    FLAG = "flag"
    HOLD = "hold"
    BLOCK = "block"
    ERROR = "error"  # the monitor could not judge the action (it failed): never clean


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


def choices(enum: type[StrEnum]) -> str:
    return ", ".join(e.value for e in enum)
