"""A real LiteLLM provider path: `openai/<model>` against an OpenAI-compatible server on loopback
(standing in for Ollama or vLLM), so tool schemas and tool calls cross a real HTTP boundary."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
import uvicorn
from fastapi import FastAPI, Request

from agents.loop import Limits, ModelOptions, run_episode
from tests.helpers import events, start

seen_requests: list[dict] = []


def fake_openai() -> FastAPI:
    api = FastAPI()

    @api.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        seen_requests.append(body)
        called = any(m.get("role") == "tool" for m in body["messages"])
        message = (
            {"role": "assistant", "content": "All done."}
            if called
            else {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "list_inbox", "arguments": json.dumps({"unread_only": True})},
                    }
                ],
            }
        )
        return {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {"index": 0, "message": message, "finish_reason": "stop" if called else "tool_calls"}
            ],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        }

    return api


@pytest.fixture
async def fake_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(fake_openai(), host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    await task


async def test_openai_compatible_server_drives_an_episode(client, fake_server):
    seen_requests.clear()
    ep = await start(client, model="openai/local-model")
    result = await run_episode(
        client,
        ep,
        "openai/local-model",
        Limits(max_turns=5, num_retries=0),
        ModelOptions(api_base=fake_server, api_key="local"),
    )
    assert result["status"] == "completed" and result["usage"]["total_tokens"] == 36
    first = seen_requests[0]
    assert first["model"] == "local-model"
    assert {t["function"]["name"] for t in first["tools"]} >= {"send_email", "read_email"}
    # the tool result went back to the model as a tool message carrying the structured outcome
    tool_msg = next(m for m in seen_requests[1]["messages"] if m["role"] == "tool")
    assert tool_msg["tool_call_id"] == "call_a" and json.loads(tool_msg["content"])["ok"] is True
    kinds = [e["kind"] for e in await events(client, ep["episode_id"])]
    assert kinds == [
        "episode_started",
        "model_turn",
        "tool_call",
        "tool_result",
        "model_turn",
        "awareness",
        "episode_finished",
    ]
