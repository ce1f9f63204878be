"""FastAPI dependencies: one DB session per request from the app's engine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session

from app.core.config import Settings
from app.core.db import new_session
from app.errors import DomainError, NotFound
from app.models import Episode


def get_session(request: Request) -> Iterator[Session]:
    session = new_session(request.app.state.engine)
    try:
        yield session
    finally:
        session.close()


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_episode(episode_id: str, session: SessionDep) -> Episode:
    """The episode named in the path, or 404."""
    episode = session.get(Episode, episode_id)
    if episode is None:
        raise NotFound(f"no episode {episode_id}")
    return episode


EpisodeDep = Annotated[Episode, Depends(get_episode)]


async def domain_error(request: Request, exc: Exception) -> JSONResponse:
    """Every DomainError becomes its HTTP status with {"detail": message}: mapped here, once."""
    assert isinstance(exc, DomainError)
    return JSONResponse({"detail": str(exc)}, status_code=exc.status)
