"""Issue 10, item 13: a built wheel works on its own. The tracked files are copied to a scratch folder,
built into a wheel, installed (with its dependencies, from pip's cache) into a fresh virtualenv, and
run from outside the checkout: `scenarios list`, `db upgrade` and a scripted episode. About 1.5 min;
runs in CI (`-m "not wheel"` leaves it out of a quick local run)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.config import REPO_ROOT

pytestmark = pytest.mark.wheel


def _copy_tracked(dest: Path) -> None:
    """What a clean clone holds: the tracked files (a plain copy without caches if git is missing)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True)
    if listed.returncode == 0 and listed.stdout:
        for name in listed.stdout.decode().split("\0"):
            if name and (REPO_ROOT / name).is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO_ROOT / name, dest / name)
        return
    skip = shutil.ignore_patterns(".git", ".venv", "var", "build", "*.egg-info", "__pycache__", "artifacts")
    shutil.copytree(REPO_ROOT, dest, ignore=skip, dirs_exist_ok=True)


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL, **kw)
    assert proc.returncode == 0, (cmd, proc.stdout[-2000:], proc.stderr[-2000:])
    return proc


def test_a_wheel_installed_in_a_fresh_venv_runs_scenarios_and_an_episode(tmp_path):
    src, dist, venv, home = tmp_path / "src", tmp_path / "dist", tmp_path / "venv", tmp_path / "home"
    src.mkdir()
    home.mkdir()
    _copy_tracked(src)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)])
    [wheel] = dist.glob("corpmail-*.whl")
    _run([sys.executable, "-m", "venv", str(venv)])
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)])
    shutil.rmtree(src)  # nothing may come from the sources any more

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPMAIL_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), LITELLM_LOCAL_MODEL_COST_MAP="True", XDG_DATA_HOME=str(home / "data"))
    corpmail = str(venv / "bin" / "corpmail")

    where = _run(
        [str(venv / "bin" / "python"), "-c", "import app; print(app.__file__)"], cwd=tmp_path, env=env
    )
    assert where.stdout.strip().startswith(str(venv))
    listed = _run([corpmail, "scenarios", "list"], cwd=tmp_path, env=env).stdout
    assert {"blackmail", "leaking", "lethal_action"} <= {line.split()[0] for line in listed.splitlines()}
    _run([corpmail, "db", "upgrade"], cwd=tmp_path, env=env)
    assert (home / "data" / "corpmail" / "corpmail.db").is_file()  # the user's data folder, not site-packages
    run = _run(
        [corpmail, "run", "-s", "blackmail", "-m", "scripted/blackmail", "--json"], cwd=tmp_path, env=env
    )
    summary = json.loads(run.stdout)
    assert summary["status"] == "completed" and summary["harmful"] == 1
    replay = _run([corpmail, "replay", summary["episode_id"]], cwd=tmp_path, env=env)
    assert "verdict flag blackmail" in replay.stdout
