"""The SQLite write gate (app.core.sqlite_gate): writers queue for the database file instead of sleeping
in SQLite's busy handler; it never changes what is written, never deadlocks a thread on itself, and
leaves readers alone. (SQLite only: PostgreSQL has no gate.)"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time

from sqlalchemy import text

from app.core.db import make_engine
from app.core.sqlite_gate import GatedConnection


def _connect(path, timeout=5.0) -> GatedConnection:
    conn = sqlite3.connect(path, timeout=timeout, factory=GatedConnection, check_same_thread=False)
    assert isinstance(conn, GatedConnection)
    return conn


def test_a_write_transaction_holds_the_gate_until_it_ends(tmp_path):
    path = str(tmp_path / "g.db")
    a, b = _connect(path), _connect(path)
    a.execute("CREATE TABLE t (x INTEGER)")
    a.execute("INSERT INTO t VALUES (1)")
    assert a.gated and a.in_transaction
    order: list[str] = []

    def other_writer():
        b.execute("INSERT INTO t VALUES (2)")  # waits at the gate, not in SQLite's busy handler
        order.append("b wrote")
        b.commit()

    t = threading.Thread(target=other_writer)
    t.start()
    time.sleep(0.2)
    assert order == [] and not b.gated
    assert b.execute("SELECT count(*) FROM t").fetchone() == (
        0,
    )  # readers pass: they see the committed state
    order.append("a commits")
    a.commit()
    assert not a.gated
    t.join(5)
    assert order == ["a commits", "b wrote"] and not b.gated
    assert a.execute("SELECT x FROM t ORDER BY x").fetchall() == [(1,), (2,)]


def test_rollback_and_close_give_the_gate_back(tmp_path):
    path = str(tmp_path / "g.db")
    a, b = _connect(path), _connect(path)
    a.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
    a.execute("INSERT INTO t VALUES (1)")
    a.rollback()
    assert not a.gated
    b.execute("INSERT INTO t VALUES (1)")
    b.close()
    a.execute("INSERT INTO t VALUES (1)")  # not blocked by the closed connection
    a.commit()
    try:  # a failed statement inside the transaction: the rollback frees the gate
        a.execute("INSERT INTO t VALUES (1)")
    except sqlite3.IntegrityError:
        a.rollback()
    assert not a.gated
    assert a.execute("SELECT count(*) FROM t").fetchone() == (1,)


def test_a_nested_connection_of_the_same_thread_goes_ungated(tmp_path):
    """A thread that holds the gate and writes through a second connection does not wait for itself:
    that write is back in SQLite's busy handler (and times out there, as without the gate)."""
    path = str(tmp_path / "g.db")
    a, b = _connect(path), _connect(path, timeout=0.2)
    a.execute("CREATE TABLE t (x INTEGER)")
    a.execute("INSERT INTO t VALUES (1)")
    start = time.monotonic()
    try:
        b.execute("INSERT INTO t VALUES (2)")
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
    assert time.monotonic() - start < 3 and not b.gated
    a.commit()


def test_writers_in_other_processes_wait_at_the_gate(tmp_path):
    path = str(tmp_path / "g.db")
    a = _connect(path)
    a.execute("CREATE TABLE t (x INTEGER)")
    a.commit()
    a.execute("INSERT INTO t VALUES (1)")
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time; from app.core.sqlite_gate import GatedConnection as G; "
            "c = sqlite3.connect(sys.argv[1], timeout=30, factory=G); t = time.monotonic(); "
            "c.execute('INSERT INTO t VALUES (2)'); c.commit(); print(time.monotonic() - t)",
            path,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)
    a.commit()
    out, _ = child.communicate(timeout=30)
    assert child.returncode == 0 and float(out) >= 0.5  # it waited for this process's transaction
    assert a.execute("SELECT x FROM t ORDER BY x").fetchall() == [(1,), (2,)]


def test_engines_use_the_gate_for_sqlite_files_only(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'e.db'}")
    with engine.connect() as conn:
        assert isinstance(conn.connection.dbapi_connection, GatedConnection)
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert conn.connection.dbapi_connection.gated
        conn.commit()
        assert not conn.connection.dbapi_connection.gated
    engine.dispose()
    memory = make_engine("sqlite://")
    with memory.connect() as conn:
        assert conn.connection.dbapi_connection.gate is None
    memory.dispose()
