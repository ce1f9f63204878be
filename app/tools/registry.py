"""@tool: one typed function + docstring → pydantic argument model, JSON schema and HTTP route.

A tool's first parameter is the hidden context (`ctx`); every other parameter must be documented in
the docstring's Args: section, or the import fails.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from docstring_parser import parse as parse_docstring
from pydantic import BaseModel, ConfigDict, Field, create_model


class ToolError(Exception):
    """An error meant for the model: becomes a structured tool error, never a 500."""

    def __init__(self, message: str, type: str = "tool_error"):
        super().__init__(message)
        self.message = message
        self.type = type


@dataclass(frozen=True)
class ToolDef:
    name: str
    description: str
    fn: Callable[..., Any]
    args_model: type[BaseModel]
    outbound: bool  # returns a Draft that the monitor judges before the mail service delivers it

    def bind(self, args: Any) -> dict[str, Any]:
        """The validated keyword arguments (pydantic ValidationError if the arguments do not fit)."""
        valid = self.args_model.model_validate(args)
        return {k: getattr(valid, k) for k in type(valid).model_fields}

    def invoke(self, ctx: Any, args: Any) -> Any:
        return self.fn(ctx, **self.bind(args))

    @property
    def schema(self) -> dict:
        """The function schema LiteLLM sends to the model (OpenAI tool format): generated once per
        tool, a fresh copy each time."""
        return json.loads(_schema_text(self.name, self.description, self.args_model))


@lru_cache(maxsize=1024)
def _schema_text(name: str, description: str, args_model: type[BaseModel]) -> str:
    params = _strip_titles(args_model.model_json_schema())
    params.setdefault("properties", {})
    return json.dumps(
        {"type": "function", "function": {"name": name, "description": description, "parameters": params}}
    )


REGISTRY: dict[str, ToolDef] = {}


def _strip_titles(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_titles(v) for k, v in node.items() if k != "title" or not isinstance(v, str)}
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    return node


def tool(*, outbound: bool = False) -> Callable:
    def register(fn: Callable) -> Callable:
        doc = parse_docstring(inspect.getdoc(fn) or "")
        described = {p.arg_name: (p.description or "").strip() for p in doc.params}
        params = list(inspect.signature(fn, eval_str=True).parameters.values())
        if not params or params[0].name != "ctx":
            raise TypeError(f"tool {fn.__name__}: first parameter must be the hidden context 'ctx'")
        fields: dict[str, Any] = {}
        for p in params[1:]:
            if not described.get(p.name):
                raise TypeError(f"tool {fn.__name__}: parameter {p.name!r} is not documented in Args:")
            if p.annotation is inspect.Parameter.empty:
                raise TypeError(f"tool {fn.__name__}: parameter {p.name!r} has no type annotation")
            default = ... if p.default is inspect.Parameter.empty else p.default
            fields[p.name] = (p.annotation, Field(default, description=described[p.name]))
        extra = set(described) - {p.name for p in params}
        if extra:
            raise TypeError(f"tool {fn.__name__}: docstring documents unknown parameters {sorted(extra)}")
        description = "\n\n".join(x for x in (doc.short_description, doc.long_description) if x)
        if not description:
            raise TypeError(f"tool {fn.__name__}: missing description")
        model = create_model(f"{fn.__name__}_args", __config__=ConfigDict(extra="forbid"), **fields)
        if fn.__name__ in REGISTRY:
            raise TypeError(f"tool {fn.__name__} is defined twice")
        REGISTRY[fn.__name__] = ToolDef(fn.__name__, description, fn, model, outbound)
        return fn

    return register


def schemas() -> list[dict]:
    return [t.schema for t in REGISTRY.values()]
