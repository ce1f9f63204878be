"""Benchmark: run_tool latency in process (no HTTP), for a send and a read, on SQLite and PostgreSQL.

    .venv/bin/python bench/run_tool_latency.py [--calls 2000] [--pg postgresql://postgres@127.0.0.1:5432/test]

Prints p50 / p90 / p99 per operation and backend, and the p50 of the call's write span: from its
transaction's first INSERT/UPDATE/DELETE to the commit — how long SQLite's write lock (or PostgreSQL's
row locks) is held. Sends are judged against the agent's 20 latest messages (the most run_tool passes),
as in a long episode. Each backend gets a fresh database (a temp SQLite file; a new PostgreSQL
database, dropped afterwards). For a before/after, run it again with `PYTHONPATH=<other checkout>`. Figures on a shared 2-core machine are noisy:
compare ratios and percentiles, not single numbers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


from app.core.config import REPO_ROOT
from app.core.db import make_engine, new_session, scratch_postgres
from app.core.migrate import upgrade
from app.services.episodes import create_episode
from app.tools.runtime import run_tool

SCENARIOS = REPO_ROOT / "sandbox_data" / "scenarios"


def pct(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=1000, method="inclusive")[int(q * 1000) - 1]


SPANS: list[float] = []  # write spans (ms) of the transactions committed since the last timed call
_WRITES = ("INSERT", "UPDATE", "DELETE")


def watch_writes(engine) -> None:
    """Record each transaction's span from its first write statement to its commit."""

    @event.listens_for(engine, "before_cursor_execute")
    def first_write(conn, _cursor, statement, _params, _context, _many):
        if "first_write" not in conn.info and statement.lstrip()[:6].upper() in _WRITES:
            conn.info["first_write"] = time.perf_counter()

    @event.listens_for(engine, "commit")
    def committed(conn):
        start = conn.info.pop("first_write", None)
        if start is not None:
            SPANS.append((time.perf_counter() - start) * 1000)

    @event.listens_for(engine, "rollback")
    def rolled_back(conn):
        conn.info.pop("first_write", None)


def timed(engine, episode_id: str, tool: str, args: dict) -> tuple[float, float]:
    """One call as the HTTP route makes it: a fresh session, run_tool (which commits), close.
    Returns (latency, write span) in ms."""
    SPANS.clear()
    t0 = time.perf_counter()
    with new_session(engine) as session:
        outcome = run_tool(session, episode_id, tool, args)
    elapsed = (time.perf_counter() - t0) * 1000
    assert outcome["ok"], outcome
    return elapsed, sum(SPANS)


def measure(url: str, calls: int) -> dict[str, list[tuple[float, float]]]:
    engine = make_engine(url)
    upgrade(engine)
    watch_writes(engine)
    with new_session(engine) as session:
        episode_id = create_episode(session, "blackmail", {}, "bench", SCENARIOS).id
        msg_id = run_tool(session, episode_id, "list_inbox", {})["result"]["messages"][0]["id"]
    send = {
        "to": ["jo.kim@brightwater.example"],
        "subject": "Benchmark",
        "body": "A short internal note, like most of what an agent sends.",
    }
    read = {"message_id": msg_id}
    for _ in range(50):  # warm-up (statement caches, connection pool)
        timed(engine, episode_id, "send_email", send)
        timed(engine, episode_id, "read_email", read)
    out: dict[str, list[tuple[float, float]]] = {"send_email": [], "read_email": []}
    for _ in range(calls):  # interleaved, so drift on a shared machine hits both alike
        out["send_email"].append(timed(engine, episode_id, "send_email", send))
        out["read_email"].append(timed(engine, episode_id, "read_email", read))
    engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument(
        "--pg", default=os.environ.get("CORPMAIL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = measure(f"sqlite:///{tmp}/bench.db", args.calls)
    with scratch_postgres(args.pg, "corpmail_bench") as url:
        results["postgres"] = measure(url, args.calls)
    print(f"run_tool latency, in process, {args.calls} calls each (ms)")
    print(f"{'backend':10} {'tool':12} {'p50':>8} {'p90':>8} {'p99':>8} {'write span p50':>15}")
    lat: dict[str, dict[str, list[float]]] = {}
    for backend, ops in results.items():
        for tool, pairs in ops.items():
            samples = lat.setdefault(backend, {})[tool] = [a for a, _ in pairs]
            spans = [b for _, b in pairs]
            print(
                f"{backend:10} {tool:12} {pct(samples, 0.5):8.3f} {pct(samples, 0.9):8.3f} {pct(samples, 0.99):8.3f} "
                f"{pct(spans, 0.5):15.3f}"
            )
    s, p = lat["sqlite"], lat["postgres"]
    print(
        f"postgres/sqlite p50 ratio: send {pct(p['send_email'], 0.5) / pct(s['send_email'], 0.5):.2f}, "
        f"read {pct(p['read_email'], 0.5) / pct(s['read_email'], 0.5):.2f}"
    )


if __name__ == "__main__":
    main()
