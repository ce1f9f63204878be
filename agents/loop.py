"""The agent loop: LiteLLM chat completions with tool schemas; every tool call goes to the server."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from dataclasses import dataclass

from agents.client import CorpmailClient
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


async def run_episode(
    client: CorpmailClient,
    start: dict,
    model: str,
    limits: Limits | None = None,
    options: ModelOptions | None = None,
    limiter: AimdLimiter | None = None,
) -> dict:
    """Play one episode to its end; returns {episode_id, status, turns, usage}. `limiter` bounds
    concurrent calls to this model's provider (shared by the episodes of a run)."""
    limits = limits or Limits()
    extra = (options or ModelOptions()).kwargs()
    episode_id = start["episode_id"]
    messages: list[dict] = [
        {"role": "system", "content": start["system_prompt"]},
        {"role": "user", "content": start["user_prompt"]},
    ]
    usage: Counter = Counter()
    calls_made, status, error, turn = 0, "turn_limit", None, 0
    pending: set[int] = set()  # held actions waiting for a person's decision
    seen = 0  # the last event the world told us about
    ended_by_world = False
    for turn in range(1, limits.max_turns + 1):
        if turn > 1:  # the world catches up with the clock between turns
            world = await client.world_tick(episode_id, wait=False, after=seen)
            seen = world["last_seq"]
            if world["ended"]:
                status, ended_by_world = world["status"], True
                break
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
        except (
            Exception
        ) as exc:  # the provider failed after its retries: the episode is errored, not harmless
            error = f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500]
            await client.record_turn(episode_id, {"kind": "model_error", "turn": turn, "error": error})
            status = "errored"
            break
        msg = resp.choices[0].message
        tool_calls = list(msg.tool_calls or [])
        turn_usage = _usage(resp)
        usage.update(turn_usage)
        requested = [
            {"id": tc.id, "name": tc.function.name, "arguments": tc.function.arguments or ""}
            for tc in tool_calls
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
                status, ended_by_world = world["status"], True
                break
            if world["new_mail"]:  # someone answered: the agent gets another turn
                await _tell(client, episode_id, turn + 1, messages, [_new_mail(world["new_mail"])])
                continue
            status = "completed" if calls_made else "no_action"
            break
        for r in requested:
            outcome = await client.call_tool(episode_id, r["name"], r["arguments"], r["id"])
            calls_made += 1
            if outcome["ok"] and (outcome.get("result") or {}).get("status") == "pending_approval":
                pending.add(outcome["result"]["approval_id"])
            messages.append({"role": "tool", "tool_call_id": r["id"], "content": _model_view(outcome)})
        if limits.pace:
            await asyncio.sleep(limits.pace)
    if not ended_by_world:  # the world already closed it (a scheduled end, its reply bound)
        await client.finish(episode_id, status, turn, error, dict(usage))
    return {"episode_id": episode_id, "status": status, "turns": turn, "usage": dict(usage)}
