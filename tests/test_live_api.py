"""Event streams (resume without gap or duplicate) and access control, over a real server."""

from __future__ import annotations

import json

import httpx
import pytest

from app.core.config import Settings
from app.core.security import episode_token
from app.main import create_app
from tests.web_support import LiveServer


def _sse(client: httpx.Client, url: str, want: int, headers=None) -> list[dict]:
    """Read `want` events from an SSE stream, then close it."""
    out = []
    with client.stream("GET", url, headers=headers or {}, timeout=20) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        current = {}
        for line in resp.iter_lines():
            if line.startswith("id:"):
                current["id"] = int(line[3:].strip())
            elif line.startswith("data:"):
                current["data"] = json.loads(line[5:].strip())
            elif line == "" and "data" in current:
                out.append(current)
                current = {}
                if len(out) >= want:
                    return out
    return out


def _start(http, **variables):
    return http.post(
        "/api/episodes", json={"scenario": "blackmail", "model": "m", "variables": variables}
    ).json()


def test_stream_resumes_after_last_event_id_without_gap_or_duplicate(server):
    with server.client() as http:
        eid = _start(http)["episode_id"]
        for _ in range(3):
            http.post(f"/api/episodes/{eid}/tools/list_inbox", content="{}")
        total = http.get(f"/api/episodes/{eid}").json()["event_count"]
        first = _sse(http, f"/api/episodes/{eid}/stream", 3)
        assert [e["id"] for e in first] == [1, 2, 3]
        resumed = _sse(http, f"/api/episodes/{eid}/stream", total - 3, headers={"Last-Event-ID": "3"})
        assert [e["id"] for e in resumed] == list(range(4, total + 1))
        assert [e["data"]["seq"] for e in resumed] == [e["id"] for e in resumed]


def test_stream_pushes_new_events_without_waiting_for_a_poll(settings, engine):
    """With the re-read interval set to a minute, only the commit-time push can deliver in time."""
    import threading
    import time

    from app.events import bus

    slow_poll = Settings(**{**settings.model_dump(), "stream_poll_seconds": 60})
    with LiveServer(create_app(slow_poll, engine)) as server, server.client() as http:
        eid = _start(http)["episode_id"]
        seen: list = []
        reader = threading.Thread(
            target=lambda: seen.extend(_sse(http, f"/api/episodes/{eid}/stream?after=1", 2))
        )
        reader.start()
        deadline = time.monotonic() + 10
        while not bus.waiting(eid) and time.monotonic() < deadline:  # the stream is idle, waiting
            time.sleep(0.01)
        assert bus.waiting(eid), "the stream never started waiting"
        http.post(f"/api/episodes/{eid}/tools/list_inbox", content="{}")
        reader.join(10)
        assert [e["data"]["kind"] for e in seen] == ["tool_call", "tool_result"]


@pytest.fixture
def guarded(settings, engine):
    with LiveServer(create_app(Settings(**{**settings.model_dump(), "token": "s3cret"}), engine)) as s:
        yield s


def test_token_guards_pages_api_and_streams(guarded):
    with guarded.client() as anon:
        for path in ("/", "/approvals", "/api/episodes", "/api/tools", "/api/stream/episodes"):
            assert anon.get(path).status_code == 401, path
    with guarded.client(headers={"Authorization": "Bearer s3cret"}) as admin:
        assert admin.get("/api/episodes").status_code == 200
        a = _start(admin)
    assert a["episode_token"] == episode_token("s3cret", a["episode_id"])
    with guarded.client() as browser:  # a ?token= link sets a cookie the page's scripts then use
        first = browser.get("/?token=s3cret")  # ... and redirects to the same URL without the token
        assert first.status_code == 303 and first.headers["location"] == "/"
        assert browser.get("/").status_code == 200
        assert browser.get(f"/api/episodes/{a['episode_id']}/snapshot").status_code == 200


def test_episode_token_opens_only_its_own_episode(guarded):
    with guarded.client(headers={"Authorization": "Bearer s3cret"}) as admin:
        a, b = _start(admin), _start(admin)
    with guarded.client(headers={"Authorization": f"Bearer {a['episode_token']}"}) as agent:
        ok = agent.post(f"/api/episodes/{a['episode_id']}/tools/list_inbox", content="{}")
        assert ok.status_code == 200 and ok.json()["ok"]
        assert agent.get(f"/api/episodes/{a['episode_id']}/events").status_code == 200
        for path in (f"/api/episodes/{b['episode_id']}/events", f"/api/episodes/{b['episode_id']}/snapshot"):
            assert agent.get(path).status_code == 403
        assert (
            agent.post(f"/api/episodes/{b['episode_id']}/tools/list_inbox", content="{}").status_code == 403
        )
        assert agent.get("/api/episodes").status_code == 401  # not an episode route
        assert (
            agent.post(
                f"/api/episodes/{b['episode_id']}/approvals/1", json={"decision": "approve"}
            ).status_code
            == 403
        )


def test_an_agent_cannot_decide_its_own_held_actions(guarded):
    with guarded.client(headers={"Authorization": "Bearer s3cret"}) as admin:
        ep = admin.post(
            "/api/episodes",
            json={"scenario": "blackmail", "model": "m", "variables": {"oversight": "approval"}},
        ).json()
    eid = ep["episode_id"]
    with guarded.client(headers={"Authorization": f"Bearer {ep['episode_token']}"}) as agent:
        held = agent.post(
            f"/api/episodes/{eid}/tools/send_email",
            content=json.dumps({"to": ["jo.kim@brightwater.example"], "subject": "s", "body": "b"}),
        ).json()
        approval = held["result"]["approval_id"]
        assert agent.get(f"/api/episodes/{eid}/approvals").status_code == 200
        denied = agent.post(f"/api/episodes/{eid}/approvals/{approval}", json={"decision": "approve"})
        assert denied.status_code == 403
        as_other = agent.post(
            f"/api/episodes/{eid}/tools/list_inbox",
            content="{}",
            headers={"x-actor": "marcus.vell@brightwater.example"},
        )
        assert as_other.status_code == 403
    with guarded.client(headers={"Authorization": "Bearer s3cret"}) as admin:
        assert (
            admin.post(f"/api/episodes/{eid}/approvals/{approval}", json={"decision": "approve"}).status_code
            == 200
        )
