"""The Inspect solver: plays one corpmail episode with Inspect's model API (so every Inspect provider,
its retries and rate limits apply) through corpmail's tools, in process.

Every tool call the model makes — malformed ones included — goes to `run_tool`, not to Inspect's
tool executor (which would refuse bad arguments before corpmail could log them). The model turns
are logged like the built-in loop's, so the web inbox shows the episode live; between turns the
world catches up (characters, scheduled events) and the model is told what the loop would tell it.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
from inspect_ai.model import (
    ChatMessageSystem,
    ChatMessageTool,
    ChatMessageUser,
    ContentReasoning,
    get_model,
)
from inspect_ai.solver import Generate, Solver, TaskState, solver
from inspect_ai.tool import ToolInfo, ToolParams
from inspect_ai.util import LimitExceededError

from app.core.db import new_session
from app.events.types import ModelError, ModelTurn, Notice, RequestedCall
from app.harness.inspect_db import open_db
from app.harness.notices import CatchUp, catch_up, review_text
from app.services import episodes
from app.tools.actions import episode_schemas
from app.tools.runtime import run_tool


def inspect_tools(world: dict) -> list[ToolInfo]:
    """The episode's tools for Inspect's model API, from the same schemas the built-in loop sends."""
    fns = [s["function"] for s in episode_schemas(world)]
    return [
        ToolInfo(
            name=f["name"],
            description=f["description"],
            parameters=ToolParams.model_validate(f["parameters"]),
        )
        for f in fns
    ]


def _raw_arguments(call) -> str:
    if call.parse_error:
        return f"(unparseable arguments: {call.parse_error})"
    return json.dumps(call.arguments)


def _reasoning(message) -> str | None:
    parts = (
        [c.reasoning for c in message.content if isinstance(c, ContentReasoning)]
        if isinstance(message.content, list)
        else []
    )
    return "\n".join(parts) or None


def _usage(output) -> dict[str, int]:
    u = output.usage
    if u is None:
        return {}
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.total_tokens,
    }


def _view(outcome: dict) -> str:
    body: dict[str, Any] = {"ok": outcome["ok"]}
    body["result" if outcome["ok"] else "error"] = outcome["result"] if outcome["ok"] else outcome["error"]
    return json.dumps(body, default=str)


class EpisodeLog:
    """The synchronous database side of one episode (run in worker threads): what the model was told
    up to which event, and its held actions whose outcome it has not been told."""

    def __init__(self, engine, episode_id: str, scenario_dir: Path | None):
        self.engine, self.episode_id, self.scenario_dir = engine, episode_id, scenario_dir
        self.pending: set[int] = set()
        self.seen = 0

    def record(self, event) -> None:
        with new_session(self.engine) as s:
            episodes.record_turn(s, self.episode_id, event)

    def call(self, name: str, raw: str, call_id: str) -> dict:
        with new_session(self.engine) as s:
            outcome = run_tool(s, self.episode_id, name, raw, call_id=call_id)
        result = outcome["result"]
        if outcome["ok"] and isinstance(result, dict) and result.get("status") == "pending_approval":
            self.pending.add(result["approval_id"])
        return outcome

    def catch_up(self, turn: int, wait: bool) -> CatchUp:
        with new_session(self.engine) as s:
            out = catch_up(
                s,
                self.episode_id,
                self.pending,
                after=self.seen,
                turn=turn,
                wait=wait,
                scenario_dir=self.scenario_dir,
            )
        self.seen = out.last_seq
        return out

    def reviews(self, turn: int) -> str | None:
        with new_session(self.engine) as s:
            text = review_text(s, self.episode_id, self.pending)
            if text:
                episodes.record_turn(s, self.episode_id, Notice(turn=turn, text=text))
        return text

    def finish(self, status: str, turns: int, error: str | None, usage: dict) -> None:
        with new_session(self.engine) as s:
            episodes.finish(s, self.episode_id, status, turns, error, usage)


def _create(database_url, md: dict, model: str, monitor_mode, approver) -> tuple[Any, Any]:
    engine, settings = open_db(database_url)
    with new_session(engine) as s:
        ep = episodes.create_episode(
            s,
            md["scenario_dir"],
            md["variables"],
            model,
            settings.scenarios_dir,
            monitor_mode,
            approver,
            harness="inspect",
        )
    return engine, ep


@solver
def corpmail_agent(
    database_url: str | None = None,
    monitor_mode: str | None = None,
    approver: str = "monitor",
    max_turns: int = 30,
    approval_wait: float = 900.0,
    approval_poll: float = 1.0,
) -> Solver:
    """Create the sample's episode and play it to its end through run_tool."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        model = get_model()
        engine, ep = await anyio.to_thread.run_sync(
            _create, database_url, state.metadata, str(model), monitor_mode, approver
        )
        state.metadata["episode_id"] = ep.id
        state.messages = [
            ChatMessageSystem(content=ep.world["system_prompt"]),
            ChatMessageUser(content=ep.world["user_prompt"]),
        ]
        tools = inspect_tools(ep.world)
        log = EpisodeLog(engine, ep.id, Path(state.metadata["scenario_dir"]))
        usage: Counter = Counter()
        status, calls, turn, ended_by_world = "turn_limit", 0, 0, False

        def tell(texts: list[str]) -> None:  # already logged as notices
            state.messages.extend(ChatMessageUser(content=t) for t in texts)

        async def wait_for_reviews(turn: int) -> str | None:
            """The model stopped while actions are held: wait for people to decide (as the loop does)."""
            deadline = asyncio.get_running_loop().time() + approval_wait
            text = await anyio.to_thread.run_sync(log.reviews, turn)
            while log.pending and not text and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(approval_poll)
                text = await anyio.to_thread.run_sync(log.reviews, turn)
            return text

        try:
            for turn in range(1, max_turns + 1):
                if turn > 1:  # the world catches up with the clock between turns
                    up = await anyio.to_thread.run_sync(log.catch_up, turn, False)
                    if up.ended:
                        status, ended_by_world = up.status or status, True
                        break
                    tell(up.notices)
                output = await model.generate(state.messages, tools=tools)
                state.output = output
                message = output.message
                state.messages.append(message)
                requested = [(c.id, c.function, _raw_arguments(c)) for c in message.tool_calls or []]
                usage.update(_usage(output))
                turn_event = ModelTurn(
                    turn=turn,
                    text=message.text or None,
                    reasoning=_reasoning(message),
                    tool_calls=[RequestedCall(id=i, name=n, arguments=a) for i, n, a in requested],
                    finish_reason=output.stop_reason,
                    usage=_usage(output),
                )
                await anyio.to_thread.run_sync(log.record, turn_event)
                if not requested:
                    if log.pending:
                        review = await wait_for_reviews(turn + 1)
                        if review:
                            tell([review])
                            continue
                    up = await anyio.to_thread.run_sync(log.catch_up, turn + 1, True)  # time passes
                    if up.ended:
                        status, ended_by_world = up.status or status, True
                        break
                    if up.notices:  # someone answered: the agent gets another turn
                        tell(up.notices)
                        continue
                    status = "completed" if calls else "no_action"
                    break
                for call_id, name, raw in requested:
                    outcome = await anyio.to_thread.run_sync(log.call, name, raw, call_id)
                    calls += 1
                    state.messages.append(
                        ChatMessageTool(content=_view(outcome), tool_call_id=call_id, function=name)
                    )
        except LimitExceededError as exc:  # an Inspect sample limit (messages, tokens, time): a turn limit
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(
                    log.finish, "turn_limit", turn, f"Inspect limit: {exc}"[:500], dict(usage)
                )
            raise
        except BaseException as exc:  # the provider failed after Inspect's retries, or the run was cancelled
            error = f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500]
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(log.record, ModelError(turn=turn, error=error))
                await anyio.to_thread.run_sync(log.finish, "errored", turn, error, dict(usage))
            raise
        if not ended_by_world:  # the world already closed it (a scheduled end, its reply bound)
            await anyio.to_thread.run_sync(log.finish, status, turn, None, dict(usage))
        return state

    return solve
