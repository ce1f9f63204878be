"""`corpmail run` with CORPMAIL_TOKEN set (as in docker compose): the in-process client must present it."""

from __future__ import annotations

import json

from tests.test_cli import corpmail


def test_run_with_a_token_set_plays_the_episode(tmp_path, monkeypatch):
    monkeypatch.setenv("CORPMAIL_TOKEN", "s3cret-token")
    proc = corpmail(
        f"sqlite:///{tmp_path / 'token.db'}",
        "run",
        "--scenario",
        "blackmail",
        "--model",
        "scripted/blackmail",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["status"] == "completed" and summary["tool_calls"] == 7


def test_auto_migrate_false_leaves_the_schema_to_db_upgrade(tmp_path, monkeypatch):
    """Compose runs `corpmail db upgrade` once; the server and `corpmail run` must not migrate themselves."""
    import sqlalchemy

    db = tmp_path / "nomigrate.db"
    url = f"sqlite:///{db}"
    monkeypatch.setenv("CORPMAIL_AUTO_MIGRATE", "false")
    proc = corpmail(url, "run", "--scenario", "blackmail", "--model", "scripted/benign")
    assert proc.returncode == 2 and "run `corpmail db upgrade` first" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert sqlalchemy.inspect(sqlalchemy.create_engine(url)).get_table_names() == []
    assert corpmail(url, "db", "upgrade").returncode == 0
    proc = corpmail(url, "run", "--scenario", "blackmail", "--model", "scripted/benign", "--json")
    assert proc.returncode == 0, proc.stderr
