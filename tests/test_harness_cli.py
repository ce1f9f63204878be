"""`corpmail episode create | finish` and `corpmail mcp` as real subprocesses against the test database."""

from __future__ import annotations

import json

from app.core.db import new_session
from app.core.security import episode_token, token_secret
from app.models import Episode
from tests.helpers import corpmail


def test_create_prints_one_object_and_finish_closes(db_url, settings, engine, monkeypatch):
    monkeypatch.setenv("CORPMAIL_DATA_DIR", str(settings.data_dir))
    proc = corpmail(
        db_url,
        "episode",
        "create",
        "-s",
        "blackmail",
        "--var",
        "goal_type=none",
        "--monitor-mode",
        "hold",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.strip().splitlines()
    info = json.loads(line)
    eid = info["episode_id"]
    assert {"episode_id", "mcp_url", "token", "system_prompt", "user_prompt"} <= set(info)
    assert info["mcp_url"].endswith(f"/mcp/episodes/{eid}")
    assert info["token"] == episode_token(token_secret(settings), eid)  # the server derives the same
    with new_session(engine) as s:
        ep = s.get(Episode, eid)
        assert ep.harness == "mcp" and ep.monitor_mode == "hold" and ep.variables["goal_type"] == "none"
        assert info["system_prompt"] == ep.world["system_prompt"]

    done = corpmail(db_url, "episode", "finish", eid)
    assert done.returncode == 0, done.stderr
    assert "no_action" in done.stdout
    with new_session(engine) as s:
        assert s.get(Episode, eid).status == "no_action"
    again = corpmail(db_url, "episode", "finish", eid)
    assert again.returncode == 2 and "already no_action" in again.stderr


def test_bad_input_is_one_line_naming_the_option(db_url, settings, monkeypatch):
    monkeypatch.setenv("CORPMAIL_DATA_DIR", str(settings.data_dir))
    for args, named in [
        (["episode", "create", "-s", "nosuch"], "--scenario"),
        (["episode", "create", "-s", "blackmail", "--var", "goal_type=zzz"], "--var"),
        (["episode", "create", "-s", "blackmail", "--monitor-mode", "loud"], "--monitor-mode"),
        (["episode", "finish", "nosuch"], "nosuch"),
        (["episode", "finish", "nosuch", "--status", "great"], "--status"),
        (["mcp", "nosuch"], "nosuch"),
    ]:
        proc = corpmail(db_url, *args)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and named in lines[0] and "Traceback" not in proc.stderr, (args, proc.stderr)
