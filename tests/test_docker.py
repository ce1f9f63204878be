"""Docker smoke test: the README's Docker commands, run as written, play an episode with a token set.

It makes an engine usable (docker/engine-up.sh installs docker.io and starts dockerd when absent), tags
base-image stand-ins where no registry is reachable (docker/standins/build.sh), then runs the README's
`docker compose` lines under a unique project name: up (build, PostgreSQL, one-shot migration, healthy
server), the runner, checks of the API and the web inbox, and `down -v`, after which nothing of the project
may remain. Traffic: loopback and the compose network. Outside CI it skips (saying why) when no engine can
be had; with CI=true that is a failure. Deselect with `-m "not docker"`."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import time

import httpx
import pytest

from app.core.config import REPO_ROOT

pytestmark = pytest.mark.docker
IN_CI = os.environ.get("CI", "").lower() == "true"


def readme_docker_lines() -> list[str]:
    """The commands of the README's Docker section, in order, without their comments."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = re.search(r"^## Docker\n(.*?)(?=^## )", readme, re.S | re.M).group(1)
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line.split(" #")[0].strip() for line in block.splitlines() if line.strip()]


def _run(cmd: list[str], env=None, timeout=600, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Compose:
    """`docker compose` (v2 plugin) where present, else compose v1 `docker-compose`."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.v2 = _run(["docker", "compose", "version"], check=False).returncode == 0
        if not self.v2 and not shutil.which("docker-compose"):
            pytest.fail("neither `docker compose` nor `docker-compose` is available")

    def readme(self, line: str, timeout=600) -> subprocess.CompletedProcess:
        """Run one README line as written (compose v1: `docker-compose`, and --wait done by polling)."""
        args = line.split()
        assert args[:2] == ["docker", "compose"], line
        if self.v2:
            return _run(args, self.env, timeout)
        rest = [a for a in args[2:] if a != "--wait"]
        proc = _run(["docker-compose", *rest], self.env, timeout)
        if "--wait" in args:
            self.wait_healthy(["db", "app"])
        return proc

    def containers(self, service: str | None = None, all_states=False) -> list[str]:
        project = self.env["COMPOSE_PROJECT_NAME"]
        cmd = ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={project}"]
        if service:
            cmd += ["--filter", f"label=com.docker.compose.service={service}"]
        return _run(cmd + (["-a"] if all_states else [])).stdout.split()

    def wait_healthy(self, services: list[str], timeout=180.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            states = {}
            for svc in services:
                ids = self.containers(svc)
                health = ["docker", "inspect", "--format", "{{.State.Health.Status}}"]
                states[svc] = _run(health + ids[:1]).stdout.strip() if ids else "absent"
            if all(s == "healthy" for s in states.values()):
                return
            if time.monotonic() > deadline:
                pytest.fail(f"not healthy after {timeout:.0f} s: {states}")
            time.sleep(0.5)

    def leftovers(self) -> dict[str, list[str]]:
        label = f"label=com.docker.compose.project={self.env['COMPOSE_PROJECT_NAME']}"
        found = {"containers": self.containers(all_states=True)}
        for kind in ("network", "volume"):
            found[kind + "s"] = _run(["docker", kind, "ls", "-q", "--filter", label]).stdout.split()
        return {k: v for k, v in found.items() if v}


@pytest.fixture(scope="module")
def engine_ready():
    """A working Docker engine and the base images (official, or stand-ins built here)."""
    timings = {}
    start = time.monotonic()
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "docker" / "engine-up.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        reason = f"no Docker engine could be installed or started: {proc.stderr.strip()[-500:]}"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    timings["engine"] = time.monotonic() - start
    start = time.monotonic()
    _run(["bash", str(REPO_ROOT / "docker" / "standins" / "build.sh")], timeout=900)
    timings["base images"] = time.monotonic() - start
    return timings


def test_readme_docker_section_plays_an_episode_with_a_token(engine_ready, capsys):
    lines = readme_docker_lines()
    token_line, up, runner, down = lines[0], lines[1], lines[2], lines[-1]
    assert token_line.startswith("export CORPMAIL_TOKEN="), lines
    assert up.split()[:3] == ["docker", "compose", "up"] and "--wait" in up.split(), lines
    assert runner == "docker compose --profile runner run --rm runner", lines
    assert down.startswith("docker compose down"), lines
    scale = next(line for line in lines if "--scale worker=" in line)
    submit = next(line for line in lines if "experiment submit" in line)
    status = next(line for line in lines if "experiment status" in line)
    assert submit.startswith(runner) and status.startswith(runner), lines

    token, port = secrets.token_urlsafe(24), _free_port()
    checkout = hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:8]  # checkouts never share an image tag
    env = {
        **os.environ,
        "CORPMAIL_TOKEN": token,
        "CORPMAIL_PORT": str(port),
        "COMPOSE_PROJECT_NAME": f"corpmail-smoke-{secrets.token_hex(4)}",
        "CORPMAIL_IMAGE": f"corpmail:smoke-{checkout}",
    }
    compose, timings = Compose(env), dict(engine_ready)
    base = f"http://127.0.0.1:{port}"
    try:
        start = time.monotonic()
        compose.readme(up)
        timings["up (build, migrate, healthy)"] = time.monotonic() - start
        migrate = compose.containers("migrate", all_states=True)
        assert len(migrate) == 1

        start = time.monotonic()
        played = compose.readme(runner)
        timings["runner"] = time.monotonic() - start
        episode_id = re.search(r"corpmail replay (\w+)", played.stdout).group(1)
        assert "status: completed" in played.stdout, played.stdout

        # the migration ran once: the runner did not start it again
        state = json.loads(_run(["docker", "inspect", migrate[0]]).stdout)[0]["State"]
        assert state["Status"] == "exited" and state["ExitCode"] == 0
        assert _run(["docker", "logs", migrate[0]]).stdout.count("newest schema") == 1

        assert httpx.get(f"{base}/healthz").json() == {"ok": True}
        assert httpx.get(f"{base}/api/episodes").status_code == 401
        listed = httpx.get(f"{base}/api/episodes", headers={"Authorization": f"Bearer {token}"}).json()
        assert [e["status"] for e in listed if e["id"] == episode_id] == ["completed"]
        with httpx.Client(base_url=base, follow_redirects=True) as browser:
            page = browser.get("/", params={"token": token})
            assert page.status_code == 200 and episode_id in page.text
            assert browser.get(f"/episodes/{episode_id}").status_code == 200
        user = _run(["docker", "exec", compose.containers("app")[0], "id", "-u"]).stdout.strip()
        assert user != "0"

        # the worker service against the CLI: submit a grid, the scaled workers drain it, status counts it
        start = time.monotonic()
        compose.readme(scale)
        workers = int(re.search(r"--scale worker=(\d+)", scale).group(1))
        assert len(compose.containers("worker")) == workers
        queued = compose.readme(submit)
        assert "queued 48 trials" in queued.stdout, queued.stdout + queued.stderr
        deadline = time.monotonic() + 600
        while True:
            counts = compose.readme(status).stdout
            if "completed 48" in counts:
                break
            assert "errored 0" in counts and time.monotonic() < deadline, counts
            time.sleep(2)
        assert "pending 0  running 0  completed 48  errored 0" in counts, counts
        timings[f"48 trials, {workers} workers"] = time.monotonic() - start
        experiments = httpx.get(
            f"{base}/api/experiments", headers={"Authorization": f"Bearer {token}"}
        ).json()
        smoke = next(e for e in experiments if e["name"] == "smoke")
        assert smoke["completed"] == 48
        logs = [_run(["docker", "logs", c]).stderr for c in compose.containers("worker")]
        assert sum(1 for text in logs if re.search(r"worker: \d+ episodes at once", text)) == workers
    finally:
        start = time.monotonic()
        compose.readme(f"{down} -v --remove-orphans" if "-v" not in down.split() else down)
        timings["down -v"] = time.monotonic() - start
        _run(
            ["docker", "image", "prune", "-f", "--filter", "label=org.opencontainers.image.title=corpmail"],
            check=False,
        )
        with capsys.disabled():
            print(
                "\ndocker smoke test (compose "
                + ("v2" if compose.v2 else "v1")
                + "): "
                + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
            )
    assert compose.leftovers() == {}
