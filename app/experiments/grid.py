"""Grid expansion: scenarios × the cartesian product of the variable lists, plus `include` cells,
minus `exclude` matches and minus the cells a scenario's constraints refuse; then trials with a
deterministic identity (experiment, cell, model, sample, scenario content hash)."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

from app.experiments.config import ConfigError, ExperimentConfig
from app.scenarios.loader import ScenarioError, load_scenario
from app.scenarios.render import resolve_variables


def digest(value: object, size: int = 16) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:size]


@dataclass(frozen=True)
class Cell:
    scenario: str  # slug
    folder: str
    variables: dict[str, str] = field(hash=False)  # as the experiment file sets them
    resolved: dict[str, str] = field(hash=False, compare=False)  # with the scenario's defaults

    @property
    def key(self) -> str:
        return digest({"scenario": self.scenario, "variables": self.variables})


@dataclass(frozen=True)
class Trial:
    """One unit of work. `id` depends only on what the trial is, so a queue can carry it and a
    rerun finds it again."""

    id: str
    experiment: str
    cell: str
    scenario: str
    folder: str
    scenario_hash: str
    variables: dict = field(hash=False)
    model: str  # the model's name in the experiment file
    sample: int


@dataclass
class Grid:
    cells: list[Cell]
    refused: list[tuple[str, dict[str, str], str]]  # (scenario, variables, reason)
    scenario_hashes: dict[str, str]  # slug -> content hash


def scenario_hash(scenario) -> str:
    """Content hash of a loaded scenario (its files, includes and emails merged)."""
    return digest(scenario.model_dump(mode="json"))


def _combos(variables: dict[str, list[str]]) -> list[dict[str, str]]:
    names = list(variables)
    return [dict(zip(names, vals, strict=True)) for vals in itertools.product(*variables.values())]


def _matches(combo: dict[str, str], pattern: dict[str, str]) -> bool:
    return all(combo.get(k) == v for k, v in pattern.items())


def expand(config: ExperimentConfig, scenarios_dir: Path) -> Grid:
    cells: list[Cell] = []
    refused: list[tuple[str, dict[str, str], str]] = []
    hashes: dict[str, str] = {}
    wanted = _combos(config.variables) + [c for c in config.include if c not in _combos(config.variables)]
    wanted = [c for c in wanted if not any(_matches(c, x) for x in config.exclude)]
    for i, ref in enumerate(config.scenarios):
        try:
            spec, folder = load_scenario(ref, scenarios_dir)
        except ScenarioError as exc:
            raise ConfigError(f"scenarios[{i}]: {exc}") from None
        if spec.slug in hashes:
            raise ConfigError(f"scenarios[{i}]: {spec.slug!r} is listed twice")
        hashes[spec.slug] = scenario_hash(spec)
        for combo in wanted:
            unknown = sorted(set(combo) - set(spec.variables))
            if unknown:
                raise ConfigError(f"variables.{unknown[0]}: scenario {spec.slug} has no such variable")
            for name, value in combo.items():
                if value not in spec.variables[name].choices:
                    choices = ", ".join(spec.variables[name].choices)
                    raise ConfigError(
                        f"variables.{name}: {value!r} is not one of {choices} (scenario {spec.slug})"
                    )
            try:
                resolved = resolve_variables(spec, combo)
            except ScenarioError as exc:
                refused.append((spec.slug, combo, str(exc)))
                continue
            cells.append(Cell(spec.slug, str(folder), combo, resolved))
    return Grid(cells, refused, hashes)


def trials(config: ExperimentConfig, grid: Grid) -> list[Trial]:
    """Every trial of the grid, in a fixed order (sample-major, so partial runs cover every cell)."""
    out = []
    for sample in range(config.samples):
        for cell in grid.cells:
            for m in config.models:
                h = grid.scenario_hashes[cell.scenario]
                tid = digest(
                    {
                        "experiment": config.name,
                        "cell": cell.key,
                        "model": m.label,
                        "sample": sample,
                        "scenario_hash": h,
                    },
                    24,
                )
                out.append(
                    Trial(
                        tid,
                        config.name,
                        cell.key,
                        cell.scenario,
                        cell.folder,
                        h,
                        cell.variables,
                        m.label,
                        sample,
                    )
                )
    return out
