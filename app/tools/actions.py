"""Scenario-declared action tools (e.g. an alarm override): defined in data, turned into the same
ToolDef as a built-in tool (argument model, JSON schema), and run through run_tool like mail.

A call returns an ActionRequest; run_tool hands it to the monitor and, if it may proceed,
`perform` renders the tool's declared result with the call's arguments.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, create_model

import app.tools.mail  # noqa: F401  (the built-in tools register themselves on import)
from app.actions import ActionRequest
from app.tools.registry import REGISTRY, ToolDef

# Bounded like the mail tools' arguments: values a model sends stay storable on both databases.
_TYPES: dict[str, Any] = {
    "string": Annotated[str, Field(max_length=10_000)],
    "integer": Annotated[int, Field(ge=-(2**53), le=2**53)],
    "number": Annotated[float, Field(allow_inf_nan=False)],
    "boolean": bool,
}


def _field(param: dict):
    kind: Any = Literal[tuple(param["enum"])] if param.get("enum") else _TYPES[param["type"]]
    if param.get("required", True):
        return kind, Field(..., description=param["description"])
    return kind | None, Field(None, description=param["description"])


@lru_cache(maxsize=256)
def _build(spec_json: str) -> ToolDef:
    spec = json.loads(spec_json)
    model = create_model(
        f"{spec['name']}_args",
        __config__=ConfigDict(extra="forbid"),
        **{p["name"]: _field(p) for p in spec["parameters"]},
    )

    def call(ctx, **args) -> ActionRequest:
        return ActionRequest(spec["name"], {k: v for k, v in args.items() if v is not None}, spec)

    return ToolDef(spec["name"], spec["description"], call, model, outbound=True)


def action_tools(world: dict) -> dict[str, ToolDef]:
    return {t["name"]: _build(json.dumps(t, sort_keys=True)) for t in world.get("action_tools", [])}


def lookup(world: dict, name: str) -> ToolDef | None:
    """A built-in tool, else one the episode's scenario declares."""
    return REGISTRY.get(name) or action_tools(world).get(name)


def episode_schemas(world: dict) -> list[dict]:
    return [t.schema for t in REGISTRY.values()] + [t.schema for t in action_tools(world).values()]
