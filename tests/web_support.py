"""A real server on a free loopback port, and a real headless Chromium, for the browser tests."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import uvicorn

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, app, port: int | None = None, lifespan: str = "off"):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan=lifespan)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)

    def client(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kw)


def play_over_http(
    base_url: str, scenario: str, model: str, variables: dict | None = None, timeout: float = 120
) -> str:
    """Play a whole episode through the real HTTP API, in a thread with its own event loop (callers
    here are synchronous: Playwright's sync API); returns the episode id."""
    import asyncio

    from agents.loop import Limits
    from app.play import PlayRequest, play_remote

    async def go() -> str:
        req = PlayRequest(scenario, model, variables or {}, approver="human", limits=Limits(max_turns=15))
        return (await play_remote(base_url, None, req))["episode_id"]

    box: dict = {}
    thread = threading.Thread(target=lambda: box.setdefault("id", asyncio.run(go())))
    thread.start()
    thread.join(timeout)
    return box["id"]
