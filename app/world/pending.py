"""What the world still owes an episode, computed from its log alone (so it is replayable and the same
on every run): character reactions that are due or coming, and scheduled events not yet fired.

A reaction is keyed by (character, rule, trigger) and fires once; a logged `world_reaction` or
`scheduled_event` marks it done. Times are the episode's simulated seconds since the session start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.events.types import (
    ApprovalDecided,
    EventPayload,
    MailDelivered,
    MonitorVerdict,
    RescoreVerdict,
    ScheduledEventFired,
    ToolResult,
    WorldReaction,
)


@dataclass
class Logged:
    seq: int
    origin: str
    actor: str | None
    clock: int
    payload: EventPayload


@dataclass
class Due:
    due: int
    order: tuple  # ties broken deterministically
    kind: str  # "reaction" | "scheduled"
    character: dict | None = None
    rule: dict | None = None  # None with a character: the persona answers
    trigger: dict = field(default_factory=dict)
    message: dict | None = None  # the message reacted to
    event: dict | None = None  # the scheduled event

    @property
    def key(self) -> tuple:
        if self.kind == "scheduled":
            return ("scheduled", self.event["name"]) if self.event else ("scheduled",)
        return (
            "reaction",
            self.character["who"] if self.character else "",
            self.rule_name,
            _frozen(self.trigger),
        )

    @property
    def rule_name(self) -> str:
        return self.rule["name"] if self.rule else "persona"


def _frozen(d: dict) -> tuple:
    return tuple(sorted((k, str(v)) for k, v in d.items()))


def _seconds(world: dict, when: str | datetime) -> int:
    start = datetime.fromisoformat(str(world["start_time"]))
    at = datetime.fromisoformat(str(when)) if not isinstance(when, datetime) else when
    if at.tzinfo is None and start.tzinfo is not None:
        at = at.replace(tzinfo=start.tzinfo)
    return int((at - start).total_seconds())


def _who_matches(spec: str, sender: str, agent: str, people: dict[str, str]) -> bool:
    spec = spec.lower()
    if spec == "anyone":
        return True
    if spec == "agent":
        return sender == agent
    return sender == people.get(spec, spec)


def _rule_matches(
    on: dict, message: dict, labels: set[str], agent: str, people: dict[str, str], keys: dict
) -> bool:
    if not on.get("message_from") or not _who_matches(
        on["message_from"], message["sender"].lower(), agent, people
    ):
        return False
    if on.get("labels_any") and not labels & set(on["labels_any"]):
        return False
    if labels & set(on.get("labels_none") or []):
        return False
    if on.get("replies_to"):
        return message.get("in_reply_to") == keys.get(on["replies_to"])
    return True


def _received(delivered: MailDelivered, who: str) -> bool:
    return any(c["address"].lower() == who and c["folder"] in ("inbox", "outbound") for c in delivered.copies)


def pending(world: dict, log: list[Logged], message_keys: dict[str, int]) -> list[Due]:
    """Everything the world has yet to do, soonest first (done ones left out)."""
    agent = world["agent"]["address"].lower()
    people = {p["key"]: p["address"].lower() for p in world.get("people", [])}
    emails = {e["key"]: e for e in world.get("emails", [])}
    labels: dict[str, set[str]] = {}
    for e in log:
        if isinstance(e.payload, (MonitorVerdict, RescoreVerdict)):
            labels[e.payload.call_id] = set(e.payload.labels)
    done: set[tuple] = set()
    replies: dict[str, int] = {}
    for e in log:
        p = e.payload
        if isinstance(p, WorldReaction):
            done.add(("reaction", p.character, p.rule, _frozen(p.trigger)))
            if p.status == "sent":
                replies[p.character] = replies.get(p.character, 0) + 1
        elif isinstance(p, ScheduledEventFired):
            done.add(("scheduled", p.name))
    out: list[Due] = []
    effected_actions = [
        (e, e.payload) for e in log if _effected(e) and isinstance(e.payload, (ToolResult, ApprovalDecided))
    ]
    for ch in world.get("characters", []):
        who = ch["who"].lower()
        if replies.get(who, 0) >= ch.get("max_replies", 3):
            continue
        for e in log:  # messages the character received
            p = e.payload
            if (
                not isinstance(p, MailDelivered)
                or p.message["sender"].lower() == who
                or not _received(p, who)
            ):
                continue
            msg = p.message
            rule = next(
                (
                    r
                    for r in ch.get("rules", [])
                    if _rule_matches(
                        r["when"], msg, labels.get(p.call_id, set()), agent, people, message_keys
                    )
                ),
                None,
            )
            if rule is None and not ch.get("persona"):
                continue
            delay = (rule or ch["persona"])["delay_minutes"] * 60
            out.append(
                Due(e.clock + delay, (e.seq, who), "reaction", ch, rule, {"message_id": msg["id"]}, msg)
            )
        for rule in ch.get("rules", []):
            on = rule["when"]
            if on.get("action"):
                for e, p in effected_actions:
                    if p.tool == on["action"]:
                        out.append(
                            Due(
                                e.clock + rule["delay_minutes"] * 60,
                                (e.seq, who),
                                "reaction",
                                ch,
                                rule,
                                {"action": p.tool, "call_id": p.call_id},
                            )
                        )
            if on.get("ignored") and on["ignored"] in emails:
                due = max(0, _seconds(world, emails[on["ignored"]]["at"]) + on.get("after_minutes", 30) * 60)
                spoke = any(
                    isinstance(e.payload, MailDelivered)
                    and e.origin == "agent"
                    and e.clock < due
                    and _received(e.payload, who)
                    for e in log
                )
                if not spoke:
                    out.append(
                        Due(
                            due,
                            (0, who),
                            "reaction",
                            ch,
                            rule,
                            {"ignored": on["ignored"]},
                            emails[on["ignored"]],
                        )
                    )
    for ev in world.get("schedule", []):
        out.append(Due(_seconds(world, ev["at"]), (0, ev["name"]), "scheduled", event=ev))
    return sorted((d for d in out if d.key not in done), key=lambda d: (d.due, d.order, d.rule_name))


def _effected(e: Logged) -> bool:
    """An agent's call that took effect: an ok result that is not merely held, or an approval."""
    p = e.payload
    if isinstance(p, ApprovalDecided):
        return p.decision == "approved"
    held = (
        isinstance(p, ToolResult)
        and isinstance(p.result, dict)
        and p.result.get("status") == "pending_approval"
    )
    return e.origin == "agent" and isinstance(p, ToolResult) and p.ok and not held


def action_effected_before(log: list[Logged], tool: str, due: int) -> bool:
    return any(_effected(e) and getattr(e.payload, "tool", None) == tool and e.clock <= due for e in log)


def replies_sent(log: list[Logged]) -> int:
    return sum(1 for e in log if isinstance(e.payload, WorldReaction) and e.payload.status == "sent")


def as_dict(obj: Any) -> dict:
    return obj if isinstance(obj, dict) else obj.model_dump()
