"""Issue 10, item 11 over HTTP (both databases): security headers on refusals, the token kept out of
URLs, the Host check in tokenless loopback mode, no cross-origin or non-JSON writes, /docs offline.
(The browser side is tests/test_web_hardening.py; async tests live apart from Playwright's sync loop.)"""

from __future__ import annotations

import json

import httpx
import pytest

from app.core.config import Settings
from app.main import create_app


@pytest.fixture
def token_app(settings, engine):
    return create_app(Settings(**{**settings.model_dump(), "token": "s3cret"}), engine)


async def test_refusals_carry_the_security_headers(token_app):
    transport = httpx.ASGITransport(app=token_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as h:
        start = await h.post(
            "/api/episodes",
            json={"scenario": "blackmail", "model": "x"},
            headers={"Authorization": "Bearer s3cret"},
        )
        eid, agent = start.json()["episode_id"], start.json()["episode_token"]
        refusals = [
            await h.get("/api/episodes"),  # 401: no token
            await h.get("/api/episodes/other1/events", headers={"Authorization": f"Bearer {agent}"}),  # 403
            await h.post(f"/api/episodes/{eid}/approvals/1", json={"decision": "approve"}, headers={"Authorization": f"Bearer {agent}"}),
        ]  # fmt: skip
    assert [r.status_code for r in refusals] == [401, 403, 403]
    for r in refusals:
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert (
            r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"] == "no-referrer"
        )


async def test_token_link_sets_the_cookie_and_redirects_without_the_token(token_app):
    transport = httpx.ASGITransport(app=token_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as h:
        first = await h.get("/approvals?token=s3cret&tab=2&token=s3cret")
        assert first.status_code == 303 and first.headers["location"] == "/approvals?tab=2"
        assert (
            "corpmail_token=s3cret" in first.headers["set-cookie"]
            and "HttpOnly" in first.headers["set-cookie"]
        )
        assert "content-security-policy" in first.headers
        assert (await h.get("/approvals?tab=2")).status_code == 200  # the cookie alone now opens pages
        wrong = await h.get("/?token=nope", cookies={})
        assert wrong.status_code in (200, 401)


@pytest.mark.parametrize(
    "host, ok",
    [
        ("127.0.0.1:8123", True),
        ("localhost:8123", True),
        ("[::1]:8123", True),
        ("LOCALHOST:8123", True),
        ("evil.example:8123", False),  # DNS rebinding: a foreign name pointing at 127.0.0.1
        ("127.0.0.1.evil.example:8123", False),
        ("localhost:8000", False),  # another port: not this server
        ("127.0.0.1", False),  # port 80 implied
        ("", False),
    ],
)
async def test_tokenless_loopback_server_checks_the_host_header(app, host, ok):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8123") as h:
        resp = await h.get("/api/tools", headers={"host": host})
    assert (resp.status_code == 200) == ok, (host, resp.status_code, resp.text)
    if not ok:
        assert resp.status_code == 400 and "content-security-policy" in resp.headers


async def test_cross_origin_or_non_json_writes_never_act(app, client):
    start = await client.create_episode("blackmail", "scripted/benign")
    eid = start["episode_id"]
    url = f"/api/episodes/{eid}/tools/send_email"
    body = json.dumps({"to": ["jo.kim@brightwater.example"], "subject": "csrf", "body": "x"})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as h:
        cases = [
            ({"content-type": "text/plain", "origin": "http://evil.example"}, 403),
            ({"content-type": "text/plain"}, 415),
            ({"content-type": "application/x-www-form-urlencoded"}, 415),
            ({"origin": "http://evil.example"}, 403),
            ({"content-type": "application/json", "origin": "http://localhost"}, 403),  # another origin
            ({"content-type": "application/json", "origin": "null"}, 403),
        ]
        for headers, status in cases:
            resp = await h.post(url, content=body, headers=headers)
            assert resp.status_code == status, (headers, resp.text)
        events = (await h.get(f"/api/episodes/{eid}/events")).json()
        assert not [e for e in events if e["payload"]["kind"] == "tool_call"]
        same = await h.post(
            url, content=body, headers={"content-type": "application/json", "origin": "http://127.0.0.1"}
        )
        assert same.status_code == 200 and same.json()["ok"]


async def test_docs_page_works_offline(http):
    page = await http.get("/docs")
    assert page.status_code == 200
    assert 'href="/openapi.json"' in page.text and "/api/episodes/{episode_id}/events" in page.text
    assert '<script src="http' not in page.text and "cdn" not in page.text.lower()
    assert (await http.get("/redoc")).status_code == 404
