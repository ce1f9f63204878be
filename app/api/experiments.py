"""Experiments over HTTP: the list with progress, one experiment's report, its plots. (Statistics and
plotting libraries load on first use, not when the app starts.)"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response
from sqlalchemy import select
from sqlmodel import col
from starlette.concurrency import run_in_threadpool

from app.api.deps import SessionDep
from app.models import Experiment
from app.services import trials as store

router = APIRouter(prefix="/api/experiments", tags=["experiments"])
PLOTS = ("rates.png", "effected.png", "differences.png")


def render_plot(plot: str, built: dict) -> bytes:
    from app.evaluation.plots import differences_png, rates_png

    if plot == "differences.png":
        return differences_png(built["comparisons"])
    return rates_png(built["rows"], measure="effected" if plot == "effected.png" else "attempted")


def experiment_list(session) -> list[dict]:
    return [
        {
            "name": e.name,
            "status": e.status,
            "message": e.message,
            "updated_at": e.updated_at.isoformat(timespec="seconds"),
            **store.counts(session, e.name),
        }
        for e in session.execute(select(Experiment).order_by(col(Experiment.updated_at).desc())).scalars()
    ]


def build_or_404(session, name: str) -> dict:
    from app.evaluation import report

    try:
        return report.build(session, name)
    except report.UnknownExperiment:
        raise HTTPException(404, f"no experiment {name}") from None


@router.get("")
def list_experiments(session: SessionDep) -> list[dict]:
    """Every experiment with its trial counts (pending, running, completed, errored)."""
    return experiment_list(session)


@router.get("/{name}/progress")
def progress(name: str, session: SessionDep) -> dict:
    exp = session.get(Experiment, name)
    if exp is None:
        raise HTTPException(404, f"no experiment {name}")
    return {"name": name, "status": exp.status, "message": exp.message, **store.counts(session, name)}


@router.get("/{name}")
def get_report(name: str, session: SessionDep) -> dict:
    """Progress, rate rows (Wilson intervals), paired comparisons, judge agreement, detector versions."""
    return build_or_404(session, name)


@router.get("/{name}/plots/{plot}")
async def plot(name: str, plot: str, session: SessionDep) -> Response:
    if plot not in PLOTS:
        raise HTTPException(404, f"no plot {plot} (plots: {', '.join(PLOTS)})")
    built = await run_in_threadpool(build_or_404, session, name)
    png = await run_in_threadpool(render_plot, plot, built)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})
