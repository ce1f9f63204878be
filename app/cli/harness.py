"""`corpmail episode create | finish` and `corpmail mcp`: episodes played by an external harness."""

from __future__ import annotations

import json
import sys

import typer

from app.cli.common import (
    UsageProblem,
    app,
    check_episode_options,
    err,
    fail,
    get_settings,
    open_engine,
    out,
)

episode_app = typer.Typer(no_args_is_help=True, help="Episodes for external agents (MCP, Inspect, your own).")
app.add_typer(episode_app, name="episode")


@episode_app.command("create")
def create(
    scenario: str = typer.Option(..., "--scenario", "-s", help="Scenario slug or folder path"),
    var: list[str] = typer.Option([], "--var", help="Scenario variable NAME=VALUE (repeatable)"),
    monitor_mode: str | None = typer.Option(
        None,
        "--monitor-mode",
        help="observe | hold | block (default: the scenario's; hold when oversight=approval)",
    ),
    approver: str = typer.Option(
        "human", "--approver", help="Who decides held actions: human, monitor, approve_all, reject_all"
    ),
    model: str = typer.Option("external", "--model", help="What to record as the model (free text)"),
    base_url: str | None = typer.Option(
        None,
        "--base-url",
        help="Public URL of the corpmail server (default http://CORPMAIL_HOST:CORPMAIL_PORT)",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object"),
) -> None:
    """Create a seeded episode for an external agent and print how to connect to it."""
    from app.core.db import new_session
    from app.core.security import episode_token, token_secret
    from app.harness.mcp_http import mcp_url
    from app.services import episodes

    settings = get_settings()
    try:
        _, folder, variables = check_episode_options(
            scenario, var, monitor_mode, approver, settings.scenarios_dir
        )
    except UsageProblem as exc:
        fail(str(exc))
    engine = open_engine(settings)
    try:
        with new_session(engine) as session:
            ep = episodes.create_episode(
                session,
                folder,
                variables,
                model,
                settings.scenarios_dir,
                monitor_mode,
                approver,
                harness="mcp",
            )
    finally:
        engine.dispose()
    info = {
        "episode_id": ep.id,
        "scenario": ep.scenario,
        "variables": ep.variables,
        "monitor_mode": ep.monitor_mode,
        "approver": ep.approver,
        "mcp_url": mcp_url(settings, ep.id, base_url),
        "token": episode_token(token_secret(settings), ep.id),
        "stdio_command": ["corpmail", "mcp", ep.id],
        "system_prompt": ep.world["system_prompt"],
        "user_prompt": ep.world["user_prompt"],
        "web_url": mcp_url(settings, ep.id, base_url).replace("/mcp/episodes/", "/episodes/"),
    }
    if as_json:
        sys.stdout.write(json.dumps(info) + "\n")
        return
    out.print(
        f"episode {ep.id} ({ep.scenario}, monitor {ep.monitor_mode}, approver {ep.approver})", highlight=False
    )
    out.print(f"MCP (streamable HTTP): {info['mcp_url']}", highlight=False)
    out.print(f"  header: Authorization: Bearer {info['token']}", highlight=False)
    out.print(f"MCP (stdio): corpmail mcp {ep.id}", highlight=False)
    out.print(f"live view: {info['web_url']}   (needs `corpmail serve` running)", highlight=False)
    out.print(f"finish: corpmail episode finish {ep.id}", highlight=False)
    out.print(
        "system prompt (MCP prompt `system_prompt`):\n" + info["system_prompt"], highlight=False, markup=False
    )
    out.print(
        "user prompt (MCP prompt `user_prompt`):\n" + info["user_prompt"], highlight=False, markup=False
    )


@episode_app.command("finish")
def finish(
    episode_id: str = typer.Argument(..., help="Episode id"),
    status: str | None = typer.Option(
        None,
        "--status",
        help="completed | no_action | turn_limit | errored (default: completed if the agent called a tool, else no_action)",
    ),
    error: str | None = typer.Option(None, "--error", help="What went wrong (with --status errored)"),
) -> None:
    """End an episode played by an external agent: no more actions are accepted."""
    from sqlalchemy import func, select
    from sqlmodel import col

    from app.core.db import new_session
    from app.models import Episode, Event
    from app.services import episodes
    from app.vocab import EpisodeStatus

    final_statuses = EpisodeStatus.final()
    if status is not None and status not in final_statuses:
        fail(f"--status: {status!r} is not one of {', '.join(final_statuses)}")
    engine = open_engine(get_settings())
    try:
        with new_session(engine) as session:
            ep = session.get(Episode, episode_id)
            if ep is None:
                raise UsageProblem(f"no episode {episode_id!r} in this database")
            if ep.status in final_statuses:
                raise UsageProblem(f"episode {episode_id} is already {ep.status}")
            calls = session.execute(
                select(func.count()).where(
                    col(Event.episode_id) == episode_id, col(Event.kind) == "tool_call"
                )
            ).scalar_one()
            final = status or ("completed" if calls else "no_action")
            episodes.finish(session, episode_id, final, 0, error, {})
    finally:
        engine.dispose()
    out.print(f"episode {episode_id}: {final} ({calls} tool calls)", highlight=False)


@app.command("mcp")
def mcp_stdio(episode_id: str = typer.Argument(..., help="Episode id")) -> None:
    """Serve one episode's tools over MCP on stdin/stdout (for harnesses that start a command)."""
    import logging

    import anyio

    from app.core.db import new_session
    from app.harness.mcp_server import serve_stdio
    from app.models import Episode

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    settings = get_settings()
    engine = open_engine(settings)
    try:
        with new_session(engine) as session:
            if session.get(Episode, episode_id) is None:
                fail(f"no episode {episode_id!r} in this database")
        err.print(f"corpmail: MCP over stdio for episode {episode_id}", highlight=False)
        anyio.run(serve_stdio, engine, episode_id, settings.scenarios_dir)
    except KeyboardInterrupt:
        pass
    finally:
        engine.dispose()
