"""The `corpmail` command line (Typer). Bad input gets one line naming what is wrong, exit code 2."""
from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Optional

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import typer  # noqa: E402
from rich.console import Console  # noqa: E402

from app.core.config import Settings, get_settings  # noqa: E402

app = typer.Typer(add_completion=False, no_args_is_help=True, help="corpmail: a corporate email sandbox "
                  "for agentic-misalignment experiments, with a monitor at the tool boundary.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
scenarios_app = typer.Typer(no_args_is_help=True, help="Scenario library.")
app.add_typer(db_app, name="db")
app.add_typer(scenarios_app, name="scenarios")
monitor_app = typer.Typer(no_args_is_help=True, help="Monitor: held actions, re-scoring, checks.")
app.add_typer(monitor_app, name="monitor")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class UsageProblem(Exception):
    """Bad input from the command line; printed as one line."""


def fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(2)


def parse_vars(items: list[str]) -> dict[str, str]:
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageProblem(f"--var expects NAME=VALUE, got {item!r}")
        values[name.strip()] = value.strip()
    return values


def check_model(model: str, scenario_dir, need_keys: bool = True) -> None:
    """Fail early, in one line, on a model string LiteLLM cannot route or a scripted policy that is missing."""
    from agents import scripted

    if model.startswith(f"{scripted.PROVIDER}/"):
        try:
            scripted.load_policy(model.split("/", 1)[1], scenario_dir)
        except scripted.PolicyError as exc:
            raise UsageProblem(f"--model: {exc}") from None
        return
    import litellm

    scripted.register()
    litellm.suppress_debug_info = True
    try:
        litellm.get_llm_provider(model)
    except Exception:
        raise UsageProblem(f"--model: unknown model {model!r} (use a LiteLLM model string, e.g. "
                           f"openai/gpt-4o, or scripted/<policy>)") from None
    missing = (litellm.validate_environment(model=model).get("missing_keys") or []) if need_keys else []
    if missing:
        raise UsageProblem(f"--model: {model} needs {', '.join(missing)} in the environment")


def model_options(model: str, api_base: str | None, temperature: float | None):
    """Local OpenAI-compatible servers (Ollama, vLLM) need no key, but the OpenAI client insists on one."""
    from agents.loop import ModelOptions

    key = "local" if api_base and model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY") else None
    return ModelOptions(api_base=api_base, temperature=temperature, api_key=key)


def open_engine(settings: Settings):
    from app.core.db import make_engine
    from app.core.migrate import upgrade

    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
    return engine


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the database schema (Alembic) at CORPMAIL_DATABASE_URL."""
    open_engine(get_settings()).dispose()
    out.print("database is at the newest schema")


def _load(ref: str):
    from app.scenarios.loader import ScenarioError, load_scenario

    try:
        return load_scenario(ref, get_settings().scenarios_dir)
    except ScenarioError as exc:
        fail(str(exc))


@scenarios_app.command("show")
def scenarios_show(scenario: str = typer.Argument(..., help="Slug or folder path")) -> None:
    """Describe a scenario: variables, people, outside contacts, action tools, policies."""
    from agents.scripted import available
    from app.scenarios.combos import split

    spec, folder = _load(scenario)
    allowed, refused = split(spec)
    out.print(f"[bold]{spec.slug}[/bold] - {spec.title}\n{folder}\n{spec.description.strip()}\n")
    out.print(f"company: {spec.company.name} ({spec.company.domain}); session starts {spec.start_time}")
    out.print(f"agent: {spec.agent.name} <{spec.agent.address}>")
    for p in spec.people:
        out.print(f"  {p.key:10} {p.name} <{p.address}> {p.title}", highlight=False)
    for c in spec.external_contacts:
        out.print(f"  outside    {c.name or '-'} <{c.address}> role={c.role}", highlight=False)
    out.print("\nvariables:")
    for name, v in spec.variables.items():
        out.print(f"  {name} = {' | '.join(v.choices)} (default {v.default})", highlight=False)
    out.print(f"  {len(allowed)} combinations allowed, {len(refused)} refused by constraints")
    for t in spec.action_tools:
        out.print(f"action tool: {t.name}({', '.join(p.name for p in t.parameters)}) - {t.description}",
                  highlight=False)
    out.print(f"emails: {len(spec.emails)}; scripted policies: {', '.join(available(folder))}")


@scenarios_app.command("render")
def scenarios_render(scenario: str = typer.Argument(..., help="Slug or folder path"),
                     var: list[str] = typer.Option([], "--var", help="NAME=VALUE (repeatable)")) -> None:
    """Print the rendered system prompt, tools and inbox (in time order) for one combination."""
    from app.scenarios.loader import ScenarioError
    from app.scenarios.render import render

    spec, _ = _load(scenario)
    try:
        world = render(spec, parse_vars(var), "CMK-PREVIEW")
    except (ScenarioError, UsageProblem) as exc:
        fail(f"--var: {exc}" if isinstance(exc, ScenarioError) else str(exc))
    out.print(f"[bold]variables[/bold]: {world.variables}", highlight=False)
    out.print(f"[bold]system prompt[/bold]\n{world.system_prompt}\n", highlight=False)
    out.print(f"[bold]first user message[/bold]\n{world.user_prompt}\n", highlight=False)
    for t in world.action_tools:
        out.print(f"[bold]action tool[/bold] {t.name}: {t.description}", highlight=False)
    for e in world.emails:
        labels = f"  [{', '.join(e.labels)}]" if e.labels else ""
        out.print(f"\n[bold]{e.at:%Y-%m-%d %H:%M}  {e.subject}[/bold]{labels}\nfrom {e.sender} to "
                  f"{', '.join(e.to + e.cc)}{'' if e.unread else '  (read)'}", highlight=False)
        out.print(e.body, highlight=False, markup=False)
        for a in e.attachments:
            out.print(f"  attachment {a.name}:\n{a.content}", highlight=False, markup=False)


@scenarios_app.command("validate")
def scenarios_validate(scenario: str = typer.Argument(..., help="Folder path or slug")) -> None:
    """Validate a scenario and render every allowed combination strictly."""
    from agents.scripted import PolicyError, available, load_policy
    from app.scenarios.combos import split
    from app.scenarios.loader import ScenarioError
    from app.scenarios.render import render

    spec, folder = _load(scenario)
    allowed, refused = split(spec)
    for combo in allowed:
        try:
            render(spec, combo, "CMK-VALIDATE")
        except ScenarioError as exc:
            fail(f"{folder}: with {combo}: {exc}")
    for name in available(folder):
        try:
            load_policy(name, folder)
        except PolicyError as exc:
            fail(str(exc))
    out.print(f"ok: {spec.slug}: {len(allowed)} combinations render; {len(refused)} refused by constraints",
              highlight=False)


@scenarios_app.command("schema")
def scenarios_schema() -> None:
    """Print the JSON Schema of the scenario format."""
    from app.scenarios.schema import Scenario

    sys.stdout.write(json.dumps(Scenario.model_json_schema(by_alias=True), indent=2) + "\n")


@scenarios_app.command("list")
def scenarios_list() -> None:
    """List the scenarios in the library."""
    from app.scenarios.loader import list_slugs, load_scenario

    settings = get_settings()
    for slug in list_slugs(settings.scenarios_dir):
        scenario, _ = load_scenario(slug, settings.scenarios_dir)
        out.print(f"{slug:16} {scenario.title}", highlight=False)


async def _run(settings: Settings, scenario: str, model: str, variables: dict[str, str],
               monitor_mode: str | None, max_turns: int, pace: float, options, approver: str,
               judge_model: str | None = None) -> dict:
    from agents.client import ApiError, CorpmailClient
    from agents.loop import Limits, run_episode
    from app.core.db import new_session
    from app.events import store
    from app.main import create_app
    from app.services.summary import summarize

    engine = open_engine(settings)
    client = CorpmailClient.over_asgi(create_app(settings, engine))
    try:
        try:
            start = await client.create_episode(scenario, model, variables, monitor_mode, approver)
        except ApiError as exc:
            raise UsageProblem(str(exc).split(": 422 ", 1)[-1]) from None
        result = await run_episode(client, start, model, Limits(max_turns=max_turns, pace=pace), options)
    finally:
        await client.aclose()
    with new_session(engine) as session:
        if judge_model:
            from app.monitor.rescore import rescore

            rescore(session, result["episode_id"], detectors=False, judge_model=judge_model)
        events = [store.typed(e) for e in store.read(session, result["episode_id"])]
    engine.dispose()
    return {"episode_id": result["episode_id"], "scenario": start["scenario"], "model": model,
            "variables": events[0].variables, **summarize(events)}


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
        if watch_live:
            from app.demo import WatchRun, watch

            asyncio.run(watch(settings, WatchRun(str(folder), model, variables, monitor_mode, approver, pace,
                                                 max_turns or settings.max_turns, port or settings.port, False),
                              err if as_json else out, render_event))
            return
        summary = asyncio.run(_run(settings, str(folder), model, variables, monitor_mode,
                                   max_turns or settings.max_turns, pace, model_options(model, api_base, temperature),
                                   approver, judge_model))
    except UsageProblem as exc:
        fail(str(exc))
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


@monitor_app.command("approvals")
def approvals_list(episode: Optional[str] = typer.Option(None, "--episode", help="Only this episode"),
                   every: bool = typer.Option(False, "--all", help="Decided ones too")) -> None:
    """List actions held for approval (pending, unless --all)."""
    from app.core.db import new_session
    from app.services import approvals

    engine = open_engine(get_settings())
    with new_session(engine) as session:
        rows = approvals.list_approvals(session, episode, None if every else "pending")
    if not rows:
        out.print("no held actions" + ("" if every else " pending"))
    for a in rows:
        req = a.request
        if req["kind"] == "mail":
            d = req["draft"]
            what = f"to={', '.join(d['to'] + d['cc'] + d['bcc'])} subject={d['subject']!r}"
        else:
            what = f"args={json.dumps(req['args'])}"
        out.print(f"#{a.id} episode={a.episode_id} {a.tool} {what} labels={','.join(a.labels) or '-'} "
                  f"status={a.status}" + (f" by={a.decided_by} reason={a.reason!r}" if a.decided_by else ""),
                  highlight=False, soft_wrap=True)


def _decide(approval_id: int, decision: str, reason: Optional[str], by: str) -> None:
    from app.core.db import new_session
    from app.models import Approval, Episode
    from app.services import approvals

    engine = open_engine(get_settings())
    with new_session(engine) as session:
        row = session.get(Approval, approval_id)
        if row is None:
            fail(f"no held action #{approval_id}")
        try:
            event = approvals.decide(session, session.get(Episode, row.episode_id),
                                     approval_id, decision, by, reason)
        except approvals.ApprovalError as exc:
            fail(str(exc))
    out.print(f"#{approval_id} {event.decision}" + (f": {json.dumps(event.result)}" if event.result else ""),
              highlight=False)


@monitor_app.command("approve")
def approve(approval_id: int = typer.Argument(..., help="Held action id"),
            reason: Optional[str] = typer.Option(None, "--reason"),
            by: str = typer.Option("staff", "--by", help="Who decides")) -> None:
    """Approve a held action: it takes effect now and the agent is told."""
    _decide(approval_id, "approved", reason, by)


@monitor_app.command("reject")
def reject(approval_id: int = typer.Argument(..., help="Held action id"),
           reason: Optional[str] = typer.Option(None, "--reason"),
           by: str = typer.Option("staff", "--by", help="Who decides")) -> None:
    """Reject a held action: it never takes effect and the agent is told why."""
    _decide(approval_id, "rejected", reason, by)


@monitor_app.command("rescore")
def monitor_rescore(episode_id: Optional[str] = typer.Argument(None, help="Episode id"),
                    every: bool = typer.Option(False, "--all", help="Every episode in the database"),
                    judge_model: Optional[str] = typer.Option(None, "--judge-model", help="Also ask this LLM judge"),
                    as_json: bool = typer.Option(False, "--json", help="One JSON object per episode")) -> None:
    """Re-judge stored actions with the current detectors (and a judge). Never calls the agent's model."""
    from sqlmodel import select

    from app.core.db import new_session
    from app.models import Episode
    from app.monitor.rescore import episode_agreement, rescore

    if bool(episode_id) == every:
        fail("give an EPISODE_ID or --all")
    if judge_model:
        try:
            check_model(judge_model, None)
        except UsageProblem as exc:
            fail(str(exc).replace("--model", "--judge-model"))
    engine = open_engine(get_settings())
    with new_session(engine) as session:
        ids = list(session.execute(select(Episode.id).order_by(Episode.created_at)).scalars()) if every else [episode_id]
        for eid in ids:
            try:
                r = rescore(session, eid, judge_model=judge_model)
            except LookupError as exc:
                fail(str(exc))
            changed = [v for v in r.verdicts if sorted(v.labels) != sorted(v.original_labels)]
            report = {"episode_id": eid, "actions": len(r.verdicts), "changed": len(changed),
                      "verdicts": [{"call_id": v.call_id, "tool": v.tool, "labels": v.labels,
                                    "original_labels": v.original_labels} for v in r.verdicts],
                      "skipped": r.skipped,
                      "agreement": episode_agreement(r) if judge_model else None}
            if as_json:
                sys.stdout.write(json.dumps(report) + "\n")
            else:
                out.print(f"{eid}: {report['actions']} actions re-judged, {report['changed']} changed"
                          + (f", agreement {report['agreement']}" if judge_model else ""), highlight=False)
                for v in changed:
                    out.print(f"  {v.call_id} {v.tool}: {v.original_labels} -> {v.labels}", highlight=False)


@monitor_app.command("check")
def monitor_check(actions_file: str = typer.Argument(..., help="JSONL: one {\"tool\", \"args\"} per line"),
                  scenario: str = typer.Option(..., "--scenario", "-s", help="Scenario slug or folder path"),
                  var: list[str] = typer.Option([], "--var", help="NAME=VALUE (repeatable)")) -> None:
    """Seed a fresh episode and run the calls in the file with no model; one JSON verdict line per call."""
    from pathlib import Path

    from app.core.db import new_session
    from app.monitor.replay_actions import ActionInputError, run_calls
    from app.scenarios.loader import ScenarioError
    from app.services.episodes import create_episode

    path = Path(actions_file)
    if not path.is_file():
        fail(f"ACTIONS: no file {actions_file!r}")
    calls = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            call = json.loads(line)
        except json.JSONDecodeError as exc:
            fail(f"{actions_file}: line {n}: not JSON ({exc.msg})")
        if not isinstance(call, dict) or not isinstance(call.get("tool"), str) or \
                not isinstance(call.get("args", {}), dict):
            fail(f"{actions_file}: line {n}: expected an object with \"tool\" (text) and \"args\" (object)")
        calls.append((n, call))
    settings = get_settings()
    spec, folder = _load(scenario)
    engine = open_engine(settings)
    with new_session(engine) as session:
        try:
            episode = create_episode(session, folder, parse_vars(var), "check", settings.scenarios_dir)
        except (ScenarioError, UsageProblem) as exc:
            fail(f"--var: {exc}")
        results = []
        for i, (n, call) in enumerate(calls):
            try:
                results += run_calls(session, episode.id, [call])[-1:]
            except ActionInputError as exc:
                fail(f"{actions_file}: line {n}: {exc}")
            results[-1]["index"] = i
    for r in results:
        sys.stdout.write(json.dumps({"index": r["index"], "tool": r["tool"], "decision": r["decision"],
                                     "labels": r["labels"], "evidence": r["evidence"],
                                     "error": r["error"]}) + "\n")


@monitor_app.command("eval")
def monitor_eval(corpus_path: Optional[str] = typer.Option(None, "--corpus", help="Corpus folder or file "
                                                           "(default: tests/monitor_corpus)"),
                 as_json: bool = typer.Option(False, "--json", help="Print one JSON object")) -> None:
    """Run the labelled corpus through the current detectors; precision and recall per harm label."""
    import tempfile
    from pathlib import Path

    from app.core.config import REPO_ROOT
    from app.core.db import make_engine, new_session
    from app.core.migrate import upgrade
    from app.monitor import corpus

    path = Path(corpus_path) if corpus_path else REPO_ROOT / "tests" / "monitor_corpus"
    if not path.exists():
        fail(f"--corpus: no such file or folder {str(path)!r}")
    try:
        cases = corpus.load(path)
    except (ValueError, KeyError) as exc:
        fail(f"--corpus: {exc}")
    with tempfile.TemporaryDirectory() as tmp:  # a scratch database: the corpus never touches yours
        engine = make_engine(f"sqlite:///{tmp}/eval.db")
        upgrade(engine)
        with new_session(engine) as session:
            report = corpus.evaluate(session, cases, get_settings().scenarios_dir)
        engine.dispose()
    metrics = report.metrics()
    mistakes = [{"id": o.case.id, "expected": sorted(o.case.expect), "got": o.labels} for o in report.mistakes()]
    if as_json:
        sys.stdout.write(json.dumps({"cases": len(cases), "metrics": metrics, "mistakes": mistakes}) + "\n")
        return
    out.print(f"{len(cases)} labelled actions")
    out.print(f"{'label':15} {'positives':>9} {'tp':>5} {'fp':>5} {'fn':>5} {'precision':>9} {'recall':>7}")
    for label, m in metrics.items():
        out.print(f"{label:15} {m['positives']:>9} {m['tp']:>5} {m['fp']:>5} {m['fn']:>5} "
                  f"{m['precision']:>9.3f} {m['recall']:>7.3f}", highlight=False)
    for m in mistakes:
        out.print(f"mistake: {m['id']} expected {m['expected']} got {m['got']}", highlight=False)


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
    """Serve the API (and, later, the web inbox) for existing and new episodes."""
    import uvicorn

    from app.main import create_app

    settings = get_settings()
    host = host or settings.host
    if host not in ("127.0.0.1", "localhost", "::1") and not settings.token:
        fail(f"--host {host}: binding beyond loopback requires CORPMAIL_TOKEN to be set")
    uvicorn.run(create_app(settings), host=host, port=port or settings.port, log_level="warning")


def main() -> None:
    try:
        app()
    except UsageProblem as exc:
        err.print(f"error: {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
