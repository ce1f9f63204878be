"""The database an Inspect run writes its episodes to: CORPMAIL_* settings, or an explicit URL (-T
database_url=...). One engine per URL per process, upgraded to the newest schema once."""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path

from sqlalchemy.engine import Engine

from app.core.config import Settings
from app.core.db import open_database


def offline_tokenizers() -> None:
    """Inspect counts tokens with tiktoken, which downloads its encodings on first use; LiteLLM (a
    corpmail dependency) ships them, so point tiktoken's cache there unless the user chose one."""
    spec = importlib.util.find_spec("litellm")
    if spec and spec.submodule_search_locations and "TIKTOKEN_CACHE_DIR" not in os.environ:
        folder = Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"
        if folder.is_dir():
            os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)


@lru_cache(maxsize=8)
def _open(database_url: str | None) -> tuple[Engine, Settings]:
    settings = Settings(database_url=database_url) if database_url else Settings()
    return open_database(settings), settings


def open_db(database_url: str | None = None) -> tuple[Engine, Settings]:
    return _open(database_url)
