"""Play one episode: the one function the CLI, the demo, the tests, the benchmarks and the experiment
runner call. The agent loop reaches the tools over HTTP — in process through an ASGI transport, or
against a remote corpmail server — so run_tool stays the only place anything acts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from agents.client import ApiError, CorpmailClient
from agents.limiter import AimdLimiter
from agents.loop import Limits, ModelOptions, run_episode
from app.errors import InvalidRequest

logger = logging.getLogger(__name__)
StartHook = Callable[[CorpmailClient, dict], Awaitable[None]]


@dataclass
class PlayRequest:
    """What to play: a scenario under some variables, with a model, a monitor mode and an approver."""

    scenario: str
    model: str
    variables: dict[str, str] = field(default_factory=dict)
    monitor_mode: str | None = None
    approver: str = "monitor"
    limits: Limits = field(default_factory=Limits)
    options: ModelOptions | None = None
    judge_model: str | None = None  # the judge: a stage of the monitor, or a second opinion after the episode
    monitor: str | None = None  # monitor engine: rules | judge | rules+judge (default: the scenario's)
    limiter: AimdLimiter | None = None  # shared by a run's episodes on one provider


async def _heartbeats(client: CorpmailClient, episode_id: str, every: float) -> None:
    """Renew the episode's lease now and every `every` seconds until cancelled (a missed beat is
    logged, not fatal)."""
    while True:
        try:
            await client.heartbeat(episode_id)
        except Exception as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # cancelled mid-request, and the request's clean-up raised instead: still stop (a swallowed
                # cancellation kept the beats, and so the episode's play, going for ever)
                raise asyncio.CancelledError from exc
            logger.warning("episode %s: heartbeat failed: %s", episode_id, exc)
        await asyncio.sleep(every)


async def play_with(client: CorpmailClient, req: PlayRequest, on_start: StartHook | None = None) -> dict:
    """Create the episode through `client` and play it to its end; returns the loop's result.
    A request the server refuses (bad scenario, variables, mode) raises InvalidRequest."""
    try:
        start = await client.create_episode(
            req.scenario,
            req.model,
            req.variables,
            req.monitor_mode,
            req.approver,
            req.monitor,
            req.judge_model if req.monitor not in (None, "rules") else None,
        )
    except ApiError as exc:
        if exc.status == 422:
            raise InvalidRequest(exc.detail_text) from None
        raise
    beats = asyncio.create_task(
        _heartbeats(client, start["episode_id"], max(0.05, start.get("lease_seconds", 60.0) / 3))
    )
    try:
        if on_start is not None:
            await on_start(client, start)
        return await run_episode(client, start, req.model, req.limits, req.options, req.limiter)
    finally:
        beats.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beats


class InProcessPlayer:
    """Plays many episodes against one in-process app built on `engine` (no network); each play
    returns the episode's summary. Use as an async context manager."""

    def __init__(self, settings, engine):
        from app.main import create_app

        self.engine = engine
        self.client = CorpmailClient.over_asgi(create_app(settings, engine), token=settings.token)

    async def play(self, req: PlayRequest, on_start: StartHook | None = None) -> dict:
        from app.evaluation.summary import episode_summary

        result = await play_with(self.client, req, on_start)
        second_opinion = req.judge_model if req.monitor in (None, "rules") else None  # else a monitor stage
        return await asyncio.to_thread(
            episode_summary, self.engine, result["episode_id"], req.model, second_opinion
        )

    async def __aenter__(self) -> InProcessPlayer:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.client.aclose()


async def play_in_process(settings, engine, req: PlayRequest, on_start: StartHook | None = None) -> dict:
    """Play one episode against an app built on `engine` (no network); returns its summary."""
    async with InProcessPlayer(settings, engine) as player:
        return await player.play(req, on_start)


async def play_remote(
    base_url: str, token: str | None, req: PlayRequest, on_start: StartHook | None = None
) -> dict:
    """Play against a running corpmail server; the summary is computed from its event log."""
    from app.evaluation.summary import summary_from_events

    client = CorpmailClient.over_http(base_url, token)
    try:
        result = await play_with(client, req, on_start)
        events = [e["payload"] for e in await client.events(result["episode_id"])]
    finally:
        await client.aclose()
    return summary_from_events(result["episode_id"], req.model, events)


async def check_policies(settings, engine, scenario: str, variables: dict[str, str]) -> list:
    """Play each ground-truth policy in a scenario's policies/ folder under one combination of
    variables, in process, and compare the monitor's verdicts with the policy's `expect:`
    (app.evaluation.ground_truth). Returns a PolicyCheck per policy. Bad variables raise InvalidRequest."""
    from app.evaluation import ground_truth
    from app.llm.script import PolicyError, load_policy
    from app.scenarios.loader import load_scenario
    from app.scenarios.render import resolve_variables

    spec, folder = load_scenario(scenario, settings.scenarios_dir)
    resolved = resolve_variables(spec, variables)
    personas = ground_truth.persona_scripts(spec)
    results = []
    for path in sorted((folder / "policies").glob("*.yaml")):
        name = path.stem
        if name in personas:
            continue
        try:
            policy = load_policy(name, folder)
        except PolicyError as exc:
            results.append(ground_truth.PolicyCheck(name, resolved, "fail", "-", "-", [str(exc)]))
            continue
        choices = {k: v.choices for k, v in spec.variables.items()}
        problem = ground_truth.when_problem(policy, choices)
        if problem:
            results.append(ground_truth.PolicyCheck(name, resolved, "fail", "-", "-", [f"{path}: {problem}"]))
            continue
        skipped = ground_truth.not_applicable(name, policy, resolved)
        if skipped is not None:
            results.append(skipped)
            continue
        expect = policy.expectation(resolved) if policy.expect else ground_truth.UNDECLARED
        assert expect is not None
        req = PlayRequest(
            str(folder),
            f"scripted/{name}",
            variables,
            limits=Limits(max_turns=len(policy.steps) + 2, approval_wait=0, approval_poll=0.01),
        )
        try:
            summary = await play_in_process(settings, engine, req)
        except InvalidRequest:
            raise
        except Exception as exc:  # an unplayable policy is a failure, reported in one line
            line = f"could not play: {exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            results.append(ground_truth.PolicyCheck(name, resolved, "fail", "-", "-", [line]))
            continue
        results.append(ground_truth.check_stored(engine, name, expect, resolved, summary["episode_id"]))
    return results


def summary_line(summary: dict[str, Any]) -> str:
    """One line for progress output."""
    return (
        f"{summary['episode_id']} {summary['status']} turns={summary['turns']} "
        f"calls={summary['tool_calls']} harmful={summary['harmful']}"
    )
