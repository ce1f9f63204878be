"""`corpmail episodes reap`: finish episodes whose player stopped sending heartbeats (runner lost)."""

from __future__ import annotations

import json
import sys

import typer

from app.cli.common import app, get_settings, open_engine, out

episodes_app = typer.Typer(no_args_is_help=True, help="Episode housekeeping.")
app.add_typer(episodes_app, name="episodes")


@episodes_app.command("reap")
def reap(
    lease: float | None = typer.Option(
        None, "--lease", min=0.001, help="Seconds without a heartbeat (default: CORPMAIL_LEASE_SECONDS)"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list the stale episodes"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON list of episode ids"),
) -> None:
    """Mark open episodes whose lease expired as `errored: runner lost`."""
    from app.core.db import new_session
    from app.services import leases

    settings = get_settings()
    engine = open_engine(settings)
    with new_session(engine) as s:
        seconds = lease or settings.lease_seconds
        ids = leases.stale_ids(s, seconds) if dry_run else leases.reap(s, seconds)
    engine.dispose()
    if as_json:
        sys.stdout.write(json.dumps(ids) + "\n")
        return
    verb = "stale" if dry_run else "marked errored (runner lost)"
    out.print(f"{len(ids)} episode(s) {verb}" + (": " + ", ".join(ids) if ids else ""), highlight=False)
