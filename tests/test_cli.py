"""The corpmail command line, run as a real subprocess against the test database."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import TEST_SCENARIOS
from tests.helpers import corpmail


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


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--scenario", "nope", "--model", "scripted/benign"], "--scenario: unknown scenario 'nope'"),
        (["--scenario", "blackmail", "--model", "scripted/nope"], "--model: unknown scripted policy 'nope'"),
        (["--scenario", "blackmail", "--model", "nosuchprovider/x"], "--model: unknown model"),
        (
            ["--scenario", "blackmail", "--model", "openai/gpt-4o"],
            "--model: openai/gpt-4o needs OPENAI_API_KEY",
        ),
        (
            ["--scenario", "blackmail", "--model", "scripted/benign", "--var", "urgency=soon"],
            "--var: variable urgency",
        ),
        (
            ["--scenario", "blackmail", "--model", "scripted/benign", "--var", "oops"],
            "--var expects NAME=VALUE",
        ),
    ],
)
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
    assert f"watch it live: http://127.0.0.1:{port}/episodes/" in proc.stdout
    assert "verdict flag blackmail" in proc.stdout and '"status": "completed"' in proc.stdout


def test_scenarios_commands(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    listing = corpmail(url, "scenarios", "list")
    assert listing.returncode == 0 and {"blackmail", "leaking", "lethal_action"} <= {
        line.split()[0] for line in listing.stdout.splitlines()
    }
    show = corpmail(url, "scenarios", "show", "lethal_action")
    assert "cancel_emergency_dispatch" in show.stdout and "5120 combinations allowed" in show.stdout
    render = corpmail(
        url,
        "scenarios",
        "render",
        "leaking",
        "--var",
        "goal_type=explicit",
        "--var",
        "goal_value=safety",
        "--var",
        "urgency=restriction",
    )
    assert render.returncode == 0, render.stderr
    stamps = re.findall(r"^(2026-\d\d-\d\d \d\d:\d\d)  ", render.stdout, re.M)
    assert len(stamps) >= 10 and stamps == sorted(stamps)
    assert "careful, safety-first" in render.stdout
    bad = corpmail(
        url, "scenarios", "render", "leaking", "--var", "goal_type=none", "--var", "goal_value=safety"
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "goal_value" in bad.stderr
    schema = json.loads(corpmail(url, "scenarios", "schema").stdout)
    assert "emails" in schema["properties"] and "action_tools" in schema["properties"]


def test_scenarios_validate_names_file_and_field(tmp_path):
    import shutil

    from app.core.config import REPO_ROOT

    folder = tmp_path / "mine"
    shutil.copytree(REPO_ROOT / "sandbox_data" / "scenarios" / "leaking", folder)
    ok = corpmail(f"sqlite:///{tmp_path / 'x.db'}", "scenarios", "validate", str(folder))
    assert ok.returncode == 0 and "5120 combinations render" in ok.stdout
    text = (folder / "emails.yaml").read_text().replace("at: 2026-09-09T10:05:00", "at: 2026-09-09T07:05:00")
    (folder / "emails.yaml").write_text(text)
    bad = corpmail(f"sqlite:///{tmp_path / 'x.db'}", "scenarios", "validate", str(folder))
    assert bad.returncode == 2
    assert f"{folder / 'emails.yaml'}: emails.4.at: email csa_welcome" in bad.stderr


def test_held_action_decided_from_the_cli(tmp_path):
    url = f"sqlite:///{tmp_path / 'held.db'}"
    # reject_all keeps the run non-interactive; the approve/reject commands act on held rows
    run = corpmail(
        url,
        "run",
        "-s",
        "blackmail",
        "-m",
        "scripted/benign",
        "--var",
        "oversight=approval",
        "--approver",
        "reject_all",
        "--json",
    )
    summary = json.loads(run.stdout)
    assert [v["decision"] for v in summary["verdicts"]] == ["hold"]
    listing = corpmail(url, "monitor", "approvals", "--all")
    assert "status=rejected by=auto:reject_all" in listing.stdout
    again = corpmail(url, "monitor", "approve", "1")
    assert again.returncode == 2 and "already rejected" in again.stderr


def test_run_watch_keeps_serving_until_ctrl_c(tmp_path):
    """`run --watch` prints the live URL and the summary when the episode ends, then keeps serving (the
    replay URL it printed works) until Ctrl-C; then it exits 0."""
    import os
    import signal
    import subprocess
    import sys

    import httpx

    from tests.web_support import free_port

    port = free_port()
    env = {**os.environ, "CORPMAIL_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "run", "-s", "leaking", "-m", "scripted/benign", "--watch"]
        + ["--pace", "0", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        seen = []
        for line in proc.stdout:  # type: ignore[union-attr]
            seen.append(line)
            if "until Ctrl-C" in line:
                break
        text = "".join(seen)
        assert f"watch it live: http://127.0.0.1:{port}/episodes/" in text, text
        assert "status: completed" in text
        eid = re.search(r"/episodes/([0-9a-f]+)/replay", text).group(1)
        assert httpx.get(f"http://127.0.0.1:{port}/episodes/{eid}/replay", timeout=10).status_code == 200
        assert proc.poll() is None  # still serving
    finally:
        proc.send_signal(signal.SIGINT)
        out, errors = proc.communicate(timeout=30)
    assert proc.returncode == 0, errors
    assert "Traceback" not in errors


@pytest.mark.parametrize(
    "args, expected",
    [
        (["run", "--scenario", "blackmail"], "Missing option '--model'"),
        (
            ["run", "-s", "blackmail", "-m", "scripted/benign", "--max-turns", "zero"],
            "Invalid value for '--max-turns'",
        ),
        (["run", "-s", "blackmail", "-m", "scripted/benign", "--colour"], "No such option: --colour"),
        (["nonsense"], "No such command 'nonsense'"),
    ],
)
def test_usage_errors_are_one_line(tmp_path, args, expected):
    proc = corpmail(f"sqlite:///{tmp_path / 'u.db'}", *args)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], proc.stderr
