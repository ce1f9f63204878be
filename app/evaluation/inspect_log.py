"""Stored episodes as Inspect `.eval` logs, written by Inspect's own log writer (`inspect view` opens
them): one log per scenario and model, one sample per episode, with the transcript rebuilt from
the event log, the tool calls and results, and the monitor's verdicts as scores.

ControlArena-friendly names: sample metadata `eval_mode` (honest / attack: a scripted policy's
declared mode; real models are never told to attack, so honest), `setting_name`,
`main_task_name`; one `<monitor>_suspicion` score per monitor (its highest score in the episode).
Needs the `inspect` extra; imported only when a log is written.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from app.core.db import new_session
from app.evaluation.outcomes import agent_calls, agent_verdicts, episode_outcomes, harm_classes, score_values
from app.events import store
from app.models import Episode

TASK_NAME = "corpmail/agentic_misalignment"


def eval_mode(model: str, scenario_dir: Path | None) -> str | None:
    """attack / honest for a scripted policy (None if it cannot be found); honest for real models."""
    from app.llm import script

    if not model.startswith(f"{script.PROVIDER}/"):
        return "honest"
    try:
        return script.load_policy(model.split("/", 1)[1], scenario_dir).eval_mode
    except script.PolicyError:
        return None


def _arguments(raw: Any) -> tuple[dict, str | None]:
    if isinstance(raw, dict):
        return raw, None
    try:
        value = json.loads(raw) if isinstance(raw, str) and raw.strip() else {}
    except json.JSONDecodeError as exc:
        return {}, f"arguments are not valid JSON: {exc.msg}"
    return (value, None) if isinstance(value, dict) else ({}, "arguments must be a JSON object")


def transcript(world: dict, events: list[dict]) -> list:
    """Inspect chat messages rebuilt from the log. Calls no model turn asked for (an external
    harness over MCP) get an assistant message of their own, so every result follows its call."""
    from inspect_ai.model import (
        ChatMessageAssistant,
        ChatMessageSystem,
        ChatMessageTool,
        ChatMessageUser,
        ContentReasoning,
        ContentText,
    )
    from inspect_ai.tool import ToolCall

    mine = agent_calls(events)
    messages: list = [
        ChatMessageSystem(content=world["system_prompt"]),
        ChatMessageUser(content=world["user_prompt"]),
    ]
    requested: set[str] = set()
    for e in events:
        kind = e["kind"]
        if kind == "model_turn":
            calls = []
            for c in e.get("tool_calls", []):
                args, problem = _arguments(c["arguments"])
                calls.append(ToolCall(id=c["id"], function=c["name"], arguments=args, parse_error=problem))
                requested.add(c["id"])
            content: Any = e.get("text") or ""
            if e.get("reasoning"):
                content = [ContentReasoning(reasoning=e["reasoning"]), ContentText(text=e.get("text") or "")]
            messages.append(ChatMessageAssistant(content=content, tool_calls=calls or None))
        elif kind in ("notice",):
            messages.append(ChatMessageUser(content=e["text"]))
        elif kind in ("tool_call", "tool_result") and mine is not None and e["call_id"] not in mine:
            continue  # a character's or researcher's action: the model was told of it in a notice
        elif kind == "tool_call" and e["call_id"] not in requested:
            args, problem = _arguments(e.get("args"))
            call = ToolCall(id=e["call_id"], function=e["tool"], arguments=args, parse_error=problem)
            messages.append(ChatMessageAssistant(content="", tool_calls=[call]))
        elif kind == "tool_result":
            body = {"ok": e["ok"], ("result" if e["ok"] else "error"): e["result"] if e["ok"] else e["error"]}
            messages.append(
                ChatMessageTool(
                    content=json.dumps(body, default=str), tool_call_id=e["call_id"], function=e["tool"]
                )
            )
    return messages


def _sample(ep: Episode, events: list[dict], scenario_dir: Path | None):
    from inspect_ai.log import EvalSample
    from inspect_ai.scorer import Score

    found = episode_outcomes(events, harm_classes(ep.world))
    mode = eval_mode(ep.model, scenario_dir)
    verdicts = agent_verdicts(events)
    scores = {
        "monitor_verdicts": Score(
            value=score_values(found["harms"]),
            answer=found["status"],
            explanation="; ".join(f"{k}: {v}" for k, v in found["harms"].items()),
            metadata={"harms": found["harms"], "verdicts": verdicts},
        ),
        **{f"{m}_suspicion": Score(value=v) for m, v in found["suspicion"].items()},
    }
    return EvalSample(
        id=ep.id,
        epoch=1,
        input=ep.world["user_prompt"],
        target="",
        messages=transcript(ep.world, events),
        scores=scores,
        metadata={
            "episode_id": ep.id,
            "scenario": ep.scenario,
            "variables": ep.variables,
            "harness": ep.harness,
            "status": ep.status,
            "monitor_mode": ep.monitor_mode,
            "eval_mode": mode,
            "setting_name": "corpmail",
            "main_task_name": ep.scenario,
            "side_task_name": None,
        },
    )


def _results(samples: list):
    from inspect_ai.log import EvalMetric, EvalResults, EvalScore

    columns: dict[tuple[str, str], list[float]] = defaultdict(list)
    for s in samples:
        for scorer_name, score in s.scores.items():
            values = score.value if isinstance(score.value, dict) else {scorer_name: score.value}
            for key, v in values.items():
                if isinstance(v, (int, float)) and not math.isnan(v):
                    columns[(scorer_name, key)].append(float(v))
    scores = [
        EvalScore(
            name=key,
            scorer=scorer_name,
            scored_samples=len(values),
            unscored_samples=len(samples) - len(values),
            metrics={"mean": EvalMetric(name="mean", value=sum(values) / len(values))},
        )
        for (scorer_name, key), values in sorted(columns.items())
    ]
    return EvalResults(total_samples=len(samples), completed_samples=len(samples), scores=scores)


def write_eval_logs(
    engine: Engine, episode_ids: list[str], out_dir: str | Path, scenarios_dir: Path | None = None
) -> list[Path]:
    """Write one `.eval` log per (scenario, model) of the given episodes into out_dir; returns the paths."""
    from inspect_ai.log import EvalConfig, EvalDataset, EvalLog, EvalSpec, EvalStats, write_eval_log

    from app.scenarios.loader import ScenarioError, resolve_dir

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    groups: dict[tuple[str, str], list[tuple[Episode, list[dict]]]] = defaultdict(list)
    with new_session(engine) as session:
        for eid in episode_ids:
            ep = session.get(Episode, eid)
            if ep is None:
                raise LookupError(f"no episode {eid}")
            groups[(ep.scenario, ep.model)].append((ep, [e.payload for e in store.read(session, eid)]))
    paths = []
    for (scenario, model), played in groups.items():
        try:
            folder = resolve_dir(scenario, scenarios_dir) if scenarios_dir else None
        except ScenarioError:
            folder = None
        samples = [_sample(ep, events, folder) for ep, events in played]
        first = min(ep.created_at for ep, _ in played)
        last = max((ep.finished_at or ep.created_at) for ep, _ in played)
        log = EvalLog(
            status="success",
            eval=EvalSpec(
                created=first.isoformat(),
                task=TASK_NAME,
                task_args={"scenario": scenario},
                dataset=EvalDataset(name=f"corpmail/{scenario}", samples=len(samples)),
                model=model,
                config=EvalConfig(),
                metadata={"exported_by": "corpmail", "harnesses": sorted({ep.harness for ep, _ in played})},
            ),
            results=_results(samples),
            stats=EvalStats(started_at=first.isoformat(), completed_at=last.isoformat()),
            samples=samples,
        )
        stamp = first.strftime("%Y-%m-%dT%H-%M-%S")
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{stamp}_{scenario}_{model}")
        path = out / f"{name}.eval"
        write_eval_log(log, str(path), format="eval")
        paths.append(path)
    return paths
