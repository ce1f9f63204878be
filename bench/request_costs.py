"""Benchmark: what each request of the lean in-process path costs, per model call.

    .venv/bin/python bench/request_costs.py [--episodes 40] [--pg postgresql://postgres@127.0.0.1:5432/test]
    PYTHONPATH=/tmp/base .venv/bin/python bench/request_costs.py     # another checkout ("before")

Plays N scripted `blackmail` episodes one after another through `InProcessPlayer` with the model
answering at once in process (no LiteLLM, no HTTP: bench/throughput.py's `direct` client), after one
warm-up episode, and times every request `LocalClient` handles with the handling thread's CPU clock
(thread_time: the request's own work, not waits). Prints, per request kind, how many an episode makes,
their mean CPU and their share per model call, then the sum and the whole process's CPU per model
call (the difference: the agent loop, summaries, the event loop).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import secrets
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


async def _run(episodes: int, url: str) -> None:
    sys.path.insert(0, str(HERE))
    from throughput import DirectModel

    import agents.model_call
    from agents.loop import Limits
    from app.core.config import Settings
    from app.core.db import make_engine
    from app.core.migrate import upgrade
    from app.play import InProcessPlayer, LocalClient, PlayRequest

    direct = DirectModel(0.0, Path(Settings().scenarios_dir))
    agents.model_call.litellm = lambda: direct  # type: ignore[assignment]
    cost: dict[str, list[float]] = collections.defaultdict(list)
    handle = LocalClient._handle

    def timed(self, method, url, handler, args):
        t = time.thread_time()
        try:
            return handle(self, method, url, handler, args)
        finally:
            kind = f"{method} {re.sub(r'/episodes/[^/]+', '/episodes/{id}', url)}"
            cost[kind].append(time.thread_time() - t)

    LocalClient._handle = timed  # type: ignore[method-assign]
    engine = make_engine(url)
    upgrade(engine)
    req = PlayRequest(
        "blackmail",
        "scripted/blackmail/blackmail",
        {},
        approver="monitor",
        limits=Limits(max_turns=30, timeout=60),
    )
    async with InProcessPlayer(Settings(database_url=url), engine) as player:
        await player.play(req)  # warm-up: imports, first-use caches
        cost.clear()
        c0, calls = time.process_time(), 0
        for _ in range(episodes):
            calls += (await player.play(req))["turns"]
        process = time.process_time() - c0
    engine.dispose()
    print(f"{episodes} episodes, {calls / episodes:.1f} model calls each; CPU per request kind:")
    total = 0.0
    for kind, times in sorted(cost.items(), key=lambda kv: -sum(kv[1])):
        total += sum(times)
        print(
            f"  {kind:45} {len(times) / episodes:5.1f}/episode  mean {1000 * sum(times) / len(times):6.2f} ms"
            f"  per model call {1000 * sum(times) / calls:5.2f} ms"
        )
    print(
        f"requests {1000 * total / calls:.2f} ms per model call; whole process {1000 * process / calls:.2f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=40)
    ap.add_argument("--pg", default=None, help="a PostgreSQL URL: the run gets a fresh database on it")
    a = ap.parse_args()
    if a.episodes < 1:
        ap.error("--episodes: at least 1")
    if not a.pg:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(_run(a.episodes, f"sqlite:///{tmp}/bench.db"))
        return
    import psycopg

    name = f"corpmail_rc_{secrets.token_hex(4)}"
    with psycopg.connect(a.pg, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        asyncio.run(_run(a.episodes, f"{a.pg.rsplit('/', 1)[0]}/{name}"))
    finally:
        with psycopg.connect(a.pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
