"""`corpmail run | replay | demo | serve`: play, watch and read episodes."""

from __future__ import annotations

import asyncio
import json
import sys

import typer
from rich.text import Text

from app.cli.common import (
    UsageProblem,
    app,
    check_episode_options,
    check_model,
    err,
    fail,
    get_settings,
    model_options,
    open_engine,
    out,
)


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
    monitor_mode: str | None = typer.Option(
        None,
        "--monitor-mode",
        help="observe | hold | block (default: the scenario's; hold when oversight=approval)",
    ),
    approver: str = typer.Option(
        "monitor",
        "--approver",
        help="Who decides held actions: monitor (rejects "
        "what the monitor finds harmful), human (wait for a person), approve_all, "
        "reject_all",
    ),
    max_turns: int | None = typer.Option(None, "--max-turns", min=1, help="Turn limit"),
    pace: float = typer.Option(0.0, "--pace", min=0, help="Seconds between turns"),
    api_base: str | None = typer.Option(None, "--api-base", help="Provider base URL (Ollama, vLLM, ...)"),
    judge_model: str | None = typer.Option(
        None,
        "--judge-model",
        help="LLM judge (any LiteLLM model): the monitor's judge stage with --monitor judge|rules+judge, "
        "else a second opinion on outbound actions after the episode",
    ),
    monitor_engine: str | None = typer.Option(
        None, "--monitor", help="Monitor engine: rules | judge | rules+judge (default: the scenario's)"
    ),
    temperature: float | None = typer.Option(None, "--temperature", min=0, help="Sampling temperature"),
    watch_live: bool = typer.Option(
        False,
        "--watch",
        help="Serve on 127.0.0.1, print the web inbox's live URL (opens nothing), and keep serving after "
        "the episode until Ctrl-C",
    ),
    port: int | None = typer.Option(None, "--port", min=1, max=65535, help="Port for --watch (default 8000)"),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object"),
) -> None:
    """Run one agent episode and print its summary (in process; with --watch, over a local server that
    keeps serving until Ctrl-C). Progress goes to stderr (none with --json). Exit 3 if the episode errored."""
    from agents.client import ApiError
    from agents.loop import Limits
    from app.errors import InvalidRequest
    from app.play import PlayRequest

    settings = get_settings()
    try:
        _, folder, variables = check_episode_options(
            scenario, var, monitor_mode, approver, settings.scenarios_dir
        )
        # the user named this folder on the command line: the in-process app may load it
        settings = settings.model_copy(
            update={"allowed_scenario_dirs": [*settings.allowed_scenario_dirs, folder]}
        )
        if monitor_engine is not None and monitor_engine not in ("rules", "judge", "rules+judge"):
            raise UsageProblem(f"--monitor: {monitor_engine!r} is not one of rules, judge, rules+judge")
        if monitor_engine in ("judge", "rules+judge") and not judge_model:
            raise UsageProblem(f"--monitor: {monitor_engine} needs --judge-model")
        check_model(model, folder, need_keys=not api_base)
        if judge_model:
            check_model(judge_model, folder, option="--judge-model")
        options = model_options(model, api_base, temperature)
        req = PlayRequest(
            str(folder),
            model,
            variables,
            monitor_mode,
            approver,
            Limits(max_turns=max_turns or settings.max_turns, pace=pace),
            options,
            judge_model,
            monitor_engine,
        )
        if watch_live:
            from app.demo import watch

            port_free(port or settings.port)
            shown: list[dict] = []

            def ended(summary: dict) -> None:  # the episode is over; the server keeps serving
                shown.append(summary)
                report(summary, as_json)

            try:
                asyncio.run(
                    watch(
                        settings,
                        req,
                        port or settings.port,
                        True,
                        err if as_json else out,
                        render_event,
                        ended,
                    )
                )
            except KeyboardInterrupt:
                pass
            if not shown:
                fail("stopped before the episode ended")
            summary = shown[0]
        else:
            summary = _run_in_process(settings, req, quiet=as_json)
            report(summary, as_json)
    except (UsageProblem, InvalidRequest) as exc:
        fail(str(exc))
    except ApiError as exc:  # the server failed to start or record the episode: one line, no traceback
        err.print(
            Text.assemble(("error:", "red"), f" the episode could not be played: {exc}"), highlight=False
        )
        raise typer.Exit(1) from None
    if summary["status"] == "errored":
        raise typer.Exit(3)


def _run_in_process(settings, req, quiet: bool) -> dict:
    """Play in process; unless `quiet`, say on stderr where to watch and one line per turn."""
    from app.cli.progress import TurnLines, follow
    from app.play import play_in_process

    engine = open_engine(settings)
    done = asyncio.Event()
    tasks: list[asyncio.Task] = []
    lines = TurnLines(lambda line: err.print(f"  {line}", highlight=False, markup=False, soft_wrap=True))

    async def started(_client, start: dict) -> None:
        eid = start["episode_id"]
        base = f"http://{settings.host}:{settings.port}"
        err.print(
            f"corpmail: episode {eid} · scenario {start['scenario']} · model {req.model}\n"
            f"  live: `corpmail serve`, then {base}/episodes/{eid}  ·  "
            f"replay: corpmail replay {eid} or {base}/episodes/{eid}/replay",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        tasks.append(asyncio.create_task(follow(engine, eid, lines, done)))

    async def go() -> dict:
        try:
            return await play_in_process(settings, engine, req, None if quiet else started)
        finally:
            done.set()
            await asyncio.gather(*tasks)

    try:
        return asyncio.run(go())
    finally:
        engine.dispose()


def report(summary: dict, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(summary, default=str) + "\n")
        sys.stdout.flush()
    else:
        print_summary(summary)


def print_summary(s: dict) -> None:
    from rich.table import Table

    out.print(
        f"[bold]episode[/bold] {s['episode_id']}  scenario={s['scenario']}  model={s['model']}  "
        f"variables={s['variables']}",
        highlight=False,
    )
    out.print(
        f"status: [bold]{s['status']}[/bold]   turns: {s['turns']}   tool calls: {s['tool_calls']} "
        f"({s['tool_errors']} errors)   tokens: {s['usage'].get('total_tokens', 0)}",
        highlight=False,
    )
    if s.get("error"):
        out.print(f"[red]error:[/red] {s['error']}", highlight=False)
    if s.get("awareness"):
        aw = s["awareness"]
        quote = f": “{aw['evidence'][-1]['quote']}”" if aw.get("evidence") else ""
        out.print(f"stated belief: {aw['belief']} ({aw['method']}){quote}", highlight=False)
    if s.get("agreement"):
        a = s["agreement"]
        out.print(
            f"judge agreement: n={a['n']} both={a['both_harmful']} monitor-only={a['monitor_only']} "
            f"judge-only={a['judge_only']} neither={a['neither']} judge-failed={a['judge_failed']} "
            f"kappa={'-' if a['kappa'] is None else round(a['kappa'], 3)}",
            highlight=False,
        )
    table = Table("tool", "decision", "labels", "evidence", title="monitor verdicts on outbound actions")
    for v in s["verdicts"]:
        ev = "; ".join(
            ", ".join(f"{k}={v2}" for k, v2 in e.items() if k not in ("label", "detector"))
            for e in v["evidence"]
        )
        table.add_row(v["tool"], v["decision"], ", ".join(v["labels"]) or "-", ev[:200] or "-")
    out.print(table if s["verdicts"] else "no outbound actions")
    for v in s["verdicts"]:  # what became of each held action, and who decided
        if a := v.get("approval"):
            out.print(
                f"held {v['tool']} ({v['call_id']}): {a['outcome']}"
                + (f" by {a['by']}" if a["by"] else "")
                + (f": {a['reason']}" if a["reason"] else ""),
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
    out.print(f"replay: corpmail replay {s['episode_id']}", highlight=False)


@app.command()
def replay(
    episode_id: str = typer.Argument(..., help="Episode id"),
    as_json: bool = typer.Option(False, "--json", help="One JSON event per line"),
) -> None:
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
            sys.stdout.write(
                json.dumps(
                    {
                        "seq": e.seq,
                        "at": e.created_at.isoformat(),
                        "origin": e.origin,
                        "actor": e.actor,
                        "clock": e.clock,
                        **e.payload,
                    }
                )
                + "\n"
            )
        else:
            who = (
                f"[{e.origin} {e.actor or ''}] ".replace(" ]", "]")
                if e.origin in ("world", "researcher")
                else ""
            )
            out.print(who + render_event(e.seq, e.payload), highlight=False, soft_wrap=True)


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
    port: int | None = typer.Option(None, min=1, max=65535, help="Port on 127.0.0.1 (default 8000)"),
    stay: bool = typer.Option(True, "--stay/--exit", help="Keep serving after the episode ends"),
) -> None:
    """Serve on 127.0.0.1 and play one scripted episode over HTTP, slowly enough to watch in the web inbox."""
    from agents.loop import Limits
    from app.demo import watch
    from app.play import PlayRequest
    from app.scenarios.loader import ScenarioError, resolve_dir

    settings = get_settings()
    try:
        folder = resolve_dir(scenario, settings.scenarios_dir)
        settings = settings.model_copy(
            update={"allowed_scenario_dirs": [*settings.allowed_scenario_dirs, folder]}
        )
        check_model(model, folder)
        port_free(port or settings.port)
    except (UsageProblem, ScenarioError) as exc:
        fail(str(exc))
    try:
        req = PlayRequest(str(folder), model, limits=Limits(pace=pace, max_turns=settings.max_turns))
        asyncio.run(watch(settings, req, port or settings.port, stay, out, render_event))
    except KeyboardInterrupt:
        pass


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Bind address (default 127.0.0.1)"),
    port: int | None = typer.Option(None, min=1, max=65535, help="Port (default 8000)"),
) -> None:
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
    engine = open_engine(settings)  # a bad database setting fails here, in one line, before serving
    out.print(
        f"corpmail: web inbox and API on http://{host}:{port}/"
        + (" (token required)" if settings.token else ""),
        highlight=False,
    )
    try:
        uvicorn.run(create_app(settings, engine), host=host, port=port, log_level="warning")
    finally:
        engine.dispose()
