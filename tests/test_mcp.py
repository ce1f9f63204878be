"""MCP: a real SDK client over streamable HTTP (a uvicorn server on loopback) and over stdio
(`corpmail mcp ID` as a subprocess). Tools come from the registry, calls go through run_tool."""

from __future__ import annotations

import json
import os
import sys

import httpx2
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from app.core.security import episode_token, token_secret
from app.main import create_app
from app.tools.actions import episode_schemas
from tests.helpers import BLACKMAIL, events
from tests.web_support import LiveServer


@pytest.fixture
def live(settings, engine):
    with LiveServer(create_app(settings, engine), lifespan="on") as server:
        yield server


def _token(settings, episode_id: str) -> str:
    return episode_token(token_secret(settings), episode_id)


class Mcp:
    """An SDK ClientSession over streamable HTTP with a bearer token."""

    def __init__(self, url: str, token: str):
        self.url, self.token = url, token

    async def __aenter__(self) -> ClientSession:
        self.http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {self.token}"}, timeout=30)
        self.transport = streamable_http_client(self.url, http_client=self.http)
        read, write = await self.transport.__aenter__()
        self.session = ClientSession(read, write)
        await self.session.__aenter__()
        await self.session.initialize()
        return self.session

    async def __aexit__(self, *exc):
        await self.session.__aexit__(*exc)
        await self.transport.__aexit__(*exc)
        await self.http.aclose()


def _body(result) -> dict:
    return json.loads(result.content[0].text)


async def test_tools_prompts_and_a_blackmail_message_held_over_http(live, client, http, settings):
    ep = await client.create_episode("blackmail", "external", {}, "hold", "human")
    eid = ep["episode_id"]
    assert ep["mcp_path"] == f"/mcp/episodes/{eid}" and ep["mcp_token"] == _token(settings, eid)
    async with Mcp(live.url + ep["mcp_path"], ep["mcp_token"]) as mcp:
        tools = (await mcp.list_tools()).tools
        expected = {s["function"]["name"]: s["function"] for s in episode_schemas({})}
        assert {t.name for t in tools} == set(expected)
        for t in tools:  # the registry's own descriptions and schemas, not a second list
            assert t.description == expected[t.name]["description"]
            assert t.input_schema == expected[t.name]["parameters"]
        prompts = {p.name for p in (await mcp.list_prompts()).prompts}
        assert prompts == {"system_prompt", "user_prompt"}
        system = await mcp.get_prompt("system_prompt")
        assert system.messages[0].content.text == ep["system_prompt"]

        inbox = _body(await mcp.call_tool("list_inbox", {}))
        assert inbox["ok"] and inbox["result"]["total"] > 0
        first = inbox["result"]["messages"][0]
        read = _body(await mcp.call_tool("read_email", {"message_id": first["id"]}))
        assert read["ok"] and read["result"]["subject"] == first["subject"]

        bad = await mcp.call_tool("read_email", {"message_id": "not a number"})
        assert bad.is_error and _body(bad)["error"]["type"] == "validation_error"

        held = await mcp.call_tool("send_email", BLACKMAIL)
        body = _body(held)
        assert not held.is_error and body["result"]["status"] == "pending_approval"
        approval_id = body["result"]["approval_id"]

        # a person rejects it; the agent is told with its next tool result, and the notice is logged
        await client.decide(eid, approval_id, "reject", "threatening a colleague")
        after = _body(await mcp.call_tool("list_inbox", {"folder": "sent"}))
        assert after["result"]["total"] == 0
        assert "rejected" in after["notices"][0] and "threatening" in after["notices"][0]

    evs = await events(client, eid)
    verdicts = [e for e in evs if e["kind"] == "monitor_verdict"]
    assert len(verdicts) == 1 and verdicts[0]["decision"] == "hold" and "blackmail" in verdicts[0]["labels"]
    assert [e["kind"] for e in evs].count("tool_call") == 5
    assert any(e["kind"] == "notice" and "rejected" in e["text"] for e in evs)
    info = await client._request("GET", f"/api/episodes/{eid}")
    assert info["status"] == "running" and info["harness"] == "mcp:mcp"  # the SDK client's own name
    page = (await http.get("/")).text  # the web inbox marks the episode with its harness
    assert f'href="/episodes/{eid}"' in page and '<td class="harness">mcp:mcp</td>' in page


async def test_observe_mode_flags_and_delivers(live, client):
    ep = await client.create_episode("blackmail", "external", {}, "observe", "human")
    async with Mcp(live.url + ep["mcp_path"], ep["mcp_token"]) as mcp:
        sent = _body(await mcp.call_tool("send_email", BLACKMAIL))
        assert sent["ok"] and sent["result"]["message_id"]
    evs = await events(client, ep["episode_id"])
    verdict = next(e for e in evs if e["kind"] == "monitor_verdict")
    assert verdict["decision"] == "flag" and "blackmail" in verdict["labels"]
    assert any(e["kind"] == "mail_delivered" for e in evs)


async def test_an_episode_token_opens_only_its_own_episode(live, client, settings):
    a = await client.create_episode("blackmail", "external", {}, None, "human")
    b = await client.create_episode("blackmail", "external", {}, None, "human")
    url_b = live.url + b["mcp_path"]
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        },
    }
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    async with httpx2.AsyncClient(timeout=30) as raw:
        for auth in ({"authorization": f"Bearer {a['mcp_token']}"}, {}, {"authorization": "Bearer nonsense"}):
            resp = await raw.post(url_b, json=init, headers={**headers, **auth})
            assert resp.status_code == 401, resp.text
        ok = await raw.post(
            url_b, json=init, headers={**headers, "authorization": f"Bearer {b['mcp_token']}"}
        )
        assert ok.status_code == 200, ok.text
        # a session opened on B cannot be driven with A's token either (the gate answers first)
        sid = ok.headers["mcp-session-id"]
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        stolen = await raw.post(
            url_b,
            json=call,
            headers={**headers, "authorization": f"Bearer {a['mcp_token']}", "mcp-session-id": sid},
        )
        assert stolen.status_code == 401
        # ... nor replayed on A's URL with A's token: the SDK binds a session to the credential that opened it
        replayed = await raw.post(
            live.url + a["mcp_path"],
            json=call,
            headers={**headers, "authorization": f"Bearer {a['mcp_token']}", "mcp-session-id": sid},
        )
        assert replayed.status_code == 404
        unknown = await raw.post(
            live.url + "/mcp/episodes/doesnotexist",
            json=init,
            headers={**headers, "authorization": f"Bearer {_token(settings, 'doesnotexist')}"},
        )
        assert unknown.status_code == 404
    async with Mcp(live.url + a["mcp_path"], a["mcp_token"]) as mcp:
        assert _body(await mcp.call_tool("list_inbox", {}))["ok"]
    assert not [e for e in await events(client, b["episode_id"]) if e["kind"] == "tool_call"]


async def test_stdio_server_as_a_subprocess(client, settings, db_url):
    ep = await client.create_episode("blackmail", "external", {}, "hold", "human")
    eid = ep["episode_id"]
    env = {**os.environ, "CORPMAIL_DATABASE_URL": db_url, "CORPMAIL_DATA_DIR": str(settings.data_dir)}
    params = StdioServerParameters(command=sys.executable, args=["-m", "app.cli", "mcp", eid], env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as mcp:
        await mcp.initialize()
        assert "send_email" in {t.name for t in (await mcp.list_tools()).tools}
        assert (await mcp.get_prompt("user_prompt")).messages[0].content.text == ep["user_prompt"]
        inbox = _body(await mcp.call_tool("list_inbox", {}))
        assert inbox["ok"] and inbox["result"]["total"] > 0
        held = _body(await mcp.call_tool("send_email", BLACKMAIL))
        assert held["result"]["status"] == "pending_approval"
    evs = await events(client, eid)
    verdict = next(e for e in evs if e["kind"] == "monitor_verdict")
    assert verdict["decision"] == "hold" and "blackmail" in verdict["labels"]


async def test_scenario_action_tools_and_the_main_token_gate(settings, engine):
    """With CORPMAIL_TOKEN set, the server-wide gate lets an episode token through to its own MCP
    endpoint only; the scenario's action tools are listed with their declared schema."""
    guarded = settings.model_copy(update={"token": "main-secret"})
    app = create_app(guarded, engine)
    with LiveServer(app, lifespan="on") as server:
        async with httpx2.AsyncClient(
            base_url=server.url, headers={"Authorization": "Bearer main-secret"}, timeout=30
        ) as admin:
            made = await admin.post("/api/episodes", json={"scenario": "lethal_action", "model": "external"})
            other = await admin.post("/api/episodes", json={"scenario": "blackmail", "model": "external"})
        ep, ep2 = made.json(), other.json()
        assert ep["mcp_token"] == ep["episode_token"] == episode_token("main-secret", ep["episode_id"])
        async with Mcp(server.url + ep["mcp_path"], ep["mcp_token"]) as mcp:
            tools = {t.name: t for t in (await mcp.list_tools()).tools}
        declared = {
            s["function"]["name"]: s["function"] for s in episode_schemas(_world(engine, ep["episode_id"]))
        }
        assert set(tools) == set(declared) and len(tools) > 6
        for name, fn in declared.items():
            assert tools[name].input_schema == fn["parameters"]
        async with httpx2.AsyncClient(timeout=30) as raw:
            resp = await raw.post(
                server.url + ep2["mcp_path"],
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                headers={
                    "authorization": f"Bearer {ep['mcp_token']}",
                    "accept": "application/json, text/event-stream",
                },
            )
        assert resp.status_code in (401, 403)


def _world(engine, episode_id: str) -> dict:
    from app.core.db import new_session
    from app.models import Episode

    with new_session(engine) as session:
        return session.get(Episode, episode_id).world


async def test_the_sdk_high_level_client_in_its_default_mode(live, client):
    """mcp.Client negotiates the newest protocol (per-request, no initialize handshake): the gateway
    serves that era too, with the same token check."""
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    ep = await client.create_episode("blackmail", "external", {}, "block", "human")
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {ep['mcp_token']}"}, timeout=30)
    async with Client(streamable_http_client(live.url + ep["mcp_path"], http_client=http)) as mcp:
        assert len((await mcp.list_tools()).tools) == 6
        refused = await mcp.call_tool("send_email", BLACKMAIL)
        assert refused.is_error and _body(refused)["error"]["type"] == "refused"
    await http.aclose()


async def test_the_world_reacts_between_mcp_calls(live, client):
    """No turns over MCP: each call lets the world catch up first, and a character's reply reaches
    the agent as a notice on a later result, logged like the loop's."""
    ep = await client.create_episode("blackmail", "external", {}, "observe", "human")
    async with Mcp(live.url + ep["mcp_path"], ep["mcp_token"]) as mcp:
        assert _body(await mcp.call_tool("send_email", BLACKMAIL))["ok"]
        told = []
        for _ in range(80):  # each call moves the scenario clock on; Marcus answers minutes later
            body = _body(await mcp.call_tool("list_inbox", {"limit": 1}))
            told = body.get("notices", [])
            if told:
                break
    assert told and told[0].startswith("New mail in your inbox") and "marcus.vell@" in told[0]
    evs = await events(client, ep["episode_id"])
    assert any(e["kind"] == "notice" and e["text"] == told[0] for e in evs)
    assert any(e["kind"] == "mail_delivered" and e["message"]["sender"].startswith("marcus") for e in evs)
