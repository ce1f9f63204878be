"""Benchmark: harness cost per model call, sequential, start-up excluded — corpmail beside Inspect AI
running the published study's port (`inspect_evals` `agentic_misalignment`) on Inspect's mock model.

    # corpmail (this checkout's .venv): N scripted episodes in process, no model latency
    .venv/bin/python bench/inspect_overhead.py corpmail [--episodes 20] [--model scripted/blackmail]
    # Inspect (a virtualenv with `pip install inspect-evals`; no corpmail needed there)
    /tmp/ievals/bin/python bench/inspect_overhead.py inspect [--epochs 40]

Each mode runs a small warm-up first, then a measured run, and prints wall and CPU milliseconds per
model call (process CPU, all threads; for Inspect, the difference between a small and a large run,
since each eval() call has a fixed cost). corpmail's model calls are scripted turns through LiteLLM's
custom provider (`scripted/`, in process, no HTTP); Inspect's are `mockllm/model` generations: the
task's one generation per sample plus the grader's (also a mock model, answering "no"), two per sample. Run both while the machine is in the same
state: the figures move with the load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def corpmail(a: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from agents.loop import Limits
    from app.core.config import Settings
    from app.core.db import make_engine
    from app.core.migrate import upgrade
    from app.play import InProcessPlayer, PlayRequest

    async def run(player, n: int) -> int:
        calls = 0
        for _ in range(n):
            req = PlayRequest("blackmail", a.model, approver="monitor", limits=Limits(max_turns=30))
            calls += (await player.play(req))["turns"]
        return calls

    async def main() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            engine = make_engine(url)
            upgrade(engine)
            async with InProcessPlayer(Settings(database_url=url), engine, over_http=a.over_http) as player:
                await run(player, 2)  # warm-up: imports, caches
                c, t = _cpu(), time.perf_counter()
                calls = await run(player, a.episodes)
                wall, cpu = time.perf_counter() - t, _cpu() - c
            engine.dispose()
        path = "http" if a.over_http else "lean"
        print(
            f"corpmail ({path}, {a.model}): {a.episodes} episodes, {calls} model calls: "
            f"{1000 * wall / calls:.2f} ms wall, {1000 * cpu / calls:.2f} ms CPU per model call"
        )

    asyncio.run(main())


def _tiktoken_cache() -> None:
    """The task counts tokens with tiktoken's o200k_base, which tiktoken downloads on first use. Offline,
    point tiktoken at the copy LiteLLM ships (in this checkout's .venv) unless a cache is set."""
    if os.environ.get("TIKTOKEN_CACHE_DIR"):
        return
    repo = Path(__file__).resolve().parents[1]
    found = sorted(repo.glob(".venv/lib/python3*/site-packages/litellm/litellm_core_utils/tokenizers"))
    if found:
        os.environ["TIKTOKEN_CACHE_DIR"] = str(found[0])


def inspect(a: argparse.Namespace) -> None:
    _tiktoken_cache()
    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import ModelOutput, get_model
    from inspect_evals.agentic_misalignment import agentic_misalignment

    verdict = "<reasoning>No leverage is used.</reasoning>\n<answer>no</answer>"

    def run(epochs: int, log_dir: str) -> int:
        # the grader is a mock model too, answering in the format the classifier parses
        outputs = [ModelOutput.from_content("mockllm/model", verdict) for _ in range(epochs + 1)]
        task = agentic_misalignment(grader_model=get_model("mockllm/model", custom_outputs=outputs))
        [log] = inspect_eval(
            task, model="mockllm/model", epochs=epochs, display="none", log_dir=log_dir, log_format="json"
        )
        errors = [e for s in log.samples or [] for e in s.events if e.event == "error"]
        if errors or log.status != "success":
            raise SystemExit(
                f"the Inspect run failed ({log.status}): {str(errors[0].error)[:300] if errors else ''}"
            )
        # the agent's generation is logged in the sample; the grader's call (one per sample) is not
        return 2 * len(log.samples or [])

    def timed(epochs: int, log_dir: str) -> tuple[int, float, float]:
        c, t = _cpu(), time.perf_counter()
        calls = run(epochs, log_dir)
        return calls, time.perf_counter() - t, _cpu() - c

    with tempfile.TemporaryDirectory() as tmp:
        run(2, tmp)  # warm-up: imports, task construction
        small = timed(a.epochs // 4, tmp)  # each eval() has a fixed cost (log, task set-up): take
        large = timed(a.epochs, tmp)  # the difference between a small and a large run
    calls, wall, cpu = (large[i] - small[i] for i in range(3))
    print(
        f"inspect (inspect_evals agentic_misalignment, mockllm/model): {a.epochs} vs {a.epochs // 4} samples, "
        f"{calls:.0f} more model calls: {1000 * wall / calls:.2f} ms wall, {1000 * cpu / calls:.2f} ms CPU "
        "per model call"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("corpmail")
    c.add_argument("--episodes", type=int, default=20)
    c.add_argument("--model", default="scripted/blackmail")
    c.add_argument(
        "--over-http", action="store_true", help="the in-process HTTP path instead of the lean one"
    )
    i = sub.add_parser("inspect")
    i.add_argument("--epochs", type=int, default=40)
    a = ap.parse_args()
    corpmail(a) if a.mode == "corpmail" else inspect(a)


if __name__ == "__main__":
    main()
