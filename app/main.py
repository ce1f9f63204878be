"""App factory. The engine is built (and migrated) at startup unless a caller passes one in."""
from __future__ import annotations

from contextlib import asynccontextmanager

import secrets

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine

from app.api.routes import add_tool_routes, router
from app.core.config import Settings, get_settings
from app.core.db import make_engine
from app.core.migrate import upgrade


def _require_token(token: str):
    """With CORPMAIL_TOKEN set, every request needs `Authorization: Bearer <token>` (or ?token=)."""

    async def check(request: Request, call_next):
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        given = given or request.query_params.get("token", "")
        if not secrets.compare_digest(given.encode(), token.encode()):
            return JSONResponse({"detail": "missing or wrong token"}, status_code=401)
        return await call_next(request)

    return check


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        owned = app.state.engine is None
        if owned:
            app.state.engine = make_engine(settings.resolved_database_url())
            upgrade(app.state.engine)
        yield
        if owned:
            app.state.engine.dispose()

    app = FastAPI(title="corpmail", version="0.1.0", lifespan=lifespan)
    if settings.token:
        app.middleware("http")(_require_token(settings.token))
    app.state.settings = settings
    app.state.engine = engine
    app.include_router(router)
    add_tool_routes(app)
    return app
