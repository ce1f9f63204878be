"""`corpmail experiment run | report | list`: grids of episodes, resumable, with statistics."""

from __future__ import annotations

import asyncio
import json
import sys
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
) -> None:
    """Run (or resume) an experiment: completed trials are skipped, errored and lost ones re-run."""
    from app.core.db import new_session
    from app.experiments import store
    from app.experiments.config import ConfigError
    from app.experiments.runner import MaxErrorsReached, Runner
    from app.services import trials as trial_store

    try:
        settings, config, grid, trials = _prepare(file)
    except UsageProblem as exc:
        fail(str(exc))
    if concurrency:
        config = config.model_copy(update={"concurrency": concurrency})
    engine = open_engine(settings)
    try:
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
