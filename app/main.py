"""App factory. The engine is built (and migrated) at startup unless a caller passes one in."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine

from app.api import experiments as experiments_api
from app.api import health, live, world
from app.api.deps import domain_error
from app.api.routes import add_tool_routes, router
from app.core.config import Settings, get_settings
from app.core.db import open_database
from app.core.security import require_token, security_headers
from app.errors import DomainError
from app.web import experiments as web_experiments
from app.web import routes as web
from app.web.routes import HERE as WEB_DIR


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        owned = app.state.engine is None
        if owned:
            app.state.engine = open_database(settings)
        yield
        if owned:
            app.state.engine.dispose()

    app = FastAPI(title="corpmail", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.add_exception_handler(DomainError, domain_error)
    app.middleware("http")(security_headers)
    if settings.token:
        app.middleware("http")(require_token(settings.token))
    app.include_router(health.router)
    app.include_router(router)
    app.include_router(live.router)
    app.include_router(experiments_api.router)
    app.include_router(world.router)
    add_tool_routes(app)
    app.include_router(web.router)
    app.include_router(web_experiments.router)
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    return app
