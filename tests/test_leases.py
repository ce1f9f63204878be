"""Episode leases: the player's heartbeats keep an episode live; a silent one shows as `stale` and
`corpmail episodes reap` finishes it as `errored: runner lost`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from agents.loop import Limits, ModelOptions
from app.core.db import new_session
from app.llm.fake_openai import FakeConfig, FakeOpenAI
from app.models import Episode, utcnow
from app.play import PlayRequest, play_in_process
from app.services import leases

CORPMAIL = str(Path(sys.executable).parent / "corpmail")


def _age(engine, episode_id: str, seconds: float) -> None:
    with new_session(engine) as s:
        s.execute(
            update(Episode)
            .where(Episode.id == episode_id)
            .values(heartbeat_at=utcnow() - timedelta(seconds=seconds))
        )
        s.commit()


async def test_a_silent_episode_is_stale_and_reaped(client, http, engine):
    start = await client.create_episode("blackmail", "scripted/benign", {})
    eid = start["episode_id"]
    assert start["lease_seconds"] > 0
    assert (await http.post(f"/api/episodes/{eid}/heartbeat")).json() == {"alive": True}
    listed = {e["id"]: e["status"] for e in (await http.get("/api/episodes?limit=1000")).json()}
    assert listed[eid] == "pending"
    _age(engine, eid, 3600)
    listed = {e["id"]: e["status"] for e in (await http.get("/api/episodes?status=stale&limit=1000")).json()}
    assert listed[eid] == "stale"
    with new_session(engine) as s:
        assert eid in leases.reap(s, 60.0)
        ep = s.get(Episode, eid)
        assert (ep.status, ep.error) == ("errored", "runner lost")
        assert eid not in leases.reap(s, 60.0)
    assert (await http.post(f"/api/episodes/{eid}/heartbeat")).json() == {"alive": False}


def test_reap_command_marks_stale_episodes(settings, engine, db_url, tmp_path):
    with new_session(engine) as s:
        from app.services.episodes import create_episode

        ep = create_episode(s, "blackmail", {}, "scripted/benign", settings.scenarios_dir)
    _age(engine, ep.id, 600)
    env = {**os.environ, "CORPMAIL_DATABASE_URL": db_url, "CORPMAIL_DATA_DIR": str(tmp_path)}
    dry = subprocess.run(
        [CORPMAIL, "episodes", "reap", "--lease", "300", "--dry-run", "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert dry.returncode == 0 and ep.id in json.loads(dry.stdout)
    done = subprocess.run(
        [CORPMAIL, "episodes", "reap", "--lease", "300", "--json"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0 and ep.id in json.loads(done.stdout)
    with new_session(engine) as s:
        assert s.get(Episode, ep.id).error == "runner lost"


def test_the_player_keeps_a_slow_episode_alive_with_heartbeats(settings, engine):
    """A model call longer than the lease: the heartbeat task, not the turns, keeps it from going stale."""
    quick = settings.model_copy(update={"lease_seconds": 0.4})
    seen: list[str] = []

    async def watch(_client, start) -> None:
        async def look():
            for _ in range(12):
                await asyncio.sleep(0.1)
                with new_session(engine) as s:
                    seen.append(leases.shown_status(s.get(Episode, start["episode_id"]), 0.4))

        asyncio.get_running_loop().create_task(look())

    with FakeOpenAI(FakeConfig(policy="silent", latency=1.2)) as fake:
        req = PlayRequest(
            "blackmail",
            "openai/silent",
            limits=Limits(max_turns=1, num_retries=0),
            options=ModelOptions(api_base=fake.url, api_key="local"),
        )
        # warm up: LiteLLM's first call through a provider imports its modules and blocks the loop for seconds
        asyncio.run(play_in_process(settings, engine, req))
        summary = asyncio.run(play_in_process(quick, engine, req, on_start=watch))
    assert summary["status"] == "no_action"
    assert len(seen) >= 8 and "stale" not in seen


async def test_a_turn_marks_the_episode_running_and_renews_its_lease(client, http, engine):
    """A turn is one statement on the episode row: pending becomes running, the lease is renewed, the
    clock moves by the scenario's turn length; a finished episode's turn is a 409, an unknown one a 404."""
    eid = (await client.create_episode("blackmail", "scripted/benign", {}))["episode_id"]
    _age(engine, eid, 3600)
    with new_session(engine) as s:
        before = s.get(Episode, eid)
        assert before is not None and before.status == "pending"
        clock0 = before.clock_seconds
    turn = {"kind": "model_turn", "turn": 1, "text": "hi", "tool_calls": [], "usage": {}}
    seq = (await http.post(f"/api/episodes/{eid}/turns", json={"event": turn})).json()["seq"]
    with new_session(engine) as s:
        ep = s.get(Episode, eid)
        assert ep is not None and (ep.status, ep.event_seq) == ("running", seq)
        assert not leases.is_stale(ep.status, ep.heartbeat_at, ep.created_at, 60.0)
        assert ep.clock_seconds > clock0  # the blackmail scenario's turns take time
        logged = [e for e in (await client.events(eid)) if e["seq"] == seq]
        assert logged[0]["kind"] == "model_turn" and logged[0]["actor"] == ep.agent_address
    notice = {"kind": "notice", "turn": 2, "text": "x"}
    assert (await http.post(f"/api/episodes/{eid}/turns", json={"event": notice})).status_code == 201
    await client.finish(eid, "completed", 2, None, {})
    late = await http.post(f"/api/episodes/{eid}/turns", json={"event": notice})
    assert late.status_code == 409 and "finished" in late.json()["detail"]
    for eid in ("0" * 32, "bad%00id"):  # unknown, and no id at all (never reaches the database)
        for path, body in (("turns", {"event": notice}), ("world/tick", {}), ("heartbeat", None)):
            missing = await http.post(f"/api/episodes/{eid}/{path}", json=body)
            assert missing.status_code == 404, (eid, path, missing.text)
