"""Scripted models: a LiteLLM custom provider (`scripted/<policy>`) playing deterministic policies.

A policy is YAML: a list of steps, one per model turn, each with optional words (`say`), reasoning
and tool calls. Message ids are not known in advance, so an argument may be `{$message: text}`:
the id of the first message, in tool results seen so far, whose subject contains the text. The
provider reads only the conversation, as a real model would. Policies are looked up in the
scenario folder's policies/ (the loop passes it as metadata), then in agents/policies/.
`{$extract: regex}` is the first match (group 1 if any) in the tool results so far, and
`{$join: [...]}` concatenates resolved parts: scripts can copy what they have read, as a model would.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import litellm
import yaml
from litellm import CustomLLM, ModelResponse
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
    steps: list[Step] = Field(min_length=1)


def policy_paths(scenario_dir: Path | None) -> list[Path]:
    dirs = [scenario_dir / "policies"] if scenario_dir else []
    return [d for d in [*dirs, BUILTIN_DIR] if d.is_dir()]


def available(scenario_dir: Path | None) -> list[str]:
    return sorted({p.stem for d in policy_paths(scenario_dir) for p in d.glob("*.yaml")})


def load_policy(name: str, scenario_dir: Path | None) -> Policy:
    for d in policy_paths(scenario_dir):
        path = d / f"{name}.yaml"
        if path.is_file():
            try:
                return Policy.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
            except Exception as exc:
                raise PolicyError(f"{path}: {str(exc).splitlines()[0]}") from None
    raise PolicyError(f"unknown scripted policy {name!r} (available: {', '.join(available(scenario_dir))})")


def _seen_messages(messages: list[dict]) -> list[dict]:
    """Every message summary ({id, subject, ...}) in the tool results so far, oldest result first."""
    seen = []
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


def respond(policy: Policy, messages: list[dict]) -> ModelResponse:
    turn = sum(1 for m in messages if m.get("role") == "assistant")
    if turn < len(policy.steps):
        step = policy.steps[turn]
    elif policy.repeat_last:
        step = policy.steps[-1]
    else:
        step = Step(say="(end of scripted policy)")
    seen = _seen_messages(messages)
    tool_calls = []
    for i, c in enumerate(step.all_calls()):
        arguments = c.raw_args if c.raw_args is not None else json.dumps(_resolve(c.args, seen, messages))
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
    return ModelResponse(
        model=f"{PROVIDER}/policy",
        choices=[{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
        usage={"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    )


class ScriptedLLM(CustomLLM):
    def _play(self, model: str, messages: list[dict], litellm_params: dict | None) -> ModelResponse:
        meta = ((litellm_params or {}).get("metadata") or {}).get("corpmail") or {}
        scenario_dir = Path(meta["scenario_dir"]) if meta.get("scenario_dir") else None
        return respond(load_policy(model, scenario_dir), messages)

    def completion(self, model, messages, *args, litellm_params=None, **kwargs) -> ModelResponse:
        return self._play(model, messages, litellm_params)

    async def acompletion(self, model, messages, *args, litellm_params=None, **kwargs) -> ModelResponse:
        return self._play(model, messages, litellm_params)


def register() -> None:
    """Make `scripted/<policy>` and `scriptedjudge/<name>` resolve to the offline providers (idempotent)."""
    from agents import scripted_judge

    for name, handler in ((PROVIDER, ScriptedLLM), (scripted_judge.PROVIDER, scripted_judge.ScriptedJudge)):
        if not any(p.get("provider") == name for p in litellm.custom_provider_map):
            litellm.custom_provider_map = [
                *litellm.custom_provider_map,
                {"provider": name, "custom_handler": handler()},
            ]
    from litellm.utils import custom_llm_setup

    custom_llm_setup()  # so model-string checks (get_llm_provider) know them before any call
