"""Hot statements run on the session's own DBAPI connection, compiled and typed by SQLAlchemy.

SQLAlchemy spends more on executing a small statement than the database does (measured on SQLite:
~20 us a statement through a Connection against ~5 us for the driver alone; in a whole episode its
Python was twice the SQLite library's time). A `Direct` statement is compiled by SQLAlchemy once per
dialect - its SQL, the order of its parameters, the bind and result processors of its column types -
and then executed on the DBAPI connection inside the session's transaction, skipping SQLAlchemy's
per-execution machinery (compiled-cache lookup, execution context, result metadata). What reaches the
database is what SQLAlchemy would send: the same SQL text and the same processed parameters, so
SQLite and PostgreSQL behave as they do through SQLAlchemy (tests/test_direct.py compares them).

Only for fixed statements without expanding parameters (an IN list is rendered per execution);
driver errors are raised as SQLAlchemy's own exception classes (IntegrityError, ...), and the
engine's `before_cursor_execute` listeners see each statement, as through a Connection.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, exc, insert
from sqlalchemy.sql import ClauseElement, ColumnElement
from sqlmodel import Session

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...]  # the parameters in the order the SQL takes them
    positional: bool  # qmark/format (SQLite) or named (psycopg's pyformat)
    binds: tuple[Processor, ...]  # per name in `names`
    fixed: dict[str, Any]  # values bound in the statement itself (literal comparisons)
    known: frozenset[str]  # the parameters a caller may give
    results: tuple[Processor, ...]  # per result column
    row: type  # a named tuple of the result columns (attribute access, as SQLAlchemy's Row)


class Direct:
    """A Core statement (select, insert, update with bound parameters) for the hot path."""

    def __init__(self, stmt: ClauseElement):
        self.stmt = stmt
        self._plans: dict[str, _Plan] = {}

    @classmethod
    def insert(cls, table: Table, returning: ColumnElement | None = None, with_key: bool = False) -> Direct:
        """INSERT of every column but the table's key (`with_key`: every column, for a key the caller
        chooses), each a parameter of the same name (all required); `returning` or nothing comes back
        (PostgreSQL would otherwise return the key)."""
        columns = [c for c in table.c if with_key or not c.primary_key]
        stmt = insert(table).values({c.name: bindparam(c.name) for c in columns})
        return cls(stmt.returning(returning) if returning is not None else stmt.inline())

    def _plan(self, dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is None:
            compiled: Any = self.stmt.compile(dialect=dialect)
            if any(b.expanding for b in compiled.binds.values()):
                raise ValueError("Direct statements take no expanding (IN list) parameters")
            names = tuple(compiled.positiontup or compiled.bind_names.values())
            procs = compiled._bind_processors
            columns = compiled._result_columns
            plan = _Plan(
                sql=compiled.string,
                names=names,
                positional=compiled.positiontup is not None,
                binds=tuple(procs.get(n) for n in names),
                fixed={k: b.value for k, b in compiled.binds.items() if not b.required},
                known=frozenset(names),
                results=tuple(c[3]._cached_result_processor(dialect, None) for c in columns),
                row=namedtuple("Row", [c[0] for c in columns], rename=True),
            )
            self._plans[dialect.name] = plan
        return plan

    def _params(self, plan: _Plan, given: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        if not given.keys() <= plan.known:  # a value the statement would silently drop
            raise ValueError(f"unknown parameters {sorted(given.keys() - plan.known)} for {plan.sql!r}")
        values = []
        for name, proc in zip(plan.names, plan.binds, strict=True):
            if name in given:
                v = given[name]
            elif name in plan.fixed:
                v = plan.fixed[name]
            else:
                raise ValueError(f"missing parameter {name!r} for {plan.sql!r}")
            values.append(proc(v) if proc is not None else v)  # None too, as SQLAlchemy does (JSON null)
        return values if plan.positional else dict(zip(plan.names, values, strict=True))

    def _execute(
        self, session: Session, given: Sequence[Mapping[str, Any]], many: bool
    ) -> tuple[_Plan, list]:
        """Run on the session's connection (inside its transaction): the statement's listeners
        (before_cursor_execute) first, as a Connection runs them; driver errors as SQLAlchemy's."""
        conn = session.connection()
        plan = self._plan(conn.dialect)
        sql = plan.sql
        args: Any = [self._params(plan, g) for g in given] if many else self._params(plan, given[0])
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            if conn._has_events or conn.engine._has_events:
                for listener in conn.dispatch.before_cursor_execute:
                    sql, args = listener(conn, cursor, sql, args, None, many)
            if many:
                cursor.executemany(sql, args)
                return plan, []
            cursor.execute(sql, args)
            return plan, list(cursor.fetchall()) if cursor.description is not None else []
        except conn.dialect.loaded_dbapi.Error as e:
            base = conn.dialect.loaded_dbapi.Error
            raise exc.DBAPIError.instance(sql, args, e, base, dialect=conn.dialect, ismulti=many) from e
        finally:
            cursor.close()

    def rows(self, session: Session, params: Mapping[str, Any]) -> list[Any]:
        """Execute with `params`; the result rows (named tuples, typed as SQLAlchemy types them)."""
        plan, raw = self._execute(session, [params], many=False)
        make, results = plan.row._make, plan.results  # type: ignore[attr-defined]
        if not any(results):
            return [make(r) for r in raw]
        return [make(p(v) if p is not None else v for p, v in zip(results, r, strict=True)) for r in raw]

    def first(self, session: Session, params: Mapping[str, Any]) -> Any | None:
        found = self.rows(session, params)
        return found[0] if found else None

    def many(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute once per parameter set (executemany)."""
        self._execute(session, rows, many=True)
