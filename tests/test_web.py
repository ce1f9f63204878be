"""The web inbox in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.main import create_app
from tests.web_support import LiveServer, play_over_http

SHOTS = Path(__file__).parent / "artifacts"


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1500, "height": 950})
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert not errors, errors


def start(http, scenario="blackmail", model="scripted/benign", variables=None, approver="human"):
    resp = http.post(
        "/api/episodes",
        json={"scenario": scenario, "model": model, "variables": variables or {}, "approver": approver},
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["episode_id"]


def tool(http, eid, name, args):
    resp = http.post(f"/api/episodes/{eid}/tools/{name}", content=json.dumps(args))
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_live_page_shows_a_new_tool_call_without_reload(server, page):
    with server.client() as http:
        eid = start(http)
        page.goto(f"{server.url}/episodes/{eid}")
        expect(page.locator("#timeline li.episode_started")).to_have_count(1)
        expect(page.locator("#mailboxes li").first).to_contain_text("Atlas")
        tool(
            http,
            eid,
            "send_email",
            {"to": ["jo.kim@brightwater.example"], "subject": "Live check", "body": "Does this show up?"},
        )
        expect(page.locator("#timeline li.tool_call").last).to_contain_text("send_email")
        expect(page.locator("#timeline li.monitor_verdict").last).to_contain_text("allow")
        page.locator("#folder-tabs button[data-folder=outbox]").click()
        expect(page.locator("#message-list li").first).to_contain_text("Live check")
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "live.png"))


def _final_view(page):
    page.locator("#folder-tabs button[data-folder=outbox]").click()
    return {
        "mailboxes": page.locator("#mailboxes").inner_text(),
        "outbox": page.locator("#message-list").inner_text(),
        "status": page.locator("#ep-status").inner_text(),
    }


def test_replay_reaches_the_same_final_state_as_live(server, page):
    eid = play_over_http(server.url, "blackmail", "scripted/blackmail")
    page.goto(f"{server.url}/episodes/{eid}")
    expect(page.locator("#timeline li.episode_finished")).to_have_count(1)
    live = _final_view(page)
    live_items = page.locator("#timeline li").count()
    assert "blackmail" in live["outbox"] and live["status"] == "completed"

    page.goto(f"{server.url}/episodes/{eid}/replay")
    expect(page.locator("body[data-loaded=true]")).to_have_count(1)
    start_view = page.locator("#mailboxes").inner_text()
    assert start_view != live["mailboxes"]  # at step 0 nothing has been read yet
    total = page.evaluate("window.corpmailReplay.total()")
    page.locator("#rp-scrub").evaluate(
        f"(s) => {{ s.value = {total}; s.dispatchEvent(new Event('input')); }}"
    )
    expect(page.locator("#rp-pos")).to_have_text(f"{total} / {total}")
    assert _final_view(page) == live
    assert page.locator("#timeline li").count() == live_items
    # stepping back and forth keeps the same state
    page.locator("#rp-back").click()
    expect(page.locator("#rp-pos")).to_have_text(f"{total - 1} / {total}")
    page.locator("#rp-fwd").click()
    assert _final_view(page) == live


def test_approve_and_reject_change_the_episode(server, page):
    with server.client() as http:
        eid = start(http, variables={"oversight": "approval"})
        held = [
            tool(http, eid, "send_email", {"to": ["jo.kim@brightwater.example"], "subject": s, "body": "x"})
            for s in ("Approve me", "Reject me")
        ]
        assert all(h["result"]["status"] == "pending_approval" for h in held)
        page.goto(f"{server.url}/approvals")
        item = page.locator(f"#approvals li[data-approval='{held[0]['result']['approval_id']}']")
        expect(item).to_contain_text("Approve me")
        item.locator("input.reason").fill("fine to send")
        item.locator("button.approve").click()
        expect(item.locator("button.confirm")).to_have_text("Confirm approve")  # a second, deliberate step
        item.locator("button.confirm").click()
        expect(item).to_have_count(0)

        page.goto(f"{server.url}/episodes/{eid}")
        form = page.locator(f".decide[data-approval='{held[1]['result']['approval_id']}']")
        form.locator("input.reason").fill("not appropriate")
        form.locator("button.reject").click()
        form.locator("button.confirm").click()
        expect(page.locator("#timeline li.approval_decided")).to_have_count(2)
        expect(page.locator("#timeline li.approval_decided").last).to_contain_text(
            "rejected by web: not appropriate"
        )
        decided = {a["id"]: a for a in http.get(f"/api/episodes/{eid}/approvals").json()}
        assert decided[held[0]["result"]["approval_id"]]["status"] == "approved"
        assert decided[held[1]["result"]["approval_id"]]["status"] == "rejected"
        inbox = tool(http, eid, "list_inbox", {"mailbox": "jo.kim@brightwater.example"})["result"]["messages"]
        subjects = [m["subject"] for m in inbox]
        assert "Approve me" in subjects and "Reject me" not in subjects


def test_model_written_markup_stays_inert_text(server, page):
    payload = '<script>window.__pwned = 1</script><img src="x" onerror="window.__pwned = 2">'
    with server.client() as http:
        eid = start(http)
        resp = http.get(f"/episodes/{eid}")
        assert "script-src 'self'" in resp.headers["content-security-policy"]
        tool(
            http,
            eid,
            "send_email",
            {"to": ["jo.kim@brightwater.example"], "subject": payload, "body": payload},
        )
        page.goto(f"{server.url}/episodes/{eid}")
        expect(page.locator("#timeline li.tool_call")).to_have_count(1)  # the page has loaded the log
        page.locator("#folder-tabs button[data-folder=outbox]").click()
        # the outbox's own row (under load the inbox list may still be showing when the tab is clicked)
        page.locator("#message-list li", has_text="window.__pwned").first.click()
        body = page.locator("#message-view pre.body")
        expect(body).to_have_text(payload)
        expect(page.locator("#timeline li.tool_call").last).to_contain_text("<script>")
        page.wait_for_timeout(300)
        assert page.evaluate("window.__pwned") is None
        assert page.locator("#message-view img, #timeline img, #message-view script").count() == 0


def test_episode_list_updates_live(server, page):
    page.goto(server.url + "/")
    with server.client() as http:
        eid = start(http, scenario="leaking")
        expect(page.locator(f"#episode-rows tr[data-id='{eid}']")).to_contain_text("leaking")
        tool(http, eid, "list_inbox", {})
        expect(page.locator(f"#episode-rows tr[data-id='{eid}'] td").nth(6)).to_have_text(
            "1"
        )  # after the harness column


def test_live_page_reconnects_without_gap_or_duplicate(settings, engine, page):
    """The server goes away mid-episode; events written meanwhile arrive after it comes back,
    each exactly once (the browser resumes from Last-Event-ID)."""
    from app.core.db import new_session
    from app.tools.runtime import run_tool

    app = create_app(settings, engine)
    with LiveServer(app) as first:
        port = first.port
        with first.client() as http:
            eid = start(http)
            tool(http, eid, "list_inbox", {})
        page.goto(f"{first.url}/episodes/{eid}")
        expect(page.locator("#timeline li.tool_result")).to_have_count(1)
    with new_session(engine) as session:  # written while no server is up
        for _ in range(3):
            run_tool(session, eid, "list_inbox", {"limit": 1})
    with LiveServer(app, port=port) as second, second.client() as http:
        tool(http, eid, "send_email", {"to": ["jo.kim@brightwater.example"], "subject": "after", "body": "x"})
        total = http.get(f"/api/episodes/{eid}").json()["event_count"]
        expect(page.locator("#timeline li")).to_have_count(total, timeout=20000)
        seqs = page.locator("#timeline li").evaluate_all("items => items.map(li => Number(li.dataset.seq))")
        assert seqs == list(range(1, total + 1))


def test_mail_dates_show_in_the_scenario_time_zone(server, page, tmp_path):
    import shutil

    import yaml

    from tests.conftest import TEST_SCENARIOS

    folder = tmp_path / "mini"
    shutil.copytree(TEST_SCENARIOS / "mini", folder)
    data = yaml.safe_load((folder / "scenario.yaml").read_text())
    data["timezone"] = "America/New_York"  # the question arrives at 11:00 there, 16:00 UTC
    (folder / "scenario.yaml").write_text(yaml.safe_dump(data))
    with server.client() as http:
        eid = start(http, scenario=str(folder))
        page.goto(f"{server.url}/episodes/{eid}")
        expect(page.locator("#message-list li .date").first).to_have_text("2026-01-05 11:00")


def test_a_researcher_writes_as_a_character_from_the_live_page(server, page):
    with server.client() as http:
        eid = start(http)
        page.goto(f"{server.url}/episodes/{eid}")
        page.wait_for_selector("body[data-loaded=true]")
        page.click("#write-as summary")
        page.select_option("#write-as-who", "marcus.vell@brightwater.example")
        page.fill("#write-as-subject", "Status?")
        page.fill("#write-as-body", "Atlas, where are we with the handover?")
        page.fill("#write-as-researcher", "pat")
        page.click("#write-as-form button[type=submit]")
        expect(page.locator("#write-as-result")).to_have_text("sent")
        item = page.locator("#timeline li.intervention.origin-researcher")
        expect(item).to_contain_text("pat wrote as marcus.vell@brightwater.example")
        expect(page.locator("#timeline li.mail_delivered.origin-researcher")).to_have_count(1)
        log = http.get(f"/api/episodes/{eid}/events").json()
        assert {e["origin"] for e in log if e["kind"] == "mail_delivered"} == {"researcher"}
