"""The demo: serve the API on 127.0.0.1 and play a scripted episode against it over real HTTP,
slowly enough to follow, printing each event as the server logs it."""
from __future__ import annotations

import asyncio
import json

import uvicorn
from rich.console import Console

from app.core.config import Settings
from app.main import create_app


async def tail(client, episode_id: str, done: asyncio.Event, console: Console, render) -> None:
    after = 0
    while True:
        for e in await client.events(episode_id, after):
            after = e["seq"]
            console.print(render(e["seq"], e["payload"]), highlight=False, soft_wrap=True)
        if done.is_set():
            return
        await asyncio.sleep(0.2)


async def demo(settings: Settings, scenario: str, model: str, pace: float, port: int, stay: bool,
               console: Console, render) -> dict:
    from agents.client import CorpmailClient
    from agents.loop import Limits, run_episode

    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            raise RuntimeError(f"could not start the server on 127.0.0.1:{port}")
        await asyncio.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    client = CorpmailClient.over_http(base, settings.token)
    start = await client.create_episode(scenario, model)
    eid = start["episode_id"]
    console.print(f"[bold]corpmail demo[/bold]: episode {eid}, scenario {start['scenario']}, model {model}")
    console.print(f"  events (live): {base}/api/episodes/{eid}/events   API docs: {base}/docs", highlight=False)
    done = asyncio.Event()
    tailing = asyncio.create_task(tail(client, eid, done, console, render))
    result = await run_episode(client, start, model, Limits(pace=pace))
    done.set()
    await tailing
    console.print(json.dumps(result))
    if stay:
        console.print(f"serving {base} until Ctrl-C", highlight=False)
        await serving
    else:
        server.should_exit = True
        await serving
    await client.aclose()
    return result
