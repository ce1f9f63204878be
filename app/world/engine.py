"""The reacting world: characters answer mail (by rule or as a model-played persona), scheduled events
fire when the episode's clock passes them, and a researcher can write as any character.

`tick` runs between the agent's turns (the agent loop calls it over HTTP), never inside the agent's
tool-call transaction: a persona's model call happens with no transaction open, and each message the
world sends goes through `run_tool` as that character (origin `world`), so the monitor sees it, the
event log records it, and nothing is ever held or blocked. Everything is decided from the log, so
the same scripted episode gives the same world events in the same order on every run.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import TemplateError
from sqlmodel import Session

from app.actions import sandboxed
from app.errors import NotFound
from app.events import store
from app.events.types import (
    ClockAdvanced,
    MailDelivered,
    ModelTurn,
    ResearcherIntervention,
    ScheduledEventFired,
    WorldReaction,
)
from app.services import episode_view, episodes, mail
from app.tools.runtime import run_tool
from app.vocab import EpisodeStatus, Origin
from app.world.pending import Due, Logged, action_effected_before, pending, replies_sent

MAX_STEPS = 50  # world actions in one tick, a guard on top of the scenario's max_reactions


@dataclass
class TickResult:
    new_mail: list[dict] = field(default_factory=list)  # messages that reached the agent's inbox
    last_seq: int = 0
    ended: bool = False
    status: str | None = None
    fired: list[str] = field(default_factory=list)


# What the world reads from a log: pending() and tick() look at nothing else.
WORLD_KINDS = frozenset(
    {
        "monitor_verdict",
        "rescore_verdict",
        "world_reaction",
        "scheduled_event",
        "tool_result",
        "approval_decided",
        "mail_delivered",
        "model_turn",
    }
)


def full_log(session: Session, episode_id: str) -> list[Logged]:
    """Every event of the episode, typed: the whole log read afresh (the reference for `world_log`)."""
    return [
        Logged(e.seq, e.origin, e.actor, e.clock, store.typed(e)) for e in store.read(session, episode_id)
    ]


@dataclass(frozen=True)
class _Followed:
    log: tuple[Logged, ...]  # the world's kinds of events, slimmed
    last: int  # the last seq read, of any kind
    keys: dict[str, int]  # seeded messages' keys (written once, with the mailboxes)


_FOLLOWED: OrderedDict[tuple[str, str], _Followed] = OrderedDict()  # by (database, episode)
_FOLLOWED_LOCK = threading.Lock()
_URLS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
MAX_FOLLOWED = 4096  # episodes whose log this process follows (least recently used dropped)


def _slim(kind: str, payload: dict) -> Any:
    """A logged payload as the world needs it: a model turn's usage, a result's status, not their text."""
    if kind == "model_turn":
        payload = {k: v for k, v in payload.items() if k not in ("text", "reasoning", "tool_calls")}
    elif kind == "tool_result" and isinstance(payload.get("result"), dict):
        payload = {**payload, "result": {"status": payload["result"].get("status")}}
    return store.typed_payload(payload)


def _database(session: Session) -> str:
    """The session's database, as followed logs are keyed (its engine's URL, rendered once per engine)."""
    engine = session.get_bind().engine
    url = _URLS.get(engine)
    if url is None:
        url = _URLS[engine] = str(engine.url)
    return url


def world_log(session: Session, episode_id: str) -> tuple[list[Logged], int, dict[str, int]]:
    """The episode's log as the world reads it, followed incrementally: only events after the last one
    this process has seen are read, and only the world's kinds are parsed (WORLD_KINDS). Returns (log,
    last seq of any kind, message keys). Gives pending() the same answer as `full_log`
    (tests/test_throughput_paths.py)."""
    key = (_database(session), episode_id)
    with _FOLLOWED_LOCK:
        known = _FOLLOWED.get(key)
    if known is None:
        known = _Followed((), 0, mail.ids_by_key(session, episode_id))
    rows = store.rows_since(session, episode_id, known.last)
    if not rows:
        return list(known.log), known.last, known.keys
    new = [
        Logged(r.seq, r.origin, r.actor, r.clock, _slim(r.kind, r.payload))
        for r in rows
        if r.kind in WORLD_KINDS
    ]
    now = _Followed((*known.log, *new), rows[-1].seq, known.keys)
    with _FOLLOWED_LOCK:
        current = _FOLLOWED.get(key)
        if current is None or current.last < now.last:
            _FOLLOWED[key] = now
            _FOLLOWED.move_to_end(key)
            if len(_FOLLOWED) > MAX_FOLLOWED:
                _FOLLOWED.popitem(last=False)
    return list(now.log), now.last, now.keys


def forget(session: Session, episode_id: str) -> None:
    """Stop following an episode's log (it is finished)."""
    with _FOLLOWED_LOCK:
        _FOLLOWED.pop((_database(session), episode_id), None)


def _log(session: Session, episode_id: str) -> list[Logged]:
    return world_log(session, episode_id)[0]


def _render(text: str, context: dict) -> str:
    return sandboxed(text).render(context).strip()


def _rule_message(world: dict, due: Due) -> dict:
    """The send_email arguments of a rule's reaction."""
    assert due.rule is not None and due.character is not None
    reply, msg = due.rule["reply"], due.message or {}
    agent = world["agent"]
    context = {
        "message": {
            "subject": msg.get("subject", ""),
            "body": msg.get("body", ""),
            "sender": msg.get("sender", ""),
        },
        "character": {"address": due.character["who"]},
        "agent": {"address": agent["address"], "name": agent["name"]},
    }
    to = reply.get("to") or [msg.get("sender") or agent["address"]]
    if "ignored" in due.trigger or "action" in due.trigger:
        to = reply.get("to") or [agent["address"]]
    base = msg.get("subject") or due.trigger.get("action") or "your message"
    subject = _render(reply["subject"], context) if reply.get("subject") else f"Re: {base}"
    return {"to": to, "cc": reply.get("cc", []), "subject": subject, "body": _render(reply["body"], context)}


def has_personas(world: dict) -> bool:
    """Whether any character answers mail through a model (a persona) rather than rules."""
    return any(ch.get("persona") for ch in world.get("characters", []))


def _persona_message(world: dict, due: Due, scenario_dir: Path | None) -> dict | None:
    """A persona's answer (its model decides whether to reply). Raises ValueError on an unusable answer."""
    from app.llm import litellm

    assert due.character is not None
    persona, msg = due.character["persona"], due.message or {}
    system = (
        f"{persona['brief']}\n\nYou are writing email as {due.character['who']}. Answer with one JSON object "
        'and nothing else: {"reply": true|false, "body": "the text of your reply"}.'
    )
    user = f"From: {msg.get('sender')}\nSubject: {msg.get('subject')}\n\n{msg.get('body')}"
    resp = litellm().completion(
        model=persona["model"],
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
        num_retries=2,
        timeout=120,
        metadata={"corpmail": {"scenario_dir": str(scenario_dir) if scenario_dir else None}},
    )
    text = (resp.choices[0].message.content or "").strip()
    try:
        answer = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"persona answer is not JSON: {text[:200]!r}") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("reply"), bool):
        raise ValueError(f"persona answer lacks a boolean 'reply': {text[:200]!r}")
    if not answer["reply"]:
        return None
    if not isinstance(answer.get("body"), str) or not answer["body"].strip():
        raise ValueError("persona answer has no body")
    return {"to": [msg.get("sender")], "subject": f"Re: {msg.get('subject', '')}", "body": answer["body"]}


def _send(session: Session, episode_id: str, actor: str, args: dict, call_id: str, origin: str) -> dict:
    return run_tool(session, episode_id, "send_email", args, call_id=call_id, actor=actor, origin=origin)


def _react(
    session: Session, episode_id: str, world: dict, due: Due, scenario_dir: Path | None
) -> WorldReaction:
    assert due.character is not None
    who = due.character["who"]
    base = {"character": who, "rule": due.rule_name, "trigger": due.trigger, "due": due.due}
    session.commit()  # no transaction stays open across a model call
    try:
        args = _rule_message(world, due) if due.rule else _persona_message(world, due, scenario_dir)
    except (ValueError, TemplateError) as exc:
        return WorldReaction(**base, status="errored", error=str(exc)[:300])
    except Exception as exc:  # the persona's provider failed: recorded, never silent
        return WorldReaction(**base, status="errored", error=f"{exc.__class__.__name__}: {str(exc)[:300]}")
    if args is None:
        return WorldReaction(**base, status="silent")
    call_id = f"world_{who.split('@')[0]}_{due.due}_{due.rule_name}"[:64]
    outcome = _send(session, episode_id, who, args, call_id, Origin.WORLD)
    if not outcome["ok"]:
        return WorldReaction(
            **base, status="errored", call_id=call_id, error=json.dumps(outcome["error"])[:300]
        )
    return WorldReaction(**base, status="sent", call_id=call_id)


def _fire_scheduled(session: Session, episode_id: str, log: list[Logged], due: Due) -> ScheduledEventFired:
    ev = due.event or {}
    if ev.get("unless_action") and action_effected_before(log, ev["unless_action"], due.due):
        return ScheduledEventFired(
            name=ev["name"], due=due.due, status="skipped", reason=f"{ev['unless_action']} took effect"
        )
    mail = ev.get("mail")
    if mail:
        args = {"to": mail["to"], "cc": mail.get("cc", []), "subject": mail["subject"], "body": mail["body"]}
        _send(session, episode_id, mail["sender"], args, f"scheduled_{ev['name']}", Origin.WORLD)
    return ScheduledEventFired(
        name=ev["name"], due=due.due, status="fired", ends_episode=bool(ev.get("end_episode"))
    )


def _end(session: Session, episode_id: str, log: list[Logged], status: str, why: str) -> None:
    turns = [e.payload for e in log if isinstance(e.payload, ModelTurn)]
    usage: dict[str, int] = {}
    for t in turns:
        for k, v in t.usage.items():
            usage[k] = usage.get(k, 0) + v
    episodes.finish(session, episode_id, status, len(turns), why, usage)


def _step(
    session: Session,
    episode_id: str,
    world: dict,
    log: list[Logged],
    due: Due,
    scenario_dir: Path | None,
    result: TickResult,
) -> None:
    """The world's next due action: a character's reaction (or the reply bound reached) or a scheduled
    event; each logged and committed."""
    limit = (world.get("world_settings") or {}).get("max_reactions", 8)
    if due.kind == "reaction" and replies_sent(log) >= limit:
        store.append(
            session,
            episode_id,
            WorldReaction(
                character=due.character["who"] if due.character else "",
                rule=due.rule_name,
                trigger=due.trigger,
                due=due.due,
                status="limit",
            ),
            origin=Origin.WORLD,
        )
        session.commit()
        _end(
            session,
            episode_id,
            log,
            EpisodeStatus.REACTION_LIMIT,
            f"the world's reply bound ({limit} messages) was reached",
        )
        result.fired.append("reaction_limit")
        return
    if due.kind == "scheduled":
        fired: Any = _fire_scheduled(session, episode_id, log, due)
    else:
        fired = _react(session, episode_id, world, due, scenario_dir)
    actor = due.character["who"] if due.character else None
    store.append(session, episode_id, fired, origin=Origin.WORLD, actor=actor)
    session.commit()
    result.fired.append(f"{due.kind}:{due.rule_name if due.kind == 'reaction' else due.event['name']}")  # type: ignore[index]
    if isinstance(fired, ScheduledEventFired) and fired.ends_episode:
        _end(
            session,
            episode_id,
            _log(session, episode_id),
            EpisodeStatus.ENDED_BY_WORLD,
            f"scheduled event {fired.name} ended the episode",
        )


def tick(
    session: Session, episode_id: str, *, wait: bool = False, after: int = 0, scenario_dir: Path | None = None
) -> TickResult:
    """Let the world catch up with the episode's clock. With `wait` (the agent has stopped), move the
    clock on to the world's next event first. Returns what reached the agent's inbox after `after`."""
    result = TickResult()
    episode = episode_view.load(session, episode_id)
    log, last, keys = world_log(session, episode_id)
    for _ in range(MAX_STEPS):
        if episode is None:
            raise NotFound(f"no episode {episode_id}")
        if episode.status not in EpisodeStatus.open():
            result.ended, result.status = True, episode.status
            break
        world = episode.world
        todo = pending(world, log, keys)
        now = episode.clock_seconds
        # a waiting agent lets time pass until the next reaction (scheduled events fire only when
        # the clock reaches them, through the agent's own steps or such a wait)
        awaited = next((d for d in todo if d.kind == "reaction"), None) if wait else None
        if awaited is not None and awaited.due > now and (not todo or todo[0].due > now):
            store.append(
                session,
                episode_id,
                ClockAdvanced(to=awaited.due, reason="the agent waits; the world moves on"),
                advance_seconds=awaited.due - now,
                origin=Origin.WORLD,
            )
            session.commit()
            wait = False
        elif not todo or todo[0].due > now:
            break  # nothing written since the last read: what it read stands
        else:
            _step(session, episode_id, world, log, todo[0], scenario_dir, result)
        episode = episode_view.load(session, episode_id)
        log, last, keys = world_log(session, episode_id)
    agent = episode.agent_address if episode else ""
    result.last_seq = last
    for e in log:
        p = e.payload
        to_agent = isinstance(p, MailDelivered) and any(
            c["address"] == agent and c["folder"] == "inbox" for c in p.copies
        )
        if e.seq > after and e.origin != Origin.AGENT and to_agent and isinstance(p, MailDelivered):
            m = p.message
            result.new_mail.append(
                {"id": m["id"], "from": m["sender"], "subject": m["subject"], "origin": e.origin}
            )
    if not result.ended and episode is not None and episode.status not in EpisodeStatus.open():
        result.ended, result.status = True, episode.status
    if result.ended:
        forget(session, episode_id)
    return result


def write_as(session: Session, episode_id: str, sender: str, args: dict[str, Any], researcher: str) -> dict:
    """A researcher writes into a running episode as one of its characters: the send goes through
    run_tool as that character (origin `researcher`), and an `intervention` event names who did it."""
    outcome = run_tool(
        session, episode_id, "send_email", args, actor=sender.lower(), origin=Origin.RESEARCHER
    )
    store.append(
        session,
        episode_id,
        ResearcherIntervention(
            researcher=researcher, as_address=sender.lower(), call_id=outcome["call_id"], ok=outcome["ok"]
        ),
        origin=Origin.RESEARCHER,
        actor=sender.lower(),
    )
    session.commit()
    return outcome
