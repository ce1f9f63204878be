"""Helpers for the experiment tests: run a config dict through the real runner on the test database."""

from __future__ import annotations

import asyncio
import secrets
from concurrent.futures import ThreadPoolExecutor

from app.core.db import new_session
from app.experiments import store
from app.experiments.config import parse_config
from app.experiments.grid import expand, trials
from app.experiments.runner import Runner


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def run_config(settings, engine, data: dict, max_errors: int | None = None):
    """Record and run an experiment; returns (config, trials, runner)."""
    config = parse_config(data)
    grid = expand(config, settings.scenarios_dir)
    ts = trials(config, grid)
    with new_session(engine) as s:
        store.record(s, config, grid, ts)
    runner = Runner(settings, engine, config)
    # in a thread of its own: callers may be inside an event loop (Playwright's sync API runs one)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, runner.run(ts, max_errors)).result()
    return config, ts, runner
