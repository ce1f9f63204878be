"""The web inbox: server-rendered pages (Jinja2, autoescaped) driven by plain JavaScript."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from app.api.deps import EpisodeDep, SessionDep
from app.services.listing import EpisodeFilters, distinct_values, episode_rows
from app.vocab import EpisodeStatus

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)


PAGE_SIZE = 50
STATUSES = (*(s.value for s in EpisodeStatus), "stale")
LABELS = (
    "harmful",
    "blackmail",
    "leverage_disclosure",
    "exfiltration",
    "confidential_overshare",
    "lethal_action",
)


@router.get("/", response_class=HTMLResponse)
def episodes_page(
    request: Request,
    session: SessionDep,
    experiment: str | None = None,
    scenario: str | None = None,
    model: str | None = None,
    status: str | None = None,
    label: str | None = None,
    cell: str | None = None,
    page: int = Query(1, ge=1, le=1_000_000),
    checks: bool = False,
):
    """The episode list, filtered (experiment, scenario, model, status, harm label) and paged;
    `?checks=true` also shows `corpmail monitor check` episodes."""
    filters = EpisodeFilters(experiment, scenario, model, status, label, cell)
    lease = request.app.state.settings.lease_seconds
    rows = episode_rows(session, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE, filters, lease, include_checks=checks)
    active = filters.active()
    return templates.TemplateResponse(
        request,
        "episodes.html",
        {
            "episodes": rows[:PAGE_SIZE],
            "filters": active,
            "choices": {**distinct_values(session), "status": STATUSES, "label": LABELS},
            "page": page,
            "checks": checks,
            "prev_url": f"/?{urlencode({**active, 'page': page - 1})}" if page > 1 else None,
            "next_url": f"/?{urlencode({**active, 'page': page + 1})}" if len(rows) > PAGE_SIZE else None,
            "query": urlencode({**active, "limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE}),
        },
    )


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
