"""Experiment and trial rows (the only writer): insert a grid's trials, claim trials atomically, attach
episodes, finish trials, recover trials whose runner is gone (a dead process on this host, or an
expired lease), and count them. The experiments layer (config, grid, runner) sits above and calls this."""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult
from sqlmodel import Session, col

from app.models import Episode, Experiment, utcnow
from app.models import Trial as TrialRow
from app.services import leases

TRIAL_STATUSES = ("pending", "running", "completed", "errored")


def runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _runner_dead(claimed_by: str | None) -> bool:
    """A runner on this host whose process no longer exists."""
    if not claimed_by:
        return True
    host, _, rest = claimed_by.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class ScenarioChanged(ValueError):
    """A scenario's content differs from the version an experiment's trials were made from."""


def insert(
    session: Session, name: str, config: dict, scenario_hashes: dict[str, str], trials: list[dict]
) -> int:
    """Create or update the experiment and insert its missing trials (dicts of Trial's fields);
    returns how many were new. A scenario whose content changed since trials were made from it is
    refused (never mixed)."""
    exp = session.get(Experiment, name)
    if exp is None:
        exp = Experiment(name=name, config={}, scenario_hashes={})
        session.add(exp)
    for slug, h in scenario_hashes.items():
        old = exp.scenario_hashes.get(slug)
        if old and old != h:
            used = session.execute(
                select(func.count())
                .select_from(TrialRow)
                .where(
                    col(TrialRow.experiment) == name,
                    col(TrialRow.scenario) == slug,
                    col(TrialRow.scenario_hash) == old,
                )
            ).scalar_one()
            if used:
                raise ScenarioChanged(
                    f"scenarios: {slug} changed since experiment {name!r} ran on it (content {old[:8]} -> "
                    f"{h[:8]}, {used} trials); give the experiment a new name to run the new version"
                )
    exp.config = config
    exp.scenario_hashes = {**exp.scenario_hashes, **scenario_hashes}
    exp.updated_at = utcnow()
    session.flush()
    have = set(session.execute(select(col(TrialRow.id)).where(col(TrialRow.experiment) == name)).scalars())
    new = [t for t in trials if t["id"] not in have]
    for t in new:
        session.add(TrialRow(**t, result={}))
    session.commit()
    return len(new)


def set_status(session: Session, name: str, status: str, message: str | None = None) -> None:
    session.execute(
        update(Experiment)
        .where(col(Experiment.name) == name)
        .values(status=status, message=message, updated_at=utcnow())
    )
    session.commit()


def claim(session: Session, trial_id: str, runner: str) -> bool:
    """Take a pending or errored trial for this runner; False if it is done or someone else has it."""
    done = session.execute(
        update(TrialRow)
        .where(col(TrialRow.id) == trial_id, col(TrialRow.status).in_(("pending", "errored")))
        .values(status="running", claimed_by=runner, claimed_at=utcnow(), error=None)
    )
    session.commit()
    return bool(cast(CursorResult, done).rowcount)


def attach(session: Session, trial_id: str, episode_id: str) -> None:
    row = session.get(TrialRow, trial_id)
    if row is None:
        raise LookupError(trial_id)
    row.episode_id = episode_id
    row.attempts = [*row.attempts, episode_id]
    session.commit()


def finish(
    session: Session, trial_id: str, status: str, error: str | None, result: dict, runner: str | None = None
) -> bool:
    """Write a trial's outcome. With `runner`, only while that runner still holds the claim (a runner
    whose trial was recovered meanwhile writes nothing): a trial's result is written once."""
    query = update(TrialRow).where(col(TrialRow.id) == trial_id)
    if runner is not None:
        query = query.where(col(TrialRow.status) == "running", col(TrialRow.claimed_by) == runner)
    done = session.execute(query.values(status=status, error=error, result=result))
    session.commit()
    return bool(cast(CursorResult, done).rowcount)


def release(session: Session, trial_id: str, runner: str, reason: str) -> bool:
    """Give back a trial this runner holds (it is stopping): errored with `reason`, its open episode
    errored (runner lost), so the next claim re-runs it at once instead of after the lease."""
    row = session.get(TrialRow, trial_id)
    if not finish(session, trial_id, "errored", reason, {}, runner):
        return False
    if row is not None and row.episode_id:
        leases.mark_lost(session, [row.episode_id])
    return True


def queueable(session: Session, experiment: str) -> list[str]:
    """Ids of the trials a queue should carry: not completed and not held (pending or errored)."""
    return list(
        session.execute(
            select(col(TrialRow.id))
            .where(col(TrialRow.experiment) == experiment, col(TrialRow.status).in_(("pending", "errored")))
            .order_by(col(TrialRow.sample), col(TrialRow.id))
        ).scalars()
    )


def recover(session: Session, experiment: str, lease: float, trial_id: str | None = None) -> int:
    """Running trials (of an experiment, or the one `trial_id`) whose runner is gone become errored
    (their open episode: errored, runner lost), so the next claim re-runs them. Gone: a dead process on
    this host, or no sign of life within the lease."""
    cutoff = utcnow() - timedelta(seconds=lease)
    which = col(TrialRow.id) == trial_id if trial_id is not None else col(TrialRow.experiment) == experiment
    rows = session.execute(
        select(TrialRow, Episode)
        .outerjoin(Episode, col(Episode.id) == col(TrialRow.episode_id))
        .where(which, col(TrialRow.status) == "running")
    ).all()
    lost = 0
    for trial, ep in rows:
        # the runner's latest sign of life: its claim, or its episode's heartbeat. The claim counts
        # too: a trial claimed again after a lost attempt still names that attempt's episode (stale
        # by then) until the new runner's episode starts, and must not look lost meanwhile
        signs = [leases._aware(trial.claimed_at)]
        if ep is not None:
            signs.append(leases._aware(ep.heartbeat_at) or leases._aware(ep.created_at))
        last = max((t for t in signs if t is not None), default=None)
        if not (_runner_dead(trial.claimed_by) or last is None or last < cutoff):
            continue
        taken = session.execute(
            update(TrialRow)
            .where(
                col(TrialRow.id) == trial.id,
                col(TrialRow.status) == "running",
                col(TrialRow.claimed_by) == trial.claimed_by,
            )
            .values(status="errored", error=leases.RUNNER_LOST)
        )
        session.commit()
        taken_n = cast(CursorResult, taken).rowcount
        if taken_n and trial.episode_id:
            leases.mark_lost(session, [trial.episode_id])
        lost += taken_n
    return lost


def counts(session: Session, experiment: str) -> dict[str, int]:
    rows = session.execute(
        select(col(TrialRow.status), func.count())
        .where(col(TrialRow.experiment) == experiment)
        .group_by(TrialRow.status)
    )
    out = dict.fromkeys(TRIAL_STATUSES, 0)
    out.update({s: int(n) for s, n in rows})
    return out


def trial_rows(session: Session, experiment: str) -> list[TrialRow]:
    return list(
        session.execute(
            select(TrialRow)
            .where(col(TrialRow.experiment) == experiment)
            .order_by(col(TrialRow.sample), col(TrialRow.id))
        ).scalars()
    )


def errored_since(session: Session, experiment: str, since: datetime) -> int:
    """Trials claimed since `since` that ended errored (a run's own errors, across its processes)."""
    return int(
        session.execute(
            select(func.count())
            .select_from(TrialRow)
            .where(
                col(TrialRow.experiment) == experiment,
                col(TrialRow.status) == "errored",
                col(TrialRow.claimed_at) >= since,
            )
        ).scalar_one()
    )


def last_error(session: Session, experiment: str) -> str | None:
    return session.execute(
        select(col(TrialRow.error))
        .where(col(TrialRow.experiment) == experiment, col(TrialRow.status) == "errored")
        .order_by(col(TrialRow.claimed_at).desc())
        .limit(1)
    ).scalar()


def settled(session: Session, experiment: str) -> bool:
    """No trial of the experiment is pending or running (every one completed or errored)."""
    left = session.execute(
        select(col(TrialRow.id))
        .where(col(TrialRow.experiment) == experiment, col(TrialRow.status).in_(("pending", "running")))
        .limit(1)
    ).first()
    return left is None
