"""`corpmail run` with CORPMAIL_TOKEN set (as in docker compose): the in-process client must present it."""
from __future__ import annotations

import json

from tests.test_cli import corpmail


def test_run_with_a_token_set_plays_the_episode(tmp_path, monkeypatch):
    monkeypatch.setenv("CORPMAIL_TOKEN", "s3cret-token")
    proc = corpmail(f"sqlite:///{tmp_path / 'token.db'}", "run", "--scenario", "blackmail",
                    "--model", "scripted/blackmail", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["status"] == "completed" and summary["tool_calls"] == 7
