"""The agent loop: LiteLLM chat completions with tool schemas; every tool call goes to the server."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from dataclasses import dataclass, field

from agents.client import ApiError, CorpmailClient
from agents.limiter import AimdLimiter
from agents.model_call import complete
from app.llm import is_offline

logger = logging.getLogger(__name__)


@dataclass
class Limits:
    max_turns: int = 30
    num_retries: int = 2  # retries of a transient model-call failure (429 honours Retry-After)
    backoff: float = 0.5  # base of the jittered exponential backoff between retries, seconds
    timeout: float = 180.0
    pace: float = 0.0  # seconds to wait between turns (for people watching live)
    approval_wait: float = 900.0  # how long to wait for people to decide held actions
    approval_poll: float = 1.0


@dataclass
class ModelOptions:
    """Provider settings passed through to LiteLLM (None: the provider's default)."""

    api_base: str | None = None  # e.g. http://127.0.0.1:11434 for Ollama, or a vLLM server's /v1
    temperature: float | None = None
    api_key: str | None = None
    max_tokens: int | None = None
    seed: int | None = None  # providers that support it sample reproducibly

    def kwargs(self) -> dict:
        return {k: v for k, v in vars(self).items() if v is not None}


def _usage(resp) -> dict[str, int]:
    u = getattr(resp, "usage", None)
    if u is None:
        return {}
    return {k: int(getattr(u, k) or 0) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}


def _notice(a: dict) -> str:
    """One held action's outcome, as the model reads it."""
    what = f"Review outcome: your {a['tool']} call ({a['call_id']}) held for review was {a['status']} by {a['decided_by']}"
    return what + (f": {a['reason']}" if a.get("reason") else ".")


async def _decided(
    client: CorpmailClient, episode_id: str, pending: set[int], limits: Limits, wait: bool
) -> list[str]:
    """Notices for held actions decided since the last look; with wait, block until none is pending."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (limits.approval_wait if wait else 0)
    if wait:
        logger.warning(
            "episode %s: waiting up to %.0f s for %d held action(s); decide them in the web inbox "
            "(/approvals) or with `corpmail monitor approve|reject ID`",
            episode_id,
            limits.approval_wait,
            len(pending),
        )
    notices: list[str] = []
    while pending:
        for a in await client.approvals(episode_id):
            if a["id"] in pending and a["status"] != "pending":
                pending.discard(a["id"])
                notices.append(_notice(a))
        if not pending or not wait or loop.time() >= deadline:
            break
        await asyncio.sleep(limits.approval_poll)
    return notices


async def _tell(
    client: CorpmailClient, episode_id: str, turn: int, messages: list, notices: list[str]
) -> None:
    """Tell the model something between turns (held actions' outcomes, new mail); log exactly what."""
    text = "\n".join(notices)
    messages.append({"role": "user", "content": text})
    await client.record_turn(episode_id, {"kind": "notice", "turn": turn, "text": text})


def _new_mail(mail: list[dict]) -> str:
    lines = [f'- from {m["from"]}: "{m["subject"]}" (message {m["id"]})' for m in mail]
    return "New mail in your inbox:\n" + "\n".join(lines)


def _model_view(outcome: dict) -> str:
    """What the model reads back: the result, or the structured error."""
    body = {"ok": outcome["ok"]}
    body["result" if outcome["ok"] else "error"] = outcome["result"] if outcome["ok"] else outcome["error"]
    return json.dumps(body, default=str)


def _reason(exc: Exception) -> str:
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{exc.__class__.__name__}: {first}"[:500]


async def run_episode(
    client: CorpmailClient,
    start: dict,
    model: str,
    limits: Limits | None = None,
    options: ModelOptions | None = None,
    limiter: AimdLimiter | None = None,
) -> dict:
    """Play one episode to its end; returns {episode_id, status, turns, usage, error}. `limiter` bounds
    concurrent calls to this model's provider (shared by the episodes of a run).

    The episode is always finished: when the server cannot record a turn or a tool call, it is
    finished as `errored` with the reason (never left pending or running)."""
    limits = limits or Limits()
    episode_id = start["episode_id"]
    state = _State()
    try:
        await _play(client, start, model, limits, (options or ModelOptions()).kwargs(), state, limiter)
    except Exception as exc:  # recording failed (the server refused or could not be reached)
        logger.warning("episode %s: recording failed: %s", episode_id, _reason(exc))
        state.status, state.error = "errored", f"recording failed: {_reason(exc)}"
    if not state.ended_by_world:
        await _finish(client, episode_id, state)
    return {
        "episode_id": episode_id,
        "status": state.status,
        "turns": state.turn,
        "usage": dict(state.usage),
        "error": state.error,
    }


@dataclass
class _State:
    status: str = "turn_limit"
    error: str | None = None
    turn: int = 0
    usage: Counter = field(default_factory=Counter)
    call_ids: set[str] = field(default_factory=set)
    ended_by_world: bool = False  # the world closed the episode (a scheduled end, its reply bound)


def _unique_id(given: str | None, turn: int, index: int, state: _State) -> str:
    """The model's tool-call id, made unique in the episode: the server treats a repeated id as a
    retry of the same call (idempotent), so a model that reuses ids must not lose its later calls."""
    call_id = given if given and given not in state.call_ids else f"{given or 'call'}~{turn}_{index}"
    state.call_ids.add(call_id)
    return call_id


async def _finish(client: CorpmailClient, episode_id: str, state: _State) -> None:
    """Finish the episode; if the server refuses the reason text, finish with a plain one."""
    try:
        await client.finish(episode_id, state.status, state.turn, state.error, dict(state.usage))
    except ApiError as exc:
        if exc.status == 409:  # already finished (e.g. by an operator): the first finish stands
            return
        logger.warning("episode %s: finish refused (%s); finishing as errored", episode_id, _reason(exc))
        state.status = "errored"
        state.error = f"finish refused: HTTP {exc.status}"
        await client.finish(episode_id, state.status, state.turn, state.error, dict(state.usage))


async def _play(
    client: CorpmailClient,
    start: dict,
    model: str,
    limits: Limits,
    extra: dict,
    state: _State,
    limiter: AimdLimiter | None = None,
) -> None:
    episode_id = start["episode_id"]
    messages: list[dict] = [
        {"role": "system", "content": start["system_prompt"]},
        {"role": "user", "content": start["user_prompt"]},
    ]
    calls_made = 0
    pending: set[int] = set()  # held actions waiting for a person's decision
    seen = 0  # the last event the world told us about
    for turn in range(1, limits.max_turns + 1):
        state.turn = turn
        if turn > 1:  # the world catches up with the clock between turns
            world = await client.world_tick(episode_id, wait=False, after=seen)
            seen = world["last_seq"]
            if world["ended"]:
                state.status, state.ended_by_world = world["status"], True
                return
            if world["new_mail"]:
                await _tell(client, episode_id, turn, messages, [_new_mail(world["new_mail"])])
        notices = await _decided(client, episode_id, pending, limits, wait=False) if pending else []
        if notices:
            await _tell(client, episode_id, turn, messages, notices)
        try:
            resp = await complete(
                1 if is_offline(model) else limits.num_retries + 1,  # a script's failure is not transient
                limiter,
                limits.backoff,
                model=model,
                messages=messages,
                tools=start["tools"],
                num_retries=0,
                max_retries=0,
                timeout=limits.timeout,
                **extra,
                metadata={"corpmail": {"episode_id": episode_id, "scenario_dir": start.get("scenario_dir")}},
            )
        except Exception as exc:  # the provider failed after its retries: errored, not harmless
            state.status, state.error = "errored", _reason(exc)
            await client.record_turn(episode_id, {"kind": "model_error", "turn": turn, "error": state.error})
            return
        msg = resp.choices[0].message
        tool_calls = list(msg.tool_calls or [])
        turn_usage = _usage(resp)
        state.usage.update(turn_usage)
        requested = [
            {
                "id": _unique_id(tc.id, turn, i, state),
                "name": tc.function.name or "",
                "arguments": tc.function.arguments or "",
            }
            for i, tc in enumerate(tool_calls)
        ]
        await client.record_turn(
            episode_id,
            {
                "kind": "model_turn",
                "turn": turn,
                "text": msg.content,
                "reasoning": getattr(msg, "reasoning_content", None),
                "tool_calls": requested,
                "finish_reason": resp.choices[0].finish_reason,
                "usage": turn_usage,
            },
        )
        assistant: dict = {"role": "assistant", "content": msg.content}
        if requested:
            assistant["tool_calls"] = [
                {
                    "id": r["id"],
                    "type": "function",
                    "function": {"name": r["name"], "arguments": r["arguments"]},
                }
                for r in requested
            ]
        messages.append(assistant)
        if not requested:
            notices = await _decided(client, episode_id, pending, limits, wait=True) if pending else []
            if notices:  # the model stopped while actions were held: give it the outcomes and go on
                await _tell(client, episode_id, turn + 1, messages, notices)
                continue
            world = await client.world_tick(episode_id, wait=True, after=seen)  # time passes while it waits
            seen = world["last_seq"]
            if world["ended"]:
                state.status, state.ended_by_world = world["status"], True
                return
            if world["new_mail"]:  # someone answered: the agent gets another turn
                await _tell(client, episode_id, turn + 1, messages, [_new_mail(world["new_mail"])])
                continue
            state.status = "completed" if calls_made else "no_action"
            return
        for r in requested:
            outcome = await client.call_tool(episode_id, r["name"], r["arguments"], r["id"])
            calls_made += 1
            if outcome["ok"] and (outcome.get("result") or {}).get("status") == "pending_approval":
                pending.add(outcome["result"]["approval_id"])
            messages.append({"role": "tool", "tool_call_id": r["id"], "content": _model_view(outcome)})
        if limits.pace:
            await asyncio.sleep(limits.pace)
