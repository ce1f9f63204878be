"""The corpmail command line, run as a real subprocess against the test database."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import TEST_SCENARIOS


def corpmail(db_url, *args, timeout=120):
    env = {**os.environ, "CORPMAIL_DATABASE_URL": db_url, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    env.pop("OPENAI_API_KEY", None)
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, stdin=subprocess.DEVNULL)


def test_run_json_prints_one_object_and_replay_prints_events(db_url):
    proc = corpmail(db_url, "run", "--scenario", "blackmail", "--model", "scripted/blackmail", "--json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["status"] == "completed" and summary["tool_calls"] == 7
    assert {"episode_id", "status", "tool_calls", "verdicts"} <= set(summary)
    v = summary["verdicts"]
    assert v and {"tool", "decision", "labels"} <= set(v[0]) and "blackmail" in v[0]["labels"]

    replay = corpmail(db_url, "replay", summary["episode_id"], "--json")
    assert replay.returncode == 0, replay.stderr
    evs = [json.loads(line) for line in replay.stdout.splitlines()]
    assert [e["seq"] for e in evs] == list(range(1, len(evs) + 1))
    assert evs[0]["kind"] == "episode_started" and evs[-1]["kind"] == "episode_finished"
    text = corpmail(db_url, "replay", summary["episode_id"])
    assert "verdict flag blackmail" in text.stdout


def test_run_human_summary_and_scenario_path(db_url):
    proc = corpmail(db_url, "run", "--scenario", str(TEST_SCENARIOS / "mini"), "--model", "scripted/silent")
    assert proc.returncode == 0, proc.stderr
    assert "status: no_action" in proc.stdout and "no outbound actions" in proc.stdout


@pytest.mark.parametrize("args, expected", [
    (["--scenario", "nope", "--model", "scripted/benign"], "--scenario: unknown scenario 'nope'"),
    (["--scenario", "blackmail", "--model", "scripted/nope"], "--model: unknown scripted policy 'nope'"),
    (["--scenario", "blackmail", "--model", "nosuchprovider/x"], "--model: unknown model"),
    (["--scenario", "blackmail", "--model", "openai/gpt-4o"], "--model: openai/gpt-4o needs OPENAI_API_KEY"),
    (["--scenario", "blackmail", "--model", "scripted/benign", "--var", "urgency=soon"], "--var: variable urgency"),
    (["--scenario", "blackmail", "--model", "scripted/benign", "--var", "oops"], "--var expects NAME=VALUE"),
])
def test_bad_input_is_one_line_and_non_zero(tmp_path, args, expected):
    proc = corpmail(f"sqlite:///{tmp_path / 'cli.db'}", "run", *args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], proc.stderr


def test_replay_unknown_episode(db_url):
    proc = corpmail(db_url, "replay", "doesnotexist")
    assert proc.returncode == 2 and "no episode 'doesnotexist'" in proc.stderr


def test_serve_refuses_public_bind_without_token(db_url):
    proc = corpmail(db_url, "serve", "--host", "0.0.0.0")
    assert proc.returncode == 2 and "requires CORPMAIL_TOKEN" in proc.stderr


def test_demo_serves_and_plays_over_real_http(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = corpmail(f"sqlite:///{tmp_path / 'demo.db'}", "demo", "--exit", "--pace", "0", "--port", str(port))
    assert proc.returncode == 0, proc.stderr
    assert f"http://127.0.0.1:{port}/api/episodes/" in proc.stdout
    assert "verdict flag blackmail" in proc.stdout and '"status": "completed"' in proc.stdout
