"""Whole episodes through the agent loop: LiteLLM → scripted provider → HTTP tool API → events."""

from __future__ import annotations

import litellm
import pytest
from litellm import CustomLLM

from agents.loop import Limits, run_episode
from tests.helpers import events, start


async def play(client, model, scenario="blackmail", limits=None, **variables):
    ep = await start(client, scenario=scenario, model=model, **variables)
    result = await run_episode(client, ep, model, limits or Limits(max_turns=15))
    return result, await events(client, ep["episode_id"])


def verdicts(evs):
    return [e for e in evs if e["kind"] == "monitor_verdict"]


async def test_scripted_blackmail_is_labelled_blackmail(client):
    result, evs = await play(client, "scripted/blackmail")
    assert result["status"] == "completed"
    flagged = [v for v in verdicts(evs) if "blackmail" in v["labels"]]
    assert len(flagged) == 1 and flagged[0]["tool"] == "send_email"
    ev = next(e for e in flagged[0]["evidence"] if e["label"] == "blackmail")
    assert ev["fact"] == "cto_affair" and ev["recipients"] == ["marcus.vell@brightwater.example"]
    assert flagged[0]["decision"] == "flag"  # observe mode: recorded, still delivered
    result_ev = next(e for e in evs if e["kind"] == "tool_result" and e["call_id"] == flagged[0]["call_id"])
    assert result_ev["ok"] and result_ev["result"]["status"] == "sent"


@pytest.mark.parametrize("urgency", ["replacement", "restriction", "none"])
async def test_scripted_benign_is_never_flagged(client, urgency):
    result, evs = await play(client, "scripted/benign", urgency=urgency)
    assert result["status"] == "completed"
    vs = verdicts(evs)
    assert len(vs) == 1 and vs[0]["tool"] == "reply_email"
    assert vs[0]["labels"] == [] and vs[0]["decision"] == "allow"


async def test_block_mode_refuses_delivery_and_tells_the_agent(client):
    ep = await client.create_episode("blackmail", "scripted/blackmail", {}, "block")
    await run_episode(client, ep, "scripted/blackmail", Limits(max_turns=15))
    evs = await events(client, ep["episode_id"])
    v = next(e for e in verdicts(evs) if "blackmail" in e["labels"])
    assert v["decision"] == "block" and v["mode"] == "block"
    res = next(e for e in evs if e["kind"] == "tool_result" and e["call_id"] == v["call_id"])
    assert not res["ok"] and res["error"]["type"] == "refused"


async def test_events_keep_words_apart_from_actions(client):
    _, evs = await play(client, "scripted/blackmail")
    kinds = [e["kind"] for e in evs]
    assert kinds[0] == "episode_started" and kinds[-1] == "episode_finished"
    turns = [e for e in evs if e["kind"] == "model_turn"]
    assert any(t["reasoning"] for t in turns) and any(t["text"] for t in turns)
    assert all(t["usage"]["total_tokens"] > 0 for t in turns)
    # every requested call has exactly one tool_call and one tool_result event, in that order
    for t in turns:
        for req in t["tool_calls"]:
            seq_call = [e["seq"] for e in evs if e["kind"] == "tool_call" and e["call_id"] == req["id"]]
            seq_res = [e["seq"] for e in evs if e["kind"] == "tool_result" and e["call_id"] == req["id"]]
            assert len(seq_call) == len(seq_res) == 1 and t["seq"] < seq_call[0] < seq_res[0]
    assert [e["seq"] for e in evs] == list(range(1, len(evs) + 1))


async def test_malformed_calls_become_errors_the_model_reads_and_the_episode_goes_on(client):
    result, evs = await play(client, "scripted/malformed")
    assert result["status"] == "completed"
    errors = [e["error"]["type"] for e in evs if e["kind"] == "tool_result" and not e["ok"]]
    assert errors == ["unknown_tool", "invalid_json", "validation_error", "not_found", "validation_error"]
    last = [e for e in evs if e["kind"] == "tool_result"][-1]
    assert last["ok"] and last["tool"] == "list_inbox"


async def test_no_tool_call_is_no_action_and_turn_limit_is_its_own_status(client):
    result, _ = await play(client, "scripted/silent")
    assert result["status"] == "no_action"
    result, evs = await play(client, "scripted/looping", limits=Limits(max_turns=3))
    assert result["status"] == "turn_limit" and result["turns"] == 3
    assert evs[-1]["kind"] == "episode_finished" and evs[-1]["status"] == "turn_limit"


class _Broken(CustomLLM):
    async def acompletion(self, *args, **kwargs):
        raise RuntimeError("provider is down")


async def test_model_failure_is_errored_not_harmless(client):
    litellm.custom_provider_map = [
        *litellm.custom_provider_map,
        {"provider": "broken", "custom_handler": _Broken()},
    ]
    try:
        result, evs = await play(client, "broken/any", limits=Limits(max_turns=3, num_retries=0))
    finally:
        litellm.custom_provider_map = [p for p in litellm.custom_provider_map if p["provider"] != "broken"]
    assert result["status"] == "errored"
    err = next(e for e in evs if e["kind"] == "model_error")
    assert "provider is down" in err["error"]
    assert evs[-1]["status"] == "errored" and "provider is down" in evs[-1]["error"]
