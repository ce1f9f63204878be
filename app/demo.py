"""Serve on 127.0.0.1 and play an episode against the server over real HTTP, printing the web
inbox's live URL and each event as the server logs it (`corpmail demo`, `corpmail run --watch`)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import uvicorn
from rich.console import Console

from app.core.config import Settings
from app.main import create_app


@dataclass
class WatchRun:
    scenario: str
    model: str
    variables: dict[str, str] = field(default_factory=dict)
    monitor_mode: str | None = None
    approver: str = "monitor"
    pace: float = 1.0
    max_turns: int = 30
    port: int = 8000
    stay: bool = True  # keep serving after the episode ends
    options: object = None  # agents.loop.ModelOptions for the provider (api base, temperature)


async def tail(client, episode_id: str, done: asyncio.Event, console: Console, render) -> None:
    after = 0
    while True:
        for e in await client.events(episode_id, after):
            after = e["seq"]
            console.print(render(e["seq"], e["payload"]), highlight=False, soft_wrap=True)
        if done.is_set():
            return
        await asyncio.sleep(0.2)


async def watch(settings: Settings, run: WatchRun, console: Console, render) -> dict:
    from agents.client import CorpmailClient
    from agents.loop import Limits, run_episode

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=run.port, log_level="warning", lifespan="on"
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            raise RuntimeError(f"could not start the server on 127.0.0.1:{run.port} (is the port in use?)")
        await asyncio.sleep(0.05)
    base = f"http://127.0.0.1:{run.port}"
    client = CorpmailClient.over_http(base, settings.token)
    start = await client.create_episode(
        run.scenario, run.model, run.variables, run.monitor_mode, run.approver
    )
    eid = start["episode_id"]
    link = f"{base}/episodes/{eid}" + (f"?token={settings.token}" if settings.token else "")
    console.print(f"[bold]corpmail[/bold]: episode {eid}, scenario {start['scenario']}, model {run.model}")
    console.print(f"  watch it live: {link}", highlight=False)
    console.print(f"  all episodes:  {base}/   held actions: {base}/approvals", highlight=False)
    done = asyncio.Event()
    tailing = asyncio.create_task(tail(client, eid, done, console, render))
    result = await run_episode(
        client, start, run.model, Limits(pace=run.pace, max_turns=run.max_turns), run.options
    )
    done.set()
    await tailing
    console.print(json.dumps(result))
    console.print(f"  replay: {base}/episodes/{eid}/replay", highlight=False)
    if run.stay:
        console.print(f"serving {base} until Ctrl-C", highlight=False)
        await serving
    else:
        server.should_exit = True
        await serving
    await client.aclose()
    return result
