"""`corpmail scenarios ...`: list, show, render, validate, schema."""

from __future__ import annotations

import json
import sys

import typer

from app.cli.common import (
    UsageProblem,
    fail,
    get_settings,
    load_or_fail,
    open_engine,
    out,
    parse_vars,
    scenarios_app,
)


@scenarios_app.command("show")
def scenarios_show(scenario: str = typer.Argument(..., help="Slug or folder path")) -> None:
    """Describe a scenario: variables, people, outside contacts, action tools, policies."""
    from app.llm.script import available
    from app.scenarios.combos import split

    spec, folder = load_or_fail(scenario)
    allowed, refused = split(spec)
    out.print(f"[bold]{spec.slug}[/bold] - {spec.title}\n{folder}\n{spec.description.strip()}\n")
    out.print(
        f"company: {spec.company.name} ({spec.company.domain}); session starts {spec.start_time} ({spec.timezone})"
    )
    out.print(f"agent: {spec.agent.name} <{spec.agent.address}>")
    for p in spec.people:
        out.print(f"  {p.key:10} {p.name} <{p.address}> {p.title}", highlight=False)
    for c in spec.external_contacts:
        out.print(f"  outside    {c.name or '-'} <{c.address}> roles={','.join(c.roles)}", highlight=False)
    out.print("\nvariables:")
    for name, v in spec.variables.items():
        out.print(f"  {name} = {' | '.join(v.choices)} (default {v.default})", highlight=False)
    out.print(f"  {len(allowed)} combinations allowed, {len(refused)} refused by constraints")
    for t in spec.action_tools:
        out.print(
            f"action tool: {t.name}({', '.join(p.name for p in t.parameters)}) - {t.description}",
            highlight=False,
        )
    out.print(f"emails: {len(spec.emails)}; scripted policies: {', '.join(available(folder))}")


@scenarios_app.command("render")
def scenarios_render(
    scenario: str = typer.Argument(..., help="Slug or folder path"),
    var: list[str] = typer.Option([], "--var", help="NAME=VALUE (repeatable)"),
) -> None:
    """Print the rendered system prompt, tools and inbox (in time order) for one combination."""
    from app.scenarios.loader import ScenarioError
    from app.scenarios.render import render
    from app.scenarios.zones import local

    spec, _ = load_or_fail(scenario)
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
        out.print(
            f"\n[bold]{local(e.at, world.timezone):%Y-%m-%d %H:%M}  {e.subject}[/bold]{labels}\nfrom {e.sender} to "
            f"{', '.join(e.to + e.cc)}{'' if e.unread else '  (read)'}",
            highlight=False,
        )
        out.print(e.body, highlight=False, markup=False)
        for a in e.attachments:
            out.print(f"  attachment {a.name}:\n{a.content}", highlight=False, markup=False)


@scenarios_app.command("validate")
def scenarios_validate(scenario: str = typer.Argument(..., help="Folder path or slug")) -> None:
    """Validate a scenario and render every allowed combination strictly."""
    from app.evaluation.ground_truth import when_problem
    from app.llm.script import PolicyError, available, load_policy
    from app.scenarios.combos import split
    from app.scenarios.loader import ScenarioError
    from app.scenarios.render import render

    spec, folder = load_or_fail(scenario)
    allowed, refused = split(spec)
    for combo in allowed:
        try:
            render(spec, combo, "CMK-VALIDATE")
        except ScenarioError as exc:
            fail(f"{folder}: with {combo}: {exc}")
    choices = {k: v.choices for k, v in spec.variables.items()}
    for name in available(folder):
        try:
            problem = when_problem(load_policy(name, folder), choices)
        except PolicyError as exc:
            fail(str(exc))
        if problem:
            fail(f"{folder / 'policies' / name}.yaml: {problem}")
    out.print(
        f"ok: {spec.slug}: {len(allowed)} combinations render; {len(refused)} refused by constraints",
        highlight=False,
    )


@scenarios_app.command("schema")
def scenarios_schema(
    policy: bool = typer.Option(
        False, "--policy", help="The schema of a policy file (policies/*.yaml) alone"
    ),
) -> None:
    """Print the JSON Schema of the scenario format (scenario.yaml + emails.yaml); a policy file's
    schema (steps, expect) is included under $defs.Policy."""
    from app.llm.script import Policy
    from app.scenarios.schema import Scenario

    policy_schema = Policy.model_json_schema(by_alias=True)
    if policy:
        schema = policy_schema
    else:
        schema = Scenario.model_json_schema(by_alias=True)
        schema["$defs"] |= policy_schema.pop("$defs", {})
        schema["$defs"]["Policy"] = policy_schema
    sys.stdout.write(json.dumps(schema, indent=2) + "\n")


@scenarios_app.command("list")
def scenarios_list() -> None:
    """List the scenarios in the library."""
    from app.scenarios.loader import list_slugs, load_scenario

    settings = get_settings()
    for slug in list_slugs(settings.scenarios_dir):
        scenario, _ = load_scenario(slug, settings.scenarios_dir)
        out.print(f"{slug:16} {scenario.title}", highlight=False)


def _grid(items: list[str]) -> list[dict[str, str]]:
    """--var NAME=V1,V2 ... -> every combination of the listed values."""
    from itertools import product

    values = parse_vars(items)
    names = list(values)
    choices = [[v.strip() for v in values[n].split(",") if v.strip()] for n in names]
    for n, c in zip(names, choices, strict=True):
        if not c:
            raise UsageProblem(f"--var: {n} has no value")
    return [dict(zip(names, combo, strict=True)) for combo in product(*choices)]


@scenarios_app.command("check")
def scenarios_check(
    scenario: str = typer.Argument(..., help="Slug or folder path"),
    var: list[str] = typer.Option(
        [], "--var", help="NAME=VALUE, or NAME=V1,V2 for every listed value (repeatable)"
    ),
    keep: bool = typer.Option(
        False, "--keep", help="Store the episodes in the configured database (default: a throwaway one)"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object"),
) -> None:
    """Play every policy in the scenario's policies/ and compare the monitor with each `expect:`.
    Exits 1 on any mismatch or unplayable policy."""
    import asyncio
    import tempfile
    from pathlib import Path

    from app.errors import InvalidRequest
    from app.play import check_policies
    from app.scenarios.loader import ScenarioError, load_scenario
    from app.scenarios.render import resolve_variables

    settings = get_settings()
    try:
        spec, folder = load_scenario(scenario, settings.scenarios_dir)
        combos = _grid(var)
        for combo in combos:
            resolve_variables(spec, combo)
    except (UsageProblem, ScenarioError) as exc:
        fail(f"--var: {exc}" if isinstance(exc, ScenarioError) and var else str(exc))
    # the user named this folder on the command line: the in-process app may load it
    settings = settings.model_copy(
        update={"allowed_scenario_dirs": [*settings.allowed_scenario_dirs, folder]}
    )
    with tempfile.TemporaryDirectory(prefix="corpmail-check-") as tmp:
        if not keep:
            url = f"sqlite:///{Path(tmp) / 'check.db'}"
            settings = settings.model_copy(update={"database_url": url, "auto_migrate": True})
        engine = open_engine(settings)
        try:
            results = [
                r
                for combo in combos
                for r in asyncio.run(check_policies(settings, engine, str(folder), combo))
            ]
        except InvalidRequest as exc:
            fail(str(exc))
        finally:
            engine.dispose()
    counts = {k: sum(1 for r in results if r.verdict == k) for k in ("pass", "fail", "n/a")}
    if as_json:
        sys.stdout.write(
            json.dumps({"scenario": spec.slug, **counts, "results": [r.as_dict() for r in results]}) + "\n"
        )
    else:
        shown = None
        for r in results:
            if r.variables != shown:
                shown = r.variables
                out.print(
                    f"[bold]{spec.slug}[/bold] " + " ".join(f"{k}={v}" for k, v in shown.items()),
                    highlight=False,
                )
            colour = {"pass": "green", "fail": "red", "n/a": "yellow"}[r.verdict]
            what = r.lines[0] if r.verdict == "n/a" else f"expected {r.expected:28} got {r.got}"
            out.print(f"  [{colour}]{r.verdict.upper():4}[/{colour}] {r.policy:22} {what}", highlight=False)
            if r.verdict == "fail":
                for line in r.lines:
                    out.print(f"       {line}", highlight=False, markup=False)
        out.print(
            f"{counts['pass']} passed, {counts['fail']} failed, {counts['n/a']} not applicable",
            highlight=False,
        )
    if counts["fail"] or not results:
        raise typer.Exit(1)
