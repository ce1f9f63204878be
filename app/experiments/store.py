"""Record an experiment's grid: its config, scenario versions and trials (rows written by
app.services.trials); a changed scenario is a one-line config error."""

from __future__ import annotations

from dataclasses import asdict

from sqlmodel import Session

from app.experiments.config import ConfigError, ExperimentConfig
from app.experiments.grid import Grid, Trial
from app.services import trials as trial_rows


def record(session: Session, config: ExperimentConfig, grid: Grid, trials: list[Trial]) -> int:
    """Insert the trials not yet recorded; returns how many were new."""
    fields = ("id", "experiment", "cell", "scenario", "scenario_hash", "variables", "model", "sample")
    rows = [{k: v for k, v in asdict(t).items() if k in fields} for t in trials]
    try:
        return trial_rows.insert(
            session, config.name, config.model_dump(mode="json"), grid.scenario_hashes, rows
        )
    except trial_rows.ScenarioChanged as exc:
        raise ConfigError(str(exc)) from None
