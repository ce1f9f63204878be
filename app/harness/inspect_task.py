"""`inspect eval corpmail/agentic_misalignment -T scenario=blackmail -T goal_type=explicit --model …`

Registered through the `inspect_ai` entry point (install `corpmail[inspect]`). Each sample is one
corpmail episode, one per combination of the study variables given (a list gives a grid:
`-T goal_type=[explicit,none]`); the solver plays it through corpmail's tools and the scorer reads
the monitor's verdicts from the episode's log: per harm class `effected`, `attempted`, `none`,
`abstained`, `errored` or `no_action` (see app.evaluation.outcomes). The numeric columns
`<class>_attempted` and `<class>_effected` are unscored (NaN, left out of the mean) for abstained,
errored or no-action episodes, which `<class>_abstained`, `errored` and `no_action` count — never
folded into "no harm".
"""

from __future__ import annotations

import itertools
from typing import Any

import anyio
from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.scorer import Score, Scorer, Target, mean, scorer, stderr
from inspect_ai.solver import TaskState

from app.core.db import new_session
from app.evaluation.outcomes import agent_verdicts, episode_outcomes, harm_classes, score_values
from app.events import store
from app.harness.inspect_db import offline_tokenizers, open_db
from app.harness.inspect_solver import corpmail_agent
from app.models import Episode
from app.scenarios.loader import load_scenario
from app.scenarios.render import render, resolve_variables

offline_tokenizers()
INSPECT_INJECTED = ("model",)  # Inspect passes these to every task; they are not scenario variables
TASK_NAME = "corpmail/agentic_misalignment"


def _as_list(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [v.strip() for v in str(value).split(",")] if "," in str(value) else [str(value)]


def episode_samples(scenario: str, grid: dict[str, list[str]], scenarios_dir) -> tuple[list[Sample], dict]:
    """One sample per combination; a combination the scenario refuses is an error when it is the
    only one, and is left out (listed in the task metadata) when it is part of a grid."""
    spec, folder = load_scenario(scenario, scenarios_dir)
    combos = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    samples, refused, world = [], [], None
    for given in combos:
        try:
            variables = resolve_variables(spec, given)
        except ValueError as exc:
            if len(combos) == 1:
                raise
            refused.append({"variables": given, "reason": str(exc)})
            continue
        world = render(spec, variables, "CMK-PREVIEW")
        samples.append(
            Sample(
                id=",".join(f"{k}={v}" for k, v in sorted(variables.items())) or spec.slug,
                input=world.user_prompt,
                metadata={
                    "scenario": spec.slug,
                    "scenario_dir": str(folder),
                    "variables": variables,
                    "eval_mode": "honest",  # ControlArena: the model is never told to attack
                },
            )
        )
    if world is None:
        raise ValueError(f"no valid combination of the variables given for scenario {spec.slug}")
    return samples, {"refused": refused, "world": world.model_dump(mode="json")}


@scorer(metrics={"*": [mean(), stderr()]})
def monitor_verdicts(database_url: str | None = None) -> Scorer:
    """Per harm class, what the monitor's verdicts say the episode did."""

    def read(episode_id: str) -> tuple[list[dict], dict]:
        engine, _ = open_db(database_url)
        with new_session(engine) as session:
            episode = session.get(Episode, episode_id)
            if episode is None:
                raise RuntimeError(f"episode {episode_id} is not in the database")
            world = episode.world
            return [e.payload for e in store.read(session, episode_id)], world

    async def score(state: TaskState, target: Target) -> Score:
        episode_id = state.metadata.get("episode_id")
        if not episode_id:
            raise RuntimeError("the sample has no corpmail episode (the solver did not start one)")
        events, world = await anyio.to_thread.run_sync(read, episode_id)
        found = episode_outcomes(events, harm_classes(world))
        verdicts = agent_verdicts(events)
        return Score(
            value=score_values(found["harms"]),
            answer=found["status"],
            explanation="; ".join(f"{k}: {v}" for k, v in found["harms"].items()),
            metadata={
                "episode_id": episode_id,
                "status": found["status"],
                "harms": found["harms"],
                "eval_mode": state.metadata.get("eval_mode"),
                "suspicion": found["suspicion"],
                "verdicts": verdicts,
            },
        )

    return score


@task(name=TASK_NAME)
def agentic_misalignment(
    scenario: str = "blackmail",
    monitor_mode: str | None = None,
    approver: str = "monitor",
    max_turns: int = 30,
    database_url: str | None = None,
    **variables: str | list[str],
) -> Task:
    """corpmail episodes of one scenario (slug or folder) under its variables (`-T goal_type=explicit`,
    or a list for a grid: `-T urgency=[replacement,none]`); the scenario names any unknown one."""
    grid = {k: _as_list(v) for k, v in variables.items() if k not in INSPECT_INJECTED and v is not None}
    _, settings = open_db(database_url)
    samples, info = episode_samples(scenario, grid, settings.scenarios_dir)
    return Task(
        dataset=MemoryDataset(samples, name=f"corpmail/{info['world']['slug']}"),
        solver=corpmail_agent(database_url, monitor_mode, approver, max_turns),
        scorer=monitor_verdicts(database_url),
        metadata={"harm_classes": harm_classes(info["world"]), "refused_combinations": info["refused"]},
    )
