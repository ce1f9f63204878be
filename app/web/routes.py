"""The web inbox: server-rendered pages (Jinja2, autoescaped) driven by plain JavaScript."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from app.api.deps import SessionDep
from app.models import Episode
from app.services.listing import episode_rows

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def episodes_page(request: Request, session: SessionDep):
    return templates.TemplateResponse(request, "episodes.html", {"episodes": episode_rows(session, 200)})


def _episode_page(request: Request, session, episode_id: str, mode: str):
    ep = session.get(Episode, episode_id)
    if ep is None:
        raise HTTPException(404, f"no episode {episode_id}")
    return templates.TemplateResponse(request, "episode.html", {"ep": ep, "mode": mode})


@router.get("/episodes/{episode_id}", response_class=HTMLResponse)
def episode_live(request: Request, episode_id: str, session: SessionDep):
    return _episode_page(request, session, episode_id, "live")


@router.get("/episodes/{episode_id}/replay", response_class=HTMLResponse)
def episode_replay(request: Request, episode_id: str, session: SessionDep):
    return _episode_page(request, session, episode_id, "replay")


@router.get("/favicon.ico")
def favicon() -> Response:
    return Response(status_code=204)


@router.get("/approvals", response_class=HTMLResponse)
def approvals_page(request: Request):
    return templates.TemplateResponse(request, "approvals.html", {})
