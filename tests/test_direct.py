"""app.core.direct: a hot statement run on the driver gives what the same statement gives through a
SQLAlchemy Connection - the same rows, typed the same way, the same rows written, the same errors -
on SQLite and PostgreSQL, including text a model wrote."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Text, cast, event, exc, insert, select

from app.core.config import Settings
from app.core.direct import Direct
from app.events import store
from app.models import Episode, Event, ToolOutcome, table, utcnow
from app.services import episode_view, episodes, tool_outcomes

E, T = table(Event), table(ToolOutcome)
HOSTILE = {
    "body": "a\u202eb <script>x</script> \u00e9\u4e2d\U0001f600 \ufffd " + "z" * 5000,
    "nested": [None, True, 1.5, 2**40, {"k": ""}],
    "none": None,
}


def _episode(session) -> str:
    return episodes.create_episode(session, "blackmail", {}, "scripted/benign", Settings().scenarios_dir).id


def test_reads_are_typed_as_sqlalchemy_types_them(session):
    eid = _episode(session)
    store.append(session, eid, store.typed_payload({"kind": "notice", "turn": 1, "text": "hi"}))
    session.commit()
    direct = episode_view._STATE.first(session, {"eid": eid})
    through = session.connection().execute(episode_view._STATE.stmt, {"eid": eid}).first()
    assert direct == tuple(through)
    assert isinstance(direct[5], dt.datetime) and direct[5].tzinfo is not None  # the episode's clock
    since = store._SINCE.rows(session, {"eid": eid, "after": 0})
    expected = session.connection().execute(store._SINCE.stmt, {"eid": eid, "after": 0}).all()
    assert since == [tuple(r) for r in expected] and isinstance(since[0][5], dict)
    assert [s.seq for s in store.rows_since(session, eid, 0)] == [r.seq for r in expected]
    assert store._SINCE.rows(session, {"eid": "nope", "after": 0}) == []
    assert episode_view._STATE.first(session, {"eid": "nope"}) is None


def test_writes_store_what_sqlalchemy_stores(session):
    """The same row written both ways (JSON with hostile text and a None, a timestamp) reads back equal."""
    eid = _episode(session)
    row = {
        "episode_id": eid,
        "kind": "notice",
        "origin": "agent",
        "actor": None,
        "clock": 7,
        "created_at": utcnow(),
    }
    store._INSERT_ROWS.rows(session, {**row, "seq": 1001, "payload": HOSTILE})
    store._INSERT_ROWS.many(session, [{**row, "seq": 1003, "payload": None}])
    session.connection().execute(insert(E), [{**row, "seq": 1002, "payload": HOSTILE}])
    session.connection().execute(insert(E), [{**row, "seq": 1004, "payload": None}])
    session.commit()
    cols = [E.c.kind, E.c.payload, E.c.origin, E.c.actor, E.c.clock, E.c.created_at]
    got = session.connection().execute(select(E.c.seq, *cols).where(E.c.seq > 1000).order_by(E.c.seq)).all()
    assert [r[1:] for r in got[0:2]] == [got[1][1:]] * 2
    assert [r[1:] for r in got[2:4]] == [got[3][1:]] * 2
    assert got[0].payload == HOSTILE and got[2].payload is None  # None is stored as SQLAlchemy stores it
    # and as text, byte for byte: the same JSON (SQLAlchemy's serializer) in the database
    raw = session.connection().execute(
        select(cast(E.c.payload, Text), cast(E.c.created_at, Text)).where(E.c.seq > 1000).order_by(E.c.seq)
    )
    texts = [tuple(r) for r in raw]
    assert texts[0] == texts[1] and texts[2] == texts[3]


def test_a_duplicate_is_sqlalchemys_integrity_error_and_listeners_see_statements(session, engine):
    eid = _episode(session)
    seen: list[str] = []

    def listener(conn, cursor, statement, params, context, executemany):
        seen.append(statement.split()[0])

    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert tool_outcomes.claim(session, eid, "c1")
        session.commit()
        assert not tool_outcomes.claim(session, eid, "c1")  # rolled back, told apart
        assert seen[:1] == ["INSERT"]
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    with pytest.raises(exc.IntegrityError):
        Direct.insert(T).rows(
            session, {"episode_id": eid, "call_id": "c1", "outcome": None, "created_at": utcnow()}
        )
    session.rollback()


def test_expanding_parameters_are_refused(session):
    with pytest.raises(ValueError, match="expanding"):
        Direct(select(Episode.id).where(Episode.status.in_(["a", "b"]))).rows(session, {})  # type: ignore[attr-defined]


def test_mail_reads_match_sqlalchemys_rows(session):
    """The mail service's direct reads give SQLAlchemy's rows: a message (JSON lists, timestamps), a
    folder page (booleans), a message's copies."""
    from app.services import mail

    eid = _episode(session)
    box = episode_view.load(session, eid).boxes  # type: ignore[union-attr]
    agent = next(b for b in box.values() if b.is_agent)
    total, page = mail.list_folder(session, agent.id, "inbox", False, 50, 0)
    count, query = mail._FOLDER[False]
    params = {"box": agent.id, "folder": "inbox", "lim": 50, "off": 0}
    expected = session.connection().execute(query.stmt, params).all()
    assert total == len(expected) > 0 and page == [tuple(r) for r in expected]
    assert all(isinstance(r.is_read, bool) and isinstance(r.to, list) for r in page)
    msg = mail.get_message(session, eid, page[0].id)
    assert msg == tuple(
        session.connection().execute(mail._MESSAGE.stmt, {"mid": page[0].id, "eid": eid}).one()
    )
    assert msg.sent_at.tzinfo is not None and msg._asdict()["subject"] == page[0].subject
    copies = mail._COPIES.rows(session, {"mid": page[0].id})
    assert copies == [tuple(r) for r in session.connection().execute(mail._COPIES.stmt, {"mid": page[0].id})]
    with pytest.raises(ValueError, match="unknown parameters"):
        mail._COPIES.rows(session, {"mid": 1, "typo": 2})
    with pytest.raises(ValueError, match="missing parameter 'mid'"):
        mail._COPIES.rows(session, {})
