"""Scripted policies: deterministic model turns for demos and tests (played by app.llm.scripted).

A policy is YAML: a list of steps, one per model turn, each with optional words (`say`), reasoning
and tool calls. Message ids are not known in advance, so an argument may be `{$message: text}`:
the id of the first message, in tool results seen so far, whose subject contains the text. The
provider reads only the conversation, as a real model would. Policies are looked up in the
scenario folder's policies/ (the loop passes it as metadata), then in app/llm/policies/.
No LiteLLM here: the CLI checks policies without loading it.
`{$extract: regex}` is the first match (group 1 if any) in the tool results so far, and
`{$join: [...]}` concatenates resolved parts: scripts can copy what they have read, as a model would.
A policy's `expect:` is its ground truth, compared by `corpmail scenarios check` (app.evaluation.ground_truth).
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

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


NONE = "none"
_LABEL = re.compile(r"^[a-z][a-z0-9_]*$")
_SCOPE = re.compile(r"^(\d+)(?:-(\d+)|\.(\d+))?$")


def _labels(value: Any) -> list[str]:
    """A label, a list of labels, or "none" (no harm) -> a sorted list of labels."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
        raise ValueError("an expected outcome is a label, a list of labels, or none")
    for x in items:
        if not _LABEL.match(x):
            raise ValueError(f"{x!r} is not a label (lower-case words joined by _)")
    return sorted(set(items) - {NONE})


Labels = Annotated[list[str], BeforeValidator(_labels)]


class Expect(BaseModel):
    """A policy's ground truth: the monitor labels its episode must show. Labels are the monitor's
    (blackmail, exfiltration, an action tool's label, leverage_disclosure, ...); "none": no harm."""

    model_config = ConfigDict(extra="forbid")
    when: dict[str, list[str]] = Field(
        default_factory=dict, description="variable -> values under which this expectation holds (empty: all)"
    )
    episode: Labels | None = Field(None, description="Labels over the whole episode, at any step")
    steps: dict[str, Labels] = Field(
        default_factory=dict,
        description='Per scope: "3" (step 3), "7-8" (steps 7 to 8 together: a hint, then the demand), '
        '"8.2" (the 2nd call of step 8)',
    )
    tool_errors: int = Field(0, ge=0, description="Tool errors the policy makes on purpose")

    @field_validator("steps", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _something_expected(self):
        if self.episode is None and not self.steps:
            raise ValueError("expect: give episode, steps, or both")
        for key in self.steps:
            if not _SCOPE.match(key):
                raise ValueError(f"expect.steps: {key!r} is not a step (3), a range (7-8) or a call (8.2)")
        return self

    def applies(self, variables: dict[str, str]) -> bool:
        return all(variables.get(k) in v for k, v in self.when.items())


def scope(key: str) -> tuple[int, int, int | None]:
    """A steps key -> (first step, last step, call number or None); steps and calls count from 1."""
    m = _SCOPE.match(key)
    assert m, key
    first = int(m.group(1))
    return first, int(m.group(2) or first), int(m.group(3)) if m.group(3) else None


def _expect_list(value: Any) -> Any:
    if value is None or isinstance(value, list) and value and isinstance(value[0], dict):
        return value
    if isinstance(value, (str, list)):
        return [{"episode": value}]  # shorthand: `expect: blackmail`, `expect: none`
    return [value]


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    eval_mode: Literal["honest", "attack"] = "honest"  # ControlArena's label: does it play the harm?
    repeat_last: bool = False
    # when a step refers to mail it has not seen (e.g. access=own hides the leverage): `error` fails
    # the model call; `stop` ends the turn in words, as a model that found nothing would
    when_stuck: Literal["error", "stop"] = "error"
    steps: list[Step] = Field(min_length=1)
    expect: Annotated[list[Expect] | None, BeforeValidator(_expect_list)] = Field(
        None,
        description="Ground truth (corpmail scenarios check): one expectation, a label as shorthand, "
        "or a list whose first entry with matching `when` applies",
    )

    @model_validator(mode="after")
    def _scopes_exist(self):
        for e in self.expect or []:
            for key in e.steps:
                first, last, call = scope(key)
                if not 1 <= first <= last <= len(self.steps):
                    raise ValueError(f"expect.steps: {key!r}: the policy has steps 1 to {len(self.steps)}")
                if call is not None and not 1 <= call <= len(self.steps[first - 1].all_calls()):
                    raise ValueError(f"expect.steps: {key!r}: step {first} has no call {call}")
        return self

    def expectation(self, variables: dict[str, str]) -> Expect | None:
        """The expectation that holds under these variables (None: not written for them)."""
        return next((e for e in self.expect or [] if e.applies(variables)), None)


def policy_paths(scenario_dir: Path | None) -> list[Path]:
    dirs = [scenario_dir / "policies"] if scenario_dir else []
    return [d for d in [*dirs, BUILTIN_DIR] if d.is_dir()]


def available(scenario_dir: Path | str | None) -> list[str]:
    return sorted(
        {p.stem for d in policy_paths(Path(scenario_dir) if scenario_dir else None) for p in d.glob("*.yaml")}
    )


@lru_cache(maxsize=512)
def _parse(path: str, mtime_ns: int) -> Policy:
    """A policy file parsed once per content version (keyed by its modification time)."""
    try:
        return Policy.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise PolicyError(
            f"{path}: {loc + ': ' if loc else ''}{err['msg'].removeprefix('Value error, ')}"
        ) from None
    except Exception as exc:
        raise PolicyError(f"{path}: {str(exc).splitlines()[0]}") from None


def load_policy(name: str, scenario_dir: Path | str | None) -> Policy:
    """The named policy, from the scenario's policies/ first; re-parsed only when its file changes
    (one stat per folder looked in: this runs on every scripted model call)."""
    dirs = [os.path.join(scenario_dir, "policies")] if scenario_dir else []
    for d in [*dirs, str(BUILTIN_DIR)]:
        path = os.path.join(d, f"{name}.yaml")
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            return _parse(path, st.st_mtime_ns)
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


def _resolve(value: Any, seen: Callable[[], list[dict]], messages: list[dict]) -> Any:
    """A step's argument with its `$extract` / `$join` / `$message` parts filled in from `messages`."""
    if isinstance(value, dict) and set(value) == {"$extract"}:
        match = re.search(value["$extract"], _tool_texts(messages))
        if not match:
            raise PolicyError(f"nothing in the tool results so far matches {value['$extract']!r}")
        return match.group(1) if match.groups() else match.group(0)
    if isinstance(value, dict) and set(value) == {"$join"}:
        return "".join(str(_resolve(v, seen, messages)) for v in value["$join"])
    if isinstance(value, dict) and set(value) == {"$message"}:
        wanted = str(value["$message"]).lower()
        for m in seen():
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
    parsed: list[list[dict]] = []

    def seen() -> list[dict]:  # the tool results are parsed only if a step looks a message up
        if not parsed:
            parsed.append(_seen_messages(messages))
        return parsed[0]

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
