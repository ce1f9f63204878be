"""Engine and session factories for SQLite (default) and PostgreSQL. No import-time side effects.

`open_database` is the one way a command or the server gets its database: every setting that cannot
be used (an unparseable URL, a missing driver, a server that does not answer, a missing database, a
data folder that cannot be made, a SQLite file in a folder that does not exist) becomes one
ConfigError naming the setting. Folders are never created for a SQLite URL; only CORPMAIL_DATA_DIR
(the default database's home) is created, with its parents."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlmodel import Session, create_engine

from app.core.sqlite_gate import GatedConnection
from app.errors import ConfigError

URL_SETTING = "CORPMAIL_DATABASE_URL"
DATA_DIR_SETTING = "CORPMAIL_DATA_DIR"


def normalize_url(url: str) -> str:
    """Map plain postgres URLs to the psycopg (v3) driver this project ships."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, setting: str = URL_SETTING) -> Engine:
    """An engine for `url` (not yet connected). A URL that cannot be used raises ConfigError naming `setting`."""
    try:
        parsed = make_url(normalize_url(url))
    except ArgumentError:
        raise ConfigError(f"{setting}: cannot parse {url!r} as a database URL") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
                folder = Path(parsed.database).parent
                if not folder.is_dir():
                    raise ConfigError(
                        f"{setting}: the folder {str(folder)!r} of the SQLite file does not exist "
                        "(corpmail does not create it)"
                    )
            # writers queue at the file's gate instead of sleeping in SQLite's busy handler (sqlite_gate)
            connect_args = {"check_same_thread": False, "timeout": 30, "factory": GatedConnection}
            engine = create_engine(parsed, connect_args=connect_args)
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": 10}
        return create_engine(
            parsed, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=connect_args
        )
    except NoSuchModuleError:
        raise ConfigError(f"{setting}: no database driver for {parsed.drivername!r}") from None
    except ImportError as exc:
        raise ConfigError(
            f"{setting}: the driver for {parsed.drivername!r} is not installed ({exc.name or exc})"
        ) from None


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def new_session(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)


def _data_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"{DATA_DIR_SETTING}: cannot create {str(path)!r} ({exc.strerror or exc})"
        ) from None


def open_database(settings) -> Engine:
    """The settings' engine, connected once so a bad setting fails here (one ConfigError naming it), its
    schema upgraded first when `auto_migrate` is on."""
    from app.core.migrate import upgrade

    setting = URL_SETTING if settings.database_url else DATA_DIR_SETTING
    if not settings.database_url:
        _data_dir(Path(settings.data_dir))
    engine = make_engine(settings.resolved_database_url(), setting)
    try:
        with engine.connect():
            pass
        if settings.auto_migrate:
            upgrade(engine)
    except DBAPIError as exc:
        engine.dispose()
        where = engine.url.render_as_string(hide_password=True)
        reason = (
            str(exc.orig or exc).strip().splitlines()[0]
            if str(exc.orig or exc).strip()
            else type(exc).__name__
        )
        raise ConfigError(f"{setting}: cannot use the database at {where}: {reason}") from None
    return engine


def libpq_url(engine: Engine) -> str:
    """The engine's PostgreSQL URL as libpq/psycopg take it (no SQLAlchemy driver suffix), for the
    connections corpmail opens outside SQLAlchemy (LISTEN, the task queue's pool)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def scratch_postgres(admin_url: str, prefix: str = "corpmail_scratch") -> Iterator[str]:
    """A fresh database on the PostgreSQL server of `admin_url`, for tests and benchmarks: yields its
    URL and drops it (closing any connection still open) afterwards."""
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
