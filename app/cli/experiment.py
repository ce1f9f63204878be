"""`corpmail experiment run | submit | status | worker | report | list`: grids of episodes, resumable,
with statistics; run in one process, in N local processes, or queued for workers anywhere."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

import typer

from app.cli.common import UsageProblem, app, check_model, err, fail, get_settings, open_engine, out

experiment_app = typer.Typer(no_args_is_help=True, help="Experiments: grids of episodes, reports.")
app.add_typer(experiment_app, name="experiment")


def _prepare(file: Path):
    """Config, grid and trials, or one line naming the problem."""
    from app.experiments.config import ConfigError, load_config
    from app.experiments.grid import expand, trials

    settings = get_settings()
    try:
        config = load_config(file)
    except ConfigError as exc:
        raise UsageProblem(str(exc)) from None
    try:
        grid = expand(config, settings.scenarios_dir)
    except ConfigError as exc:
        raise UsageProblem(f"{file}: {exc}") from None
    if not grid.cells:
        reason = grid.refused[0][2] if grid.refused else "no scenario"
        raise UsageProblem(
            f"{file}: variables: every cell is refused by the scenarios' constraints ({reason})"
        )
    folders = {c.scenario: c.folder for c in grid.cells}
    for i, m in enumerate(config.models):
        for folder in folders.values():
            try:
                check_model(
                    m.model, Path(folder), need_keys=not (m.api_base or m.api_key_env), option=f"models[{i}]"
                )
            except UsageProblem as exc:
                raise UsageProblem(f"{file}: {exc}") from None
    if config.judge_model:
        check_model(config.judge_model, None, option="judge_model")
    return settings, config, grid, trials(config, grid)


def _progress_display(total: int):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("[bold]trials"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "running {task.fields[running]}  errored {task.fields[errored]}  "
            "flagged {task.fields[flagged]}  harmful {task.fields[harmful]}"
        ),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )
    task = bar.add_task("run", total=total, running=0, errored=0, flagged=0, harmful=0)

    def update(p) -> None:
        bar.update(
            task,
            completed=p.done + p.errored,
            running=p.running,
            errored=p.errored,
            flagged=p.flagged,
            harmful=p.harmful,
        )

    return bar, update


@experiment_app.command("run")
def run(
    file: Path = typer.Argument(..., help="Experiment file (YAML)"),
    max_errors: int | None = typer.Option(
        None, "--max-errors", min=1, help="Stop the run once this many trials errored (exit 3)"
    ),
    concurrency: int | None = typer.Option(
        None, "--concurrency", min=1, help="Episodes at once (default: the file's)"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object at the end; no progress bar"),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        max=64,
        help="Local processes (each plays up to --concurrency episodes). PostgreSQL: submit, then N queue "
        "workers until the queue is drained; SQLite: N runners sharing the file's atomic trial claims",
    ),
) -> None:
    """Run (or resume) an experiment: completed trials are skipped, errored and lost ones re-run."""
    from app.core.db import new_session
    from app.experiments.runner import MaxErrorsReached, Runner
    from app.services import trials as trial_store

    try:
        settings, config, grid, trials = _prepare(file)
    except UsageProblem as exc:
        fail(str(exc))
    if concurrency:
        config = config.model_copy(update={"concurrency": concurrency})
    engine = open_engine(settings)
    if workers > 1:
        try:
            with contextlib.ExitStack() as stack:
                logs = [stack.enter_context(tempfile.TemporaryFile()) for _ in range(workers)]
                _run_processes(file, settings, engine, config, grid, trials, logs, max_errors, as_json)
        finally:
            engine.dispose()
        return
    try:
        _record(engine, config, grid, trials, as_json)
        bar, update = _progress_display(len(trials)) if not as_json else (None, None)
        runner = Runner(settings, engine, config, update)
        stopped = None
        try:
            if bar:
                with bar:
                    progress = asyncio.run(runner.run(trials, max_errors))
            else:
                progress = asyncio.run(runner.run(trials, max_errors))
        except MaxErrorsReached as exc:
            stopped, progress = str(exc), runner.progress
        with new_session(engine) as s:
            counts = trial_store.counts(s, config.name)
    finally:
        engine.dispose()
    summary = {
        "experiment": config.name,
        "trials": len(trials),
        **counts,
        "stopped": stopped,
        "limit_decreases": sum(lim.decreases for lim in runner.limiters.values()),
        "seconds": round(time.monotonic() - progress.started, 2),
    }
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        out.print(
            f"{config.name}: {counts['completed']} completed, {counts['errored']} errored, "
            f"{counts['pending'] + counts['running']} not run  —  report: corpmail experiment report {config.name}",
            highlight=False,
        )
    if stopped:
        err.print(
            f"error: {stopped}; check the provider (api_base, keys, quota), then run the file again to resume",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(3)


@experiment_app.command("report")
def report(
    name: str = typer.Argument(..., help="Experiment name"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON list of rows (cell, model, label)"),
    folder: Path | None = typer.Option(
        None, "--out", help="Folder for the files (default: DATA_DIR/reports/NAME)"
    ),
) -> None:
    """Rates with Wilson intervals, paired comparisons, plots: Markdown, PNG and HTML (or --json rows)."""
    from app.core.db import new_session
    from app.evaluation import report as reports

    settings = get_settings()
    engine = open_engine(settings)
    try:
        with new_session(engine) as s:
            try:
                built = reports.build(s, name)
            except reports.UnknownExperiment:
                fail(f"no experiment {name!r} in this database")
    finally:
        engine.dispose()
    if as_json:
        sys.stdout.write(json.dumps(built["rows"], default=str) + "\n")
        return
    files = reports.write(built, folder or settings.data_dir / "reports" / name)
    out.print(reports.markdown(built), highlight=False, markup=False)
    out.print("written: " + ", ".join(str(p) for p in files.values()), highlight=False, markup=False)


@experiment_app.command("list")
def list_experiments(as_json: bool = typer.Option(False, "--json", help="One JSON list")) -> None:
    """Experiments in this database with their trial counts."""
    from sqlalchemy import select

    from app.core.db import new_session
    from app.models import Experiment
    from app.services import trials as store

    engine = open_engine(get_settings())
    with new_session(engine) as s:
        rows = [
            {"name": e.name, "status": e.status, **store.counts(s, e.name)}
            for e in s.execute(select(Experiment).order_by(Experiment.name)).scalars()
        ]
    engine.dispose()
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    for r in rows:
        out.print(
            f"{r['name']}  {r['status']}  completed={r['completed']} errored={r['errored']} "
            f"running={r['running']} pending={r['pending']}",
            highlight=False,
        )


def _record(engine, config, grid, trials, as_json: bool) -> int:
    from app.core.db import new_session
    from app.experiments import store
    from app.experiments.config import ConfigError

    with new_session(engine) as s:
        try:
            new = store.record(s, config, grid, trials)
        except ConfigError as exc:
            fail(str(exc))
    if not as_json:
        err.print(
            f"experiment {config.name}: {len(grid.cells)} cells × {len(config.models)} models × "
            f"{config.samples} samples = {len(trials)} trials ({new} new); "
            f"{len(grid.refused)} cells refused by constraints",
            highlight=False,
        )
        for slug, combo, why in grid.refused[:5]:
            err.print(f"  refused {slug} {combo}: {why}", highlight=False, markup=False)
    return new


def _database_url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _run_processes(file, settings, engine, config, grid, trials, logs, max_errors, as_json) -> None:
    """`run --workers N`: N child processes play the trials; this one records, shows progress, counts.
    PostgreSQL: the trials are submitted to the queue and the children are `experiment worker --drain`.
    SQLite (no queue): the children are `experiment run FILE`, sharing the trials through the file's
    atomic claims. Errored trials of this run beyond --max-errors stop the children (exit 3)."""
    import os
    import signal
    import subprocess

    from app.core.db import new_session
    from app.models import utcnow
    from app.services import trials as trial_store

    started, t0, workers = utcnow(), time.monotonic(), len(logs)
    _record(engine, config, grid, trials, as_json)
    postgres = engine.dialect.name == "postgresql"
    base = [sys.executable, "-m", "app.cli", "experiment"]
    if postgres:
        from app.experiments import queue

        done = asyncio.run(queue.submit(engine, config.name, settings.lease_seconds))
        if not as_json:
            err.print(
                f"queued {done.queued} trials ({done.already} already queued); "
                f"{workers} local workers × {config.concurrency} episodes",
                highlight=False,
            )
        child = [*base, "worker", "--drain", "--concurrency", str(config.concurrency)]
    else:
        child = [*base, "run", str(file), "--json", "--concurrency", str(config.concurrency)]
    env = {**os.environ, "CORPMAIL_DATABASE_URL": _database_url(engine), "CORPMAIL_AUTO_MIGRATE": "false"}
    procs = [
        subprocess.Popen(child, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        for log in logs
    ]

    def errored_now() -> int:
        with new_session(engine) as s:
            return trial_store.errored_since(s, config.name, started)

    def counts() -> dict[str, int]:
        with new_session(engine) as s:
            return trial_store.counts(s, config.name)

    bar, update = _progress_display(len(trials)) if not as_json else (None, None)
    stopped = None
    try:
        if bar:
            bar.start()
        while any(p.poll() is None for p in procs):
            c, errored = counts(), errored_now()
            if update:
                update(_Seen(c["completed"], c["running"], errored))
            if max_errors is not None and errored >= max_errors and stopped is None:
                stopped = f"stopped after {errored} errored trials"
                for p in procs:
                    if p.poll() is None:
                        p.send_signal(signal.SIGTERM)
            time.sleep(0.5)
        c = counts()
        if update:
            update(_Seen(c["completed"], c["running"], errored_now()))
    except KeyboardInterrupt:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait()
        raise
    finally:
        if bar:
            bar.stop()
    failed = [(p.returncode, log) for p, log in zip(procs, logs, strict=True) if p.returncode not in (0, 3)]
    if stopped is not None and postgres:
        asyncio.run(queue.cancel_waiting(engine, config.name, settings.lease_seconds))
    with new_session(engine) as s:
        last = trial_store.last_error(s, config.name)
        trial_store.set_status(s, config.name, "stopped" if stopped else "done", stopped)
    summary = {
        "experiment": config.name,
        "trials": len(trials),
        **c,
        "stopped": stopped,
        "limit_decreases": None,  # per process; not gathered across processes
        "seconds": round(time.monotonic() - t0, 2),
        "workers": workers,
    }
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        out.print(
            f"{config.name}: {c['completed']} completed, {c['errored']} errored, "
            f"{c['pending'] + c['running']} not run ({workers} processes, {summary['seconds']} s)  —  "
            f"report: corpmail experiment report {config.name}",
            highlight=False,
        )
    if stopped:
        err.print(
            f"error: {stopped} (last: {last}); check the provider (api_base, keys, quota), then run the "
            "file again to resume",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(3)
    if failed and c["pending"] + c["running"]:
        code, log = failed[0]
        log.seek(0)
        lines = [x for x in log.read().decode(errors="replace").splitlines() if x.strip()]
        err.print(
            f"error: a worker process exited {code}: {lines[-1] if lines else 'no output'}",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(1)


class _Seen:
    """What the progress bar shows for a multi-process run (read from the trial rows)."""

    def __init__(self, done: int, running: int, errored: int):
        self.done, self.running, self.errored = done, running, errored
        self.flagged = self.harmful = 0


def _queue_engine(settings, option: str):
    """The engine, which must be PostgreSQL (the queue's home): else one line naming the option."""
    from app.errors import ConfigError
    from app.experiments import queue

    try:
        engine = open_engine(settings)
    except ConfigError as exc:
        fail(str(exc).replace("CORPMAIL_DATABASE_URL", option, 1))
    try:
        queue.conninfo(engine)
    except queue.NeedsPostgres as exc:
        engine.dispose()
        fail(f"{option}: {exc}")
    return engine


@experiment_app.command("submit")
def submit(
    file: Path = typer.Argument(..., help="Experiment file (YAML)"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object"),
) -> None:
    """Record an experiment's trials and queue them for `corpmail experiment worker` (PostgreSQL); runs
    nothing. Completed trials are not queued again, nor trials already waiting or running."""
    from app.experiments import queue

    try:
        settings, config, grid, trials = _prepare(file)
    except UsageProblem as exc:
        fail(str(exc))
    engine = _queue_engine(settings, "CORPMAIL_DATABASE_URL")
    try:
        new = _record(engine, config, grid, trials, as_json)
        done = asyncio.run(queue.submit(engine, config.name, settings.lease_seconds))
    finally:
        engine.dispose()
    if as_json:
        row = {"experiment": config.name, "trials": len(trials), "new": new, "queued": done.queued}
        sys.stdout.write(json.dumps({**row, "already_queued": done.already, **done.counts}) + "\n")
        return
    out.print(
        f"{config.name}: queued {done.queued} trials ({done.already} already queued, "
        f"{done.counts['completed']} completed)  —  progress: corpmail experiment status {config.name}",
        highlight=False,
    )


@experiment_app.command("status")
def status(
    name: str = typer.Argument(..., help="Experiment name"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object"),
) -> None:
    """Trial counts: pending, running, completed, errored."""
    from app.experiments import queue

    engine = open_engine(get_settings())
    try:
        counts = queue.status(engine, name)
    finally:
        engine.dispose()
    if counts is None:
        fail(f"no experiment {name!r} in this database")
        return
    if as_json:
        sys.stdout.write(json.dumps({"experiment": name, **counts, "total": sum(counts.values())}) + "\n")
        return
    out.print(
        f"{name}: pending {counts['pending']}  running {counts['running']}  "
        f"completed {counts['completed']}  errored {counts['errored']}",
        highlight=False,
    )


@experiment_app.command("worker")
def worker(
    database_url: str | None = typer.Option(
        None, "--database-url", help="PostgreSQL URL of the queue (default: CORPMAIL_DATABASE_URL)"
    ),
    concurrency: int = typer.Option(4, "--concurrency", min=1, max=1000, help="Episodes at once"),
    drain: bool = typer.Option(False, "--drain", help="Exit once no trial job is waiting or running"),
) -> None:
    """Play queued trials of any experiment until stopped (Ctrl-C / SIGTERM: running episodes get
    10 s to end, then go back to the queue). A worker killed outright loses nothing: its trials are
    queued again once its heartbeat is older than CORPMAIL_LEASE_SECONDS."""
    import logging

    from app.experiments import queue

    settings = get_settings()
    option = "CORPMAIL_DATABASE_URL"
    if database_url is not None:
        settings, option = settings.model_copy(update={"database_url": database_url}), "--database-url"
    engine = _queue_engine(settings, option)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger(queue.__name__).setLevel(logging.INFO)
    where = engine.url.render_as_string(hide_password=True)
    err.print(f"worker: {concurrency} episodes at once, queue {queue.QUEUE} at {where}", highlight=False)
    try:
        played = asyncio.run(queue.work(settings, engine, concurrency, drain))
    finally:
        engine.dispose()
    err.print(f"worker: stopped after {played} trials", highlight=False)
