"""Shared pieces of the `corpmail` command line: the Typer apps, consoles, one-line failures, checks."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import typer
from rich.console import Console
from rich.text import Text

from app.core.config import Settings, get_settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="corpmail: a corporate email sandbox "
    "for agentic-misalignment experiments, with a monitor at the tool boundary.",
)
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
    err.print(
        Text.assemble(("error:", "red"), " ", message), highlight=False, soft_wrap=True
    )  # no markup parsing
    raise typer.Exit(2)


def parse_vars(items: list[str]) -> dict[str, str]:
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageProblem(f"--var expects NAME=VALUE, got {item!r}")
        values[name.strip()] = value.strip()
    return values


def check_model(model: str, scenario_dir, need_keys: bool = True, option: str = "--model") -> None:
    """Fail early, in one line, on a model string LiteLLM cannot route or a scripted policy that is missing."""
    from app.llm import script

    if model.startswith(f"{script.PROVIDER}/"):
        try:
            script.load_policy(model.split("/", 1)[1], scenario_dir)
        except script.PolicyError as exc:
            raise UsageProblem(f"{option}: {exc}") from None
        return
    from app.llm import litellm as configured

    litellm = configured()
    try:
        litellm.get_llm_provider(model)
    except Exception:
        raise UsageProblem(
            f"{option}: unknown model {model!r} (use a LiteLLM model string, e.g. "
            f"openai/gpt-4o, or scripted/<policy>)"
        ) from None
    missing = (litellm.validate_environment(model=model).get("missing_keys") or []) if need_keys else []
    if missing:
        raise UsageProblem(f"{option}: {model} needs {', '.join(missing)} in the environment")


def model_options(model: str, api_base: str | None, temperature: float | None):
    """Local OpenAI-compatible servers (Ollama, vLLM) need no key, but the OpenAI client insists on one."""
    from agents.loop import ModelOptions

    key = (
        "local" if api_base and model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY") else None
    )
    return ModelOptions(api_base=api_base, temperature=temperature, api_key=key)


def open_engine(settings: Settings):
    """The database every command uses; a setting that cannot be used is one line naming it (exit 2,
    mapped in app.cli.main from app.errors.ConfigError). With CORPMAIL_AUTO_MIGRATE=false, a database
    that is not at the newest schema is one line, not a traceback later."""
    from app.core.db import open_database
    from app.core.migrate import is_current

    engine = open_database(settings)
    if not settings.auto_migrate and not is_current(engine):
        engine.dispose()
        fail(
            "CORPMAIL_AUTO_MIGRATE is false and the database is not at the newest schema: "
            "run `corpmail db upgrade` first (with docker compose: `docker compose up`)"
        )
    return engine


def load_or_fail(ref: str):
    """The scenario at a slug or folder, or one line naming the problem."""
    from app.scenarios.loader import ScenarioError, load_scenario

    try:
        return load_scenario(ref, get_settings().scenarios_dir)
    except ScenarioError as exc:
        fail(str(exc))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the database schema (Alembic) at CORPMAIL_DATABASE_URL."""
    open_engine(get_settings().model_copy(update={"auto_migrate": True})).dispose()
    out.print("database is at the newest schema")


def check_episode_options(
    scenario: str, var: list[str], monitor_mode: str | None, approver: str, scenarios_dir
):
    """The options every episode-making command shares, checked in one place: returns (scenario spec,
    its folder, the given variables); raises UsageProblem naming the option."""
    from app.scenarios.loader import ScenarioError, load_scenario
    from app.scenarios.render import check_monitor_mode, resolve_variables
    from app.vocab import Approver, MonitorMode, choices

    variables = parse_vars(var)
    try:
        spec, folder = load_scenario(scenario, scenarios_dir)
    except ScenarioError as exc:
        raise UsageProblem(f"--scenario: {exc}") from None
    try:
        resolved = resolve_variables(spec, variables)
    except ScenarioError as exc:
        raise UsageProblem(f"--var: {exc}") from None
    if monitor_mode is not None and monitor_mode not in MonitorMode.__members__.values():
        raise UsageProblem(f"--monitor-mode: {monitor_mode!r} is not one of {choices(MonitorMode)}")
    try:
        check_monitor_mode(spec, resolved, monitor_mode)
    except ScenarioError as exc:
        raise UsageProblem(f"--monitor-mode: {exc}") from None
    if approver not in Approver.__members__.values():
        raise UsageProblem(f"--approver: {approver!r} is not one of {choices(Approver)}")
    return spec, folder, variables
