"""App factory. The engine is built (and migrated) at startup unless a caller passes one in."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine

from app.api import experiments as experiments_api
from app.api import health, live, world
from app.api.deps import domain_error, validation_error
from app.api.routes import add_tool_routes, router
from app.core.config import Settings, get_settings
from app.core.db import open_database
from app.core.security import AccessGuard, SecurityHeaders
from app.errors import DomainError
from app.events import listen
from app.harness.mcp_http import McpGateway
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
        async with mcp.run(), listen.running(app.state.engine):  # cross-process live wake-ups
            yield
        if owned:
            app.state.engine.dispose()

    # No CDN-hosted Swagger UI (blank under the CSP, and offline): /docs is a plain page (app.web).
    app = FastAPI(title="corpmail", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_middleware(AccessGuard, token=settings.token)
    app.add_middleware(SecurityHeaders)  # added last = outermost: refusals carry the headers too
    app.include_router(health.router)
    app.include_router(router)
    app.include_router(live.router)
    app.include_router(experiments_api.router)
    app.include_router(world.router)
    add_tool_routes(app)
    mcp = McpGateway(app.state, settings)
    app.router.routes.append(mcp.route())
    app.include_router(web.router)
    app.include_router(web_experiments.router)
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    return app
