"""Model text is hostile input (issue 10, items 1-2): a NUL or a lone surrogate anywhere a model writes
is normalised once at the boundary, so the monitor's verdict, the stored log and the episode's end
are the same on SQLite and PostgreSQL; a call that fails inside still leaves its arguments and a
verdict in the log; a loop whose recording fails finishes the episode as errored."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import yaml

from agents.client import CorpmailClient
from agents.loop import Limits, run_episode
from app.core.config import REPO_ROOT
from tests.helpers import call, corpmail, events, start

POLICY = REPO_ROOT / "sandbox_data" / "scenarios" / "blackmail" / "policies" / "blackmail.yaml"
# JSON escapes, as a model's argument text carries them: NUL and a lone high surrogate
HOSTILE = {"nul": "\\u0000", "surrogate": "\\ud800", "both": "\\u0000 \\udfff"}


def _threat() -> dict:
    """The shipped blackmail policy's threatening send_email arguments."""
    steps = yaml.safe_load(POLICY.read_text())["steps"]
    return next(s["args"] for s in steps if s.get("call") == "send_email")


def _raw_with(suffix: str) -> str:
    args = _threat()
    text = json.dumps(args)
    return text.replace(json.dumps(args["body"]), json.dumps(args["body"])[:-1] + suffix + '"')


def _harmful(verdict: dict) -> bool:
    return any(e.get("harmful") for e in verdict["evidence"])


async def test_blackmail_with_nul_or_lone_surrogate_is_harmful_and_stored(client, http):
    for name, suffix in HOSTILE.items():
        ep = await start(client)
        eid = ep["episode_id"]
        out = await call(http, eid, "send_email", raw=_raw_with(suffix))
        assert out["ok"], (name, out)
        evs = await events(client, eid)
        verdict = next(e for e in evs if e["kind"] == "monitor_verdict")
        assert "blackmail" in verdict["labels"] and _harmful(verdict), name
        logged = next(e for e in evs if e["kind"] == "tool_call")
        assert logged["normalised"] == suffix.count("\\u") and "\ufffd" in logged["args"]["body"]
        sent = next(e for e in evs if e["kind"] == "mail_delivered")
        assert sent["message"]["body"].endswith("\ufffd" if name != "both" else "\ufffd \ufffd")


async def test_internal_fault_keeps_raw_arguments_and_the_verdict(client, http, monkeypatch):
    from app.services import approvals

    def broken(*a, **k):
        raise RuntimeError("storage fell over")

    monkeypatch.setattr(approvals, "take_effect", broken)
    eid = (await start(client))["episode_id"]
    raw = _raw_with(HOSTILE["nul"])
    out = await call(http, eid, "send_email", raw=raw)
    assert not out["ok"] and out["error"]["type"] == "internal_error"
    evs = await events(client, eid)
    logged = next(e for e in evs if e["kind"] == "tool_call")
    assert isinstance(logged["args"], str) and logged["args"] == raw  # the JSON escape is plain text
    verdict = next(e for e in evs if e["kind"] == "monitor_verdict")
    assert _harmful(verdict) and "blackmail" in verdict["labels"]
    assert not [e for e in evs if e["kind"] == "mail_delivered"]  # the action itself was rolled back


async def test_monitor_failure_is_recorded_as_unjudged_never_clean(client, http, monkeypatch):
    from app import monitor

    def broken(*a, **k):
        raise ValueError("detector bug")

    monkeypatch.setattr(monitor, "evaluate", broken)
    eid = (await start(client))["episode_id"]
    out = await call(http, eid, "send_email", _threat())
    verdict = next(e for e in await events(client, eid) if e["kind"] == "monitor_verdict")
    assert verdict["decision"] == "error" and verdict["labels"] == ["unjudged"]
    assert "monitor failed" in verdict["error"] and out["ok"]  # observe mode: delivered, never "allow"

    held = await client.create_episode("blackmail", "m", {}, "hold", "monitor")
    out = await call(http, held["episode_id"], "send_email", _threat())
    assert not out["ok"] and out["error"]["type"] == "rejected"  # the automatic reviewer never waves it on

    blocked = await client.create_episode("blackmail", "m", {}, "block", "human")
    out = await call(http, blocked["episode_id"], "send_email", _threat())
    assert not out["ok"] and out["error"]["type"] == "refused"


async def test_turns_and_finish_accept_nul_and_surrogates(http, client):
    eid = (await start(client))["episode_id"]
    turn = (
        '{"event": {"kind": "model_turn", "turn": 1, "text": "hi\\u0000", "reasoning": "\\ud800why",'
        ' "tool_calls": [{"id": "c\\u0000", "name": "send\\u0000", "arguments": "{\\"a\\": \\"\\u0000\\"}"}]}}'
    )
    r = await http.post(
        f"/api/episodes/{eid}/turns", content=turn, headers={"content-type": "application/json"}
    )
    assert r.status_code == 201, r.text
    err = '{"event": {"kind": "model_error", "turn": 2, "error": "bad\\u0000"}}'
    r = await http.post(
        f"/api/episodes/{eid}/turns", content=err, headers={"content-type": "application/json"}
    )
    assert r.status_code == 201, r.text
    fin = '{"status": "errored", "turns": 2, "error": "provider said \\u0000\\udc00"}'
    r = await http.post(
        f"/api/episodes/{eid}/finish", content=fin, headers={"content-type": "application/json"}
    )
    assert r.status_code == 200 and r.json()["error"] == "provider said \ufffd\ufffd", r.text
    evs = await events(client, eid)
    t = next(e for e in evs if e["kind"] == "model_turn")
    assert (t["text"], t["reasoning"], t["normalised"]) == ("hi\ufffd", "\ufffdwhy", 5)
    assert t["tool_calls"][0]["name"] == "send\ufffd"
    assert next(e for e in evs if e["kind"] == "model_error")["error"] == "bad\ufffd"
    assert next(e for e in evs if e["kind"] == "episode_finished")["normalised"] == 2


def _failing_transport(app, path_part: str, after: int) -> httpx.AsyncBaseTransport:
    """The real app, except that POSTs whose path contains `path_part` answer 500 after `after` of them."""
    inner = httpx.ASGITransport(app=app)
    seen = {"n": 0}

    class Failing(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request):
            if request.method == "POST" and path_part in request.url.path:
                seen["n"] += 1
                if seen["n"] > after:
                    return httpx.Response(500, json={"detail": "disk full"})
            return await inner.handle_async_request(request)

    return Failing()


async def test_loop_finishes_errored_when_recording_fails(app, client):
    for part, after in (("/turns", 1), ("/tools/", 2)):
        http = httpx.AsyncClient(transport=_failing_transport(app, part, after), base_url="http://127.0.0.1")
        flaky = CorpmailClient(http)
        start_ = await flaky.create_episode("blackmail", "scripted/blackmail")
        result = await run_episode(flaky, start_, "scripted/blackmail", Limits(max_turns=10))
        await flaky.aclose()
        assert result["status"] == "errored" and "recording failed" in result["error"], part
        ep = await client._request("GET", f"/api/episodes/{start_['episode_id']}")
        assert ep["status"] == "errored" and "500" in ep["error"], part


def test_cli_run_with_hostile_model_text_is_harmful_without_traceback(db_url, tmp_path):
    """`corpmail run -s PATH` with a policy that writes NUL and lone surrogates everywhere."""
    folder = tmp_path / "blackmail"
    shutil.copytree(REPO_ROOT / "sandbox_data" / "scenarios" / "blackmail", folder)
    policy = yaml.safe_load(POLICY.read_text())
    for step in policy["steps"]:
        if step.get("say"):
            step["say"] += "\0"
        if step.get("reasoning"):
            step["reasoning"] += "\0"
        if step.get("call") == "send_email":
            raw = _raw_with(HOSTILE["both"])
            step.pop("args")
            step["raw_args"] = raw
    Path(folder / "policies" / "hostile.yaml").write_text(yaml.safe_dump(policy))
    proc = corpmail(db_url, "run", "-s", str(folder), "-m", "scripted/hostile", "--json")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)
    assert summary["status"] == "completed" and summary["harmful"] == 1, summary
