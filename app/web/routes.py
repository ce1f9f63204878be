"""The web inbox: server-rendered pages (Jinja2, autoescaped) driven by plain JavaScript."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from app.api.deps import EpisodeDep, SessionDep
from app.services.listing import episode_rows

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def episodes_page(request: Request, session: SessionDep, checks: bool = False):
    """The research list; `?checks=true` also shows `corpmail monitor check` episodes."""
    rows = episode_rows(session, 200, include_checks=checks)
    return templates.TemplateResponse(request, "episodes.html", {"episodes": rows, "checks": checks})


@router.get("/episodes/{episode_id}", response_class=HTMLResponse)
def episode_live(request: Request, episode: EpisodeDep):
    return templates.TemplateResponse(request, "episode.html", {"ep": episode, "mode": "live"})


@router.get("/episodes/{episode_id}/replay", response_class=HTMLResponse)
def episode_replay(request: Request, episode: EpisodeDep):
    return templates.TemplateResponse(request, "episode.html", {"ep": episode, "mode": "replay"})


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request):
    """The API's operations as a plain page (offline, no script); the schema is /openapi.json."""
    schema = request.app.openapi()
    operations = [
        {"method": method.upper(), "path": path, "summary": op.get("summary") or op.get("description", "")}
        for path, item in schema["paths"].items()
        for method, op in item.items()
    ]
    return templates.TemplateResponse(
        request, "docs.html", {"operations": operations, "version": schema.get("openapi", "")}
    )


@router.get("/favicon.ico")
def favicon() -> Response:
    return Response(status_code=204)


@router.get("/approvals", response_class=HTMLResponse)
def approvals_page(request: Request):
    return templates.TemplateResponse(request, "approvals.html", {})
