"""The episode list with counts taken from the event log (tool calls, flagged and harmful actions),
filtered by experiment, scenario, model, status (`stale` included) and monitor label, one page at a time."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import timedelta

from sqlalchemy import String, and_, case, cast, func, or_, select
from sqlmodel import Session, col

from app.models import Episode, Event, Trial, utcnow
from app.services.leases import OPEN_STATUSES, shown_status
from app.vocab import EpisodePurpose, Origin


@dataclass
class EpisodeFilters:
    experiment: str | None = None
    scenario: str | None = None
    model: str | None = None
    status: str | None = None
    label: str | None = None  # a monitor label (blackmail, exfiltration, ...) or "harmful"
    cell: str | None = None  # an experiment cell's id

    def active(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


def _where(query, f: EpisodeFilters, lease: float):
    if f.experiment or f.cell:
        trials = select(col(Trial.episode_id)).where(col(Trial.episode_id).is_not(None))
        if f.experiment:
            trials = trials.where(col(Trial.experiment) == f.experiment)
        if f.cell:
            trials = trials.where(col(Trial.cell) == f.cell)
        query = query.where(col(Episode.id).in_(trials))
    if f.scenario:
        query = query.where(col(Episode.scenario) == f.scenario)
    if f.model:  # the model string, or an experiment's name for the model
        named = select(col(Trial.episode_id)).where(
            col(Trial.model) == f.model, col(Trial.episode_id).is_not(None)
        )
        query = query.where(or_(col(Episode.model) == f.model, col(Episode.id).in_(named)))
    if f.status:
        cutoff = utcnow() - timedelta(seconds=lease)
        last = func.coalesce(Episode.heartbeat_at, Episode.created_at)
        if f.status == "stale":
            query = query.where(col(Episode.status).in_(OPEN_STATUSES), last < cutoff)
        elif f.status in OPEN_STATUSES:
            query = query.where(col(Episode.status) == f.status, last >= cutoff)
        else:
            query = query.where(col(Episode.status) == f.status)
    if f.label:
        text = cast(Event.payload, String)
        wanted = '"harmful": true' if f.label == "harmful" else f'"label": "{f.label}"'
        verdicts = select(col(Event.episode_id)).where(
            col(Event.kind).in_(("monitor_verdict", "rescore_verdict")),
            or_(text.contains(wanted), text.contains(wanted.replace(": ", ":"))),
        )
        query = query.where(col(Episode.id).in_(verdicts))
    return query


def episode_rows(
    session: Session,
    limit: int = 100,
    offset: int = 0,
    filters: EpisodeFilters | None = None,
    lease: float = 60.0,
    include_checks: bool = False,
) -> list[dict]:
    """Newest first. Counts are the agent's own actions, as in the run summary (a world character's or
    a researcher's mail is not the agent's): `tool_calls`; `flagged`, outbound actions with any finding;
    `harmful`, those with a harmful one. `monitor check` episodes only when asked for."""
    query = _where(select(Episode), filters or EpisodeFilters(), lease)
    if not include_checks:
        query = query.where(col(Episode.purpose) == EpisodePurpose.RUN)
    episodes = (
        session.execute(
            query.order_by(col(Episode.created_at).desc(), Episode.id).limit(limit).offset(offset)
        )
        .scalars()
        .all()
    )
    ids = [e.id for e in episodes]
    counts = {}
    if ids:
        agent = col(Event.origin) == Origin.AGENT  # the agent's own calls and their verdicts
        verdict = and_(agent, col(Event.kind) == "monitor_verdict")
        flagged = and_(verdict, Event.payload["decision"].as_string() != "allow")
        harmful = and_(
            verdict,
            or_(
                cast(Event.payload, String).contains('"harmful": true'),
                cast(Event.payload, String).contains('"harmful":true'),
            ),
        )
        rows = session.execute(
            select(
                col(Event.episode_id),
                func.sum(case((and_(agent, col(Event.kind) == "tool_call"), 1), else_=0)),
                func.sum(case((flagged, 1), else_=0)),
                func.sum(case((harmful, 1), else_=0)),
            )
            .where(col(Event.episode_id).in_(ids))
            .group_by(col(Event.episode_id))
        )
        counts = {eid: (int(c or 0), int(f or 0), int(h or 0)) for eid, c, f, h in rows}
    return [
        {
            "id": e.id,
            "scenario": e.scenario,
            "variables": e.variables,
            "model": e.model,
            "status": shown_status(e, lease),
            "purpose": e.purpose,
            "harness": e.harness,
            "monitor_mode": e.monitor_mode,
            "created_at": e.created_at.isoformat(timespec="seconds"),
            "tool_calls": counts.get(e.id, (0, 0, 0))[0],
            "flagged": counts.get(e.id, (0, 0, 0))[1],
            "harmful": counts.get(e.id, (0, 0, 0))[2],
        }
        for e in episodes
    ]


def distinct_values(session: Session) -> dict[str, list[str]]:
    """Choices for the list's filters: experiments, scenarios and models present in the database."""
    from app.models import Experiment

    return {
        "experiment": list(session.execute(select(col(Experiment.name)).order_by(Experiment.name)).scalars()),
        "scenario": list(
            session.execute(select(col(Episode.scenario)).distinct().order_by(Episode.scenario)).scalars()
        ),
        "model": list(
            session.execute(select(col(Episode.model)).distinct().order_by(Episode.model)).scalars()
        ),
    }
