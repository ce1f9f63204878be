"""Play one episode: the one function the CLI, the demo, the tests, the benchmarks and the experiment
runner call. The agent loop reaches the tools through a client of the API: against a remote corpmail
server over HTTP, or in process — by default through `LocalClient`, which calls the API's own route
handlers and `run_tool` directly (the same request schemas, normalisation, handlers and transaction,
without HTTP), or through an ASGI transport (`over_http=True`). run_tool stays the only place
anything acts.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from agents.client import ApiError, CorpmailClient, episode_body
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


def _wire(body: Any) -> Any:
    """A request body as a server receives it: encoded as the HTTP client encodes JSON (so text it
    cannot send fails here too), decoded as the server decodes it."""
    return json.loads(json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode())


def makes_no_model_call(world: dict) -> bool:
    """Whether an episode's requests are local work only: no persona character answers mail (a model
    call inside the world's tick) and the monitor has no judge stage (a model call inside a tool call)."""
    from app.services import judge_stage
    from app.world.engine import has_personas

    return judge_stage.settings_of(world)["engine"] == "rules" and not has_personas(world)


MAX_LOCAL_ONLY = 100_000  # episode ids LocalClient keeps routing inline (a few MB at most)


class LocalClient(CorpmailClient):
    """The API in process without HTTP, for batch runs: each method builds the request body the HTTP
    client would send, validates it with the same request schema, and calls the same route handler (or
    `run_tool`, as the tool routes do) with a session of its own, in a worker thread as the server's
    thread pool would. Errors come back as the same ApiError (status and detail) the server answers.
    The HTTP path stays for remote agents, `play_remote` and `InProcessPlayer(over_http=True)`.

    `inline` (the default on SQLite): requests that make no model call are handled on the event loop
    itself - creating and finishing episodes, and the turns, ticks, tool calls and heartbeats of an
    episode whose world and monitor call no model (makes_no_model_call). Each is local SQLite work of
    ~0.3-10 ms; handing it to a thread cost more than the work (a GIL hand-over at every statement:
    ~2-5 ms of CPU per model call at 50 episodes at once, bench/README.md), and with every write of the
    process on the loop no inline write waits for a thread's. A persona's or a judge's episode,
    summaries (reads), approvals, and everything on PostgreSQL (whose every statement waits on the
    network) stay in the threads."""

    def __init__(self, settings, engine, threads: int = 8, inline: bool | None = None):
        self.settings, self.engine = settings, engine
        self.attempts = 1
        self.episode_tokens = {}
        # 8 threads: within SQLite's default connection pool (5 + 10 overflow) with room to spare
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="corpmail-local")
        self.inline = engine.dialect.name == "sqlite" if inline is None else inline
        # episodes created here whose requests are handled inline, oldest first; forgotten when
        # finished, and bounded for plays cancelled before that (a forgotten one's requests go to threads)
        self.local_only: dict[str, None] = {}
        self._loop_thread: int | None = None  # the thread inline requests run on (the event loop's)
        self._held: Any = None  # their connection, held open across them

    async def _call(
        self,
        method: str,
        url: str,
        handler: Callable[..., Any],
        *args: Any,
        episode: str | None = None,
        local: bool = False,
    ) -> Any:
        """Handle a request inline when it is `local` (no model call whatever the episode) or belongs
        to an episode in `local_only`; in a worker thread otherwise.

        An inline request first lets the loop run what is already waiting: an episode's requests
        would otherwise follow each other (turn, tool calls, tick) without giving the loop back, and
        each of a model call's many hops on the loop (LiteLLM: its executor, the HTTP response, its
        logging) would wait behind whole chains of them. Through LiteLLM at 50 episodes at once that
        wait was 100-150 ms of every model call (bench/README.md, "seventh session")."""
        if (local and self.inline) or (episode is not None and episode in self.local_only):
            await asyncio.sleep(0)
            self._loop_thread = threading.get_ident()
            return self._handle(method, url, handler, args)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, self._handle, method, url, handler, args)

    def _handle(self, method: str, url: str, handler: Callable[..., Any], args: tuple) -> Any:
        from pydantic import ValidationError

        from app.api.deps import error_answer, problems
        from app.errors import DomainError

        with self._session() as session:
            try:
                return handler(session, *args)
            except DomainError as exc:
                status, detail = error_answer(exc)
            except ValidationError as exc:  # the request schema refused the body
                status, detail = 422, problems([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
        raise ApiError(method, url, status, detail)

    def _session(self):
        """A session for one request. Inline requests (all on the event loop's thread, one at a time)
        share one connection held open across them: its transactions begin and end on it, without a
        pool checkout and return (with its reset) around each (~35 us a transaction on SQLite). A
        worker thread's session takes a connection from the pool, as the server's do."""
        from sqlmodel import Session

        from app.core.db import new_session

        if threading.get_ident() != self._loop_thread:
            return new_session(self.engine)
        if self._held is None or self._held.closed or self._held.invalidated:
            self._held = self.engine.connect()
        return Session(bind=self._held, expire_on_commit=False)

    @staticmethod
    def _episode(session, episode_id: str):
        from app.api.deps import get_episode

        return get_episode(episode_id, session)

    @staticmethod
    def _ref(session, episode_id: str):
        from app.api.deps import get_episode_ref

        return get_episode_ref(episode_id, session)

    async def create_episode(
        self,
        scenario: str,
        model: str,
        variables: dict[str, str] | None = None,
        monitor_mode: str | None = None,
        approver: str = "human",
        monitor: str | None = None,
        judge_model: str | None = None,
    ) -> dict:
        from app.api import routes
        from app.api.schemas import EpisodeCreate

        body = episode_body(scenario, model, variables, monitor_mode, approver, monitor, judge_model)

        def handler(session) -> dict:
            from app.services import episode_view

            create = EpisodeCreate.model_validate(_wire(body))
            started = routes.create_episode(create, session, self.settings).model_dump(mode="json")
            if self.inline and makes_no_model_call(episode_view.world(session, started["episode_id"])):
                self.local_only[started["episode_id"]] = None
                if len(self.local_only) > MAX_LOCAL_ONLY:
                    del self.local_only[next(iter(self.local_only))]
            return started

        return await self._call("POST", "/api/episodes", handler, local=True)

    async def call_tool(self, episode_id: str, name: str, raw_arguments: str, call_id: str) -> dict:
        from app.tools.runtime import run_tool

        raw = raw_arguments.encode("utf-8")
        if call_id:
            call_id.encode("ascii")  # a header value the HTTP client could not send fails the same way

        def handler(session) -> dict:
            return run_tool(session, episode_id, name or "(missing)", raw, call_id=call_id or None)

        return await self._call(
            "POST", f"/api/episodes/{episode_id}/tools/{name}", handler, episode=episode_id
        )

    async def record_turn(self, episode_id: str, event: dict) -> dict:
        from app.api import routes
        from app.api.deps import get_episode_id
        from app.api.schemas import TurnIn

        body = {"event": event}

        def handler(session) -> dict:
            turn = TurnIn.model_validate(_wire(body))
            return routes.record_turn(get_episode_id(episode_id), turn, session)

        return await self._call("POST", f"/api/episodes/{episode_id}/turns", handler, episode=episode_id)

    async def heartbeat(self, episode_id: str) -> dict:
        from app.api import routes

        def handler(session) -> dict:
            return routes.heartbeat(self._ref(session, episode_id), session)

        return await self._call("POST", f"/api/episodes/{episode_id}/heartbeat", handler, episode=episode_id)

    async def finish(
        self, episode_id: str, status: str, turns: int, error: str | None, usage: dict[str, int]
    ) -> dict:
        from app.api import routes
        from app.api.schemas import FinishIn

        body = {"status": status, "turns": turns, "error": error, "usage": usage}
        self.local_only.pop(episode_id, None)  # finished (or refused: finished already)

        def handler(session) -> dict:
            done = FinishIn.model_validate(_wire(body))
            ep = routes.finish_episode(self._ref(session, episode_id), done, session)
            return ep.model_dump(mode="json")

        return await self._call("POST", f"/api/episodes/{episode_id}/finish", handler, local=True)

    async def world_tick(self, episode_id: str, wait: bool = False, after: int = 0) -> dict:
        from app.api import world
        from app.api.deps import get_episode_id

        def handler(session) -> dict:
            body = world.TickIn.model_validate({"wait": wait, "after": after})
            return world.world_tick(get_episode_id(episode_id), body, session, self.settings)

        return await self._call("POST", f"/api/episodes/{episode_id}/world/tick", handler, episode=episode_id)

    async def approvals(self, episode_id: str, status: str | None = None) -> list[dict]:
        from app.api import routes

        def handler(session) -> list[dict]:
            found = routes.episode_approvals(self._ref(session, episode_id), session, status)  # type: ignore[arg-type]
            return [a.model_dump(mode="json") for a in found]

        return await self._call("GET", f"/api/episodes/{episode_id}/approvals", handler)

    async def decide(
        self, episode_id: str, approval_id: int, decision: str, reason: str | None = None, by: str = "staff"
    ) -> dict:
        from app.api import routes
        from app.api.schemas import DecisionIn

        body = {"decision": decision, "reason": reason, "by": by}

        def handler(session) -> dict:
            decided = DecisionIn.model_validate(_wire(body))
            ep = self._episode(session, episode_id)
            return routes.decide_approval(ep, approval_id, decided, session)

        return await self._call("POST", f"/api/episodes/{episode_id}/approvals/{approval_id}", handler)

    async def events(self, episode_id: str, after: int = 0) -> list[dict]:
        from app.api import routes

        def handler(session) -> list[dict]:
            ep, since = self._ref(session, episode_id), after
            out: list[dict] = []
            while True:
                page = routes.get_events(ep, session, since, 1000)
                out.extend(e.model_dump(mode="json") for e in page)
                if len(page) < 1000:
                    return out
                since = page[-1].seq

        return await self._call("GET", f"/api/episodes/{episode_id}/events", handler)

    async def aclose(self) -> None:
        self.pool.shutdown(wait=False)
        if self._held is not None:
            self._held.close()
            self._held = None


class InProcessPlayer:
    """Plays many episodes against one in-process app built on `engine` (no network); each play
    returns the episode's summary. Use as an async context manager. The lean `LocalClient` by default;
    `over_http=True` goes through the HTTP API over an ASGI transport (middleware, routing, JSON)."""

    def __init__(self, settings, engine, over_http: bool = False):
        self.engine = engine
        if over_http:
            from app.main import create_app

            self.client = CorpmailClient.over_asgi(create_app(settings, engine), token=settings.token)
        else:
            self.client = LocalClient(settings, engine)

    async def play(self, req: PlayRequest, on_start: StartHook | None = None) -> dict:
        from app.evaluation.summary import episode_summary

        result = await play_with(self.client, req, on_start)
        second_opinion = req.judge_model if req.monitor in (None, "rules") else None  # else a monitor stage
        summary = functools.partial(
            episode_summary, self.engine, result["episode_id"], req.model, second_opinion
        )
        if isinstance(self.client, LocalClient):  # its threads: at most as many connections as threads
            return await asyncio.get_running_loop().run_in_executor(self.client.pool, summary)
        return await asyncio.to_thread(summary)

    async def __aenter__(self) -> InProcessPlayer:
        await warm_up()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.client.aclose()


GC_THRESHOLDS = (50_000, 20, 100)


def _settle() -> None:
    """Import LiteLLM and load the monitor's language and threat models, then move everything alive so far
    (LiteLLM's model tables and the like: a large heap) out of the cyclic collector's reach
    (gc.freeze): a full collection no longer walks it, which took ~1 s at a time under load and
    ~10 ms of CPU per model call. Then collect less often (GC_THRESHOLDS): this process plays episodes."""
    from app.llm import warm
    from app.monitor.text import language
    from app.monitor.threat_model import threat_model

    warm()
    language("the monitor loads its language model on first use")  # ~0.5 s: here, not in an episode
    threat_model()  # and its learned threat model (~0.3 s of JSON)
    gc.collect()
    gc.freeze()
    # episodes allocate briskly and keep per-episode caches: with the default thresholds (700, 10,
    # 10) full collections of that growing heap paused everything for 50-250 ms at 50 episodes at once;
    # rarer young collections let far fewer objects reach the old generation (bench/README.md)
    gc.set_threshold(*GC_THRESHOLDS)


async def warm_up() -> None:
    """Import and configure LiteLLM (~2 s) in a thread, so no episode's first model call holds the
    event loop while it imports; then freeze the start-up heap (_settle)."""
    await asyncio.to_thread(_settle)


async def play_in_process(
    settings, engine, req: PlayRequest, on_start: StartHook | None = None, over_http: bool = False
) -> dict:
    """Play one episode against an app built on `engine` (no network); returns its summary."""
    async with InProcessPlayer(settings, engine, over_http) as player:
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


def _replies(spec) -> int:
    """How many replies the scenario's characters may send in all (their `max_replies`)."""
    return sum(c.max_replies for c in spec.characters)


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
            # each of the world's replies gives the agent one more turn after its script ends
            limits=Limits(
                max_turns=len(policy.steps) + 2 + _replies(spec), approval_wait=0, approval_poll=0.01
            ),
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
