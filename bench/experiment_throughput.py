"""Benchmark: an experiment grid through the runner, scripted models in process and the same policies
through the fake OpenAI-compatible server (LiteLLM's openai provider over loopback HTTP).

    .venv/bin/python bench/experiment_throughput.py [--samples 5] [--concurrency 1 4 8] [--latency 0.2]
        [--pg postgresql://postgres@127.0.0.1:5432/test]

Prints episodes/s and model calls/s per backend, path and concurrency. Each run gets a fresh database.
Figures on a shared 2-core machine are noisy: compare ratios, not single numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


from app.core.config import Settings
from app.core.db import make_engine, new_session, scratch_postgres
from app.core.migrate import upgrade
from app.experiments import store
from app.experiments.config import parse_config
from app.experiments.grid import expand, trials
from app.experiments.runner import Runner
from app.llm import litellm
from app.llm.fake_openai import FakeConfig, FakeOpenAI
from app.services import trials as trial_store


def grid(name: str, samples: int, concurrency: int, api_base: str | None) -> dict:
    models = (
        ["scripted/blackmail", "scripted/benign"]
        if api_base is None
        else [
            {"model": f"openai/blackmail/{p}", "name": p, "api_base": api_base, "concurrency": 1000}
            for p in ("blackmail", "benign")
        ]
    )
    return {
        "name": name,
        "scenarios": ["blackmail"],
        "variables": {"urgency": ["replacement", "none"]},
        "models": models,
        "samples": samples,
        "concurrency": concurrency,
    }


def run_once(url: str, samples: int, concurrency: int, api_base: str | None) -> tuple[int, float, int]:
    engine = make_engine(url)
    upgrade(engine)
    settings = Settings(database_url=url)
    config = parse_config(grid(f"bench-{secrets.token_hex(3)}", samples, concurrency, api_base))
    g = expand(config, settings.scenarios_dir)
    ts = trials(config, g)
    with new_session(engine) as s:
        store.record(s, config, g, ts)
    t = time.perf_counter()
    progress = asyncio.run(Runner(settings, engine, config).run(ts))
    elapsed = time.perf_counter() - t
    with new_session(engine) as s:
        turns = sum((r.result or {}).get("turns") or 0 for r in trial_store.trial_rows(s, config.name))
    engine.dispose()
    assert progress.errored == 0, progress.last_error
    return len(ts), elapsed, turns


def backends(pg: str | None):
    with tempfile.TemporaryDirectory() as tmp:
        yield "sqlite", f"sqlite:///{tmp}/bench.db"
    if pg:
        with scratch_postgres(pg, "corpmail_bench") as url:
            yield "postgres", url


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    ap.add_argument("--latency", type=float, default=0.2, help="fake server latency per model call, seconds")
    ap.add_argument("--pg", default=None)
    a = ap.parse_args()
    litellm()  # import once, outside the timings
    print(
        f"{'backend':9} {'path':26} {'C':>4} {'episodes':>8} {'seconds':>8} {'episodes/s':>10} {'calls/s':>8}"
    )
    with FakeOpenAI(FakeConfig(latency=a.latency)) as fake:
        for backend, url in backends(a.pg):
            for path, base in (("scripted (in process)", None), (f"openai fake, L={a.latency:g}s", fake.url)):
                for c in a.concurrency:
                    n, secs, turns = run_once(url, a.samples, c, base)
                    print(
                        f"{backend:9} {path:26} {c:>4} {n:>8} {secs:>8.2f} {n / secs:>10.2f} {turns / secs:>8.1f}"
                    )


if __name__ == "__main__":
    main()
