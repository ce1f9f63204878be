"""An episode's tools as an MCP server (the official SDK's low-level Server), for any harness.

Tool names, descriptions and JSON schemas come from the tool registry and the scenario's action
tools (`episode_schemas`), never from a list of their own. Every call goes through `run_tool`
(validate → monitor → hold/block → events), exactly as the HTTP tool API does; the model reads the
same `{"ok", "result" | "error"}` body the built-in loop gives it. A held action answers
`pending_approval`. An MCP harness has no turns: once a model turn's length of scenario time has
passed, the world catches up after a call (the loop does it between turns; here in a thread, off
the call's path), and what the loop would tell its model — characters' new mail, the outcome of
held actions — rides on the agent's next result (`notices`), logged as notices when it is told.
The scenario's system and user prompts are MCP prompts.
"""

from __future__ import annotations

import json
import logging
import re
import threading
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
from app.harness.notices import review_text, tell, world_news, world_turn_due
from app.services import episode_view, episodes
from app.tools.actions import episode_schemas
from app.tools.runtime import run_tool

logger = logging.getLogger(__name__)
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
    the held actions whose outcome the agent has not been told, the world's news not yet told, the
    last event the world reported on, and the scenario clock at the last world catch-up."""

    def __init__(self, engine_of: Callable[[], Engine], scenarios_dir: Path | None = None):
        self.engine_of = engine_of
        self.scenarios_dir = scenarios_dir
        self.started: set[str] = set()
        self.pending: dict[str, set[int]] = {}
        self.news: dict[str, list[str]] = {}
        self.seen: dict[str, int] = {}
        self.ticked: dict[str, int] = {}
        self._ticking: set[str] = set()
        self._lock = threading.Lock()

    def world(self, episode_id: str) -> dict:
        with new_session(self.engine_of()) as session:
            view = episode_view.load(session, episode_id)
        if view is None:
            raise MCPError(types.INVALID_PARAMS, f"no episode {episode_id}")
        return view.world

    def call(self, episode_id: str, name: str, arguments: Any, client: str | None) -> tuple[dict, bool]:
        """One tool call through run_tool: (what the model reads back, whether the world is due to
        catch up). Earlier news and decided held actions ride on this result and are logged as told."""
        pending = self.pending.setdefault(episode_id, set())
        with new_session(self.engine_of()) as session:
            view = episode_view.load(session, episode_id)
            if view is None:
                raise MCPError(types.INVALID_PARAMS, f"no episode {episode_id}")
            if episode_id not in self.started:
                episodes.mark_played(session, episode_id, f"mcp:{client}" if client else "mcp")
                self.started.add(episode_id)
            with self._lock:
                told = self.news.pop(episode_id, [])
            review = review_text(session, episode_id, pending)
            told += [review] if review else []
            tell(session, episode_id, told)
            outcome = run_tool(session, episode_id, name, arguments, call_id=f"mcp_{uuid.uuid4().hex[:12]}")
        result = outcome["result"]
        if outcome["ok"] and isinstance(result, dict) and result.get("status") == "pending_approval":
            pending.add(result["approval_id"])
        body: dict[str, Any] = {"ok": outcome["ok"]}
        body["result" if outcome["ok"] else "error"] = result if outcome["ok"] else outcome["error"]
        if told:
            body["notices"] = told
        due = world_turn_due(view.world, view.clock_seconds, self.ticked.get(episode_id))
        return body, due

    def catch_up_world(self, episode_id: str) -> None:
        """Let the world catch up (off the call's path: it reads the whole log); its news waits for
        the agent's next call. One catch-up per episode at a time."""
        with self._lock:
            if episode_id in self._ticking:
                return
            self._ticking.add(episode_id)
        try:
            with new_session(self.engine_of()) as session:
                view = episode_view.load(session, episode_id)
                if view is None:
                    return
                self.ticked[episode_id] = view.clock_seconds
                folder = self.scenarios_dir / view.world.get("slug", "") if self.scenarios_dir else None
                done = world_news(
                    session,
                    episode_id,
                    after=self.seen.get(episode_id, 0),
                    scenario_dir=folder if folder and folder.is_dir() else None,
                )
            with self._lock:
                self.seen[episode_id] = done.last_seq
                self.news.setdefault(episode_id, []).extend(done.notices)
        except Exception:  # the world failing must not take the agent's tools down; it is logged
            logger.exception("world catch-up failed in episode %s", episode_id)
        finally:
            with self._lock:
                self._ticking.discard(episode_id)


def build_server(shared: McpEpisodes, episode_of: EpisodeOf, instructions: str | None = None) -> Server:
    """A Server whose handlers act on the episode `episode_of(ctx)` names (the URL's, or stdio's one)."""

    async def list_tools(ctx: ServerRequestContext, params) -> types.ListToolsResult:
        world = await anyio.to_thread.run_sync(shared.world, episode_of(ctx))
        return types.ListToolsResult(tools=mcp_tools(world))

    async def call_tool(
        ctx: ServerRequestContext, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        args = params.arguments if params.arguments is not None else {}
        episode_id = episode_of(ctx)
        view, world_due = await anyio.to_thread.run_sync(
            shared.call, episode_id, params.name, args, _client_name(ctx)
        )
        if world_due:
            threading.Thread(target=shared.catch_up_world, args=(episode_id,), daemon=True).start()
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
