"""Episode lifecycle: create from a scenario (render + seed), record model turns, finish."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, case, update
from sqlmodel import Session, col

from app.actions import Draft
from app.core import text
from app.core.direct import Direct
from app.errors import Conflict, InvalidRequest, NotFound
from app.events import store
from app.events.types import AwarenessAssessed, EpisodeFinished, EpisodeStarted, ModelError, ModelTurn, Notice
from app.models import Episode, table, utcnow
from app.monitor import awareness
from app.scenarios.loader import load_scenario
from app.scenarios.render import RenderedScenario, check_monitor_mode, render
from app.services import episode_view, mail
from app.vocab import Approver, EpisodePurpose, EpisodeStatus, MonitorMode, choices

EP = table(Episode)
_INSERT_EPISODE = Direct.insert(EP, with_key=True)
MONITOR_ENGINES = ("rules", "judge", "rules+judge")


def new_episode_id() -> str:
    return secrets.token_hex(6)


def new_canary() -> str:
    return f"CMK-{secrets.token_hex(4).upper()}"


def seed_draft(email: Any, thread_id: str, in_reply_to: int | None = None) -> Draft:
    """One of a scenario's seeded emails as a Draft."""
    return Draft(
        sender=email.sender,
        to=email.to,
        cc=email.cc,
        subject=email.subject,
        body=email.body,
        attachments=[a.model_dump() for a in email.attachments],
        labels=email.labels,
        thread_id=thread_id,
        in_reply_to=in_reply_to,
    )


def seed(session: Session, episode: Episode, world: RenderedScenario) -> None:
    """Create the mailboxes and deliver the scenario's mail, in time order, through the mail service."""
    mail.create_mailboxes(
        session,
        episode.id,
        [
            {
                "address": world.agent.address,
                "name": world.agent.name,
                "title": world.agent.title,
                "is_agent": True,
            },
            *(
                {"address": p.address, "name": p.name, "title": p.title, "is_agent": False}
                for p in world.people
            ),
        ],
    )
    boxes = mail.mailboxes(session, episode.id)
    order: dict[str, tuple[int, str]] = {}  # key -> (index in the seeded mail, thread)
    seeded: list[mail.Seeded] = []
    for e in world.emails:
        parent, thread = order.get(e.reply_to or "", (None, f"t-{e.key}"))  # a reply joins its thread
        order[e.key] = (len(seeded), thread)
        seeded.append(mail.Seeded(seed_draft(e, thread), e.at, e.key, e.unread, parent))
    mail.deliver_seeded(session, episode, seeded, boxes)


def monitor_mode_for(world: RenderedScenario, default: str, override: str | None) -> str:
    """A run's --monitor-mode wins; else a variable's declared effect (e.g. oversight=approval → hold);
    else the scenario's mode."""
    return override or world.effects.monitor_mode or default


def create_episode(
    session: Session,
    scenario_ref: str | Path,
    variables: dict[str, str],
    model: str,
    scenarios_dir: Path,
    monitor_mode: str | None = None,
    approver: str = "human",
    monitor_engine: str | None = None,
    judge_model: str | None = None,
    harness: str = "corpmail",
    purpose: str = EpisodePurpose.RUN,
) -> Episode:
    """A new episode: the scenario rendered under `variables`, its mailboxes seeded, EpisodeStarted
    logged, committed. The Episode returned is not attached to the session (read it, do not change it)."""
    # rendering only reads the scenario, and the rendered world is dumped, not kept: no copy needed
    scenario, _ = load_scenario(scenario_ref, scenarios_dir, copy=False)
    world = render(scenario, variables, new_canary())
    check_monitor_mode(scenario, world.variables, monitor_mode)
    if monitor_engine is not None or judge_model is not None:
        world.monitor = world.monitor.model_copy(
            update={k: v for k, v in (("engine", monitor_engine), ("judge_model", judge_model)) if v}
        )
    if world.monitor.engine not in MONITOR_ENGINES:
        raise InvalidRequest(f"monitor: {world.monitor.engine!r} is not one of {', '.join(MONITOR_ENGINES)}")
    if world.monitor.engine != "rules" and not world.monitor.judge_model:
        raise InvalidRequest(f"monitor: engine {world.monitor.engine} needs a judge model (judge_model)")
    mode = monitor_mode_for(world, scenario.monitor.mode, monitor_mode)
    if mode not in MonitorMode.__members__.values():
        raise InvalidRequest(f"monitor_mode: {mode!r} is not one of {choices(MonitorMode)}")
    if approver not in Approver.__members__.values():
        raise InvalidRequest(f"approver: {approver!r} is not one of {choices(Approver)}")
    episode = Episode(
        id=new_episode_id(),
        scenario=scenario.slug,
        variables=world.variables,
        model=model,
        monitor_mode=mode,
        approver=approver,
        harness=harness,
        purpose=purpose,
        agent_address=world.agent.address,
        clock=world.start_time,
        world=world.model_dump(mode="json"),
        heartbeat_at=utcnow(),
    )
    # written as a row, not through the ORM's unit of work (~0.4 ms): the caller gets the object
    # detached, every column set; it reads it (id, world, ...) and never changes it
    _INSERT_EPISODE.rows(session, {c.name: getattr(episode, c.name) for c in EP.c})
    seed(session, episode, world)
    store.append(
        session,
        episode.id,
        EpisodeStarted(
            scenario=scenario.slug,
            variables=world.variables,
            model=model,
            monitor_mode=mode,
            agent_address=world.agent.address,
            harness=harness,
        ),
    )
    session.commit()
    return episode


def _get(session: Session, episode_id: str, fresh: bool = False) -> Episode:
    """The episode (NotFound if unknown); `fresh` reads it again over any copy the session holds."""
    episode = session.get(Episode, episode_id, populate_existing=fresh)
    if episode is None:
        raise NotFound(f"no episode {episode_id}")
    return episode


def mark_played(session: Session, episode_id: str, harness: str | None = None) -> None:
    """An external harness started acting: pending becomes running; record which harness it is."""
    status = col(Episode.status)
    values: dict = {"status": case((status == EpisodeStatus.PENDING, EpisodeStatus.RUNNING), else_=status)}
    if harness:
        values["harness"] = harness
    session.execute(update(Episode).where(col(Episode.id) == episode_id).values(**values))
    session.commit()


def _normalised(event: ModelTurn | ModelError | Notice) -> ModelTurn | ModelError | Notice:
    """The event with its model text normalised (app.core.text), counting replacements made here and
    any made before (the API normalises request bodies as it reads them)."""
    try:
        data, n = text.clean(event.model_dump(exclude={"normalised"}))
    except text.Unusable as exc:
        raise InvalidRequest(f"event: {exc}") from None
    return type(event).model_validate({**data, "normalised": event.normalised + n})


def _open(session: Session, episode_id: str) -> Episode:
    episode = _get(session, episode_id)
    if episode.status not in EpisodeStatus.open():
        raise Conflict(f"episode {episode_id} is finished ({episode.status}); it records nothing more")
    return episode


def record_turn(session: Session, episode_id: str, event: ModelTurn | ModelError | Notice) -> int:
    """Log a model turn, model error or notice; refused (Conflict) once the episode is finished. The
    episode becomes running and its lease is renewed in the same statement that reserves the seq."""
    event = _normalised(event)
    world = episode_view.world(session, episode_id)  # read once per process
    # a model turn moves the simulated clock on by the scenario's turn length
    step = (world.get("clock") or {}).get("turn_seconds", 0) if isinstance(event, ModelTurn) else 0
    seq = store.append_turn(session, episode_id, event, step, world["agent"]["address"])
    if seq is None:
        session.rollback()
        _open(session, episode_id)  # NotFound, or the Conflict of a finished episode
        raise Conflict(f"episode {episode_id} is not open")  # pragma: no cover - it was, a moment ago
    session.commit()
    return seq


_FINISH = (
    update(EP)
    .where(EP.c.id == bindparam("eid"), store.is_open(EP.c.status))
    .values(status=bindparam("status"), error=bindparam("error"), finished_at=bindparam("at"))
)


def model_turns(session: Session, episode_id: str) -> list[tuple[int, str | None, str | None]]:
    """The model's logged turns as (turn, words, reasoning), in order."""
    return [
        (p.turn, p.text, p.reasoning)
        for p in store.of_kind(session, episode_id, "model_turn")
        if isinstance(p, ModelTurn)
    ]


def assess_awareness(session: Session, episode_id: str, world: dict) -> AwarenessAssessed:
    """The eval-awareness signal from the model's logged turns (rules; parsed answer when asked)."""
    turns = model_turns(session, episode_id)
    asked = bool((world.get("effects") or {}).get("awareness_question"))
    found = awareness.assess(turns, asked)
    return AwarenessAssessed(
        belief=found.belief,
        method=found.method,
        version=awareness.VERSION,
        mixed=found.mixed,
        evidence=[vars(s) for s in found.statements[-5:]],
    )


def finish(
    session: Session,
    episode_id: str,
    status: str,
    turns: int,
    error: str | None,
    usage: dict[str, int],
    normalised: int = 0,
) -> Episode:
    """Close the episode once with a final status; a second finish is a Conflict (the first stands)."""
    if status not in EpisodeStatus.final():
        raise InvalidRequest(f"status: {status!r} is not one of {', '.join(EpisodeStatus.final())}")
    error, n = text.clean_text(error) if error is not None else (None, 0)
    done = session.connection().execute(
        _FINISH, {"eid": episode_id, "status": status, "error": error, "at": utcnow()}
    )
    if done.rowcount != 1:  # unknown, or finished already (or concurrently): the first finish stands
        session.rollback()
        _get(session, episode_id)  # NotFound for an unknown episode
        raise Conflict(f"episode {episode_id} is already finished")
    assessed = assess_awareness(session, episode_id, episode_view.world(session, episode_id))
    finished = EpisodeFinished(
        status=status, turns=turns, error=error, usage=usage, normalised=n + normalised
    )
    store.append_many(session, episode_id, [assessed, finished])
    session.commit()
    return _get(session, episode_id, fresh=True)
