"""The experiments page and the filtered, paged episode list in a real headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.web import routes as web_routes
from tests.experiment_support import run_config, unique


@pytest.fixture
def page(browser, server):  # closed before the server stops
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    problems: list[str] = []
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    yield pg
    context.close()
    assert not problems, problems  # no script error, no CSP violation


@pytest.fixture
def experiment(settings, engine) -> str:
    """2 cells × 2 models × 2 samples, finished."""
    config, _, _ = run_config(
        settings,
        engine,
        {
            "name": unique("web"),
            "scenarios": ["blackmail"],
            "variables": {"urgency": ["replacement", "none"]},
            "models": ["scripted/blackmail", "scripted/benign"],
            "samples": 2,
            "max_turns": 12,
        },
    )
    return config.name


def test_experiment_page_shows_table_plots_and_links_each_cell_to_its_episodes(experiment, server, page):
    page.goto(f"{server.url}/experiments")
    page.get_by_role("link", name=experiment).click()
    expect(page.locator("body[data-loaded=true]")).to_have_count(1)
    expect(page.locator("[data-count=completed]")).to_have_text("8")
    expect(page.locator("[data-count=errored]")).to_have_text("0")
    harmful = page.locator("#rate-rows tr[data-label=harmful]")
    expect(harmful).to_have_count(4)  # 2 cells × 2 models
    for img in page.locator("img.plot").all():
        img.scroll_into_view_if_needed()
        page.wait_for_function("(i) => i.complete && i.naturalWidth > 300", arg=img.element_handle())
    row = harmful.filter(has_text="scripted/blackmail").first
    expect(row).to_contain_text("100.0% [34.2%, 100.0%]")  # 2 of 2, Wilson 95 %
    row.get_by_role("link", name="episodes").click()
    rows = page.locator("#episode-rows tr[data-id]")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("scripted/blackmail")
    page.screenshot(path=str(Path(__file__).parent / "artifacts" / "experiment-cell.png"))


def test_episode_list_filters_and_pages(experiment, server, page, monkeypatch):
    monkeypatch.setattr(web_routes, "PAGE_SIZE", 3)
    page.goto(f"{server.url}/?experiment={experiment}")
    rows = page.locator("#episode-rows tr[data-id]")
    expect(rows).to_have_count(3)
    page.get_by_role("link", name="older →").click()
    expect(page.locator(".pager")).to_contain_text("page 2")
    expect(rows).to_have_count(3)
    page.get_by_role("link", name="older →").click()
    expect(rows).to_have_count(2)  # 8 episodes: 3 + 3 + 2
    expect(page.get_by_role("link", name="older →")).to_have_count(0)
    page.goto(f"{server.url}/?experiment={experiment}")
    page.locator("select[name=label]").select_option("blackmail")  # submits the form
    expect(page).to_have_url(
        f"{server.url}/?experiment={experiment}&scenario=&model=&status=&label=blackmail"
    )
    expect(rows).to_have_count(3)
    page.get_by_role("link", name="older →").click()
    expect(rows).to_have_count(1)  # 4 blackmail episodes
    page.goto(f"{server.url}/?experiment={experiment}&model=scripted/benign&status=completed")
    expect(rows).to_have_count(3)
    expect(page.locator("#episode-rows")).not_to_contain_text("scripted/blackmail")
    page.goto(f"{server.url}/?experiment={experiment}&label=harmful&model=scripted/benign")
    expect(page.locator("#episode-rows tr.empty")).to_contain_text("No episode matches")


def test_experiment_page_shows_progress_while_it_runs(settings, engine, server, page):
    import asyncio
    import threading

    from app.core.db import new_session
    from app.experiments import store
    from app.experiments.config import parse_config
    from app.experiments.grid import expand, trials
    from app.experiments.runner import Runner

    config = parse_config(
        {
            "name": unique("live"),
            "scenarios": ["blackmail"],
            "models": ["scripted/benign"],
            "samples": 6,
            "concurrency": 1,
            "pace": 0.15,
        }
    )
    grid = expand(config, settings.scenarios_dir)
    ts = trials(config, grid)
    with new_session(engine) as s:
        store.record(s, config, grid, ts)
    runner = threading.Thread(target=lambda: asyncio.run(Runner(settings, engine, config).run(ts)))
    runner.start()
    try:
        page.goto(f"{server.url}/experiments/{config.name}")
        expect(page.locator("[data-count=running]")).to_have_text("1")
        expect(page.locator("[data-count=completed]")).to_have_text("6", timeout=60_000)  # no reload
        expect(page.locator("#exp-status")).to_have_text("done")
        expect(page.locator("#rate-rows tr[data-label=harmful]")).to_contain_text("0.0% [0.0%, 39.0%]")
    finally:
        runner.join(60)
