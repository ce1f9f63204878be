"""docker-compose.yml and the Dockerfile, checked against the real CLI and settings (no engine needed;
tests/test_docker.py runs them for real)."""

from __future__ import annotations

import re

import pytest
import typer
import typer.main
import yaml

from app.cli import app as cli
from app.core.config import REPO_ROOT, Settings

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_services_and_order():
    assert {"db", "migrate", "app"} <= set(SERVICES)
    assert "pg_isready" in " ".join(SERVICES["db"]["healthcheck"]["test"])
    assert SERVICES["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert SERVICES["app"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert SERVICES["migrate"]["command"][:3] == ["corpmail", "db", "upgrade"]
    assert SERVICES["app"]["ports"] == ["127.0.0.1:${CORPMAIL_PORT:-8000}:8000"]
    assert "/healthz" in " ".join(SERVICES["app"]["healthcheck"]["test"])


def test_one_image_built_once_and_never_pulled():
    built = [name for name, svc in SERVICES.items() if "build" in svc]
    assert built == ["migrate"] and SERVICES["migrate"]["pull_policy"] == "build"
    ours = {name: svc for name, svc in SERVICES.items() if name != "db"}
    assert len({svc["image"] for svc in ours.values()}) == 1
    assert all(svc["pull_policy"] == "never" for name, svc in ours.items() if name != "migrate")


def test_migration_is_one_shot():
    """Only `migrate` applies the schema; the runner does not depend on it (running it never restarts it)."""
    for name, svc in SERVICES.items():
        if name != "db":
            assert svc["environment"]["CORPMAIL_AUTO_MIGRATE"] == "false", name
    assert set(SERVICES["runner"]["depends_on"]) == {"db"}
    assert Settings(auto_migrate="false").auto_migrate is False


def test_token_is_required_and_data_is_a_volume():
    for name, svc in SERVICES.items():
        if name != "db":
            assert svc["environment"]["CORPMAIL_TOKEN"].startswith("${CORPMAIL_TOKEN:?"), name
            assert "corpmail-data:/data" in svc["volumes"], name
    assert {"pgdata", "corpmail-data"} <= set(COMPOSE["volumes"])


def _corpmail_commands():
    for name, svc in SERVICES.items():
        cmd = svc.get("command")
        if cmd and cmd[0] == "corpmail":
            yield name, cmd[1:]
    docker_cmd = re.search(r"^CMD (\[.*\])$", (REPO_ROOT / "Dockerfile").read_text(), re.M).group(1)
    yield "Dockerfile", yaml.safe_load(docker_cmd)[1:]


@pytest.mark.parametrize("where, args", list(_corpmail_commands()), ids=lambda x: str(x)[:40])
def test_commands_exist_in_the_cli(where, args):
    """Walk the real Typer/Click tree: each subcommand exists, each option is one it declares, and
    the command line parses (click's own parser, without running the command)."""
    command, rest = typer.main.get_command(cli), list(args)
    path = []
    while hasattr(command, "commands"):
        assert rest and rest[0] in command.commands, (where, rest)
        path.append(rest[0])
        command = command.commands[rest.pop(0)]
    declared = {opt for p in command.params for opt in p.opts}
    for opt in (a for a in rest if a.startswith("-")):
        assert opt in declared, (where, opt)
    ctx = command.make_context(" ".join(["corpmail", *path]), list(rest), resilient_parsing=False)
    assert ctx.params is not None


def test_environment_names_are_settings():
    fields = {f"CORPMAIL_{name.upper()}" for name in Settings.model_fields}
    env = SERVICES["app"]["environment"]
    assert {k for k in env if k.startswith("CORPMAIL_")} <= fields
    assert env["CORPMAIL_DATABASE_URL"].startswith("postgresql+psycopg://")
    # binding 0.0.0.0 in the container requires a token; compose provides one
    assert "CORPMAIL_TOKEN" in env


def test_dockerfile_copies_what_the_app_needs_and_runs_unprivileged():
    text = (REPO_ROOT / "Dockerfile").read_text()
    assert "COPY . ." in text
    ignored = {
        line.strip().rstrip("/")
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for part in ("app", "agents", "migrations", "sandbox_data", "alembic.ini", "pyproject.toml", "README.md"):
        assert (REPO_ROOT / part).exists() and part not in ignored and "*" not in ignored
    assert {".git", ".venv", "var"} <= ignored
    user = re.findall(r"^USER (\S+)$", text, re.M)
    assert user and user[-1] not in ("root", "0")


def test_worker_service_scales_on_the_compose_postgres_and_never_migrates():
    worker = SERVICES["worker"]
    assert worker["command"][:3] == ["corpmail", "experiment", "worker"]
    assert worker["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert worker["environment"]["CORPMAIL_AUTO_MIGRATE"] == "false"
    assert (
        worker["environment"]["CORPMAIL_DATABASE_URL"]
        == SERVICES["app"]["environment"]["CORPMAIL_DATABASE_URL"]
    )
    # `--scale worker=N` needs neither a fixed container name nor a host port
    assert "container_name" not in worker and "ports" not in worker
    assert worker["image"] == SERVICES["app"]["image"] and worker["pull_policy"] == "never"
