"""Every combination of a scenario's variables, split into those its constraints allow and refuse."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from app.scenarios.loader import ScenarioError
from app.scenarios.render import resolve_variables
from app.scenarios.schema import Scenario


def all_combinations(scenario: Scenario) -> Iterator[dict[str, str]]:
    names = list(scenario.variables)
    for values in itertools.product(*(scenario.variables[n].choices for n in names)):
        yield dict(zip(names, values, strict=True))


def split(scenario: Scenario) -> tuple[list[dict[str, str]], list[tuple[dict[str, str], str]]]:
    """(allowed combinations, [(refused combination, reason)])."""
    allowed, refused = [], []
    for combo in all_combinations(scenario):
        try:
            resolve_variables(scenario, combo)
            allowed.append(combo)
        except ScenarioError as exc:
            refused.append((combo, str(exc)))
    return allowed, refused
