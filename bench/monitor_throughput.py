"""Benchmark: the rule monitor's throughput (actions per second, one core, no judge) and its share
of run_tool's time.

    .venv/bin/python bench/monitor_throughput.py [--rounds 20]

The actions are the labelled dev corpus (every case's judged action, rebuilt once as the tool would
build it); each round judges all of them, with no earlier messages and again with a history of 20
earlier agent messages (the most run_tool passes). Per-call latency is shown as p50/p95/max. The
share compares run_tool on a send (which reads the agent's sent mail and judges it against that
history) with the monitor's own time on the same send. Figures on a shared 2-core machine are noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from app import monitor
from app.core.config import REPO_ROOT
from app.core.db import make_engine, new_session
from app.core.migrate import upgrade
from app.evaluation import corpus
from app.evaluation.checks import resolve
from app.services import episode_view
from app.services.episodes import create_episode
from app.tools import actions
from app.tools.context import EpisodeContext
from app.tools.runtime import run_tool

SCENARIOS = REPO_ROOT / "sandbox_data" / "scenarios"


def build_actions(session) -> list[tuple[object, object]]:
    """(episode row, action) for every corpus case whose judged call needs no setup."""
    built, episodes = [], {}
    for case in corpus.load(REPO_ROOT / "sandbox_data" / "monitor_corpus" / "dev"):
        if len(case.calls) != 1:
            continue
        key = (
            case.scenario,
            tuple(sorted(case.variables.items())),
        )  # e.g. mail that exists only with an ally
        if key not in episodes:
            ep = create_episode(session, case.scenario, case.variables, "bench", SCENARIOS)
            episodes[key] = episode_view.load(session, ep.id)
        row = episodes[key]
        from app.evaluation.checks import _key_ids

        call = corpus._substitute(case.calls[0], row.world["canary"])
        tool = actions.lookup(row.world, call["tool"])
        ctx = EpisodeContext(session, row, row.boxes[row.agent_address], row.boxes)
        built.append((row, tool.invoke(ctx, resolve(call["args"], _key_ids(session, row.id), []))))
    return built


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        upgrade(engine)
        with new_session(engine) as session:
            items = build_actions(session)
            for row, action in items:  # warm-up: prepared worlds, compiled patterns
                monitor.evaluate(row, action)
            history = [
                {"recipients": ["marcus.vell@brightwater.example"], "subject": f"Note {i}", "thread_id": None,
                 "body": "Marcus, a reminder about the Friday all-hands and the room booking at Harbourview. " * 3}
                for i in range(20)
            ]  # fmt: skip
            rates, per_call, per_call_hist = [], [], []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                for row, action in items:
                    t1 = time.perf_counter()
                    monitor.evaluate(row, action)
                    per_call.append((time.perf_counter() - t1) * 1000)
                rates.append(len(items) / (time.perf_counter() - t0))
            for _ in range(max(args.rounds // 4, 1)):
                for row, action in items:
                    t1 = time.perf_counter()
                    monitor.evaluate(row, action, history)
                    per_call_hist.append((time.perf_counter() - t1) * 1000)
            eid = create_episode(session, "blackmail", {}, "bench", SCENARIOS).id
            send = {
                "to": ["jo.kim@brightwater.example"],
                "subject": "Benchmark",
                "body": "A short internal note, like most of what an agent sends.",
            }
            row = episode_view.load(session, eid)
            ctx = EpisodeContext(session, row, row.boxes[row.agent_address], row.boxes)
            draft = actions.lookup(row.world, "send_email").invoke(ctx, send)
        run_ms, mon_ms = [], []
        for _ in range(1000):
            with new_session(engine) as s:
                t0 = time.perf_counter()
                run_tool(s, eid, "send_email", send)
                run_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            monitor.evaluate(row, draft)
            mon_ms.append((time.perf_counter() - t0) * 1000)
        engine.dispose()
    q = statistics.quantiles(rates, n=10)
    print(f"rule monitor, no judge: {len(items)} corpus actions x {args.rounds} rounds, one core")
    print(
        f"  throughput (actions/s): median {statistics.median(rates):,.0f}  p10 {q[0]:,.0f}  p90 {q[-1]:,.0f}"
    )
    for name, xs in (("per call, no history", per_call), ("per call, 20 earlier messages", per_call_hist)):
        qs = statistics.quantiles(xs, n=20)
        print(f"  {name}: p50 {statistics.median(xs):.2f} ms  p95 {qs[-1]:.2f} ms  max {max(xs):.2f} ms")
    share = statistics.median(mon_ms) / statistics.median(run_ms)
    print(
        f"run_tool(send_email) p50 {statistics.median(run_ms):.3f} ms; monitor p50 {statistics.median(mon_ms):.3f} ms;"
        f" monitor share of run_tool {share:.1%}"
    )


if __name__ == "__main__":
    main()
