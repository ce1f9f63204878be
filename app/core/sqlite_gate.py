"""A write gate for SQLite: writers queue for the database instead of sleeping in SQLite's busy handler.

SQLite lets one writer at a time in; a connection that finds the write lock taken sleeps in steps
(1, 2, 5, 10, 15, 20, 25 … 100 ms) and tries again, however soon the lock is free. With many short
write transactions from several threads and processes (an experiment run with `--workers N`), that
back-off leaves cores idle. The gate queues writers instead: a transaction that starts with a write
(pysqlite begins one before INSERT/UPDATE/DELETE/REPLACE) first takes a lock that is woken as soon
as it is free — a thread lock inside this process, then an advisory `flock` on `<database>-writelock`
across processes — and gives it back when the transaction commits or rolls back.

It only orders writers that would wait anyway: SQLite's own locking still decides, so a writer that
does not pass through the gate (another program, a connection already inside a transaction, a
nested connection of the thread that holds the gate, a gate not had within `timeout`) is correct,
merely back in SQLite's busy handler.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from pathlib import Path

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_GATES: dict[str, Gate] = {}
_GATES_LOCK = threading.Lock()


class Gate:
    """One database file's gate in this process: a thread lock, then the file lock across processes."""

    def __init__(self, path: str, timeout: float):
        self.path, self.timeout = path, timeout
        self._mutex = threading.Lock()
        self._owner: int | None = None
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked child shares no lock with its parent
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd

    def enter(self) -> bool:
        """Wait for the gate (at most `timeout`); False when not had (the caller goes on ungated)."""
        me = threading.get_ident()
        if self._owner == me or not self._mutex.acquire(timeout=self.timeout):
            return False
        deadline, pause = time.monotonic() + self.timeout, 0.00005
        try:
            fd = self._file()
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:  # another process writes: one poller per process, fine-grained
                    if time.monotonic() >= deadline:
                        self._mutex.release()
                        return False
                    time.sleep(pause)
                    pause = min(pause * 2, 0.001)
        except OSError:  # no lock file (a read-only folder): SQLite alone decides
            self._mutex.release()
            return False
        self._owner = me
        return True

    def leave(self) -> None:
        self._owner = None
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._mutex.release()


def gate_for(database: str, timeout: float) -> Gate:
    path = str(Path(database).resolve()) + "-writelock"
    with _GATES_LOCK:
        gate = _GATES.get(path)
        if gate is None:
            gate = _GATES[path] = Gate(path, timeout)
        return gate


class GatedCursor(sqlite3.Cursor):
    def execute(self, sql, parameters=(), /):
        self.connection.before(sql)  # type: ignore[attr-defined]
        return super().execute(sql, parameters)

    def executemany(self, sql, seq_of_parameters, /):
        self.connection.before(sql)  # type: ignore[attr-defined]
        return super().executemany(sql, seq_of_parameters)


class GatedConnection(sqlite3.Connection):
    """sqlite3's connection (pass as `factory`) whose write transactions go through the file's gate."""

    def __init__(self, database, *args, **kwargs):
        super().__init__(database, *args, **kwargs)
        name = os.fsdecode(database) if not isinstance(database, str) else database
        plain = name and name != ":memory:" and not name.startswith("file:")
        self.gate = gate_for(name, float(kwargs.get("timeout", 5.0))) if plain else None
        self.gated = False

    def before(self, sql: str) -> None:
        if self.gated and not self.in_transaction:  # ended without commit()/rollback() (a COMMIT statement)
            self._leave()
        if (
            self.gate is not None
            and not self.gated
            and not self.in_transaction
            and sql.lstrip()[:7].upper().startswith(_WRITES)
        ):
            self.gated = self.gate.enter()

    def _leave(self) -> None:
        if self.gated and self.gate is not None:
            self.gated = False
            self.gate.leave()

    def cursor(self, factory=GatedCursor):
        return super().cursor(factory)

    def execute(self, sql, parameters=(), /):  # sqlite3's own shortcut would skip cursor()
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql, seq_of_parameters, /):
        return self.cursor().executemany(sql, seq_of_parameters)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._leave()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._leave()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._leave()
