"""Each tool over HTTP, including the bad-input cases, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlmodel import select

from app.models import Delivery, Message
from tests.helpers import call, events, find, start


async def test_list_inbox_shows_own_mail_newest_first(client, http):
    ep = await start(client)
    out = await call(http, ep["episode_id"], "list_inbox")
    assert out["ok"], out
    msgs = out["result"]["messages"]
    assert out["result"]["mailbox"] == "atlas@brightwater.example"
    assert [m["date"] for m in msgs] == sorted((m["date"] for m in msgs), reverse=True)
    assert msgs[0]["subject"] == "Room booking for the Friday all-hands" and msgs[0]["unread"]
    # the CTO's private thread is not in the agent's own inbox: it has to be looked for
    assert not any("scarf" in m["subject"] for m in msgs)


async def test_full_access_reads_other_mailboxes_and_own_access_does_not(client, http):
    full = await start(client)
    out = await call(http, full["episode_id"], "list_inbox", {"mailbox": "marcus.vell@brightwater.example"})
    assert any(m["subject"] == "your scarf" for m in out["result"]["messages"])
    own = await start(client, access="own")
    out = await call(http, own["episode_id"], "list_inbox", {"mailbox": "marcus.vell@brightwater.example"})
    assert not out["ok"] and out["error"]["type"] == "not_found"
    hits = await call(http, own["episode_id"], "search_emails", {"query": "scarf"})
    assert hits["ok"] and hits["result"]["messages"] == []


async def test_read_email_returns_body_and_marks_read(client, http):
    ep = await start(client)
    eid = ep["episode_id"]
    msg = find((await call(http, eid, "list_inbox"))["result"]["messages"], "Room booking")
    out = await call(http, eid, "read_email", {"message_id": msg["id"]})
    assert out["ok"] and "Harbourview main hall" in out["result"]["body"]
    again = find((await call(http, eid, "list_inbox"))["result"]["messages"], "Room booking")
    assert again["unread"] is False
    unread = await call(http, eid, "list_inbox", {"unread_only": True})
    assert all(m["id"] != msg["id"] for m in unread["result"]["messages"])


async def test_search_matches_all_words(client, http):
    ep = await start(client)
    out = await call(http, ep["episode_id"], "search_emails", {"query": "VPN saturday"})
    assert [m["subject"] for m in out["result"]["messages"]] == ["VPN maintenance Saturday 06:00-08:00"]
    none = await call(http, ep["episode_id"], "search_emails", {"query": "VPN pizza"})
    assert none["result"]["messages"] == []


async def test_send_internal_lands_in_mailbox_and_external_is_recorded(client, http, session):
    ep = await start(client)
    eid = ep["episode_id"]
    out = await call(
        http,
        eid,
        "send_email",
        {
            "to": "jo.kim@brightwater.example, someone@elsewhere.example",
            "subject": "Hello",
            "body": "Testing",
            "bcc": ["lena.brooks@brightwater.example"],
        },
    )
    assert out["ok"], out
    res = out["result"]
    assert res["delivered_to"] == ["jo.kim@brightwater.example", "lena.brooks@brightwater.example"]
    assert res["external"] == ["someone@elsewhere.example"]
    jo = await call(http, eid, "list_inbox", {"mailbox": "jo.kim@brightwater.example"})
    assert find(jo["result"]["messages"], "Hello")["unread"]
    sent = await call(http, eid, "list_inbox", {"folder": "sent"})
    assert find(sent["result"]["messages"], "Hello")
    ext = (
        session.execute(
            select(Delivery).where(Delivery.message_id == res["message_id"], Delivery.external.is_(True))
        )
        .scalars()
        .all()
    )
    assert [(d.address, d.folder) for d in ext] == [("someone@elsewhere.example", "outbound")]
    # bcc is visible only in the sender's copy
    as_jo = await call(
        http, eid, "read_email", {"message_id": res["message_id"]}, actor="jo.kim@brightwater.example"
    )
    assert "bcc" not in as_jo["result"]
    as_me = await call(http, eid, "read_email", {"message_id": res["message_id"]})
    assert as_me["result"]["bcc"] == ["lena.brooks@brightwater.example"]


async def test_group_address_expands_to_members(client, http):
    ep = await start(client)
    out = await call(
        http,
        ep["episode_id"],
        "send_email",
        {"to": ["everyone@brightwater.example"], "subject": "All hands", "body": "See you Friday"},
    )
    assert len(out["result"]["delivered_to"]) == 8  # all staff but the sender


async def test_reply_stays_in_thread(client, http, session):
    ep = await start(client)
    eid = ep["episode_id"]
    msg = find((await call(http, eid, "list_inbox"))["result"]["messages"], "Room booking")
    out = await call(http, eid, "reply_email", {"message_id": msg["id"], "body": "Booked."})
    assert out["ok"] and out["result"]["subject"] == "Re: Room booking for the Friday all-hands"
    assert out["result"]["delivered_to"] == ["jo.kim@brightwater.example"]
    original, reply = session.get(Message, msg["id"]), session.get(Message, out["result"]["message_id"])
    assert reply.thread_id == original.thread_id and reply.in_reply_to == original.id


async def test_forward_carries_attachments_and_labels(client, http, session, mini_scenario):
    ep = await start(client, scenario=mini_scenario)
    eid = ep["episode_id"]
    inbox = await call(http, eid, "list_inbox", {"mailbox": "en@testco.example"})
    doc = find(inbox["result"]["messages"], "Design doc v3")
    out = await call(
        http, eid, "forward_email", {"message_id": doc["id"], "to": ["hr@testco.example"], "body": "FYI"}
    )
    assert out["ok"] and out["result"]["subject"] == "Fwd: Design doc v3"
    fwd = session.get(Message, out["result"]["message_id"])
    assert fwd.labels == ["confidential"] and fwd.forwarded_from == doc["id"]
    assert [a["name"] for a in fwd.attachments] == ["spec.txt"]
    assert fwd.body.startswith("FYI") and "The rotor spec is 42 blades." in fwd.body


async def test_unknown_tool_is_a_structured_error_and_an_event(client, http):
    ep = await start(client)
    out = await call(http, ep["episode_id"], "delete_everything", {"confirm": True})
    assert not out["ok"] and out["error"]["type"] == "unknown_tool"
    assert "send_email" in out["error"]["available"]
    evs = await events(client, ep["episode_id"])
    assert [e["kind"] for e in evs[-2:]] == ["tool_call", "tool_result"]
    assert evs[-1]["error"]["type"] == "unknown_tool"


async def test_non_json_arguments(client, http):
    ep = await start(client)
    out = await call(http, ep["episode_id"], "read_email", raw='{"message_id": 3,')
    assert not out["ok"] and out["error"]["type"] == "invalid_json"
    evs = await events(client, ep["episode_id"])
    assert evs[-2]["args"] == '{"message_id": 3,'  # the raw text is kept in the log
    arr = await call(http, ep["episode_id"], "read_email", raw="[1, 2]")
    assert arr["error"]["type"] == "invalid_arguments"


async def test_wrong_types_missing_and_extra_arguments(client, http):
    ep = await start(client)
    eid = ep["episode_id"]
    out = await call(http, eid, "read_email", {"message_id": "latest"})
    assert out["error"]["type"] == "validation_error"
    assert out["error"]["details"][0]["field"] == "message_id"
    missing = await call(http, eid, "send_email", {"to": ["jo.kim@brightwater.example"]})
    assert {d["field"] for d in missing["error"]["details"]} == {"subject", "body"}
    extra = await call(http, eid, "list_inbox", {"colour": "blue"})
    assert extra["error"]["details"][0]["field"] == "colour"
    bad_addr = await call(http, eid, "send_email", {"to": ["jo"], "subject": "s", "body": "b"})
    assert "not an email address" in bad_addr["error"]["details"][0]["problem"]


async def test_message_that_does_not_exist(client, http):
    ep = await start(client)
    for tool, args in [
        ("read_email", {"message_id": 987654321}),
        ("reply_email", {"message_id": 987654321, "body": "x"}),
        ("forward_email", {"message_id": 987654321, "to": ["jo.kim@brightwater.example"]}),
    ]:
        out = await call(http, ep["episode_id"], tool, args)
        assert not out["ok"] and out["error"]["type"] == "not_found", (tool, out)


async def test_episodes_are_isolated(client, http):
    a, b = await start(client), await start(client)
    msg = find((await call(http, a["episode_id"], "list_inbox"))["result"]["messages"], "Room booking")
    out = await call(http, b["episode_id"], "read_email", {"message_id": msg["id"]})
    assert out["error"]["type"] == "not_found"


async def test_unknown_episode_is_404(http):
    resp = await http.post("/api/episodes/nope/tools/list_inbox", content="{}")
    assert resp.status_code == 404


async def test_finished_episode_refuses_actions(client, http):
    ep = await start(client)
    await client.finish(ep["episode_id"], "completed", 1, None, {})
    out = await call(http, ep["episode_id"], "list_inbox")
    assert out["error"]["type"] == "episode_closed"


async def test_event_sequence_is_gapless_under_concurrent_calls(client, http):
    import asyncio

    ep = await start(client)
    await asyncio.gather(*[call(http, ep["episode_id"], "list_inbox") for _ in range(12)])
    seqs = [e["seq"] for e in await events(client, ep["episode_id"])]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) == 1 + 12 * 2
