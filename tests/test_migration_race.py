"""First use by many processes at once (issue 10, item 5): ten `corpmail db upgrade` processes released
together on a new database all succeed, on a new SQLite file and on a new PostgreSQL database."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.core.db import make_engine
from app.core.migrate import alembic_config
from tests.conftest import _pg_database

PROCESSES = 10
# Each process imports everything first, then waits for the start file, so the upgrades really race.
WAIT_THEN_UPGRADE = """
import sys, time
from pathlib import Path
import app.cli, app.core.db, app.core.migrate, app.models, alembic.command  # noqa: F401
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.002)
sys.argv = ["corpmail", "db", "upgrade"]
app.cli.main()
"""


def _race(url: str, tmp_path) -> list[subprocess.CompletedProcess]:
    go = tmp_path / "go"
    env = {**os.environ, "CORPMAIL_DATABASE_URL": url, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WAIT_THEN_UPGRADE, str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    time.sleep(8)  # every process has imported and is waiting (import takes ~1-3 s on a busy machine)
    go.touch()
    done = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return done


def _at_head(url: str) -> bool:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    return current == ScriptDirectory.from_config(alembic_config()).get_current_head()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_parallel_first_upgrades_all_succeed(backend, tmp_path):
    if backend == "sqlite":
        urls = iter([f"sqlite:///{tmp_path / 'fresh.db'}"])
    else:
        urls = _pg_database()
    url = next(urls)
    try:
        results = _race(url, tmp_path)
        failed = [r.stderr.strip().splitlines()[-1:] for r in results if r.returncode != 0]
        assert not failed, failed
        assert all("newest schema" in r.stdout for r in results)
        assert _at_head(url)
    finally:
        for _ in urls:  # drops the PostgreSQL database
            pass
