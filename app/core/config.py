"""One settings object for the whole process (environment variables prefixed CORPMAIL_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CORPMAIL_", extra="ignore")

    data_dir: Path = Field(default=REPO_ROOT / "var", description="Folder for the SQLite file and exports")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file in data_dir"
    )
    scenarios_dir: Path = Field(default=REPO_ROOT / "sandbox_data" / "scenarios")
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    max_turns: int = 30
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


@lru_cache
def get_settings() -> Settings:
    return Settings()
