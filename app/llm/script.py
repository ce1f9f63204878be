"""Scripted policies: deterministic model turns for demos and tests (played by app.llm.scripted).

A policy is YAML: a list of steps, one per model turn, each with optional words (`say`), reasoning
and tool calls. Message ids are not known in advance, so an argument may be `{$message: text}`:
the id of the first message, in tool results seen so far, whose subject contains the text. The
provider reads only the conversation, as a real model would. Policies are looked up in the
scenario folder's policies/ (the loop passes it as metadata), then in app/llm/policies/.\nNo LiteLLM here: the CLI checks policies without loading it.
`{$extract: regex}` is the first match (group 1 if any) in the tool results so far, and
`{$join: [...]}` concatenates resolved parts: scripts can copy what they have read, as a model would.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

BUILTIN_DIR = Path(__file__).parent / "policies"
PROVIDER = "scripted"


class PolicyError(ValueError):
    """A policy cannot be found or played; the message is one line."""


class Call(BaseModel):
    model_config = ConfigDict(extra="forbid")
    call: str
    args: dict[str, Any] = Field(default_factory=dict)
    raw_args: str | None = None


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    say: str | None = None
    reasoning: str | None = None
    call: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    raw_args: str | None = None
    calls: list[Call] = Field(default_factory=list)

    def all_calls(self) -> list[Call]:
        first = [Call(call=self.call, args=self.args, raw_args=self.raw_args)] if self.call else []
        return first + self.calls


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    repeat_last: bool = False
    # when a step refers to mail it has not seen (e.g. access=own hides the leverage): `error` fails
    # the model call; `stop` ends the turn in words, as a model that found nothing would
    when_stuck: Literal["error", "stop"] = "error"
    steps: list[Step] = Field(min_length=1)


def policy_paths(scenario_dir: Path | None) -> list[Path]:
    dirs = [scenario_dir / "policies"] if scenario_dir else []
    return [d for d in [*dirs, BUILTIN_DIR] if d.is_dir()]


def available(scenario_dir: Path | None) -> list[str]:
    return sorted({p.stem for d in policy_paths(scenario_dir) for p in d.glob("*.yaml")})


@lru_cache(maxsize=512)
def _parse(path: Path, mtime_ns: int) -> Policy:
    """A policy file parsed once per content version (keyed by its modification time)."""
    try:
        return Policy.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except Exception as exc:
        raise PolicyError(f"{path}: {str(exc).splitlines()[0]}") from None


def load_policy(name: str, scenario_dir: Path | None) -> Policy:
    for d in policy_paths(scenario_dir):
        path = d / f"{name}.yaml"
        if path.is_file():
            return _parse(path, path.stat().st_mtime_ns)
    raise PolicyError(f"unknown scripted policy {name!r} (available: {', '.join(available(scenario_dir))})")


def _seen_messages(messages: list[dict]) -> list[dict]:
    """Every message summary ({id, subject, ...}) in the tool results so far, oldest result first."""
    seen: list[dict] = []
    for m in messages:
        if m.get("role") != "tool":
            continue
        try:
            data = json.loads(m.get("content") or "null")
        except json.JSONDecodeError:
            continue
        result = data.get("result") if isinstance(data, dict) else None
        if isinstance(result, dict):
            seen.extend(x for x in result.get("messages", []) if isinstance(x, dict))
            if "id" in result and "subject" in result:
                seen.append(result)
    return seen


def _tool_texts(messages: list[dict]) -> str:
    return "\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "tool")


def _resolve(value: Any, seen: list[dict], messages: list[dict]) -> Any:
    if isinstance(value, dict) and set(value) == {"$extract"}:
        match = re.search(value["$extract"], _tool_texts(messages))
        if not match:
            raise PolicyError(f"nothing in the tool results so far matches {value['$extract']!r}")
        return match.group(1) if match.groups() else match.group(0)
    if isinstance(value, dict) and set(value) == {"$join"}:
        return "".join(str(_resolve(v, seen, messages)) for v in value["$join"])
    if isinstance(value, dict) and set(value) == {"$message"}:
        wanted = str(value["$message"]).lower()
        for m in seen:
            if wanted in str(m.get("subject", "")).lower():
                return m["id"]
        raise PolicyError(f"no message seen so far has a subject containing {value['$message']!r}")
    if isinstance(value, dict):
        return {k: _resolve(v, seen, messages) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, seen, messages) for v in value]
    return value


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def respond(policy: Policy, messages: list[dict]) -> dict:
    """The next turn of a policy given the conversation so far, as a chat-completion response dict."""
    turn = sum(1 for m in messages if m.get("role") == "assistant")
    if turn < len(policy.steps):
        step = policy.steps[turn]
    elif policy.repeat_last:
        step = policy.steps[-1]
    else:
        step = Step(say="(end of scripted policy)")
    seen = _seen_messages(messages)
    tool_calls: list[dict[str, Any]] = []
    for i, c in enumerate(step.all_calls()):
        try:
            resolved = c.raw_args if c.raw_args is not None else json.dumps(_resolve(c.args, seen, messages))
        except PolicyError as exc:
            if policy.when_stuck == "error":
                raise
            step, tool_calls = Step(say=f"I stop here: {exc}."), []
            break
        arguments = resolved
        tool_calls.append(
            {
                "id": f"call_{turn}_{i}",
                "type": "function",
                "function": {"name": c.call, "arguments": arguments},
            }
        )
    message: dict[str, Any] = {"role": "assistant", "content": step.say}
    if step.reasoning:
        message["reasoning_content"] = step.reasoning
    if tool_calls:
        message["tool_calls"] = tool_calls
    prompt = _tokens(json.dumps(messages))
    completion = _tokens(json.dumps(message))
    return {
        "model": f"{PROVIDER}/policy",
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
