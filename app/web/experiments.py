"""Experiment pages: the list, and one experiment's progress, rate table, plots and links to the
episodes of each cell."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from app.api.deps import SessionDep
from app.api.experiments import build_or_404, experiment_list
from app.web.routes import templates

router = APIRouter(include_in_schema=False)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


templates.env.filters["pct"] = _pct


@router.get("/experiments", response_class=HTMLResponse)
def experiments_page(request: Request, session: SessionDep):
    return templates.TemplateResponse(request, "experiments.html", {"experiments": experiment_list(session)})


@router.get("/experiments/{name}", response_class=HTMLResponse)
async def experiment_page(request: Request, name: str, session: SessionDep):
    built = await run_in_threadpool(build_or_404, session, name)
    for row in built["rows"]:
        row["episodes_url"] = episodes_url(name, row)
    return templates.TemplateResponse(request, "experiment.html", {"r": built})


def episodes_url(name: str, row: dict) -> str:
    """The episode list filtered to one cell and model of an experiment."""
    return "/?" + urlencode({"experiment": name, "cell": row["cell"], "model": row["model"]})
