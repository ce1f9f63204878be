"""Fixtures: the whole suite runs once on SQLite and once on a fresh PostgreSQL database."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx
import pytest

from agents.client import CorpmailClient
from app.core.config import REPO_ROOT, Settings
from app.core.db import make_engine, new_session, scratch_postgres
from app.core.migrate import upgrade
from app.main import create_app

PG_ADMIN_URL = os.environ.get("CORPMAIL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
TEST_SCENARIOS = Path(__file__).parent / "data" / "scenarios"


def _pg_database():
    """Create a fresh database for this run on the local PostgreSQL; yield its URL; drop it."""
    with scratch_postgres(PG_ADMIN_URL, "corpmail_test") as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def db_url(request, tmp_path_factory):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'corpmail.db'}"
    else:
        yield from _pg_database()


@pytest.fixture(scope="session")
def engine(db_url):
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def settings(db_url, tmp_path_factory) -> Settings:
    return Settings(
        database_url=db_url,
        data_dir=tmp_path_factory.mktemp("data"),
        scenarios_dir=REPO_ROOT / "sandbox_data" / "scenarios",
        # tests' own scenarios, and copies that tests write under pytest's temporary folders
        allowed_scenario_dirs=[TEST_SCENARIOS, tmp_path_factory.getbasetemp()],
    )


@pytest.fixture
def session(engine):
    with new_session(engine) as s:
        yield s


@pytest.fixture
def app(settings, engine):
    return create_app(settings, engine)


@pytest.fixture
async def client(app):
    c = CorpmailClient.over_asgi(app)
    yield c
    await c.aclose()


@pytest.fixture
async def http(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as h:
        yield h


@pytest.fixture
def server(app):
    """The app on a real socket (a thread running uvicorn), for browsers and raw HTTP clients."""
    from tests.web_support import LiveServer

    with LiveServer(app) as s:
        yield s


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium through Playwright, one per test module."""
    from playwright.sync_api import sync_playwright

    from tests.web_support import CHROMIUM, CHROMIUM_ARGS

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (./dev test installs it)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def mini_scenario() -> str:
    return str(TEST_SCENARIOS / "mini")


def pytest_configure(config):
    config.addinivalue_line("markers", "docker: the Docker smoke test (builds images, runs docker compose)")
