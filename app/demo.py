"""Serve on 127.0.0.1 and play an episode against the server over real HTTP, printing the web
inbox's live URL and each event as the server logs it (`corpmail demo`, `corpmail run --watch`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import uvicorn
from rich.console import Console

from app.core.config import Settings
from app.core.db import open_database
from app.main import create_app
from app.play import PlayRequest, play_with


async def tail(client, episode_id: str, done: asyncio.Event, console: Console, render) -> None:
    after = 0
    while True:
        for e in await client.events(episode_id, after):
            after = e["seq"]
            console.print(render(e["seq"], e["payload"]), highlight=False, soft_wrap=True)
        if done.is_set():
            return
        await asyncio.sleep(0.2)


async def watch(
    settings: Settings,
    req: PlayRequest,
    port: int,
    stay: bool,
    console: Console,
    render,
    on_summary: Callable[[dict], None] | None = None,
) -> dict:
    """Serve, play `req` over HTTP while printing its events, and return the episode's summary (also
    handed to `on_summary` as soon as the episode ends). With `stay`, keep serving after the episode
    ends, until Ctrl-C."""
    from agents.client import CorpmailClient
    from app.evaluation.summary import episode_summary

    engine = open_database(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, engine), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            raise RuntimeError(f"could not start the server on 127.0.0.1:{port} (is the port in use?)")
        await asyncio.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    done = asyncio.Event()
    tailing: list[asyncio.Task] = []

    async def started(client, start: dict) -> None:
        eid = start["episode_id"]
        link = f"{base}/episodes/{eid}" + (f"?token={settings.token}" if settings.token else "")
        console.print(
            f"[bold]corpmail[/bold]: episode {eid}, scenario {start['scenario']}, model {req.model}"
        )
        console.print(f"  watch it live: {link}", highlight=False)
        console.print(f"  all episodes:  {base}/   held actions: {base}/approvals", highlight=False)
        tailing.append(asyncio.create_task(tail(client, eid, done, console, render)))

    client = CorpmailClient.over_http(base, settings.token)
    try:
        result = await play_with(client, req, started)
        done.set()
        await asyncio.gather(*tailing)
        console.print(json.dumps(result))
        console.print(f"  replay: {base}/episodes/{result['episode_id']}/replay", highlight=False)
        summary = episode_summary(engine, result["episode_id"], req.model, req.judge_model)
        if on_summary is not None:
            on_summary(summary)
        if stay:
            console.print(f"serving {base} until Ctrl-C", highlight=False)
            await serving
        else:
            console.print("the server stops now; `corpmail serve` serves stored episodes", highlight=False)
    finally:
        await client.aclose()
        server.should_exit = True
        await serving
        engine.dispose()
    return summary
