"""FastAPI dependencies: one DB session per request from the app's engine."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.orm import defer
from sqlmodel import Session

from app.core import text
from app.core.config import Settings
from app.core.db import new_session
from app.errors import DomainError, InvalidRequest, NotFound
from app.models import Episode
from app.services import episode_view
from app.services.episode_view import EpisodeRef


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


_NO_WORLD = [defer(Episode.world)]  # type: ignore[arg-type]


def get_episode(episode_id: str, session: SessionDep) -> Episode:
    """The episode named in the path, or 404. Its `world` (tens of kB of JSON) is read only when a
    handler uses it: most requests (turns, heartbeats, ticks, finishes) never do."""
    episode = session.get(Episode, episode_id, options=_NO_WORLD) if text.is_id(episode_id) else None
    if episode is None:
        raise NotFound(f"no episode {episode_id}")
    return episode


EpisodeDep = Annotated[Episode, Depends(get_episode)]


def get_episode_ref(episode_id: str, session: SessionDep) -> EpisodeRef:
    """The episode named in the path as a light reference (its id and agent), or 404: for
    the routes that act on an episode by id and read nothing else of it."""
    episode = episode_view.ref(session, episode_id) if text.is_id(episode_id) else None
    if episode is None:
        raise NotFound(f"no episode {episode_id}")
    return episode


EpisodeRefDep = Annotated[EpisodeRef, Depends(get_episode_ref)]


def get_episode_id(episode_id: str) -> str:
    """The episode id in the path, checked for its shape only (404 when it cannot be one), for the
    hottest routes, whose services answer NotFound for an unknown episode themselves."""
    if not text.is_id(episode_id):
        raise NotFound(f"no episode {episode_id}")
    return episode_id


EpisodeIdDep = Annotated[str, Depends(get_episode_id)]


_FIELD = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*): ")


def error_answer(exc: DomainError) -> tuple[int, object]:
    """A DomainError as (HTTP status, detail): mapped here, once, for the HTTP API and the in-process
    lean path. An InvalidRequest is a 422 in the same documented shape as a schema error: [{loc, msg,
    type}], loc naming the field when the message starts with one."""
    if isinstance(exc, InvalidRequest):
        field = _FIELD.match(str(exc))
        loc = ["body", *field.group(1).split(".")] if field else ["body"]
        return exc.status, [{"loc": loc, "msg": str(exc), "type": "invalid_request"}]
    return exc.status, str(exc)


def problems(errors: list) -> list[dict]:
    """A request that does not fit its schema, as the documented 422 detail: [{loc, msg, type}], never
    echoing the input (which may not even serialise: NaN, huge numbers)."""
    return [
        {"loc": [p if isinstance(p, int) else str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]}
        for e in errors
    ]


async def domain_error(request: Request, exc: Exception) -> JSONResponse:
    """Every DomainError becomes its HTTP status with {"detail": ...} (error_answer)."""
    assert isinstance(exc, DomainError)
    status, detail = error_answer(exc)
    return JSONResponse({"detail": detail}, status_code=status)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """A request that does not fit its schema: 422 with {"detail": [{loc, msg, type}]} as documented."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": problems(list(exc.errors()))}, status_code=422)
