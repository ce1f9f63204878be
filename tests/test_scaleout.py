"""Scale-out (issue 13): trials queued in PostgreSQL (procrastinate) and played by worker processes, one of
them killed outright, every trial completed exactly once; `run --workers N` on both databases; live views
woken across processes by LISTEN/NOTIFY."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, text

from app.core.config import Settings
from app.core.db import new_session
from app.main import create_app
from app.models import Episode, Experiment
from app.services import trials as trial_store
from tests.experiment_support import unique
from tests.web_support import LiveServer

CORPMAIL = str(Path(sys.executable).parent / "corpmail")


def _postgres_only(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the task queue and LISTEN/NOTIFY are PostgreSQL's")


def _env(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "CORPMAIL_DATABASE_URL": db_url,
        "CORPMAIL_DATA_DIR": str(tmp_path),
        "CORPMAIL_AUTO_MIGRATE": "false",  # the test database is at head; workers never migrate
        **extra,
    }


def _cli(args: list[str], env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([CORPMAIL, *args], env=env, capture_output=True, text=True, timeout=timeout)


def _grid(name: str, samples: int, **extra) -> dict:
    """2 scenarios × 3 conditions × 2 models × `samples`."""
    return {
        "name": name,
        "scenarios": ["blackmail", "leaking"],
        "variables": {"urgency": ["replacement", "restriction", "none"]},
        "models": ["scripted/blackmail", "scripted/benign"],
        "samples": samples,
        "max_turns": 12,
        **extra,
    }


def _exactly_once(engine, name: str, total: int) -> list:
    """Every trial completed, with exactly one finished episode (the one it names); any earlier
    attempt is an errored episode (runner lost)."""
    with new_session(engine) as s:
        rows = trial_store.trial_rows(s, name)
        ids = [a for r in rows for a in r.attempts]
        eps = {e.id: e for e in s.execute(select(Episode).where(Episode.id.in_(ids))).scalars()}  # type: ignore[attr-defined]
    assert len(rows) == total and {r.status for r in rows} == {"completed"}
    for r in rows:
        finished = [a for a in r.attempts if eps[a].status != "errored"]
        assert finished == [r.episode_id], (r.id, [(a, eps[a].status) for a in r.attempts])
        assert all(eps[a].error == "runner lost" for a in r.attempts if a != r.episode_id)
        assert r.result["episode_id"] == r.episode_id
    return rows


def test_three_workers_complete_a_grid_exactly_once_while_one_is_killed(engine, db_url, tmp_path):
    _postgres_only(db_url)
    name = unique("scale")
    file = tmp_path / "grid.yaml"
    file.write_text(yaml.safe_dump(_grid(name, samples=25)))  # 300 trials
    env = _env(db_url, tmp_path, CORPMAIL_LEASE_SECONDS="5")  # worker heartbeats every 1.25 s, lost after 5 s
    sub = _cli(["experiment", "submit", str(file), "--json"], env)
    assert sub.returncode == 0, sub.stderr
    assert json.loads(sub.stdout)["queued"] == 300

    logs = [tmp_path / f"worker{i}.log" for i in range(3)]
    workers = [
        subprocess.Popen(
            [CORPMAIL, "experiment", "worker", "--drain", "--concurrency", "4"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        for log in logs
    ]
    try:
        victim, held = None, set()
        deadline = time.monotonic() + 240
        while victim is None:  # mid-run: a third done, and a worker that holds trials right now
            assert time.monotonic() < deadline and all(w.poll() is None for w in workers)
            with new_session(engine) as s:
                if trial_store.counts(s, name)["completed"] >= 100:
                    rows = trial_store.trial_rows(s, name)
                    for w in workers:
                        held = {r.id for r in rows if r.status == "running" and f":{w.pid}:" in r.claimed_by}
                        if held:
                            victim = w
                            break
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        survivors = [w for w in workers if w is not victim]
        for w in survivors:  # --drain: they exit once the queue, the killed worker's jobs included, is empty
            w.wait(timeout=max(1, deadline - time.monotonic()))
            assert w.returncode == 0, logs[workers.index(w)].read_text()[-2000:]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()

    rows = _exactly_once(engine, name, 300)
    redone = [r for r in rows if r.id in held]
    assert redone and all(r.status == "completed" for r in redone)
    with engine.connect() as conn:
        jobs = conn.execute(
            text("SELECT status, attempts FROM procrastinate_jobs WHERE args->>'experiment' = :n"),
            {"n": name},
        ).all()
    assert len(jobs) == 300 and {j.status for j in jobs} == {"succeeded"}
    assert sum(1 for j in jobs if j.attempts > 0) >= len(held)  # the killed worker's jobs were queued again
    status = _cli(["experiment", "status", name, "--json"], env)
    counts = json.loads(status.stdout)
    assert {k: counts[k] for k in ("pending", "running", "completed", "errored")} == {
        "pending": 0,
        "running": 0,
        "completed": 300,
        "errored": 0,
    }


def test_submit_queues_each_trial_once_and_refuses_sqlite(engine, db_url, tmp_path):
    name = unique("queued")
    file = tmp_path / "grid.yaml"
    file.write_text(yaml.safe_dump(_grid(name, samples=1)))
    env = _env(db_url, tmp_path)
    if not db_url.startswith("postgresql"):
        for args in (["experiment", "submit", str(file)], ["experiment", "worker"]):
            done = _cli(args, env)
            assert done.returncode == 2 and "PostgreSQL" in done.stderr and "Traceback" not in done.stderr
            assert len(done.stderr.strip().splitlines()) == 1 and "CORPMAIL_DATABASE_URL" in done.stderr
        return
    first = json.loads(_cli(["experiment", "submit", str(file), "--json"], env).stdout)
    again = json.loads(_cli(["experiment", "submit", str(file), "--json"], env).stdout)
    assert (first["queued"], first["new"], again["queued"], again["already_queued"], again["new"]) == (
        12,
        12,
        0,
        12,
        0,
    )
    status = _cli(["experiment", "status", name, "--json"], env)
    counts = json.loads(status.stdout)
    assert {"pending", "running", "completed", "errored"} <= set(counts) and counts["pending"] == 12
    plain = _cli(["experiment", "status", name], env)
    assert "pending 12" in plain.stdout
    drained = _cli(["experiment", "worker", "--drain", "--concurrency", "6"], env, timeout=300)
    assert drained.returncode == 0, drained.stderr[-2000:]
    assert json.loads(_cli(["experiment", "status", name, "--json"], env).stdout)["completed"] == 12
    with new_session(engine) as s:
        assert s.get(Experiment, name).status == "done"  # the worker that played the last trial said so
    resubmit = json.loads(_cli(["experiment", "submit", str(file), "--json"], env).stdout)
    assert resubmit["queued"] == 0 and resubmit["completed"] == 12  # completed trials are not queued again
    _exactly_once(engine, name, 12)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["experiment", "worker", "--database-url", "nonsense://x"], "--database-url"),
        (["experiment", "worker", "--concurrency", "0"], "--concurrency"),
        (["experiment", "status", "no-such-experiment"], "no experiment"),
        (["experiment", "run", "x.yaml", "--workers", "0"], "--workers"),
    ],
)
def test_bad_queue_input_is_one_line(db_url, tmp_path, args, needle):
    done = _cli(args, _env(db_url, tmp_path))
    assert done.returncode == 2 and needle in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_run_with_two_processes_completes_exactly_once(engine, db_url, tmp_path):
    """PostgreSQL: submit + two draining workers; SQLite: two runners sharing the file's claims."""
    name = unique("procs")
    file = tmp_path / "grid.yaml"
    file.write_text(yaml.safe_dump(_grid(name, samples=2, concurrency=3)))
    done = _cli(["experiment", "run", str(file), "--workers", "2", "--json"], _env(db_url, tmp_path), 300)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert (summary["completed"], summary["errored"], summary["workers"]) == (24, 0, 2)
    rows = _exactly_once(engine, name, 24)
    claimers = {r.claimed_by.split(":")[1] for r in rows}
    assert len(claimers) == 2  # both processes played trials


def test_events_from_another_process_reach_a_live_stream_without_polling(settings, engine, db_url, tmp_path):
    """With the re-read interval at a minute, only NOTIFY → LISTEN can deliver another process's events."""
    _postgres_only(db_url)
    from app.events import bus, listen
    from tests.test_live_api import _sse

    slow_poll = Settings(**{**settings.model_dump(), "stream_poll_seconds": 60})
    with LiveServer(create_app(slow_poll, engine), lifespan="on") as server, server.client() as http:
        deadline = time.monotonic() + 10
        while not listen.listening and time.monotonic() < deadline:
            time.sleep(0.02)
        assert listen.listening, "the web app never started listening"
        eid = http.post("/api/episodes", json={"scenario": "blackmail", "model": "m"}).json()["episode_id"]
        after = http.get(f"/api/episodes/{eid}").json()["event_count"]
        seen: list = []
        reader = threading.Thread(
            target=lambda: seen.extend(_sse(http, f"/api/episodes/{eid}/stream?after={after}", 1))
        )
        reader.start()
        while not bus.waiting(eid) and time.monotonic() < deadline:  # the stream is idle, waiting
            time.sleep(0.01)
        assert bus.waiting(eid), "the stream never started waiting"
        started = time.monotonic()
        other = _cli(["episode", "finish", eid, "--status", "completed"], _env(db_url, tmp_path))
        assert other.returncode == 0, other.stderr
        reader.join(15)
        assert seen and seen[0]["data"]["seq"] == after + 1
        assert time.monotonic() - started < 15  # well before the 60 s re-read
    kinds = [e["data"]["kind"] for e in seen]
    assert kinds[0] in ("awareness", "episode_finished")


def test_a_trial_claimed_again_is_not_lost_while_its_new_episode_starts(session):
    """A trial re-claimed after a lost attempt still names that attempt's (long silent) episode until
    the new runner's episode starts: the fresh claim is the runner's sign of life, so recovery leaves
    the trial to it (two runners would otherwise play it, both to completion). Once the claim is as
    old as the lease with no newer sign of life, the trial is recovered."""
    from datetime import timedelta

    from sqlalchemy import update

    from app.models import Trial, utcnow
    from app.services import episodes

    name, tid = unique("reclaim"), unique("t")[:32]
    row = {"id": tid, "experiment": name, "cell": "c", "scenario": "blackmail", "scenario_hash": "h"}
    trial_store.insert(session, name, {}, {}, [{**row, "variables": {}, "model": "m", "sample": 0}])
    old = episodes.create_episode(session, "blackmail", {}, "scripted/benign", Settings().scenarios_dir).id
    trial_store.attach(session, tid, old)
    hour_ago = utcnow() - timedelta(hours=1)
    session.execute(
        update(Episode).where(Episode.id == old).values(heartbeat_at=hour_ago, created_at=hour_ago)
    )  # type: ignore[arg-type]
    episodes.finish(session, old, "errored", 0, "runner lost", {})  # the lost attempt
    session.execute(update(Trial).where(Trial.id == tid).values(status="errored"))  # type: ignore[arg-type]
    session.commit()

    me = trial_store.runner_id()  # this process: alive
    assert trial_store.claim(session, tid, me)
    assert trial_store.recover(session, name, lease=5) == 0
    again = session.get(Trial, tid, populate_existing=True)
    assert again is not None and (again.status, again.claimed_by, again.episode_id) == ("running", me, old)

    session.execute(update(Trial).where(Trial.id == tid).values(claimed_at=hour_ago))  # type: ignore[arg-type]
    session.commit()
    assert trial_store.recover(session, name, lease=5) == 1  # no sign of life within the lease
