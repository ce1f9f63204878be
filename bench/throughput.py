"""Benchmark: episodes per second in ONE process against a model with a fixed latency, through the fake
OpenAI-compatible server (`python -m app.llm.fake_openai`, its own process) reached by LiteLLM's
ordinary `openai/` provider with an api_base — the path a real provider takes.

    .venv/bin/python bench/throughput.py [--concurrency 1 20 50 200 1000] [--latency 0.2]
        [--variants lean http] [--base-repo /tmp/base] [--pg postgresql://postgres@127.0.0.1:5432/test]
        [--episodes-per-c 3] [--debug-at 20]

Each measurement is a fresh child process on a fresh database (SQLite, or a fresh PostgreSQL database
with --pg) playing N = waves x C scripted `blackmail` episodes with C at once. Variants are run
interleaved at every C, so "before" and "after" share the machine's load:
  lean  this checkout, InProcessPlayer's lean path (service functions and run_tool called directly)
  http  this checkout, the in-process HTTP path (httpx over ASGI: the API a remote agent uses)
  base  another checkout (--base-repo, e.g. `git archive main | tar -x -C /tmp/base`), its default path
A variant may name LiteLLM's provider for the fake server after '@': `openai` (the default: LiteLLM's
openai/ provider, through the OpenAI SDK) or e.g. `lean@hosted_vllm` (LiteLLM's own httpx handler for
OpenAI-compatible servers, no SDK).
Per row: episodes/s, the ideal C / (model calls per episode x L), their ratio, harness CPU per model
call (the child process's user+system CPU over the run / model calls; the fake server is another
process and not counted) and `net`, the same without the stall probe's own cost (its 10 ms wakes,
measured for a second idle before the run: ~15 ms of CPU a second on this VM); `loop busy`, the share
of the run the event loop was not waiting in its selector (near 100 %: the one interpreter is the
bottleneck, ready work queues behind the running callback); `model p50`/`p90`, a model call's latency
as the agent loop sees it (L plus the model client's own work plus any wait for the busy loop); `srv
ms`, the fake server's CPU per model call (its process, read from /proc, over the child's whole run,
warm-up episode included: it is not the bottleneck while this stays small); p50/p99 latency of a tool call as the agent loop sees it, peak RSS, and the
event loop's worst stall (a 10 ms ticker's overshoot) during the first episode (cold start: LiteLLM
import, first call) and during the run. `--debug-at C` adds one row per variant with asyncio's debug
mode, counting callbacks slower than 50 ms. `--model-client direct` answers the same scripted turns
in process after the same latency, without LiteLLM, the OpenAI SDK or HTTP: the harness's own cost.
`--no-harness` is the other half: C tasks each replaying the first episode's model calls (its exact
arguments, in order) to the same server with nothing else in the process — the ratio the model client
alone reaches, an upper bound for any harness behind it.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import inspect
import json
import logging
import os
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


class GcProbe:
    """Time spent in the cyclic garbage collector (all generations), and its longest pause."""

    def __init__(self) -> None:
        import gc

        self.total = self.worst = 0.0
        self._t = 0.0
        gc.callbacks.append(self._cb)

    def _cb(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t = time.perf_counter()
        else:
            d = time.perf_counter() - self._t
            self.total += d
            self.worst = max(self.worst, d)


class LoopBusy:
    """How much of the run the event loop was not waiting in its selector (select/epoll): near 100 %
    means the one interpreter is the bottleneck (ready work queues behind the running callback)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.idle = 0.0
        self._selector = loop._selector  # type: ignore[attr-defined]  # the selector event loop's own
        self._select = self._selector.select

        def select(timeout=None):
            t = time.perf_counter()
            try:
                return self._select(timeout)
            finally:
                self.idle += time.perf_counter() - t

        self._selector.select = select

    def close(self) -> None:
        self._selector.select = self._select


class TimedModel:
    """The model client (LiteLLM, or DirectModel) with every `acompletion` timed as the agent loop
    sees it: the model's latency plus the client's own work plus any wait for the busy loop."""

    def __init__(self, client, times: list[float], record: bool = False) -> None:
        self.client, self.times = client, times
        # with `record`, each call's arguments (copied) are kept here: --no-harness replays them
        self.calls: list[dict] | None = [] if record else None

    def __getattr__(self, name: str):
        return getattr(self.client, name)

    async def acompletion(self, **kwargs):
        if self.calls is not None:  # the agent loop appends to one messages list: copy it as it is now
            self.calls.append(copy.deepcopy(kwargs))
        t = time.perf_counter()
        try:
            return await self.client.acompletion(**kwargs)
        finally:
            self.times.append(time.perf_counter() - t)


class LagProbe:
    """A 10 ms ticker: how late it wakes is how long something held the event loop."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, loop.time() - t - 0.01)

    def __enter__(self) -> LagProbe:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc) -> None:
        assert self._task is not None
        self._task.cancel()


def _namespace(value):
    """A response dict as attributes (what the agent loop reads off a LiteLLM response)."""
    from types import SimpleNamespace

    if isinstance(value, dict):
        return SimpleNamespace(**{k: _namespace(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_namespace(v) for v in value]
    return value


class DirectModel:
    """`--model-client direct`: the same scripted answers after the same latency, with no model client
    (no LiteLLM, no OpenAI SDK, no HTTP): what is left is the harness's own cost."""

    def __init__(self, latency: float, scenarios: Path):
        self.latency, self.scenarios = latency, scenarios

    async def acompletion(self, model: str, messages: list, **_kw):
        from app.llm.script import load_policy, respond

        await asyncio.sleep(self.latency)
        scenario, _, policy = model.split("/", 1)[1].rpartition("/")
        answer = respond(load_policy(policy, self.scenarios / scenario), messages)
        answer.setdefault("usage", {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0})
        for choice in answer["choices"]:
            choice.setdefault("finish_reason", "stop")
            for key in ("content", "tool_calls", "reasoning_content"):
                choice["message"].setdefault(key, None)
        return _namespace(answer)


# Not app.core.db.scratch_postgres: the `base` variant's child imports an older checkout's `app`.
def _database(pg: str | None, tmp: str) -> tuple[str, str | None]:
    if not pg:
        return f"sqlite:///{tmp}/bench.db", None
    import psycopg

    name = f"corpmail_tp_{secrets.token_hex(4)}"
    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{pg.rsplit('/', 1)[0]}/{name}", name


def _drop(pg: str | None, name: str | None) -> None:
    if pg and name:
        import psycopg

        with psycopg.connect(pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _child(a: argparse.Namespace) -> None:
    import agents.model_call
    from agents.loop import Limits, ModelOptions
    from app.core.config import Settings
    from app.core.db import make_engine
    from app.core.migrate import upgrade
    from app.play import InProcessPlayer, PlayRequest

    slow: list[float] = []
    model_times: list[float] = []
    if a.model_client == "direct":
        client = DirectModel(a.latency, Path(a.repo) / "sandbox_data" / "scenarios")
    else:
        from app.llm import litellm

        client = litellm()
    timed_model = TimedModel(client, model_times, record=a.no_harness)
    agents.model_call.litellm = lambda: timed_model  # type: ignore[assignment]
    if a.debug:
        loop = asyncio.get_running_loop()
        loop.set_debug(True)
        loop.slow_callback_duration = 0.05

        class Count(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                msg = record.getMessage()
                if msg.startswith("Executing") and " took " in msg:
                    slow.append(float(msg.rsplit(" took ", 1)[1].split()[0]))

        logging.getLogger("asyncio").addHandler(Count())
        logging.getLogger("asyncio").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        url, dbname = _database(a.pg, tmp)
        try:
            engine = make_engine(url)
            upgrade(engine)
            settings = Settings(database_url=url)
            kw = {}
            if "over_http" in inspect.signature(InProcessPlayer).parameters:
                kw["over_http"] = a.variant == "http"
            req = PlayRequest(
                "blackmail",
                f"{a.provider}/blackmail/blackmail",
                {},
                approver="monitor",
                limits=Limits(max_turns=30, timeout=60),
                options=ModelOptions(api_base=a.api_base, api_key="local"),
            )
            async with InProcessPlayer(settings, engine, **kw) as player:
                times: list[float] = []
                orig = player.client.call_tool

                async def timed(*args, **kwargs):
                    t = time.perf_counter()
                    try:
                        return await orig(*args, **kwargs)
                    finally:
                        times.append(time.perf_counter() - t)

                player.client.call_tool = timed  # type: ignore[method-assign]
                with LagProbe() as cold:
                    t0 = time.perf_counter()
                    await player.play(req)  # start-up: imports, first model call (not in the figures)
                    cold_s = time.perf_counter() - t0
                times.clear()
                model_times.clear()
                n = a.concurrency * a.waves
                queue: asyncio.Queue = asyncio.Queue()
                for _ in range(n):
                    queue.put_nowait(None)
                turns: list[int] = []
                errors: list[str] = []

                recorded, timed_model.calls = timed_model.calls, None

                async def worker() -> None:
                    while not queue.empty():
                        queue.get_nowait()
                        if recorded is not None:  # --no-harness: the first episode's model calls again
                            for kwargs in recorded:
                                await timed_model.acompletion(**kwargs)
                            turns.append(len(recorded))
                            continue
                        s = await player.play(req)
                        turns.append(s["turns"])
                        if s["status"] == "errored":
                            errors.append(str(s.get("error")))

                # the stall probe's own cost: a wake every 10 ms is ~15 ms of CPU a second on this VM
                # (each wake ~80-150 us), a third of the CPU at C = 1; measured idle, then taken off
                with LagProbe():
                    p0, q0 = _cpu(), time.perf_counter()
                    await asyncio.sleep(1.0)
                    probe_rate = (_cpu() - p0) / (time.perf_counter() - q0)
                gcp = GcProbe()
                with LagProbe() as run:
                    busy = LoopBusy(asyncio.get_running_loop())
                    c0, t0 = _cpu(), time.perf_counter()
                    await asyncio.gather(*(worker() for _ in range(a.concurrency)))
                    wall, cpu = time.perf_counter() - t0, _cpu() - c0
                    busy.close()
            engine.dispose()
        finally:
            _drop(a.pg, dbname)
    calls = sum(turns)
    per_episode = calls / len(turns)
    ideal = a.concurrency / (per_episode * a.latency)
    row = {
        "variant": (a.variant if a.model_client == "litellm" else f"{a.variant}/direct")
        + ("/no-harness" if a.no_harness else "")
        + ("" if a.provider == "openai" else f"@{a.provider}"),
        "C": a.concurrency,
        "episodes": len(turns),
        "errored": len(errors),
        "first_error": errors[0] if errors else None,
        "calls_per_episode": per_episode,
        "seconds": wall,
        "eps": len(turns) / wall,
        "ideal": ideal,
        "ratio": len(turns) / wall / ideal,
        "cpu_ms_per_call": 1000 * cpu / calls,
        "probe_ms_per_s": 1000 * probe_rate,
        "cpu_ms_per_call_net": 1000 * max(cpu - probe_rate * wall, 0.0) / calls,  # without the probe's
        "model_p50_ms": 1000 * _pct(model_times, 0.5),
        "model_p90_ms": 1000 * _pct(model_times, 0.9),
        "loop_busy": 1 - busy.idle / wall,
        "tool_p50_ms": 1000 * _pct(times, 0.5),
        "tool_p99_ms": 1000 * _pct(times, 0.99),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cold_s": cold_s,
        "cold_stall_ms": 1000 * cold.worst,
        "run_stall_ms": 1000 * run.worst,
        "gc_ms_per_call": 1000 * gcp.total / calls,
        "gc_worst_ms": 1000 * gcp.worst,
        "slow_callbacks": len(slow) if a.debug else None,
        "slowest_callback_ms": 1000 * max(slow) if slow else None,
    }
    print(json.dumps(row), flush=True)
    # done: leave without asyncio's teardown, which can wait on a library's background tasks
    os._exit(0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fake_server(latency: float) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.llm.fake_openai", "--port", str(port), "--latency", str(latency)],
        cwd=HERE,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the fake OpenAI server did not start")


def _proc_cpu(pid: int) -> float:
    """A process's user + system CPU seconds so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(a: argparse.Namespace, variant: str, c: int, api_base: str, debug: bool) -> dict:
    variant, _, provider = variant.partition("@")
    repo = a.base_repo if variant == "base" else str(HERE)
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--repo",
        repo,
        "--variant",
        variant,
        "--concurrency",
        str(c),
        "--waves",
        str(a.waves if c < 1000 else 1),
        "--latency",
        str(a.latency),
        "--api-base",
        api_base,
    ]
    cmd += ["--pg", a.pg] if a.pg else []
    cmd += ["--debug"] if debug else []
    cmd += ["--model-client", a.model_client, "--provider", provider or "openai"]
    cmd += ["--no-harness"] if a.no_harness else []
    env = {**os.environ, "PYTHONPATH": repo}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=repo)
    if out.returncode != 0:
        return {"variant": variant, "C": c, "failed": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


HEAD = (
    f"{'variant':28} {'C':>5} {'eps':>6} {'eps/s':>7} {'ideal':>7} {'ratio':>6} {'CPU ms/call':>11} {'net':>6} "
    f"{'loop busy':>9} {'model p50':>9} {'p90':>6} {'srv ms':>6} "
    f"{'tool p50':>8} {'tool p99':>8} {'RSS MiB':>8} {'cold stall':>10} {'run stall':>9} {'slow cb':>7}"
)


def _row(r: dict) -> str:
    if "failed" in r:
        return f"{r['variant']:28} {r['C']:>5} failed: {r['failed']}"
    slow = "" if r["slow_callbacks"] is None else f"{r['slow_callbacks']}"
    err = f"  ({r['errored']} errored: {r['first_error']})" if r["errored"] else ""
    return (
        f"{r['variant']:28} {r['C']:>5} {r['episodes']:>6} {r['eps']:>7.2f} {r['ideal']:>7.2f} {r['ratio']:>6.2f} "
        f"{r['cpu_ms_per_call']:>11.2f} {r.get('cpu_ms_per_call_net', float('nan')):>6.2f} "
        f"{100 * r['loop_busy']:>8.0f}% {r['model_p50_ms']:>9.1f} {r['model_p90_ms']:>6.1f} "
        f"{r.get('server_ms_per_call', float('nan')):>6.2f} "
        f"{r['tool_p50_ms']:>8.2f} {r['tool_p99_ms']:>8.1f} "
        f"{r['peak_rss_mib']:>8.0f} {r['cold_stall_ms']:>8.0f}ms {r['run_stall_ms']:>7.0f}ms {slow:>7}{err}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 20, 50, 200, 1000])
    ap.add_argument("--latency", type=float, default=0.2, help="fake server latency per model call, seconds")
    ap.add_argument(
        "--variants",
        nargs="+",
        default=["lean", "http"],
        help="lean, http, base; each may name LiteLLM's provider for the fake server after '@' "
        "(default openai, the OpenAI SDK's path; e.g. lean@hosted_vllm, LiteLLM's own httpx path)",
    )
    ap.add_argument("--base-repo", default=None, help="checkout for the `base` variant")
    ap.add_argument("--waves", type=int, default=3, help="episodes per run = waves x C (1 wave at C=1000)")
    ap.add_argument("--pg", default=None, help="a PostgreSQL URL: each run gets a fresh database on it")
    ap.add_argument("--debug-at", type=int, default=None, help="also a row per variant in asyncio debug mode")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON lines too")
    ap.add_argument(
        "--model-client",
        default="litellm",
        choices=["litellm", "direct"],
        help="direct: answer in process after the latency, without LiteLLM/OpenAI SDK/HTTP (harness alone)",
    )
    ap.add_argument(
        "--no-harness",
        action="store_true",
        help="replay the first episode's model calls (same arguments, same order) C at a time, nothing "
        "else: the model client's own ceiling at that C and L",
    )
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--repo", default=str(HERE), help=argparse.SUPPRESS)
    ap.add_argument("--variant", default="lean", help=argparse.SUPPRESS)
    ap.add_argument("--provider", default="openai", help=argparse.SUPPRESS)
    ap.add_argument("--api-base", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        a.concurrency = a.concurrency[0]
        sys.path.insert(0, a.repo)
        asyncio.run(_child(a))
        return
    bad = [v for v in a.variants if v.partition("@")[0] not in ("lean", "http", "base")]
    if bad:
        ap.error(f"--variants: {bad[0]!r} is not lean, http or base (optionally @provider)")
    if any(v.startswith("base") for v in a.variants) and not a.base_repo:
        ap.error("--variants base needs --base-repo")
    fake, api_base = _fake_server(a.latency)
    rows: list[dict] = []
    try:
        load = os.getloadavg()
        print(
            f"# {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
            f"L = {a.latency:g} s; {'PostgreSQL' if a.pg else 'SQLite'}; fake server pid {fake.pid}",
            flush=True,
        )
        print(HEAD, flush=True)
        for c in a.concurrency:
            for v in a.variants:
                s0 = _proc_cpu(fake.pid)
                rows.append(_measure(a, v, c, api_base, False))
                if "failed" not in rows[-1] and a.model_client == "litellm":  # the model server's CPU a call
                    r = rows[-1]
                    r["server_ms_per_call"] = (
                        1000 * (_proc_cpu(fake.pid) - s0) / (r["episodes"] * r["calls_per_episode"])
                    )
                print(_row(rows[-1]), flush=True)
        if a.debug_at:
            for v in a.variants:
                rows.append(_measure(a, v, a.debug_at, api_base, True))
                print(_row(rows[-1]) + "  (asyncio debug)", flush=True)
        load = os.getloadavg()
        print(f"# load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    finally:
        fake.terminate()
        fake.wait(10)
    if a.json:
        for r in rows:
            print(json.dumps(r))


if __name__ == "__main__":
    main()
