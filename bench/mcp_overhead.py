"""Benchmark: the cost of one tool call over MCP (streamable HTTP, the official SDK's client session)
versus the HTTP tool API, against the same uvicorn server on loopback, in one run.

    .venv/bin/python bench/mcp_overhead.py [--calls 500] [--database-url URL]

Both paths end in the same run_tool; the difference is the transport (JSON-RPC framing, the SDK's
session machinery, the token check). Calls alternate between the two transports, so drift on a
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


async def measure(base: str, engine, calls: int) -> dict[tuple[str, str], list[float]]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        ep = (await http.post("/api/episodes", json={"scenario": "blackmail", "model": "bench"})).json()
        eid = ep["episode_id"]
        inbox = (await http.post(f"/api/episodes/{eid}/tools/list_inbox", json={})).json()
        tools = {
            "read_email": {"message_id": inbox["result"]["messages"][0]["id"]},
            "list_inbox": {"limit": 5},
        }
        headers = {"Authorization": f"Bearer {ep['mcp_token']}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http2,
            streamable_http_client(base + ep["mcp_path"], http_client=http2) as (read, write),
            ClientSession(read, write) as mcp,
        ):
            await mcp.initialize()

            async def over_http(tool: str, args: dict) -> None:
                resp = await http.post(
                    f"/api/episodes/{eid}/tools/{tool}",
                    content=json.dumps(args),
                    headers={"content-type": "application/json"},
                )
                assert resp.json()["ok"], resp.text

            async def over_mcp(tool: str, args: dict) -> None:
                result = await mcp.call_tool(tool, args)
                assert not result.is_error, result.content

            def in_process(tool: str, args: dict) -> None:
                with new_session(engine) as session:
                    assert run_tool(session, eid, tool, args)["ok"]

            async def direct(tool: str, args: dict) -> None:
                await asyncio.to_thread(in_process, tool, args)

            paths = {"mcp": over_mcp, "http": over_http, "run_tool": direct}
            for _ in range(30):  # warm-up: connections, statement caches, the SDK's session
                for path in paths.values():
                    for tool, args in tools.items():
                        await path(tool, args)
            out: dict[tuple[str, str], list[float]] = {(p, t): [] for p in paths for t in tools}
            for _ in range(calls):
                for name, path in paths.items():
                    for tool, args in tools.items():
                        t0 = time.perf_counter()
                        await path(tool, args)
                        out[(name, tool)].append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        engine = make_engine(url)
        upgrade(engine)
        port = free_port()
        server = serve({"CORPMAIL_DATABASE_URL": url, "CORPMAIL_DATA_DIR": tmp}, port)
        try:
            results = asyncio.run(measure(f"http://127.0.0.1:{port}", engine, args.calls))
        finally:
            server.terminate()
            server.wait(10)
            engine.dispose()
    backend = url.split(":", 1)[0]
    print(f"one tool call, {args.calls} calls per tool and path, server on 127.0.0.1, {backend} (ms)")
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
