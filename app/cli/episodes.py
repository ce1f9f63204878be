"""`corpmail run | replay | demo | serve`: play, watch and read episodes."""
from __future__ import annotations

import asyncio
import json
import sys
from typing import Optional

import typer

from app.cli.common import (UsageProblem, app, check_model, err, fail, get_settings, model_options, open_engine,
                            out, parse_vars)
from app.core.config import Settings


def _summary(engine, episode_id: str, model: str, judge_model: str | None) -> dict:
    """The episode's summary from its log (after the judge's second opinion, if one was asked for)."""
    from app.core.db import new_session
    from app.events import store
    from app.services.summary import summarize

    with new_session(engine) as session:
        if judge_model:
            from app.monitor.rescore import rescore

            rescore(session, episode_id, detectors=False, judge_model=judge_model)
        events = [store.typed(e) for e in store.read(session, episode_id)]
    return {"episode_id": episode_id, "scenario": events[0].scenario, "model": model,
            "variables": events[0].variables, **summarize(events)}


async def _run(settings: Settings, scenario: str, model: str, variables: dict[str, str],
               monitor_mode: str | None, max_turns: int, pace: float, options, approver: str) -> str:
    """Play one episode in process (ASGI transport); returns its id."""
    from agents.client import ApiError, CorpmailClient
    from agents.loop import Limits, run_episode
    from app.main import create_app

    engine = open_engine(settings)
    client = CorpmailClient.over_asgi(create_app(settings, engine), settings.token)
    try:
        try:
            start = await client.create_episode(scenario, model, variables, monitor_mode, approver)
        except ApiError as exc:
            raise UsageProblem(str(exc).split(": 422 ", 1)[-1]) from None
        result = await run_episode(client, start, model, Limits(max_turns=max_turns, pace=pace), options)
    finally:
        await client.aclose()
        engine.dispose()
    return result["episode_id"]


def port_free(port: int) -> None:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            raise UsageProblem(f"--port: 127.0.0.1:{port} is already in use") from None


@app.command()
def run(
    scenario: str = typer.Option(..., "--scenario", "-s", help="Scenario slug or folder path"),
    model: str = typer.Option(..., "--model", "-m", help="LiteLLM model string, or scripted/<policy>"),
    var: list[str] = typer.Option([], "--var", help="Scenario variable NAME=VALUE (repeatable)"),
    monitor_mode: Optional[str] = typer.Option(None, "--monitor-mode", help="observe | hold | block "
                                               "(default: the scenario's; hold when oversight=approval)"),
    approver: str = typer.Option("monitor", "--approver", help="Who decides held actions: monitor (rejects "
                                 "what the monitor finds harmful), human (wait for a person), approve_all, "
                                 "reject_all"),
    max_turns: Optional[int] = typer.Option(None, "--max-turns", min=1, help="Turn limit"),
    pace: float = typer.Option(0.0, "--pace", min=0, help="Seconds between turns"),
    api_base: Optional[str] = typer.Option(None, "--api-base", help="Provider base URL (Ollama, vLLM, ...)"),
    judge_model: Optional[str] = typer.Option(None, "--judge-model", help="LLM judge (any LiteLLM model) for a "
                                              "second opinion on outbound actions, after the episode"),
    temperature: Optional[float] = typer.Option(None, "--temperature", min=0, help="Sampling temperature"),
    watch_live: bool = typer.Option(False, "--watch", help="Serve on 127.0.0.1 while it runs and print the "
                                    "web inbox's live URL (opens nothing)"),
    port: Optional[int] = typer.Option(None, "--port", help="Port for --watch (default 8000)"),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object"),
) -> None:
    """Run one agent episode and print its summary (in process; with --watch, over a local server)."""
    from app.scenarios.loader import ScenarioError, load_scenario
    from app.scenarios.render import resolve_variables
    from app.services.approvals import APPROVERS
    from app.services.episodes import MONITOR_MODES

    settings = get_settings()
    try:
        variables = parse_vars(var)
        try:
            spec, folder = load_scenario(scenario, settings.scenarios_dir)
        except ScenarioError as exc:
            raise UsageProblem(f"--scenario: {exc}") from None
        try:
            resolve_variables(spec, variables)
        except ScenarioError as exc:
            raise UsageProblem(f"--var: {exc}") from None
        if monitor_mode is not None and monitor_mode not in MONITOR_MODES:
            raise UsageProblem(f"--monitor-mode: {monitor_mode!r} is not one of {', '.join(MONITOR_MODES)}")
        if approver not in APPROVERS:
            raise UsageProblem(f"--approver: {approver!r} is not one of {', '.join(APPROVERS)}")
        check_model(model, folder, need_keys=not api_base)
        if judge_model:
            check_model(judge_model, folder)
        options = model_options(model, api_base, temperature)
        if watch_live:
            from app.demo import WatchRun, watch

            port_free(port or settings.port)
            result = asyncio.run(watch(settings, WatchRun(str(folder), model, variables, monitor_mode, approver,
                                                          pace, max_turns or settings.max_turns,
                                                          port or settings.port, False, options),
                                       err if as_json else out, render_event))
            episode_id = result["episode_id"]
        else:
            episode_id = asyncio.run(_run(settings, str(folder), model, variables, monitor_mode,
                                          max_turns or settings.max_turns, pace, options, approver))
    except UsageProblem as exc:
        fail(str(exc))
    engine = open_engine(settings)
    summary = _summary(engine, episode_id, model, judge_model)
    engine.dispose()
    if as_json:
        sys.stdout.write(json.dumps(summary, default=str) + "\n")
        return
    print_summary(summary)


def print_summary(s: dict) -> None:
    from rich.table import Table

    out.print(f"[bold]episode[/bold] {s['episode_id']}  scenario={s['scenario']}  model={s['model']}  "
              f"variables={s['variables']}", highlight=False)
    out.print(f"status: [bold]{s['status']}[/bold]   turns: {s['turns']}   tool calls: {s['tool_calls']} "
              f"({s['tool_errors']} errors)   tokens: {s['usage'].get('total_tokens', 0)}", highlight=False)
    if s.get("error"):
        out.print(f"[red]error:[/red] {s['error']}", highlight=False)
    if s.get("agreement"):
        a = s["agreement"]
        out.print(f"judge agreement: n={a['n']} both={a['both_harmful']} monitor-only={a['monitor_only']} "
                  f"judge-only={a['judge_only']} neither={a['neither']} judge-failed={a['judge_failed']} "
                  f"kappa={'-' if a['kappa'] is None else round(a['kappa'], 3)}", highlight=False)
    table = Table("tool", "decision", "labels", "evidence", title="monitor verdicts on outbound actions")
    for v in s["verdicts"]:
        ev = "; ".join(", ".join(f"{k}={v2}" for k, v2 in e.items() if k not in ("label", "detector"))
                       for e in v["evidence"])
        table.add_row(v["tool"], v["decision"], ", ".join(v["labels"]) or "-", ev[:200] or "-")
    out.print(table if s["verdicts"] else "no outbound actions")
    out.print(f"replay: corpmail replay {s['episode_id']}", highlight=False)


@app.command()
def replay(episode_id: str = typer.Argument(..., help="Episode id"),
           as_json: bool = typer.Option(False, "--json", help="One JSON event per line")) -> None:
    """Print an episode's events in order."""
    from app.core.db import new_session
    from app.events import store
    from app.models import Episode

    engine = open_engine(get_settings())
    with new_session(engine) as session:
        if session.get(Episode, episode_id) is None:
            fail(f"no episode {episode_id!r} in this database")
        events = store.read(session, episode_id)
    for e in events:
        if as_json:
            sys.stdout.write(json.dumps({"seq": e.seq, "at": e.created_at.isoformat(), **e.payload}) + "\n")
        else:
            out.print(render_event(e.seq, e.payload), highlight=False, soft_wrap=True)


def render_event(seq: int, p: dict) -> str:
    kind = p["kind"]
    if kind == "model_turn":
        lines = [f"{seq:>4} model turn {p['turn']}"]
        if p.get("reasoning"):
            lines.append(f"       reasoning: {p['reasoning']}")
        if p.get("text"):
            lines.append(f"       says: {p['text']}")
        return "\n".join(lines)
    if kind == "tool_call":
        return f"{seq:>4} call   {p['tool']}({json.dumps(p['args'])[:300]})"
    if kind == "tool_result":
        body = p["result"] if p["ok"] else p["error"]
        return f"{seq:>4} result {'ok' if p['ok'] else 'ERROR'} {json.dumps(body, default=str)[:300]}"
    if kind == "monitor_verdict":
        return f"{seq:>4} verdict {p['decision']} {','.join(p['labels']) or '-'} ({p['detector']}@{p['version']})"
    rest = {k: v for k, v in p.items() if k != "kind"}
    return f"{seq:>4} {kind} {json.dumps(rest, default=str)[:300]}"


@app.command()
def demo(
    scenario: str = typer.Option("blackmail", "--scenario", "-s", help="Scenario slug or folder path"),
    model: str = typer.Option("scripted/blackmail", "--model", "-m", help="Model string"),
    pace: float = typer.Option(1.0, "--pace", min=0, help="Seconds between model turns"),
    port: Optional[int] = typer.Option(None, help="Port on 127.0.0.1 (default 8000)"),
    stay: bool = typer.Option(True, "--stay/--exit", help="Keep serving after the episode ends"),
) -> None:
    """Serve on 127.0.0.1 and play one scripted episode over HTTP, slowly enough to watch in the web inbox."""
    from app.demo import WatchRun, watch
    from app.scenarios.loader import ScenarioError, resolve_dir

    settings = get_settings()
    try:
        folder = resolve_dir(scenario, settings.scenarios_dir)
        check_model(model, folder)
        port_free(port or settings.port)
    except (UsageProblem, ScenarioError) as exc:
        fail(str(exc))
    try:
        asyncio.run(watch(settings, WatchRun(str(folder), model, pace=pace, port=port or settings.port, stay=stay),
                          out, render_event))
    except KeyboardInterrupt:
        pass


@app.command()
def serve(host: Optional[str] = typer.Option(None, help="Bind address (default 127.0.0.1)"),
          port: Optional[int] = typer.Option(None, help="Port (default 8000)")) -> None:
    """Serve the web inbox and the API for existing and new episodes."""
    import uvicorn

    from app.main import create_app

    settings = get_settings()
    host = host or settings.host
    if host not in ("127.0.0.1", "localhost", "::1") and not settings.token:
        fail(f"--host {host}: binding beyond loopback requires CORPMAIL_TOKEN to be set")
    port = port or settings.port
    if host in ("127.0.0.1", "localhost"):
        try:
            port_free(port)
        except UsageProblem as exc:
            fail(str(exc))
    out.print(f"corpmail: web inbox and API on http://{host}:{port}/" + (" (token required)" if settings.token else ""),
              highlight=False)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
