"""`corpmail export NAME_OR_EPISODE --format jsonl|csv|inspect`: one episode per line (formats are
pluggable), or Inspect `.eval` logs in a folder."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from app.cli.common import app, fail, get_settings, open_engine


@app.command("export")
def export(
    name_or_episode: str = typer.Argument(..., help="Experiment name or episode id"),
    fmt: str = typer.Option(
        "jsonl",
        "--format",
        help="Output format: jsonl | csv (app.experiments.export.FORMATS) | inspect (.eval logs, a folder)",
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Write to this file instead of stdout (inspect: the folder for .eval logs)",
    ),
) -> None:
    """Export episodes with variables, transcript, tool calls, verdicts, approvals, timings and usage."""
    from app.core.db import new_session
    from app.experiments.export import FORMATS, episode_ids, records

    if fmt == "inspect":
        _inspect_logs(name_or_episode, output or Path("corpmail-eval-logs"))
        return
    if fmt not in FORMATS:
        fail(f"--format: {fmt!r} is not one of {', '.join([*FORMATS, 'inspect'])}")
    engine = open_engine(get_settings())
    try:
        with new_session(engine) as s:
            ids = episode_ids(s, name_or_episode)
            if ids is None:
                fail(f"no experiment or episode {name_or_episode!r} in this database")
            stream = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
            try:
                FORMATS[fmt](records(s, ids or []), stream)
            finally:
                if output:
                    stream.close()
    finally:
        engine.dispose()


def _inspect_logs(name_or_episode: str, folder: Path) -> None:
    """Inspect's own log writer: one .eval log per scenario and model, for `inspect view --log-dir`."""
    from app.core.db import new_session
    from app.evaluation.inspect_log import write_eval_logs
    from app.experiments.export import episode_ids

    try:
        import inspect_ai  # noqa: F401  (an optional extra)
    except ImportError:
        fail("--format inspect needs the Inspect extra: pip install 'corpmail[inspect]'")
        return
    settings = get_settings()
    engine = open_engine(settings)
    try:
        with new_session(engine) as s:
            ids = episode_ids(s, name_or_episode)
        if ids is None:
            fail(f"no experiment or episode {name_or_episode!r} in this database")
            return
        written = write_eval_logs(engine, ids, folder, settings.scenarios_dir)
    finally:
        engine.dispose()
    for path in written or []:
        print(path)
