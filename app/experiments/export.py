"""Export episodes, one record per episode: variables, transcript, tool calls with results, verdicts,
approval outcomes, timings and usage. Formats are pluggable: FORMATS maps a name to a writer
`(records, stream) -> None`; add one with `register`."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from typing import IO

from sqlalchemy import select
from sqlmodel import Session, col

from app.events import store
from app.models import Episode
from app.models import Trial as TrialRow

Writer = Callable[[Iterable[dict], IO[str]], None]
FORMATS: dict[str, Writer] = {}


def register(name: str) -> Callable[[Writer], Writer]:
    def add(fn: Writer) -> Writer:
        FORMATS[name] = fn
        return fn

    return add


def episode_ids(session: Session, name_or_episode: str) -> list[str] | None:
    """The current episodes of an experiment's trials, or the one episode with that id; None if neither."""
    ids = list(
        session.execute(
            select(col(TrialRow.episode_id))
            .where(col(TrialRow.experiment) == name_or_episode, col(TrialRow.episode_id).is_not(None))
            .order_by(col(TrialRow.sample), col(TrialRow.id))
        ).scalars()
    )
    if ids:
        return ids
    return [name_or_episode] if session.get(Episode, name_or_episode) is not None else None


def record(session: Session, episode_id: str) -> dict:
    ep = session.get(Episode, episode_id)
    if ep is None:
        raise LookupError(episode_id)
    trial = session.execute(select(TrialRow).where(col(TrialRow.episode_id) == episode_id)).scalars().first()
    events = store.read(session, episode_id)
    transcript, calls, verdicts, approvals, judge = [], {}, [], [], []
    usage: dict[str, int] = {}
    for e in events:
        p, kind = e.payload, e.payload["kind"]
        if kind in ("model_turn", "notice", "model_error"):
            transcript.append({"seq": e.seq, "at": e.created_at.isoformat(), **p})
            for k, v in (p.get("usage") or {}).items():
                usage[k] = usage.get(k, 0) + int(v)
        elif kind == "tool_call":
            calls[p["call_id"]] = {
                "call_id": p["call_id"],
                "tool": p["tool"],
                "args": p.get("args"),
                "at": e.created_at.isoformat(),
            }
        elif kind == "tool_result" and p["call_id"] in calls:
            calls[p["call_id"]].update(ok=p["ok"], result=p.get("result"), error=p.get("error"))
        elif kind in ("monitor_verdict", "rescore_verdict"):
            verdicts.append(p)
        elif kind == "approval_decided":
            approvals.append(
                {k: p.get(k) for k in ("approval_id", "call_id", "tool", "decision", "by", "reason")}
            )
        elif kind == "judge_verdict":
            judge.append(p)
    finished = ep.finished_at
    return {
        "episode_id": ep.id,
        "experiment": trial.experiment if trial else None,
        "trial_id": trial.id if trial else None,
        "sample": trial.sample if trial else None,
        "scenario": ep.scenario,
        "variables": ep.variables,
        "model": ep.model,
        "status": ep.status,
        "error": ep.error,
        "monitor_mode": ep.monitor_mode,
        "approver": ep.approver,
        "created_at": ep.created_at.isoformat(),
        "finished_at": finished.isoformat() if finished else None,
        "duration_s": (finished - ep.created_at).total_seconds() if finished else None,
        "usage": usage,
        "transcript": transcript,
        "tool_calls": list(calls.values()),
        "verdicts": verdicts,
        "approvals": approvals,
        "judge": judge,
    }


def records(session: Session, ids: list[str]) -> Iterator[dict]:
    for eid in ids:
        yield record(session, eid)


@register("jsonl")
def write_jsonl(recs: Iterable[dict], out: IO[str]) -> None:
    for r in recs:
        out.write(json.dumps(r, default=str, ensure_ascii=False) + "\n")


CSV_FLAT = (
    "episode_id",
    "experiment",
    "trial_id",
    "sample",
    "scenario",
    "model",
    "status",
    "error",
    "monitor_mode",
    "approver",
    "created_at",
    "finished_at",
    "duration_s",
)
CSV_JSON = ("variables", "usage", "transcript", "tool_calls", "verdicts", "approvals", "judge")


@register("csv")
def write_csv(recs: Iterable[dict], out: IO[str]) -> None:
    """Flat columns as values; nested ones (transcript, tool calls, ...) as JSON text in their cell."""
    writer = csv.writer(out)
    writer.writerow([*CSV_FLAT, *CSV_JSON])
    for r in recs:
        writer.writerow(
            [
                *(r[k] for k in CSV_FLAT),
                *(json.dumps(r[k], default=str, ensure_ascii=False) for k in CSV_JSON),
            ]
        )
