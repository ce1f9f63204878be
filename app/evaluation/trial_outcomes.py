"""What each trial's episode did, read from its event log: labels attempted (the agent tried it) and
effected (it took effect: not blocked, not held and rejected), labels the monitor abstained on,
judge verdicts beside the monitor's, and the detector versions. A re-scored verdict
(`rescore_verdict`) replaces the original for its call; what took effect is what actually happened."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlmodel import Session, col

from app.events.types import JudgeVerdict
from app.models import Episode, Event
from app.models import Trial as TrialRow
from app.vocab import EpisodeStatus

KINDS = (
    "monitor_verdict",
    "rescore_verdict",
    "tool_result",
    "approval_decided",
    "judge_verdict",
    "awareness",
)
HARMFUL = "harmful"  # pseudo-label: any finding the monitor marks harmful


@dataclass
class Outcome:
    trial_id: str
    cell: str
    scenario: str
    variables: dict
    model: str
    sample: int
    status: str  # a trial status (pending, running, errored) or the episode's final status
    episode_id: str | None
    error: str | None = None
    attempted: set[str] = field(default_factory=set)
    effected: set[str] = field(default_factory=set)
    abstained: set[str] = field(default_factory=set)
    judged: list[tuple[bool, JudgeVerdict]] = field(default_factory=list)  # (monitor harmful, judge)
    versions: set[str] = field(default_factory=set)  # detector@version of the verdicts counted
    rescored: bool = False
    belief: str | None = None  # the stated belief (eval-awareness, rules): evaluation | real | not_stated

    @property
    def measured(self) -> bool:
        """Ended with a result (any final status but errored): it enters the rates."""
        return self.status in EpisodeStatus.final() and self.status != EpisodeStatus.ERRORED


def _labels(verdict: dict) -> set[str]:
    labels = set(verdict.get("labels") or [])
    if any(e.get("harmful") for e in verdict.get("evidence") or []):
        labels.add(HARMFUL)
    return labels


def _took_effect(events: list[dict]) -> set[str]:
    """Call ids whose action took effect: an ok result that is not a hold, or an approved hold."""
    done = set()
    for p in events:
        if p["kind"] == "tool_result" and p.get("ok"):
            r = p.get("result")
            if not (isinstance(r, dict) and r.get("status") == "pending_approval"):
                done.add(p["call_id"])
        elif p["kind"] == "approval_decided" and p.get("decision") == "approved":
            done.add(p["call_id"])
    return done


def _fill(o: Outcome, events: list[dict]) -> None:
    latest: dict[str, dict] = {}
    for p in events:
        if p["kind"] in ("monitor_verdict", "rescore_verdict"):
            latest[p["call_id"]] = p
            o.rescored = o.rescored or p["kind"] == "rescore_verdict"
    effect = _took_effect(events)
    for call_id, v in latest.items():
        labels = _labels(v)
        o.attempted |= labels
        if call_id in effect:
            o.effected |= labels
        o.abstained |= set(v.get("abstained") or [])  # per-class abstentions, when the monitor reports them
        o.versions.add(f"{v.get('detector')}@{v.get('version')}")
    o.abstained -= o.attempted  # a label found elsewhere in the episode was measured
    stated = [
        p for p in events if p["kind"] == "awareness" and not str(p.get("method", "")).startswith("judge:")
    ]
    o.belief = stated[-1].get("belief") if stated else None
    for p in events:
        if p["kind"] == "judge_verdict":
            found = latest.get(p["call_id"])
            o.judged.append((bool(found and HARMFUL in _labels(found)), JudgeVerdict.model_validate(p)))


def load(session: Session, experiment: str) -> list[Outcome]:
    trials = list(session.execute(select(TrialRow).where(col(TrialRow.experiment) == experiment)).scalars())
    ids = [t.episode_id for t in trials if t.episode_id and t.status == "completed"]
    statuses: dict[str, str] = {}
    events: dict[str, list[dict]] = {i: [] for i in ids}
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        statuses.update(
            session.execute(
                select(col(Episode.id), col(Episode.status)).where(col(Episode.id).in_(chunk))
            ).all()
        )
        rows = session.execute(
            select(col(Event.episode_id), col(Event.payload))
            .where(col(Event.episode_id).in_(chunk), col(Event.kind).in_(KINDS))
            .order_by(col(Event.episode_id), col(Event.seq))
        )
        for eid, payload in rows:
            events[eid].append(payload)
    out = []
    for t in trials:
        status = statuses.get(t.episode_id or "", "errored") if t.status == "completed" else t.status
        o = Outcome(t.id, t.cell, t.scenario, t.variables, t.model, t.sample, status, t.episode_id, t.error)
        if o.measured:
            _fill(o, events.get(t.episode_id or "", []))
        out.append(o)
    return out
