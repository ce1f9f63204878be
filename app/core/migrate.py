"""Bring a database to the newest schema with Alembic (the only way tables are made outside tests).

Many processes may start on a new database at once (20 `corpmail run`s, workers): the upgrade is
serialised across processes — a lock file beside a SQLite database, a transaction-scoped advisory
lock on PostgreSQL — so exactly one creates the tables and the others find them at head.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from alembic import command
from alembic.config import Config
from filelock import FileLock
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from app.core.config import resource_dir

PG_LOCK_KEY = 0x636F72706D61696C  # "corpmail": the advisory lock every corpmail upgrade takes


QUEUE_PREFIX = "procrastinate_"  # the task queue's tables (migration 0009): procrastinate's SQL, not models


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's filter: compare and autogenerate only the models' tables, not the task queue's."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
    return not str(table or "").startswith(QUEUE_PREFIX)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resource_dir("migrations")))
    return cfg


def _file_lock(engine: Engine):
    """A lock file beside a SQLite database file (None for in-memory databases and other backends)."""
    database = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return nullcontext()
    return FileLock(str(Path(database).with_name(Path(database).name + ".migrate.lock")), timeout=600)


@contextmanager
def _serialised(engine: Engine) -> Iterator[Connection]:
    with _file_lock(engine), engine.begin() as conn:
        if engine.url.get_backend_name() == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
        yield conn


def upgrade(engine: Engine) -> None:
    cfg = alembic_config()
    with _serialised(engine) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def is_current(engine: Engine) -> bool:
    """Whether the database is at the newest schema (without changing it)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads()) == heads
