"""`GET /healthz`: unauthenticated liveness for container healthchecks. It answers {"ok": true} only when
the database is reachable and has the schema; it reveals nothing else."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from app.api.deps import SessionDep
from app.core.security import HEALTH_PATH
from app.models import Episode

router = APIRouter()


@router.get(HEALTH_PATH, include_in_schema=False)
def healthz(session: SessionDep):
    try:
        session.exec(select(Episode.id).limit(1)).first()
    except SQLAlchemyError:
        return JSONResponse(
            {"ok": False, "detail": "database unreachable or without the schema"}, status_code=503
        )
    return {"ok": True}
