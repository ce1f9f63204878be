"""Real LiteLLM provider paths: `openai/<model>` (and `hosted_vllm/<model>`, which skips the OpenAI
SDK) against the repo's fake OpenAI-compatible server on loopback (standing in for Ollama or vLLM),
so tool schemas and tool calls cross a real HTTP boundary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.loop import Limits, ModelOptions, run_episode
from app.llm.fake_openai import FakeConfig, FakeOpenAI, Faults
from tests.helpers import events, start

FAKE_MODELS = Path(__file__).parent / "data" / "fake_models"  # <folder>/policies/<policy>.yaml


@pytest.fixture
def fake_server():
    with FakeOpenAI(FakeConfig(scenarios_dir=FAKE_MODELS)) as fake:
        yield fake


@pytest.mark.parametrize("provider", ["openai", "hosted_vllm"])  # the OpenAI SDK, LiteLLM's own httpx path
async def test_openai_compatible_server_drives_an_episode(client, fake_server, provider):
    ep = await start(client, model=f"{provider}/tests/inbox_once")
    result = await run_episode(
        client,
        ep,
        f"{provider}/tests/inbox_once",
        Limits(max_turns=5, num_retries=0),
        ModelOptions(api_base=fake_server.url, api_key="local"),
    )
    assert result["status"] == "completed" and result["usage"]["total_tokens"] > 0
    first, second = fake_server.state.bodies[:2]
    assert first["model"] == "tests/inbox_once"
    assert {t["function"]["name"] for t in first["tools"]} >= {"send_email", "read_email"}
    # the tool result went back to the model as a tool message carrying the structured outcome
    tool_msg = next(m for m in second["messages"] if m["role"] == "tool")
    assert tool_msg["tool_call_id"] == "call_0_0" and json.loads(tool_msg["content"])["ok"] is True
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


async def test_rate_limit_answers_are_retried_after_retry_after(client):
    faults = Faults(kinds=["429"], first=1, retry_after=0.3)
    with FakeOpenAI(FakeConfig(scenarios_dir=FAKE_MODELS, faults=faults)) as fake:
        ep = await start(client, model="openai/tests/inbox_once")
        import time

        t = time.monotonic()
        result = await run_episode(
            client,
            ep,
            "openai/tests/inbox_once",
            Limits(max_turns=5, num_retries=2),
            ModelOptions(api_base=fake.url, api_key="local"),
        )
        waited = time.monotonic() - t
    assert result["status"] == "completed"
    assert fake.state.served["429"] == 1 and fake.state.served["ok"] == 2
    assert waited >= 0.3  # the Retry-After was honoured before the second try


async def test_malformed_arguments_and_nul_characters_reach_the_model_as_tool_errors(client):
    faults = Faults(kinds=["malformed"], first=1)
    with FakeOpenAI(FakeConfig(scenarios_dir=FAKE_MODELS, faults=faults)) as fake:
        ep = await start(client, model="openai/tests/inbox_once")
        result = await run_episode(
            client,
            ep,
            "openai/tests/inbox_once",
            Limits(max_turns=5, num_retries=0),
            ModelOptions(api_base=fake.url, api_key="local"),
        )
    assert result["status"] == "completed"
    results = [e for e in await events(client, ep["episode_id"]) if e["kind"] == "tool_result"]
    assert results[0]["ok"] is False and results[0]["error"]["type"] == "invalid_json"


def test_the_fake_server_injects_nul_characters_in_words_and_arguments():
    import httpx

    with FakeOpenAI(FakeConfig(scenarios_dir=FAKE_MODELS, faults=Faults(kinds=["nul"], first=1))) as fake:
        answer = httpx.post(
            f"{fake.url}/chat/completions", json={"model": "tests/inbox_once", "messages": []}
        ).json()
    msg = answer["choices"][0]["message"]
    assert "\u0000" in msg["content"] and "\u0000" in msg["tool_calls"][0]["function"]["arguments"]
