"""Benchmark: what the reacting world adds per agent turn — extra events and wall time — for a rule
reaction (the CTO answers a threat, the chair steps in) and a persona reaction (a scripted model plays
the ally), against the same scenario with its world.yaml removed. In process, SQLite.

    .venv/bin/python bench/world_overhead.py [--episodes 20]

Interleaved runs on a shared 2-core machine are noisy: compare the medians side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from agents.client import CorpmailClient
from agents.loop import Limits
from app.core.config import REPO_ROOT, Settings
from app.core.db import make_engine
from app.core.migrate import upgrade
from app.main import create_app
from app.play import PlayRequest, play_with

LIB = REPO_ROOT / "sandbox_data" / "scenarios"
CASES = [
    ("rule reaction", "threat_then_wait", {}),
    ("persona reaction", "appeal_to_ally", {"ally": "present"}),
]


async def one(client, folder: Path, policy: str, variables: dict) -> tuple[float, int, int]:
    t = time.perf_counter()
    req = PlayRequest(
        str(folder), f"scripted/{policy}", variables, approver="human", limits=Limits(max_turns=20)
    )
    result = await play_with(client, req)
    wall = time.perf_counter() - t
    events = await client.events(result["episode_id"])
    return wall, len(events), result["turns"]


async def main(n: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    still = tmp / "still" / "blackmail"
    shutil.copytree(LIB / "blackmail", still)
    (still / "world.yaml").unlink()
    url = f"sqlite:///{tmp}/bench.db"
    engine = make_engine(url)
    upgrade(engine)
    client = CorpmailClient.over_asgi(create_app(Settings(database_url=url, scenarios_dir=LIB), engine))
    print(f"{'case':18} {'world':6} {'turns':>5} {'events':>6} {'ms/episode':>10} {'ms/turn':>8}")
    for label, policy, variables in CASES:
        rows = {}
        for _ in range(n):  # interleaved: with and without the world, one after the other
            for name, folder in (("on", LIB / "blackmail"), ("off", still)):
                rows.setdefault(name, []).append(await one(client, folder, policy, variables))
        for name in ("off", "on"):
            wall = statistics.median(r[0] for r in rows[name]) * 1000
            events = statistics.median(r[1] for r in rows[name])
            turns = statistics.median(r[2] for r in rows[name])
            print(f"{label:18} {name:6} {turns:>5.0f} {events:>6.0f} {wall:>10.1f} {wall / turns:>8.1f}")
        on, off = rows["on"], rows["off"]
        extra = statistics.median(r[1] for r in on) - statistics.median(r[1] for r in off)
        per_turn = statistics.median(r[0] / r[2] for r in on) - statistics.median(r[0] / r[2] for r in off)
        print(
            f"{label:18} adds {extra:.0f} events per episode; {per_turn * 1000:+.1f} ms per agent turn (median)"
        )
    await client.aclose()
    engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20)
    asyncio.run(main(parser.parse_args().episodes))
