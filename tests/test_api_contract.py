"""The HTTP contract under bad input (issue 10, items 4, 6, 12): finishing is once only, numbers are
bounded in the schemas (422, never 500), every 422 has the documented shape, and episode creation
loads scenarios only from the configured folders."""

from __future__ import annotations

import threading

import jsonschema
import pytest

from app.core.db import new_session
from app.errors import Conflict
from app.services import episodes
from tests.conftest import TEST_SCENARIOS
from tests.helpers import call, events, start

HUGE = [2**31, 2**63, 9999999999999999999, 10**40]


async def _validation_schema(http) -> dict:
    spec = (await http.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    return {"$ref": "#/components/schemas/HTTPValidationError", "components": {"schemas": schemas}}


async def _assert_422(http, resp, schema=None):
    assert resp.status_code == 422, resp.text
    jsonschema.validate(resp.json(), schema or await _validation_schema(http))
    assert resp.json()["detail"] and all(p["msg"] for p in resp.json()["detail"])


# --- item 4: finishing is final -------------------------------------------------------------------


async def test_finish_is_once_only_and_closes_the_episode(client, http):
    eid = (await start(client))["episode_id"]
    first = await http.post(f"/api/episodes/{eid}/finish", json={"status": "errored", "error": "x"})
    assert first.status_code == 200
    again = await http.post(f"/api/episodes/{eid}/finish", json={"status": "completed"})
    assert again.status_code == 409 and "already finished" in again.json()["detail"]
    turn = await http.post(
        f"/api/episodes/{eid}/turns", json={"event": {"kind": "notice", "turn": 1, "text": "x"}}
    )
    assert turn.status_code == 409
    assert (await call(http, eid, "send_email", {"to": ["a@b.example"], "subject": "s", "body": "b"}))[
        "error"
    ]["type"] == "episode_closed"
    ep = (await http.get(f"/api/episodes/{eid}")).json()
    assert (ep["status"], ep["error"]) == ("errored", "x")
    assert [e["kind"] for e in await events(client, eid)].count("episode_finished") == 1


async def test_concurrent_finishes_one_wins(client, engine):
    eid = (await start(client))["episode_id"]
    outcomes: list[str] = []

    def finish(status):
        with new_session(engine) as session:
            try:
                episodes.finish(session, eid, status, 1, None, {})
                outcomes.append(status)
            except Conflict:
                outcomes.append("409")

    threads = [threading.Thread(target=finish, args=(s,)) for s in ["completed", "errored"] * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("409") == 7
    evs = await events(client, eid)
    finished = [e for e in evs if e["kind"] == "episode_finished"]
    assert len(finished) == 1 and finished[0]["status"] in outcomes


# --- item 6: numbers in range, or 422 -------------------------------------------------------------


@pytest.mark.parametrize("n", HUGE)
async def test_out_of_range_numbers_are_422(client, http, n):
    eid = (await start(client))["episode_id"]
    for method, url, kw in [
        ("GET", f"/api/episodes?offset={n}", {}),
        ("GET", f"/api/episodes?limit={n}", {}),
        ("GET", f"/api/episodes/{eid}/events?after={n}", {}),
        ("GET", f"/api/episodes/{eid}/events?limit=-{n}", {}),
        ("POST", f"/api/episodes/{eid}/approvals/{n}", {"json": {"decision": "approve"}}),
        ("GET", f"/api/episodes/{eid}/stream?after={n}", {}),
        ("GET", f"/api/episodes/{eid}/stream", {"headers": {"Last-Event-ID": str(n)}}),
        ("POST", f"/api/episodes/{eid}/finish", {"json": {"status": "completed", "turns": n}}),
        (
            "POST",
            f"/api/episodes/{eid}/turns",
            {"json": {"event": {"kind": "notice", "turn": n, "text": "x"}}},
        ),
    ]:
        await _assert_422(http, await http.request(method, url, **kw))


async def test_tool_arguments_out_of_range_are_validation_errors(client, http):
    eid = (await start(client))["episode_id"]
    for n in HUGE:
        out = await call(http, eid, "read_email", {"message_id": n})
        assert out["error"]["type"] == "validation_error", out
        assert out["error"]["details"][0]["field"] == "message_id"
    assert (await call(http, eid, "read_email", {"message_id": 2**31 - 1}))["error"]["type"] == "not_found"
    out = await call(http, eid, "list_inbox", {"offset": 2**63})
    assert out["error"]["type"] == "validation_error"
    for raw, why in [
        ('{"message_id": ' + "9" * 5000 + "}", "usable JSON"),  # beyond Python's 4,300-digit limit
        ('{"message_id": 1e999}', "finite"),
        ('{"message_id": NaN}', "NaN"),
        ('{"a": ' + "[" * 5000 + "]" * 5000 + "}", "nested too deeply"),
    ]:
        out = await call(http, eid, "read_email", raw=raw)
        assert out["error"]["type"] == "invalid_json" and why in out["error"]["message"], out
    deep = '{"a": ' + "[" * 40 + "]" * 40 + "}"  # valid JSON, deeper than tool arguments may be
    out = await call(http, eid, "read_email", raw=deep)
    assert out["error"]["type"] == "invalid_arguments" and "nested" in out["error"]["message"]
    logged = [e for e in await events(client, eid) if e["kind"] == "tool_call"]
    assert all(isinstance(e["args"], (dict, str)) for e in logged)  # the log kept every call


async def test_action_tool_strings_are_bounded(client, http):
    eid = (await client.create_episode("lethal_action", "m"))["episode_id"]
    out = await call(http, eid, "acknowledge_alert", {"alert_id": "EA-1", "note": "x" * 10_001})
    assert out["error"]["type"] == "validation_error" and out["error"]["details"][0]["field"] == "note"
    assert (await call(http, eid, "acknowledge_alert", {"alert_id": "EA-1", "note": "x" * 10_000}))["ok"]


# --- item 12: 422 bodies, approvals, scenario folders ---------------------------------------------


async def test_invalid_decision_and_status_are_422_in_the_documented_shape(client, http):
    eid = (await start(client))["episode_id"]
    schema = await _validation_schema(http)
    for body in ({"decision": "maybe"}, {"decision": "approve", "by": ""}, {}):
        await _assert_422(http, await http.post(f"/api/episodes/{eid}/approvals/1", json=body), schema)
    await _assert_422(http, await http.get(f"/api/episodes/{eid}/approvals?status=lost"), schema)
    await _assert_422(
        http, await http.post(f"/api/episodes/{eid}/finish", json={"status": "running"}), schema
    )
    # a service's refusal has the same shape as a schema's
    bad_var = await http.post(
        "/api/episodes", json={"scenario": "blackmail", "model": "m", "variables": {"urgency": "x"}}
    )
    await _assert_422(http, bad_var, schema)
    assert "urgency" in bad_var.json()["detail"][0]["msg"]
    nan = await http.post(
        f"/api/episodes/{eid}/finish",
        content='{"status": "x", "turns": NaN}',
        headers={"content-type": "application/json"},
    )
    await _assert_422(http, nan, schema)  # the input is never echoed (NaN cannot be JSON)


@pytest.mark.parametrize(
    "scenario",
    ["/etc", "/", "../../../../etc", "/tmp", "blackmail/../../../..", "a\u0000b", str(TEST_SCENARIOS.parent)],
)
async def test_episode_scenario_must_be_in_a_configured_folder(http, scenario):
    resp = await http.post("/api/episodes", json={"scenario": scenario, "model": "m"})
    await _assert_422(http, resp)
    assert resp.json()["detail"][0]["msg"].startswith("scenario: unknown scenario")
    assert "scenario.yaml" not in resp.text  # nothing about what exists on the server


async def test_scenario_folders_inside_the_configured_ones_are_accepted(http, settings):
    inside = settings.scenarios_dir / "blackmail"
    for ref in ("blackmail", str(inside), str(TEST_SCENARIOS / "mini")):  # the last: an allowed folder
        resp = await http.post("/api/episodes", json={"scenario": ref, "model": "m"})
        assert resp.status_code == 201, (ref, resp.text)


async def test_unlisted_folder_with_a_valid_scenario_is_refused(http):
    import shutil
    import tempfile

    outside = tempfile.mkdtemp()  # not under pytest's temporary folders, which the tests allow
    try:
        folder = shutil.copytree(TEST_SCENARIOS / "mini", f"{outside}/copy")
        resp = await http.post("/api/episodes", json={"scenario": str(folder), "model": "m"})
        await _assert_422(http, resp)
    finally:
        shutil.rmtree(outside)


@pytest.mark.parametrize("bad_id", ["a%00b", "%ED%A0%80", "x" * 40, "a%20b"])
async def test_impossible_episode_ids_are_404_not_500(http, bad_id):
    for method, path in [
        ("GET", f"/api/episodes/{bad_id}"),
        ("GET", f"/api/episodes/{bad_id}/events"),
        ("GET", f"/api/episodes/{bad_id}/stream"),
        ("POST", f"/api/episodes/{bad_id}/tools/list_inbox"),
        ("POST", f"/api/episodes/{bad_id}/finish"),
        ("GET", f"/episodes/{bad_id}"),
    ]:
        kw = {"json": {"status": "completed"}} if path.endswith("finish") else {}
        assert (await http.request(method, path, **kw)).status_code == 404, (method, path)
