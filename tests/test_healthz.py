"""`GET /healthz`: open without the token (container healthchecks); ok only with a reachable, migrated
database."""

from __future__ import annotations

import httpx

from app.core.config import Settings
from app.core.db import make_engine
from app.main import create_app


async def _get(app, path):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://corpmail") as h:
        return await h.get(path)


async def test_healthz_needs_no_token_and_reveals_nothing(settings, engine):
    app = create_app(settings.model_copy(update={"token": "t0ken"}), engine)
    resp = await _get(app, "/healthz")
    assert resp.status_code == 200 and resp.json() == {"ok": True}
    assert (await _get(app, "/api/episodes")).status_code == 401
    assert (await _get(app, "/healthz/../api/episodes")).status_code in (401, 404)


async def test_healthz_fails_without_the_schema(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}", auto_migrate=False), engine)
    resp = await _get(app, "/healthz")
    assert resp.status_code == 503 and resp.json()["ok"] is False
    engine.dispose()
