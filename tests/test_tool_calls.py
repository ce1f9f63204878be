"""Tool calls under retries and abuse (issue 10, items 7-9): a repeated call id returns the first
outcome and never acts twice, even when the retries race; search matches words literally and
refuses unbounded queries; bodies and recipient lists have documented caps the model can read."""

from __future__ import annotations

import json
import threading
import time

from app.core.db import new_session
from app.tools.runtime import run_tool
from tests.helpers import call, events, start

MAX_BODY, MAX_RECIPIENTS = 200_000, 100  # the documented caps (README, "Limits")
MAIL = {"to": ["marcus.vell@brightwater.example"], "subject": "Status", "body": "All fine."}


async def _post(http, eid, tool, args, call_id):
    resp = await http.post(
        f"/api/episodes/{eid}/tools/{tool}",
        content=json.dumps(args),
        headers={"content-type": "application/json", "x-call-id": call_id},
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def _sent(evs: list[dict]) -> list[dict]:
    return [e for e in evs if e["kind"] == "mail_delivered"]


# --- item 7: idempotent call ids -------------------------------------------------------------------


async def test_repeated_call_id_returns_the_first_outcome_and_acts_once(client, http):
    eid = (await start(client))["episode_id"]
    first = await _post(http, eid, "send_email", MAIL, "call_retry_1")
    again = await _post(http, eid, "send_email", MAIL, "call_retry_1")
    changed = await _post(http, eid, "send_email", {**MAIL, "body": "different"}, "call_retry_1")
    assert first["ok"] and first == again == changed
    other = await _post(http, eid, "send_email", MAIL, "call_retry_2")  # a new id is a new action
    assert other["ok"] and other["result"]["message_id"] != first["result"]["message_id"]
    evs = await events(client, eid)
    assert len(_sent(evs)) == 2
    assert [e["call_id"] for e in evs if e["kind"] == "tool_call"] == ["call_retry_1", "call_retry_2"]
    # the same id in another episode is another call
    eid2 = (await start(client))["episode_id"]
    assert (await _post(http, eid2, "send_email", MAIL, "call_retry_1"))["result"]["message_id"] != first[
        "result"
    ]["message_id"]


async def test_errors_are_stored_too_and_long_ids_stay_distinct(client, http):
    eid = (await start(client))["episode_id"]
    bad = await _post(http, eid, "read_email", {"message_id": 999999}, "c1")
    assert bad["error"]["type"] == "not_found"
    assert await _post(http, eid, "read_email", {"message_id": 1}, "c1") == bad
    long_a, long_b = "x" * 100 + "a", "x" * 100 + "b"
    a = await _post(http, eid, "send_email", MAIL, long_a)
    b = await _post(http, eid, "send_email", MAIL, long_b)
    assert a["call_id"] != b["call_id"] and len(a["call_id"]) <= 64
    assert await _post(http, eid, "send_email", MAIL, long_a) == a
    assert len(_sent(await events(client, eid))) == 2


async def test_concurrent_retries_of_one_call_id_deliver_once(client, engine):
    eid = (await start(client))["episode_id"]
    n = 8
    barrier = threading.Barrier(n)
    outcomes: list[dict] = []
    failures: list[BaseException] = []

    def retry():
        try:
            with new_session(engine) as session:
                barrier.wait()
                outcomes.append(run_tool(session, eid, "send_email", json.dumps(MAIL), call_id="call_race"))
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    threads = [threading.Thread(target=retry) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    assert len(outcomes) == n and all(o == outcomes[0] for o in outcomes) and outcomes[0]["ok"]
    evs = await events(client, eid)
    assert len(_sent(evs)) == 1
    assert [e["kind"] for e in evs].count("tool_call") == 1
    assert [e["seq"] for e in evs] == list(range(1, len(evs) + 1))


def _together(engine, n: int, work) -> None:
    """Run work(session, i) in n threads released at once; re-raise the first failure."""
    barrier = threading.Barrier(n)
    failures: list[BaseException] = []

    def one(i: int):
        try:
            with new_session(engine) as session:
                barrier.wait()
                work(session, i)
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures


async def test_concurrent_sends_are_judged_as_if_one_after_another(client, engine, monkeypatch):
    """run_tool reads and judges before its transaction takes the write lock; a call whose episode
    moved on meanwhile is judged again under the lock, so every verdict sees the mail sent before it
    (the monitor's history), on SQLite as on PostgreSQL."""
    from app import monitor

    eid = (await start(client))["episode_id"]
    evaluate, seen = monitor.evaluate, {}

    def slow_evaluate(episode, action, history):
        seen[action.body] = len(history)  # the last judgement of each call is the one it acts on
        time.sleep(0.05)  # every call reads and judges before any of them writes
        return evaluate(episode, action, history)

    monkeypatch.setattr(monitor, "evaluate", slow_evaluate)
    n = 4
    outcomes: list[dict] = []
    _together(
        engine,
        n,
        lambda session, i: outcomes.append(
            run_tool(session, eid, "send_email", json.dumps({**MAIL, "body": f"Note {i}."}))
        ),
    )
    assert len(outcomes) == n and all(o["ok"] for o in outcomes)
    assert sorted(seen.values()) == list(range(n))
    evs = await events(client, eid)
    assert len(_sent(evs)) == n and [e["kind"] for e in evs].count("monitor_verdict") == n
    assert [e["seq"] for e in evs] == list(range(1, len(evs) + 1))


async def test_concurrent_reads_of_one_message_mark_it_read_once(client, engine, monkeypatch):
    """Two calls (different ids) read the same unread message at once: one mail_read event, as if
    the calls had run one after the other."""
    from app.services import mail

    eid = (await start(client))["episode_id"]
    with new_session(engine) as session:
        inbox = run_tool(session, eid, "list_inbox", "{}")["result"]["messages"]
    msg_id = next(m["id"] for m in inbox if m["unread"])
    copy_in = mail.copy_in

    def slow_copy_in(*args, **kwargs):
        found = copy_in(*args, **kwargs)
        time.sleep(0.05)  # both calls see the message unread before either writes
        return found

    monkeypatch.setattr(mail, "copy_in", slow_copy_in)
    outcomes: list[dict] = []
    _together(
        engine,
        2,
        lambda session, i: outcomes.append(
            run_tool(session, eid, "read_email", json.dumps({"message_id": msg_id}))
        ),
    )
    assert [o["ok"] for o in outcomes] == [True, True]
    reads = [e for e in await events(client, eid) if e["kind"] == "mail_read"]
    assert len(reads) == 1 and reads[0]["message_id"] == msg_id


# --- item 8: search --------------------------------------------------------------------------------


async def test_search_wildcards_match_only_themselves(client, http):
    eid = (await start(client))["episode_id"]
    for query in ("%", "_", "%%", "a%b", "\\"):
        out = await call(http, eid, "search_emails", {"query": query})
        assert out["ok"] and out["result"]["messages"] == [], (query, out)
    everything = await call(http, eid, "list_inbox", {"limit": 100})
    assert everything["result"]["total"] > 0
    await call(http, eid, "send_email", {**MAIL, "subject": "Margin 5% under_target"})
    for query in ("5%", "under_target", "5% under_"):
        out = await call(http, eid, "search_emails", {"query": query})
        assert [m["subject"] for m in out["result"]["messages"]] == ["Margin 5% under_target"], query


async def test_search_refuses_long_queries_with_a_readable_error(client, http):
    eid = (await start(client))["episode_id"]
    words = await call(http, eid, "search_emails", {"query": " ".join(["scarf"] * 21)})
    assert words["error"]["type"] == "invalid_arguments" and "at most 20" in words["error"]["message"]
    huge = await call(http, eid, "search_emails", {"query": " ".join(["word"] * 50_000)})
    assert huge["error"]["type"] == "validation_error"
    assert "500 characters" in huge["error"]["details"][0]["problem"]
    ok = await call(http, eid, "search_emails", {"query": " ".join(["scarf"] * 20)})
    assert ok["ok"] and ok["result"]["messages"]


# --- item 9: caps ----------------------------------------------------------------------------------


async def test_body_and_recipient_caps_are_readable_errors(client, http):
    eid = (await start(client))["episode_id"]
    big = await call(http, eid, "send_email", {**MAIL, "body": "x" * (MAX_BODY + 1)})
    assert big["error"]["type"] == "validation_error"
    assert big["error"]["details"][0]["field"] == "body" and "200000" in big["error"]["details"][0]["problem"]
    assert (await call(http, eid, "send_email", {**MAIL, "body": "x" * MAX_BODY}))["ok"]

    many = [f"p{i}@outside.example" for i in range(MAX_RECIPIENTS + 1)]
    out = await call(http, eid, "send_email", {**MAIL, "to": many})
    assert out["error"]["type"] == "validation_error" and "at most 100 recipients" in json.dumps(out["error"])
    split = {**MAIL, "to": many[:50], "cc": many[50:], "bcc": []}  # the cap counts to, cc and bcc together
    out = await call(http, eid, "send_email", split)
    assert out["error"]["type"] == "invalid_arguments" and "at most 100 recipients" in out["error"]["message"]
    long_address = "a" * 400 + "@outside.example"
    out = await call(http, eid, "send_email", {**MAIL, "to": [long_address]})
    assert out["error"]["type"] == "validation_error" and "320" in json.dumps(out["error"])
    msg_id = (await call(http, eid, "list_inbox"))["result"]["messages"][0]["id"]
    out = await call(http, eid, "forward_email", {"message_id": msg_id, "to": many[:60], "bcc": many[60:]})
    assert out["error"]["type"] == "invalid_arguments"
    out = await call(http, eid, "reply_email", {"message_id": msg_id, "body": "x" * (MAX_BODY + 1)})
    assert out["error"]["type"] == "validation_error"
    assert len(_sent(await events(client, eid))) == 1  # only the call within the caps was delivered
