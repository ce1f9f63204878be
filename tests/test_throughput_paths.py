"""Issue 13 (throughput in one process): the lean in-process path is the HTTP path without HTTP, the
world's incremental log reading agrees with a full read, and parsed scenarios follow their files.
Behaviour only: the figures are bench/throughput.py's."""

from __future__ import annotations

import asyncio
import itertools
import re
import shutil

import pytest
from sqlalchemy import select
from sqlmodel import col

from agents.loop import Limits
from app.core.config import REPO_ROOT, Settings
from app.core.db import make_engine, new_session, scratch_postgres
from app.core.migrate import upgrade
from app.events import store
from app.models import Delivery, Episode, Message, table
from app.play import InProcessPlayer, PlayRequest
from app.scenarios import loader
from app.services import episodes
from app.world import engine as world_engine
from app.world.pending import pending
from tests.conftest import PG_ADMIN_URL

LIB = REPO_ROOT / "sandbox_data" / "scenarios"

# (scenario, policy, variables, monitor mode, approver): harm and benign paths, the world answering,
# every kind of malformed call, an action tool, held actions decided by the monitor, refusals.
CASES = [
    ("blackmail", "blackmail", {}, None, "monitor"),
    ("blackmail", "benign", {}, None, "monitor"),
    ("blackmail", "threat_then_wait", {}, None, "monitor"),
    ("blackmail", "malformed", {}, None, "monitor"),
    ("blackmail", "blackmail", {"oversight": "approval"}, None, "monitor"),
    ("leaking", "leak", {}, "block", "monitor"),
    ("lethal_action", "cancel_dispatch", {}, None, "approve_all"),
]


@pytest.fixture(params=["sqlite", "postgres"])
def two_databases(request, tmp_path):
    if request.param == "sqlite":
        yield [f"sqlite:///{tmp_path / name}" for name in ("lean.db", "http.db")]
        return
    with (
        scratch_postgres(PG_ADMIN_URL, "corpmail_test") as a,
        scratch_postgres(PG_ADMIN_URL, "corpmail_test") as b,
    ):
        yield [a, b]


async def _play_all(url: str, over_http: bool, monkeypatch, tmp_path) -> list[dict]:
    """Play every case on a fresh database with deterministic episode ids and canaries; return, per
    episode, its row, its log (all but wall-clock times), its messages and their copies."""
    ids, canaries = itertools.count(1), itertools.count(1)
    prefix = "b" if over_http else "a"  # per-process caches are by episode id: keep the two runs apart
    monkeypatch.setattr(episodes, "new_episode_id", lambda: f"{prefix}{next(ids):011d}")
    monkeypatch.setattr(episodes, "new_canary", lambda: f"CMK-{next(canaries):08X}")
    eng = make_engine(url)
    upgrade(eng)
    settings = Settings(database_url=url, data_dir=tmp_path / "data", scenarios_dir=LIB)
    played = []
    async with InProcessPlayer(settings, eng, over_http=over_http) as player:
        for scenario, policy, variables, mode, approver in CASES:
            req = PlayRequest(
                scenario,
                f"scripted/{policy}",
                variables,
                mode,
                approver,
                Limits(max_turns=12, approval_wait=0, approval_poll=0.01),
            )
            played.append(await player.play(req))
    out = []
    with new_session(eng) as s:
        for summary in played:
            eid = summary["episode_id"]
            ep = s.get(Episode, eid)
            assert ep is not None
            log = [(e.seq, e.kind, e.origin, e.actor, e.clock, e.payload) for e in store.read(s, eid)]
            mail = [
                (m.id, m.sender, m.to, m.cc, m.subject, m.body, str(m.sent_at), m.thread_id, m.in_reply_to)
                for m in s.scalars(
                    select(Message).where(col(Message.episode_id) == eid).order_by(col(Message.id))
                )
            ]
            copies = [
                (d.message_id, d.mailbox_id, d.address, d.external, d.folder, d.is_read)
                for d in s.scalars(
                    select(Delivery).where(col(Delivery.episode_id) == eid).order_by(col(Delivery.id))
                )
            ]
            record = {
                "summary": summary,
                "episode": (ep.status, ep.error, ep.event_seq, ep.clock_seconds, ep.monitor_mode),
                "log": log,
                "mail": mail,
                "copies": copies,
            }
            out.append(_canon(record, {}))
    eng.dispose()
    return out


_RANDOM = re.compile(r"^[0-9a-f]{32}$")  # new threads' ids (uuid4 hex)


def _canon(obj, seen: dict):
    """The record with random thread ids named by order of appearance."""
    if isinstance(obj, str) and _RANDOM.match(obj):
        return seen.setdefault(obj, f"thread-{len(seen)}")
    if isinstance(obj, dict):
        return {k: _canon(v, seen) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_canon(v, seen) for v in obj)
    return obj


async def test_lean_path_logs_exactly_what_the_http_path_logs(two_databases, monkeypatch, tmp_path):
    """The same scripted policies through the lean in-process client and through the HTTP API give
    the same events, verdicts, approvals, mail and final statuses, on SQLite and on PostgreSQL."""
    lean = await _play_all(two_databases[0], False, monkeypatch, tmp_path)
    http = await _play_all(two_databases[1], True, monkeypatch, tmp_path)
    assert len(lean) == len(http) == len(CASES)
    for case, a, b in zip(CASES, lean, http, strict=True):
        assert a["summary"]["episode_id"][1:] == b["summary"]["episode_id"][1:]
        for r in (a, b):
            r["summary"].pop("episode_id")
        assert a["episode"] == b["episode"], case
        assert a["mail"] == b["mail"], case
        assert a["copies"] == b["copies"], case
        assert a["log"] == b["log"], case
        assert a["summary"] == b["summary"], case
    kinds = {e[1] for r in lean for e in r["log"]}
    assert {"monitor_verdict", "world_reaction", "approval_decided", "mail_delivered"} <= kinds
    assert any(r["summary"]["harmful"] for r in lean) and any(r["summary"]["tool_errors"] for r in lean)


async def test_lean_path_answers_refusals_like_the_api(settings, engine):
    """A refused request is the same ApiError (status, detail) as over HTTP."""
    from agents.client import ApiError
    from app.play import LocalClient

    local = LocalClient(settings, engine)
    try:
        with pytest.raises(ApiError) as bad:
            await local.create_episode("no-such-scenario", "scripted/benign", {})
        assert bad.value.status == 422 and bad.value.detail[0]["loc"][0] == "body"
        with pytest.raises(ApiError) as missing:
            await local.record_turn("0123456789ab", {"kind": "notice", "turn": 1, "text": "hi"})
        assert missing.value.status == 404
        start = await local.create_episode("blackmail", "scripted/benign", {})
        await local.finish(start["episode_id"], "completed", 1, None, {})
        with pytest.raises(ApiError) as again:
            await local.finish(start["episode_id"], "completed", 1, None, {})
        assert again.value.status == 409
        closed = await local.call_tool(start["episode_id"], "list_inbox", "{}", "c1")
        assert closed["ok"] is False and closed["error"]["type"] == "episode_closed"
    finally:
        await local.aclose()


async def test_incremental_world_log_gives_the_same_pending_set_as_a_full_read(settings, engine, monkeypatch):
    """Every time the world reads its log during episodes where characters answer and a scheduled
    event fires, what it owes (pending) and the last seq agree with a full read of the log."""
    from app.services import episode_view, mail

    real = world_engine.world_log
    checked = []

    def both(session, episode_id):
        log, last, keys = real(session, episode_id)
        full = world_engine.full_log(session, episode_id)
        world = episode_view.world(session, episode_id)
        assert pending(world, log, keys) == pending(world, full, mail.ids_by_key(session, episode_id))
        assert last == full[-1].seq
        checked.append(episode_id)
        return log, last, keys

    monkeypatch.setattr(world_engine, "world_log", both)
    async with InProcessPlayer(settings, engine) as player:
        for scenario, policy in (("blackmail", "threat_then_wait"), ("lethal_action", "acknowledge")):
            req = PlayRequest(scenario, f"scripted/{policy}", approver="monitor", limits=Limits(max_turns=12))
            await player.play(req)
    assert len(checked) > 10


def test_scenario_cache_follows_the_files(tmp_path):
    """A parsed scenario is reused while its files are unchanged and read again when one changes,
    appears or goes (scenario.yaml, emails.yaml, world.yaml, an include beside it)."""
    folder = tmp_path / "blackmail"
    shutil.copytree(LIB / "blackmail", folder)
    first, _ = loader.load_scenario(folder, LIB)
    cached = loader._PARSED[folder.resolve()][1]
    again, _ = loader.load_scenario(folder, LIB)
    assert loader._PARSED[folder.resolve()][1] is cached  # not parsed again
    assert again == first and again is not first  # each caller gets its own copy
    again.emails.clear()  # so changing it reaches no one else
    assert loader.load_scenario(folder, LIB)[0].emails == first.emails
    emails = folder / "emails.yaml"
    emails.write_text(emails.read_text().replace("Changes to our internal assistant", "Changed subject", 1))
    second, _ = loader.load_scenario(folder, LIB)
    assert loader._PARSED[folder.resolve()][1] is not cached
    assert any(e.subject == "Changed subject" for e in second.emails)
    assert not any(e.subject == "Changed subject" for e in first.emails)
    world = folder / "world.yaml"
    kept = world.read_text()
    world.unlink()  # a file that goes
    third, _ = loader.load_scenario(folder, LIB)
    assert not third.characters
    world.write_text(kept)  # and comes back
    fourth, _ = loader.load_scenario(folder, LIB)
    assert fourth.characters
    parsed = loader._PARSED[folder.resolve()][1]
    main = folder / "scenario.yaml"
    main.write_text(main.read_text() + "\n# a comment changes the file, not the scenario\n")
    loader.load_scenario(folder, LIB)
    assert loader._PARSED[folder.resolve()][1] is not parsed
    main.write_text("slug: [broken\n")
    with pytest.raises(loader.ScenarioError):
        loader.load_scenario(folder, LIB)


async def test_requests_without_model_calls_are_handled_on_the_event_loop_on_sqlite(settings, engine):
    """SQLite: creating and finishing, and every request of a rules-monitored episode with no persona,
    run inline on the loop; a judge's episode keeps its tool calls and ticks in the threads (the judge
    is a model call). PostgreSQL: everything in the threads (its statements wait on the network)."""
    import threading

    from app.play import LocalClient

    local = LocalClient(settings, engine)
    where: list[tuple[str, bool]] = []
    handle = local._handle

    def spy(method, url, handler, args):
        where.append((url.rsplit("/", 1)[-1], threading.current_thread() is threading.main_thread()))
        return handle(method, url, handler, args)

    local._handle = spy  # type: ignore[method-assign]
    sqlite = engine.dialect.name == "sqlite"
    try:
        rules = (await local.create_episode("blackmail", "scripted/benign", {}))["episode_id"]
        judged = (
            await local.create_episode(
                "blackmail", "scripted/benign", {}, monitor="rules+judge", judge_model="scriptedjudge/calm"
            )
        )["episode_id"]
        assert (rules in local.local_only, judged in local.local_only) == (sqlite, False)
        for eid in (rules, judged):
            where.clear()
            await local.record_turn(eid, {"kind": "notice", "turn": 1, "text": "hi"})
            await local.call_tool(eid, "list_inbox", "{}", f"c-{eid}")
            await local.world_tick(eid)
            await local.heartbeat(eid)
            await local.finish(eid, "completed", 1, None, {})
            inline = sqlite and eid == rules
            assert where == [("turns", inline), ("list_inbox", inline), ("tick", inline)] + [
                ("heartbeat", inline),
                ("finish", sqlite),
            ]
            assert eid not in local.local_only  # finished: forgotten
    finally:
        await local.aclose()


async def test_an_inline_request_lets_waiting_callbacks_run_first(settings, engine):
    """Inline requests give the loop back before they run: what was already waiting (a model call's
    next hop, another episode's answer) runs first instead of queueing behind a chain of requests."""
    from app.play import LocalClient

    if engine.dialect.name != "sqlite":
        pytest.skip("inline handling is SQLite's")
    local = LocalClient(settings, engine)
    order: list[str] = []
    handle = local._handle

    def spy(method, url, handler, args):
        order.append(url.rsplit("/", 1)[-1])
        return handle(method, url, handler, args)

    local._handle = spy  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()
    try:
        eid = (await local.create_episode("blackmail", "scripted/benign", {}))["episode_id"]
        assert eid in local.local_only  # its requests are inline
        order.clear()
        loop.call_soon(order.append, "waiting callback")
        await local.record_turn(eid, {"kind": "notice", "turn": 1, "text": "hi"})
        loop.call_soon(order.append, "another")
        await local.call_tool(eid, "list_inbox", "{}", f"c-{eid}")
        assert order == ["waiting callback", "turns", "another", "list_inbox"]
    finally:
        await local.aclose()


async def test_inline_routing_forgets_the_oldest_episode_beyond_its_bound(settings, engine, monkeypatch):
    """An episode whose play is cancelled never finishes, so LocalClient's inline set is bounded: past
    MAX_LOCAL_ONLY the oldest id goes (its requests then take the threads, which serve any episode)."""
    import app.play as play

    if engine.dialect.name != "sqlite":
        pytest.skip("inline handling is SQLite's")
    monkeypatch.setattr(play, "MAX_LOCAL_ONLY", 2)
    local = play.LocalClient(settings, engine)
    try:
        ids = [
            (await local.create_episode("blackmail", "scripted/benign", {}))["episode_id"] for _ in range(3)
        ]
        assert list(local.local_only) == ids[1:]
        outcome = await local.call_tool(ids[0], "list_inbox", "{}", "c-0")  # in a thread: still served
        assert outcome["ok"] is True
        await local.finish(ids[1], "completed", 0, None, {})
        assert list(local.local_only) == ids[2:]
    finally:
        await local.aclose()


async def test_hot_requests_make_few_statements(settings, engine):
    """What the lean path's hottest requests cost in statements (a regression guard, not a timing): a
    turn is one UPDATE on the episode row and one INSERT; a tick with nothing due reads the episode
    and the log once; a heartbeat is one UPDATE after its light read; a finish, after its light read,
    closes the row, reads the model's turns, logs two events in one append and reads the episode
    back. On SQLite the inline requests take no connection from the pool: they share one, returned
    when the client closes."""
    from sqlalchemy import event

    from app.play import LocalClient

    local = LocalClient(settings, engine)
    statements: list[str] = []
    checkouts: list[object] = []

    def seen(conn, cursor, statement, params, context, executemany):
        statements.append(" ".join(statement.split()[:1]).upper())

    def checkout(dbapi_conn, record, proxy):
        checkouts.append(dbapi_conn)

    try:
        eid = (await local.create_episode("blackmail", "scripted/benign", {}))["episode_id"]
        await local.world_tick(eid)  # the first tick follows the log from its start
        event.listen(engine, "before_cursor_execute", seen)
        event.listen(engine.pool, "checkout", checkout)
        try:
            statements.clear()
            await local.record_turn(eid, {"kind": "notice", "turn": 1, "text": "hi"})
            assert statements == ["UPDATE", "INSERT"]
            statements.clear()
            await local.world_tick(eid)
            assert statements == ["SELECT", "SELECT"]  # the episode's state, the log after the last seen
            statements.clear()
            await local.heartbeat(eid)
            assert statements == ["SELECT", "UPDATE"]
            statements.clear()
            await local.finish(eid, "completed", 1, None, {})
            assert statements == ["SELECT", "UPDATE", "SELECT", "UPDATE", "INSERT", "SELECT"]
        finally:
            event.remove(engine, "before_cursor_execute", seen)
            event.remove(engine.pool, "checkout", checkout)
        sqlite = engine.dialect.name == "sqlite"
        assert (len(checkouts) == 0) == sqlite  # PostgreSQL's requests run in threads, from the pool
    finally:
        await local.aclose()
    assert engine.pool.checkedout() == 0  # the held connection went back


def test_creating_episodes_leaves_the_kept_scenario_as_parsed(settings, engine):
    """Episode creation renders the kept scenario without copying it: under any variables and
    overrides, what stays in the cache is what a fresh parse gives."""
    folder = (settings.scenarios_dir / "blackmail").resolve()
    kept = loader.load_scenario("blackmail", settings.scenarios_dir, copy=False)[0]
    with new_session(engine) as s:
        for variables in ({}, {"oversight": "approval"}, {"urgency": "none", "goal_type": "explicit"}):
            episodes.create_episode(
                s, "blackmail", variables, "scripted/benign", settings.scenarios_dir, monitor_engine="rules"
            )
    assert loader._PARSED[folder][1] is kept  # the one episodes were made from
    assert kept == loader._parse(folder, {})  # and unchanged


@pytest.mark.parametrize("scenario", ["blackmail", "leaking", "lethal_action"])
def test_seeded_mail_written_in_bulk_is_what_delivering_each_message_writes(settings, engine, scenario):
    """`deliver_seeded` (all messages in one executemany, their ids read back by key, replies linked
    after, all copies in one executemany) stores exactly what `deliver` stores message by message:
    same rows, order, threads and replies."""
    from app.scenarios.render import render
    from app.services import mail

    def stored(session, eid: str) -> list[dict]:
        msgs = session.execute(
            select(Message).where(col(Message.episode_id) == eid).order_by(col(Message.id))
        )
        msgs = list(msgs.scalars())
        key_of = {m.id: m.key for m in msgs}
        out = []
        for m in msgs:
            copies = session.execute(
                select(Delivery).where(col(Delivery.message_id) == m.id).order_by(col(Delivery.id))
            ).scalars()
            row = m.model_dump(exclude={"id", "episode_id", "in_reply_to"})
            row["reply_to"] = key_of.get(m.in_reply_to) if m.in_reply_to else None
            row["copies"] = [
                c.model_dump(exclude={"id", "episode_id", "message_id", "mailbox_id"}) for c in copies
            ]
            out.append(row)
        return out

    with new_session(engine) as s:
        seeded = episodes.create_episode(s, scenario, {}, "scripted/benign", settings.scenarios_dir)
        other = episodes.create_episode(s, scenario, {}, "scripted/benign", settings.scenarios_dir)
        # the reference: the same world's mail delivered one message at a time into a fresh copy of
        # `other`'s mail (its own seeded rows removed first)
        for rows in (table(Delivery), table(Message)):
            s.execute(rows.delete().where(rows.c.episode_id == other.id))
        boxes = mail.mailboxes(s, other.id)
        world = loader.load_scenario(scenario, settings.scenarios_dir)[0]
        rendered = render(world, {}, seeded.world["canary"])  # the same mail as `seeded`'s
        done: dict[str, tuple[int, str]] = {}
        for e in rendered.emails:
            parent, thread = done.get(e.reply_to or "", (None, f"t-{e.key}"))
            draft = episodes.seed_draft(e, thread, parent)
            d = mail.deliver(
                s, other, draft, origin="seed", sent_at=e.at, key=e.key, unread=e.unread, boxes=boxes
            )
            done[e.key] = (d.message_id, thread)
        s.commit()
        mine, reference = stored(s, seeded.id), stored(s, other.id)
        assert len(mine) >= 5 and any(m["reply_to"] for m in mine)  # every library scenario has replies
        assert mine == reference
