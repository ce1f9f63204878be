"""Experiments as queued work: procrastinate (a PostgreSQL task queue) carries one job per trial, and
worker processes on any machine play them with the runner's idempotent `run_trial`.

- **Submit** records nothing new about a trial: it queues a job `{experiment, trial}` for every trial
  that is pending or errored (lost runners recovered first) and has no job waiting or running. The
  job's queueing lock and lock are the trial id: a trial never waits in the queue twice, and two jobs
  of one trial never run at once.
- **Exactly once** comes from the trial row, not the queue (which delivers at least once): a job
  claims its trial atomically (`pending|errored → running`), a completed trial returns its stored
  result, and the result is written only while the claim is still held. A runner lost after its
  episode ended has that episode adopted as the result instead of playing a second one.
- **A killed worker loses nothing.** Its procrastinate heartbeat stops; every worker sweeps for jobs
  whose worker has been silent for the lease (`get_stalled_jobs`) and puts them back in the queue. The
  job then finds its trial held by the dead runner; it recovers the trial (`trials.recover`: a dead
  process on this host, or no sign of life - the claim or the episode's heartbeat - within the lease) and plays it — or, while the lease still
  runs, retries later (`TrialBusy`). A worker stopping cleanly gives its trials back at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.core.db import libpq_url, new_session
from app.experiments.config import ConfigError, ExperimentConfig, parse_config
from app.experiments.grid import Trial, digest, scenario_hash
from app.experiments.runner import Runner
from app.models import Experiment
from app.models import Trial as TrialRow
from app.services import trials as store

logger = logging.getLogger(__name__)

QUEUE = "corpmail_trials"
TASK = "corpmail.run_trial"
STOP_GRACE_SECONDS = 10.0  # a stopping worker lets running episodes end this long, then gives them back
_BATCH = 500


class NeedsPostgres(ValueError):
    """The queue lives in PostgreSQL; SQLite has none."""


class TrialBusy(Exception):
    """The trial is held by a runner whose lease still runs: try again later."""


def conninfo(engine: Engine) -> str:
    """The libpq connection string procrastinate's psycopg pool takes, from corpmail's engine URL."""
    if engine.dialect.name != "postgresql":
        raise NeedsPostgres(
            "the task queue needs PostgreSQL (procrastinate); this database is "
            f"{engine.dialect.name}: set CORPMAIL_DATABASE_URL=postgresql://…, or on SQLite use "
            "`corpmail experiment run FILE --workers N`"
        )
    return libpq_url(engine)


def build_app(engine: Engine, lease: float):
    """A procrastinate App on the engine's database with the one task, `corpmail.run_trial`."""
    import procrastinate
    from procrastinate import exceptions, jobs, retry

    class Retry(retry.BaseRetryStrategy):
        """Busy trial: again after a third of the lease. A worker's shutdown: at once, elsewhere.
        Anything else (a database hiccup): a few times with backoff."""

        def get_retry_decision(
            self, *, exception: BaseException, job: jobs.Job
        ) -> retry.RetryDecision | None:
            if isinstance(exception, TrialBusy):
                return retry.RetryDecision(retry_in={"seconds": max(1, round(lease / 3))})
            if isinstance(exception, exceptions.JobAborted | asyncio.CancelledError):
                return retry.RetryDecision(retry_in={"seconds": 0})
            if job.attempts < 5:
                return retry.RetryDecision(retry_in={"seconds": 2**job.attempts})
            return None

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(engine)))

    @app.task(name=TASK, queue=QUEUE, pass_context=True, retry=Retry())
    async def run_trial(context, experiment: str, trial: str) -> dict:
        work: Work = context.additional_context["corpmail"]
        return await work.run(experiment, trial)

    return app


def _job(experiment: str, trial_id: str):
    from procrastinate import jobs

    return jobs.Job(
        queue=QUEUE,
        lock=trial_id,
        queueing_lock=trial_id,
        task_name=TASK,
        task_kwargs={"experiment": experiment, "trial": trial_id},
    )


def _queued(engine: Engine, ids: list[str]) -> set[str]:
    """Trials among `ids` that already have a job waiting or running."""
    if not ids:
        return set()
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT queueing_lock FROM procrastinate_jobs WHERE task_name = :task "
                "AND status IN ('todo', 'doing') AND queueing_lock = ANY(:ids)"
            ),
            {"task": TASK, "ids": ids},
        )
        return {r[0] for r in rows}


@dataclass
class Submitted:
    queued: int  # jobs added now
    already: int  # trials that already had a job waiting or running
    counts: dict[str, int]


async def submit(engine: Engine, experiment: str, lease: float) -> Submitted:
    """Queue a job for each trial of a recorded experiment that is pending or errored and has none."""
    from procrastinate import exceptions

    def todo() -> list[str]:
        with new_session(engine) as s:
            store.recover(s, experiment, lease)
            return store.queueable(s, experiment)

    ids = await asyncio.to_thread(todo)
    app = build_app(engine, lease)
    queued = already = 0
    async with app.open_async():
        for i in range(0, len(ids), _BATCH):
            chunk = ids[i : i + _BATCH]
            have = await asyncio.to_thread(_queued, engine, chunk)
            fresh = [t for t in chunk if t not in have]
            already += len(have)
            try:
                await app.job_manager.batch_defer_jobs_async([_job(experiment, t) for t in fresh])
                queued += len(fresh)
            except exceptions.AlreadyEnqueued:  # another submit raced us: one by one, skipping its jobs
                for t in fresh:
                    try:
                        await app.job_manager.defer_job_async(_job(experiment, t))
                        queued += 1
                    except exceptions.AlreadyEnqueued:
                        already += 1
    with new_session(engine) as s:
        store.set_status(s, experiment, "queued")
        counts = store.counts(s, experiment)
    return Submitted(queued, already, counts)


async def cancel_waiting(engine: Engine, experiment: str, lease: float) -> int:
    """Take an experiment's waiting jobs out of the queue (a stopped run); returns how many."""
    app = build_app(engine, lease)
    n = 0
    async with app.open_async():
        for job in await app.job_manager.list_jobs_async(queue=QUEUE, task=TASK, status="todo"):
            if job.task_kwargs.get("experiment") == experiment and job.id is not None:
                n += bool(await app.job_manager.cancel_job_by_id_async(job.id))
    return n


def jobs_left(engine: Engine) -> int:
    """Trial jobs waiting (now or later) or running, on any worker."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = :q AND status IN ('todo', 'doing')"
                ),
                {"q": QUEUE},
            ).scalar_one()
        )


class Work:
    """What a worker process runs a job with: one in-process player and one runner per experiment
    (its config read from the experiment row, its scenarios loaded and checked once)."""

    def __init__(self, settings, engine: Engine):
        from app.play import InProcessPlayer

        self.settings, self.engine = settings, engine
        self.player = InProcessPlayer(settings, engine)
        # experiment -> (digest of its stored config, its runner, slug -> (folder, content hash here))
        self.runners: dict[str, tuple[str, Runner, dict[str, tuple[str, str]]]] = {}
        self.done = 0

    def _prepare(self, experiment: str, stored: dict) -> tuple[Runner, dict[str, tuple[str, str]]]:
        from app.scenarios.loader import ScenarioError, load_scenario

        config: ExperimentConfig = parse_config(stored, f"experiment {experiment}")
        folders: dict[str, tuple[str, str]] = {}  # slug -> (folder, content hash here)
        for ref in config.scenarios:
            try:
                spec, folder = load_scenario(ref, self.settings.scenarios_dir)
            except ScenarioError as exc:
                raise ConfigError(f"scenarios: {exc}") from None
            folders[spec.slug] = (str(folder), scenario_hash(spec))
        runner = Runner(self.settings, self.engine, config)
        runner.player = self.player
        return runner, folders

    def _trial(self, experiment: str, trial_id: str) -> tuple[Runner, Trial | None, str | None]:
        with new_session(self.engine) as s:
            exp = s.get(Experiment, experiment)
            row = s.get(TrialRow, trial_id)
        if exp is None:
            raise LookupError(f"no experiment {experiment!r}")
        key = digest(exp.config)
        if self.runners.get(experiment, ("",))[0] != key:  # new here, or submitted again with another config
            self.runners[experiment] = (key, *self._prepare(experiment, exp.config))
        _, runner, folders = self.runners[experiment]
        if row is None:
            return runner, None, None
        folder, here = folders.get(row.scenario, ("", ""))
        problem = None
        if here != row.scenario_hash:
            problem = (
                f"scenario {row.scenario} on this worker differs from the experiment's "
                f"(content {row.scenario_hash[:8]} -> {here[:8] or 'missing'})"
            )
        trial = Trial(
            row.id,
            row.experiment,
            row.cell,
            row.scenario,
            folder,
            row.scenario_hash,
            row.variables,
            row.model,
            row.sample,
        )
        return runner, trial, problem

    def _refuse(self, trial_id: str, problem: str) -> dict:
        """A trial this worker cannot play (its experiment or scenario is unusable here): errored with
        the reason, never left pending."""
        me = store.runner_id()
        with new_session(self.engine) as s:
            if store.claim(s, trial_id, me):
                store.finish(s, trial_id, "errored", f"refused: {problem}", {}, me)
        return {"status": "errored", "error": problem}

    def _recover(self, experiment: str, trial_id: str) -> int:
        with new_session(self.engine) as s:
            return store.recover(s, experiment, self.settings.lease_seconds, trial_id)

    def _settle(self, experiment: str) -> None:
        """The experiment's last trial played: mark it done (the web list shows it)."""
        with new_session(self.engine) as s:
            if store.settled(s, experiment):
                store.set_status(s, experiment, "done")

    def _release(self, runner: Runner, trial_id: str) -> None:
        with new_session(self.engine) as s:
            store.release(s, trial_id, runner.runner, "worker stopped")

    async def run(self, experiment: str, trial_id: str) -> dict:
        try:
            runner, trial, problem = await asyncio.to_thread(self._trial, experiment, trial_id)
        except (LookupError, ConfigError) as exc:
            return await asyncio.to_thread(self._refuse, trial_id, str(exc))
        if trial is None:
            return {"status": "gone"}
        if problem:
            return await asyncio.to_thread(self._refuse, trial_id, problem)
        try:
            out = await runner.run_trial(trial)
            if out["status"] == "skipped" and await asyncio.to_thread(self._recover, experiment, trial_id):
                out = await runner.run_trial(trial)  # its runner was lost: ours now
        except asyncio.CancelledError:  # the worker is stopping: give the trial back for another worker
            self._release(runner, trial_id)
            raise
        if out["status"] == "skipped":
            raise TrialBusy(f"trial {trial_id}: {out.get('reason')}")
        self.done += 1
        await asyncio.to_thread(self._settle, experiment)
        return {"status": out["status"], "error": out.get("error"), "episode_id": out.get("episode_id")}

    async def aclose(self) -> None:
        await self.player.__aexit__(None, None, None)


async def _sweep(app, lease: float) -> None:
    """Put back in the queue the jobs of workers silent for longer than the lease (killed, frozen)."""
    from procrastinate import exceptions, jobs

    while True:
        await asyncio.sleep(max(0.5, lease / 3))
        try:
            stalled = await app.job_manager.get_stalled_jobs(queue=QUEUE, seconds_since_heartbeat=lease)
        except exceptions.ConnectorException as exc:
            logger.warning("stalled-job sweep failed: %s", exc)
            continue
        for job in stalled:
            try:
                await app.job_manager.retry_job(job)
                logger.info("job %s (trial %s): its worker was lost; queued again", job.id, job.queueing_lock)
            except exceptions.UniqueViolation:  # the trial has a waiting job already: this one is redundant
                await app.job_manager.finish_job_by_id_async(job.id, jobs.Status.FAILED, delete_job=False)
            except exceptions.ConnectorException:
                pass  # another worker put it back first


async def _until_drained(engine: Engine, worker: asyncio.Task, every: float) -> None:
    """Stop the worker once no trial job is waiting or running anywhere."""
    while True:
        await asyncio.sleep(every)
        if await asyncio.to_thread(jobs_left, engine) == 0:
            worker.cancel()  # procrastinate stops gracefully (nothing is running)
            return


async def work(
    settings, engine: Engine, concurrency: int, drain: bool = False, name: str | None = None
) -> int:
    """Run a worker until stopped (SIGINT/SIGTERM), or with `drain` until the queue is empty; returns
    how many jobs it played."""
    from app.llm import litellm

    litellm()  # its 2 s import, here and not inside the first job, where it would stall the heartbeats
    lease = settings.lease_seconds
    app = build_app(engine, lease)
    state = Work(settings, engine)
    options: dict[str, Any] = {
        "queues": [QUEUE],
        "concurrency": concurrency,
        "name": name or store.runner_id(),
        "additional_context": {"corpmail": state},
        "update_heartbeat_interval": max(0.2, lease / 4),
        "stalled_worker_timeout": lease,
        "fetch_job_polling_interval": min(5.0, max(0.2, lease / 3)),
        "shutdown_graceful_timeout": STOP_GRACE_SECONDS,
    }
    try:
        async with app.open_async():
            worker = asyncio.create_task(app.run_worker_async(**options))
            side = [asyncio.create_task(_sweep(app, lease))]
            if drain:
                side.append(asyncio.create_task(_until_drained(engine, worker, 0.5)))
            try:
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            finally:
                for task in side:
                    task.cancel()
                await asyncio.gather(*side, return_exceptions=True)
    finally:
        await state.aclose()
    return state.done


def status(engine: Engine, experiment: str) -> dict[str, int] | None:
    """pending / running / completed / errored counts, or None for an unknown experiment."""
    with new_session(engine) as s:
        if s.get(Experiment, experiment) is None:
            return None
        return store.counts(s, experiment)
