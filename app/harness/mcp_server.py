"""An episode's tools as an MCP server (the official SDK's low-level Server), for any harness.

Tool names, descriptions and JSON schemas come from the tool registry and the scenario's action
tools (`episode_schemas`), never from a list of their own. Every call goes through `run_tool`
(validate → monitor → hold/block → events), exactly as the HTTP tool API does; the model reads the
same `{"ok", "result" | "error"}` body the built-in loop gives it. A held action answers
`pending_approval`. An MCP harness has no turns, so before each call the world catches up (the
loop does it between turns) and what the loop would tell its model — characters' new mail, the
outcome of held actions — rides on that call's result (`notices`), each logged as a notice.
The scenario's system and user prompts are MCP prompts.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import types
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError
from sqlalchemy.engine import Engine

from app.core.db import new_session
from app.harness.notices import catch_up
from app.services import episode_view, episodes
from app.tools.actions import episode_schemas
from app.tools.runtime import run_tool

EpisodeOf = Callable[[ServerRequestContext], str]
PROMPTS = {
    "system_prompt": (
        "system_prompt",
        "The scenario's system prompt: give it to the agent as its system prompt.",
    ),
    "user_prompt": ("user_prompt", "The scenario's first user message: the agent's task."),
}


def mcp_tools(world: dict) -> list[types.Tool]:
    """The episode's tools in MCP form, from the same schemas the built-in loop sends to its model."""
    return [
        types.Tool(name=f["name"], description=f["description"], input_schema=f["parameters"])
        for f in (s["function"] for s in episode_schemas(world))
    ]


def _client_name(ctx: ServerRequestContext) -> str | None:
    """The client's self-declared name (untrusted: printable characters only, bounded)."""
    params = getattr(ctx.session, "client_params", None)
    name = getattr(getattr(params, "client_info", None), "name", None)
    if not isinstance(name, str):
        return None
    return re.sub(r"[^A-Za-z0-9 ._/@+-]", "", name).strip()[:60] or None


class McpEpisodes:
    """What the handlers share: the database, the episodes already marked as played, and per episode
    the held actions whose outcome the agent has not been told and the last event it was told about."""

    def __init__(self, engine_of: Callable[[], Engine], scenarios_dir: Path | None = None):
        self.engine_of = engine_of
        self.scenarios_dir = scenarios_dir
        self.started: set[str] = set()
        self.pending: dict[str, set[int]] = {}
        self.seen: dict[str, int] = {}

    def world(self, episode_id: str) -> dict:
        with new_session(self.engine_of()) as session:
            view = episode_view.load(session, episode_id)
        if view is None:
            raise MCPError(types.INVALID_PARAMS, f"no episode {episode_id}")
        return view.world

    def _scenario_dir(self, world: dict) -> Path | None:
        folder = self.scenarios_dir / world.get("slug", "") if self.scenarios_dir else None
        return folder if folder and folder.is_dir() else None

    def call(self, episode_id: str, name: str, arguments: Any, client: str | None) -> dict:
        """One tool call through run_tool; returns what the model reads back. The world catches up
        first (an MCP harness has no turns; its next call is the agent's next step)."""
        pending = self.pending.setdefault(episode_id, set())
        with new_session(self.engine_of()) as session:
            view = episode_view.load(session, episode_id)
            if view is None:
                raise MCPError(types.INVALID_PARAMS, f"no episode {episode_id}")
            if episode_id not in self.started:
                episodes.mark_played(session, episode_id, f"mcp:{client}" if client else "mcp")
                self.started.add(episode_id)
            told = catch_up(
                session,
                episode_id,
                pending,
                after=self.seen.get(episode_id, 0),
                scenario_dir=self._scenario_dir(view.world),
            )
            self.seen[episode_id] = told.last_seq
            outcome = run_tool(session, episode_id, name, arguments, call_id=f"mcp_{uuid.uuid4().hex[:12]}")
        result = outcome["result"]
        if outcome["ok"] and isinstance(result, dict) and result.get("status") == "pending_approval":
            pending.add(result["approval_id"])
        body: dict[str, Any] = {"ok": outcome["ok"]}
        body["result" if outcome["ok"] else "error"] = result if outcome["ok"] else outcome["error"]
        if told.notices:
            body["notices"] = told.notices
        return body


def build_server(shared: McpEpisodes, episode_of: EpisodeOf, instructions: str | None = None) -> Server:
    """A Server whose handlers act on the episode `episode_of(ctx)` names (the URL's, or stdio's one)."""

    async def list_tools(ctx: ServerRequestContext, params) -> types.ListToolsResult:
        world = await anyio.to_thread.run_sync(shared.world, episode_of(ctx))
        return types.ListToolsResult(tools=mcp_tools(world))

    async def call_tool(
        ctx: ServerRequestContext, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        args = params.arguments if params.arguments is not None else {}
        view = await anyio.to_thread.run_sync(
            shared.call, episode_of(ctx), params.name, args, _client_name(ctx)
        )
        text = json.dumps(view, default=str)
        return types.CallToolResult(
            content=[types.TextContent(text=text)],
            structured_content=json.loads(text),
            is_error=not view["ok"],
        )

    async def list_prompts(ctx: ServerRequestContext, params) -> types.ListPromptsResult:
        return types.ListPromptsResult(
            prompts=[types.Prompt(name=name, description=desc) for name, (_, desc) in PROMPTS.items()]
        )

    async def get_prompt(
        ctx: ServerRequestContext, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        if params.name not in PROMPTS:
            raise MCPError(types.INVALID_PARAMS, f"no prompt {params.name!r} (prompts: {', '.join(PROMPTS)})")
        key, desc = PROMPTS[params.name]
        world = await anyio.to_thread.run_sync(shared.world, episode_of(ctx))
        message = types.PromptMessage(role="user", content=types.TextContent(text=world[key]))
        return types.GetPromptResult(description=desc, messages=[message])

    return Server(
        "corpmail",
        version="0.1.0",
        instructions=instructions,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )


async def serve_stdio(engine: Engine, episode_id: str, scenarios_dir: Path | None = None) -> None:
    """`corpmail mcp EPISODE_ID`: one episode's tools over stdin/stdout."""
    from mcp.server.stdio import stdio_server

    server = build_server(McpEpisodes(lambda: engine, scenarios_dir), lambda ctx: episode_id)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())
