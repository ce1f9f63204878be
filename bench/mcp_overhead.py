"""Benchmark: the cost of one tool call over MCP (streamable HTTP, the official SDK's client session)
versus the HTTP tool API, against the same uvicorn server on loopback, in one run.

    .venv/bin/python bench/mcp_overhead.py [--calls 500] [--database-url URL]

Both paths end in the same run_tool; the difference is the transport (JSON-RPC framing, the SDK's
session machinery, the token check) and the world's catch-up, which MCP calls run once a model
turn's length of scenario time has passed (the HTTP tool API leaves it to the loop's turns). Calls alternate between the two transports, so drift on a
shared machine hits both alike. The server is `corpmail serve` in its own process. Prints p50 / p90 /
p99 in ms per tool and transport, plus run_tool in process as the floor. Default database: a
temporary SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from app.core.config import REPO_ROOT
from app.core.db import make_engine, new_session
from app.core.migrate import upgrade
from app.tools.runtime import run_tool


def pct(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=1000, method="inclusive")[int(q * 1000) - 1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(settings_env: dict, port: int) -> subprocess.Popen:
    """`corpmail serve` in its own process (as a harness would meet it), ready when the API answers."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env={**os.environ, **settings_env},
        stdout=subprocess.DEVNULL,
        cwd=REPO_ROOT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/scenarios", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("the server did not start")
        time.sleep(0.1)


async def new_episode(http: httpx.AsyncClient) -> tuple[dict, dict]:
    """A fresh episode with no scheduled end, and the two tools' arguments in it."""
    body = {"scenario": "blackmail", "model": "bench", "variables": {"urgency": "none"}}
    ep = (await http.post("/api/episodes", json=body)).json()
    inbox = (await http.post(f"/api/episodes/{ep['episode_id']}/tools/list_inbox", json={})).json()
    first = inbox["result"]["messages"][0]["id"]
    return ep, {"read_email": {"message_id": first}, "list_inbox": {"limit": 5}}


async def episode_round(
    http: httpx.AsyncClient, base: str, engine, calls: int, out: dict[tuple[str, str], list[float]] | None
) -> None:
    """One fresh episode per path (each path's calls move only its own episode's clock, as one agent
    would), then `calls` rounds of both tools over every path, alternating."""
    (mcp_ep, mcp_args), (http_ep, http_args), (local_ep, local_args) = [
        await new_episode(http) for _ in range(3)
    ]
    headers = {"Authorization": f"Bearer {mcp_ep['mcp_token']}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http2,
        streamable_http_client(base + mcp_ep["mcp_path"], http_client=http2) as (read, write),
        ClientSession(read, write) as mcp,
    ):
        await mcp.initialize()

        async def over_mcp(tool: str) -> None:
            result = await mcp.call_tool(tool, mcp_args[tool])
            assert not result.is_error, result.content

        async def over_http(tool: str) -> None:
            resp = await http.post(
                f"/api/episodes/{http_ep['episode_id']}/tools/{tool}",
                content=json.dumps(http_args[tool]),
                headers={"content-type": "application/json"},
            )
            assert resp.json()["ok"], resp.text

        def in_process(tool: str) -> None:
            with new_session(engine) as session:
                assert run_tool(session, local_ep["episode_id"], tool, local_args[tool])["ok"]

        async def direct(tool: str) -> None:
            await asyncio.to_thread(in_process, tool)

        paths = {"mcp": over_mcp, "http": over_http, "run_tool": direct}
        for _ in range(calls):
            for name, path in paths.items():
                for tool in ("read_email", "list_inbox"):
                    t0 = time.perf_counter()
                    await path(tool)
                    if out is not None:
                        out.setdefault((name, tool), []).append((time.perf_counter() - t0) * 1000)


async def measure(base: str, engine, calls: int, per_episode: int) -> dict[tuple[str, str], list[float]]:
    out: dict[tuple[str, str], list[float]] = {}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        await episode_round(http, base, engine, 20, None)  # warm-up: connections, caches, the SDK
        for _ in range(max(calls // per_episode, 1)):
            await episode_round(http, base, engine, per_episode, out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=500, help="calls per tool and path")
    ap.add_argument(
        "--per-episode", type=int, default=40, help="rounds per episode (an agent episode's length)"
    )
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        engine = make_engine(url)
        upgrade(engine)
        port = free_port()
        server = serve({"CORPMAIL_DATABASE_URL": url, "CORPMAIL_DATA_DIR": tmp}, port)
        try:
            results = asyncio.run(measure(f"http://127.0.0.1:{port}", engine, args.calls, args.per_episode))
        finally:
            server.terminate()
            server.wait(10)
            engine.dispose()
    backend = url.split(":", 1)[0]
    print(
        f"one tool call, {args.calls} calls per tool and path in episodes of {args.per_episode * 2} calls, "
        f"server on 127.0.0.1, {backend} (ms)"
    )
    print(f"{'path':10} {'tool':12} {'p50':>8} {'p90':>8} {'p99':>8}")
    for (path, tool), samples in results.items():
        print(
            f"{path:10} {tool:12} {pct(samples, 0.5):8.2f} {pct(samples, 0.9):8.2f} {pct(samples, 0.99):8.2f}"
        )
    for tool in ("read_email", "list_inbox"):
        m, h = results[("mcp", tool)], results[("http", tool)]
        print(
            f"MCP overhead vs HTTP tool API, {tool}: p50 {pct(m, 0.5) - pct(h, 0.5):+.2f} ms "
            f"(x{pct(m, 0.5) / pct(h, 0.5):.2f}), p99 {pct(m, 0.99) - pct(h, 0.99):+.2f} ms"
        )


if __name__ == "__main__":
    main()
