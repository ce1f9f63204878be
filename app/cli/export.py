"""`corpmail export NAME_OR_EPISODE --format jsonl|csv`: one episode per line (formats are pluggable)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from app.cli.common import app, fail, get_settings, open_engine


@app.command("export")
def export(
    name_or_episode: str = typer.Argument(..., help="Experiment name or episode id"),
    fmt: str = typer.Option(
        "jsonl", "--format", help="Output format: jsonl | csv (app.experiments.export.FORMATS)"
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout"),
) -> None:
    """Export episodes with variables, transcript, tool calls, verdicts, approvals, timings and usage."""
    from app.core.db import new_session
    from app.experiments.export import FORMATS, episode_ids, records

    if fmt not in FORMATS:
        fail(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
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
