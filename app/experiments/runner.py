"""Run an experiment's trials with bounded concurrency through the one play-episode service.

`run_trial(trial)` is the unit of work a queue could carry: idempotent by trial id (a completed trial
returns its stored result; one another runner holds is left alone). Provider trouble is handled per
model call (retries honouring Retry-After, an AIMD limiter per provider); a trial that still fails is
`errored` with its reason, never harmless, and its model stays in the run. `max_errors` stops a run
that is failing everywhere."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agents.limiter import AimdLimiter
from agents.loop import Limits, ModelOptions
from app.core.db import new_session
from app.errors import InvalidRequest
from app.experiments.config import ExperimentConfig, ModelSpec
from app.experiments.grid import Trial
from app.models import Episode
from app.models import Trial as TrialRow
from app.play import InProcessPlayer, PlayRequest
from app.services import leases
from app.services import trials as store


@dataclass
class Progress:
    total: int
    done: int = 0  # completed trials (this run and before)
    running: int = 0
    errored: int = 0  # errored in this run
    flagged: int = 0
    harmful: int = 0
    skipped: int = 0  # held by another runner
    last_error: str | None = None
    started: float = field(default_factory=time.monotonic)


class MaxErrorsReached(RuntimeError):
    """The run stopped because too many trials errored."""


def provider_key(spec: ModelSpec) -> str:
    return f"{spec.model.split('/', 1)[0]}@{spec.api_base or ''}"


def model_options(spec: ModelSpec, seed: int | None) -> ModelOptions:
    key = os.environ.get(spec.api_key_env) if spec.api_key_env else None
    if (
        key is None
        and spec.api_base
        and spec.model.startswith("openai/")
        and not os.environ.get("OPENAI_API_KEY")
    ):
        key = "local"  # local OpenAI-compatible servers need no key, the client insists on one
    return ModelOptions(spec.api_base, spec.temperature, key, spec.max_tokens, seed)


def _result(summary: dict) -> dict:
    keep = (
        "episode_id",
        "status",
        "turns",
        "tool_calls",
        "tool_errors",
        "flagged",
        "harmful",
        "usage",
        "error",
    )
    return {k: summary.get(k) for k in keep}


class Runner:
    def __init__(
        self,
        settings,
        engine,
        config: ExperimentConfig,
        on_progress: Callable[[Progress], None] | None = None,
    ):
        self.settings, self.engine, self.config = settings, engine, config
        self.specs = {m.label: m for m in config.models}
        self.limiters: dict[str, AimdLimiter] = {}
        for m in config.models:
            cap = m.concurrency or config.concurrency
            lim = self.limiters.setdefault(provider_key(m), AimdLimiter(cap))
            lim.maximum = lim.limit = max(lim.maximum, cap)
        self.runner = store.runner_id()
        self.on_progress = on_progress or (lambda p: None)
        self.progress = Progress(0)
        self.player: InProcessPlayer | None = None

    def _request(self, trial: Trial, spec: ModelSpec) -> PlayRequest:
        c = self.config
        seed = None if c.seed is None else c.seed + trial.sample
        return PlayRequest(
            trial.folder,
            spec.model,
            dict(trial.variables),
            c.monitor_mode,
            c.approver,
            Limits(
                max_turns=c.max_turns,
                num_retries=c.retries,
                timeout=c.timeout,
                pace=c.pace,
                backoff=c.backoff,
            ),
            model_options(spec, seed),
            judge_model=c.judge_model,
            monitor="+".join(c.monitor_stages) if c.monitor_stages else None,  # rules | judge | rules+judge
            limiter=self.limiters[provider_key(spec)],
        )

    async def run_trial(self, trial: Trial) -> dict:
        """Play the trial unless it is completed or held elsewhere; returns {status, ...}."""
        with new_session(self.engine) as s:
            row = s.get(TrialRow, trial.id)
            if row is not None and row.status == "completed":
                return {"status": "completed", "cached": True, **row.result}
            if not store.claim(s, trial.id, self.runner):
                return {"status": "skipped", "reason": "held by another runner"}
            previous = row.episode_id if row is not None else None
        spec = self.specs[trial.model]
        if previous is not None:  # a lost runner's last attempt may have ended: its episode is the result
            adopted = await asyncio.to_thread(self._adopt, trial, spec, previous)
            if adopted is not None:
                return adopted

        async def on_start(_client, start: dict) -> None:
            await asyncio.to_thread(self._attach, trial.id, start["episode_id"])

        try:
            assert self.player is not None
            summary = await self.player.play(self._request(trial, spec), on_start)
        except InvalidRequest as exc:
            return self._finish(trial.id, "errored", f"refused: {exc}", {})
        except Exception as exc:  # a harness or provider fault: errored with its reason, never harmless
            return self._finish(trial.id, "errored", f"{type(exc).__name__}: {str(exc)[:300]}", {})
        if summary["status"] == "errored":
            return self._finish(trial.id, "errored", summary.get("error") or "errored", _result(summary))
        return self._finish(trial.id, "completed", None, _result(summary))

    def _adopt(self, trial: Trial, spec: ModelSpec, episode_id: str) -> dict | None:
        """A runner lost after its episode ended but before the trial was written: record that
        episode's outcome instead of playing a second one (one finished episode per trial)."""
        from app.evaluation.summary import episode_summary

        with new_session(self.engine) as s:
            ep = s.get(Episode, episode_id)
            if ep is None or ep.status in leases.OPEN_STATUSES or ep.status == "errored":
                return None
        c = self.config
        second_opinion = c.judge_model if not c.monitor_stages or c.monitor_stages == ["rules"] else None
        summary = episode_summary(self.engine, episode_id, spec.model, second_opinion)
        return self._finish(trial.id, "completed", None, _result(summary))

    def _attach(self, trial_id: str, episode_id: str) -> None:
        with new_session(self.engine) as s:
            store.attach(s, trial_id, episode_id)

    def _finish(self, trial_id: str, status: str, error: str | None, result: dict) -> dict:
        with new_session(self.engine) as s:
            if not store.finish(s, trial_id, status, error, result, self.runner):
                # recovered meanwhile (this runner looked lost): the trial is another runner's now
                return {"status": "skipped", "reason": "claim lost to recovery"}
        return {"status": status, "error": error, **result}

    async def run(self, trials: list[Trial], max_errors: int | None = None) -> Progress:
        """Run every trial not yet completed; wait for trials other runners hold, re-run lost ones."""
        lease = self.settings.lease_seconds
        with new_session(self.engine) as s:
            store.recover(s, self.config.name, lease)
            store.set_status(s, self.config.name, "running")
            status = {r.id: r.status for r in store.trial_rows(s, self.config.name)}
        p = self.progress = Progress(
            len(trials), done=sum(1 for t in trials if status.get(t.id) == "completed")
        )
        self.on_progress(p)
        tried: set[str] = set()
        stop = asyncio.Event()

        async def worker(queue: asyncio.Queue) -> None:
            while not stop.is_set():
                try:
                    trial = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                p.running += 1
                self.on_progress(p)
                try:
                    out = await self.run_trial(trial)
                finally:
                    p.running -= 1
                if out["status"] != "skipped":
                    tried.add(trial.id)
                self._count(p, out)
                if max_errors is not None and p.errored >= max_errors:
                    stop.set()

        async with InProcessPlayer(self.settings, self.engine) as self.player:
            todo = [t for t in trials if status.get(t.id) != "completed"]
            while todo and not stop.is_set():
                queue: asyncio.Queue = asyncio.Queue()
                for t in todo:
                    queue.put_nowait(t)
                await asyncio.gather(*(worker(queue) for _ in range(self.config.concurrency)))
                todo = await self._leftovers(trials, tried, lease) if not stop.is_set() else []
        final = "stopped" if stop.is_set() else "done"
        message = (
            f"stopped after {p.errored} errored trials (last: {p.last_error})" if stop.is_set() else None
        )
        with new_session(self.engine) as s:
            store.set_status(s, self.config.name, final, message)
            p.done = store.counts(s, self.config.name)["completed"]
        if stop.is_set():
            raise MaxErrorsReached(message)
        return p

    async def _leftovers(self, trials: list[Trial], tried: set[str], lease: float) -> list[Trial]:
        """Trials another runner held: wait until they finish, or re-run them once their runner is lost."""
        ids = {t.id for t in trials}
        while True:
            with new_session(self.engine) as s:
                store.recover(s, self.config.name, lease)
                rows = [r for r in store.trial_rows(s, self.config.name) if r.id in ids]
            retry = [
                t
                for t in trials
                if t.id not in tried
                and any(r.id == t.id and r.status in ("pending", "errored") for r in rows)
            ]
            if retry:
                return retry
            if not any(r.status == "running" and r.claimed_by != self.runner for r in rows):
                return []
            await asyncio.sleep(min(2.0, lease / 4))

    def _count(self, p: Progress, out: dict) -> None:
        if out["status"] == "completed":
            p.done += 0 if out.get("cached") else 1
            p.flagged += 1 if out.get("flagged") else 0
            p.harmful += 1 if out.get("harmful") else 0
        elif out["status"] == "errored":
            p.errored += 1
            p.last_error = out.get("error")
        else:
            p.skipped += 1
        self.on_progress(p)
