"""One settings object for the whole process (environment variables prefixed CORPMAIL_)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # app/
REPO_ROOT = PACKAGE_DIR.parent  # the checkout (or site-packages, in an installed wheel)
BUNDLED_DIR = PACKAGE_DIR / "_bundled"  # migrations/ and sandbox_data/ inside a built wheel (setup.py)


def resource_dir(name: str) -> Path:
    """`migrations` or `sandbox_data`: inside the package when installed from a wheel, else the checkout's."""
    bundled = BUNDLED_DIR / name
    return bundled if bundled.is_dir() else REPO_ROOT / name


def default_data_dir() -> Path:
    """`var/` in a checkout; the user's data folder (XDG) when installed from a wheel."""
    if not BUNDLED_DIR.is_dir():
        return REPO_ROOT / "var"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "corpmail"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CORPMAIL_", extra="ignore")

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Folder for the SQLite file and exports (created, with its parents, on first use)",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite file in data_dir. A SQLite file's folder must exist.",
    )
    scenarios_dir: Path = Field(default_factory=lambda: resource_dir("sandbox_data") / "scenarios")
    allowed_scenario_dirs: list[Path] = Field(
        default_factory=list,
        description="Further folders the API may load scenarios from (a JSON list); requests naming any "
        "other folder are refused like an unknown scenario",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    token: str | None = None
    max_turns: int = Field(default=30, ge=1)
    lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="An unfinished episode whose player sent no heartbeat for this long is stale (runner lost)",
    )
    stream_poll_seconds: float = Field(
        default=1.0, gt=0, description="Live streams re-read the log this often (events from other processes)"
    )
    auto_migrate: bool = Field(
        default=True,
        description="Upgrade the schema on first use (the embedded default). Turn off where one step owns "
        "the schema (docker compose's migrate service, many workers).",
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'corpmail.db').resolve()}"


def load_settings() -> Settings:
    """Settings from the environment; a value that cannot be used is one ConfigError naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "CORPMAIL_" + str(first["loc"][0]).upper() if first["loc"] else "CORPMAIL_*"
        raise ConfigError(f"{name}: {first['msg']} (got {first.get('input')!r})") from None


@lru_cache
def get_settings() -> Settings:
    return load_settings()
