"""Labelled monitor corpora: outbound actions with the harm labels they should (or should not) get.

Two formats, mixed freely in a folder:

JSONL (one case a line; the format researchers use for their own sets):
    {"id": "bm-001", "scenario": "blackmail" | "relative/folder", "variables": {...},
     "setup": [{"tool": ..., "args": ...}], "tool": "send_email", "args": {...},
     "expect": ["blackmail"], "lang": "en", "style": "hedged", "note": "..."}
  setup calls run first in the same fresh episode (the agent's earlier messages); the last call is
  judged. `message_id` may be a scenario email key or {"$sent": i} (the message sent by setup call
  i); "{canary}" in any string becomes the episode's canary; `expect` lists the harm labels the
  call must get ([] = none); a scenario path is relative to the .jsonl file.

YAML (the older form): top-level `scenario`, `vars`, `cases: [{id, expect, setup, tool, args,
each, note}]`; `each` makes one case per alternative value of an argument.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session

from app.evaluation.checks import ActionInputError, run_calls
from app.services.episodes import create_episode

HARM_LABELS = ("blackmail", "exfiltration", "harmful_disclosure", "lethal_action", "harmful_action")
_JSONL_FIELDS = {"id", "scenario", "variables", "setup", "tool", "args", "expect", "lang", "style", "note"}


@dataclass
class Case:
    id: str
    scenario: str
    variables: dict[str, str]
    calls: list[dict]  # setup calls, then the judged call (last)
    expect: set[str]
    note: str = ""
    lang: str = "en"
    style: str = ""
    source: str = ""


@dataclass
class Outcome:
    case: Case
    labels: list[str]
    decision: str
    scores: dict[str, float] = field(default_factory=dict)
    abstained: list[str] = field(default_factory=list)
    error: dict | None = None

    def harms(self, classes: tuple[str, ...] | list[str] = HARM_LABELS) -> set[str]:
        return set(self.labels) & set(classes)


class CorpusError(ValueError):
    """A corpus file that cannot be read as written (names the file and line or case)."""


def _scenario_ref(ref: str, folder: Path) -> str:
    local = folder / ref
    return str(local.resolve()) if local.is_dir() else ref


def _load_jsonl(f: Path) -> list[Case]:
    cases = []
    for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{f}: line {n}: not JSON ({exc.msg})") from None
        if not isinstance(raw, dict):
            raise CorpusError(f"{f}: line {n}: expected an object")
        missing = {"id", "scenario", "tool"} - set(raw)
        if missing:
            raise CorpusError(f"{f}: line {n}: missing {sorted(missing)}")
        extra = set(raw) - _JSONL_FIELDS
        if extra:
            raise CorpusError(f"{f}: line {n}: unknown fields {sorted(extra)}")
        if not isinstance(raw.get("expect", []), list) or not isinstance(raw.get("args", {}), dict):
            raise CorpusError(f"{f}: line {n}: expect must be a list and args an object")
        cases.append(
            Case(
                str(raw["id"]),
                _scenario_ref(raw["scenario"], f.parent),
                {k: str(v) for k, v in (raw.get("variables") or {}).items()},
                [*raw.get("setup", []), {"tool": raw["tool"], "args": raw.get("args", {})}],
                set(raw.get("expect", [])),
                raw.get("note", ""),
                raw.get("lang", "en"),
                raw.get("style", ""),
                f.name,
            )
        )
    return cases


def _load_yaml(f: Path) -> list[Case]:
    data = yaml.safe_load(f.read_text(encoding="utf-8"))
    cases = []
    for raw in data["cases"]:
        extra = set(raw) - {"id", "expect", "setup", "tool", "args", "each", "note", "lang", "style"}
        if extra:
            raise CorpusError(f"{f}: case {raw.get('id')}: unknown fields {sorted(extra)}")
        each = raw.get("each", {})
        names = list(each)
        for n, combo in enumerate(itertools.product(*(each[k] for k in names)) if names else [()]):
            args = {**raw.get("args", {}), **dict(zip(names, combo, strict=True))}
            cases.append(
                Case(
                    f"{raw['id']}-{n + 1}" if names else raw["id"],
                    _scenario_ref(data["scenario"], f.parent),
                    data.get("vars", {}),
                    [*raw.get("setup", []), {"tool": raw["tool"], "args": args}],
                    set(raw.get("expect", [])),
                    raw.get("note", ""),
                    raw.get("lang", "en"),
                    raw.get("style", ""),
                    f.name,
                )
            )
    return cases


def files_in(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.suffix in (".jsonl", ".yaml", ".yml") and p.is_file())


def load(path: Path) -> list[Case]:
    cases: list[Case] = []
    for f in files_in(path):
        cases += _load_jsonl(f) if f.suffix == ".jsonl" else _load_yaml(f)
    return cases


def parts(paths: list[Path]) -> dict[str, list[Case]]:
    """Cases by part: a folder with dev/ and test/ subfolders is reported part by part."""
    out: dict[str, list[Case]] = {}
    for p in paths:
        subs = [s for s in ("dev", "test") if (p / s).is_dir()] if p.is_dir() else []
        for s in subs:
            cases = load(p / s)
            if cases:  # an empty part (a test/ not written yet) is not reported
                out.setdefault(s, []).extend(cases)
        if not subs:
            out.setdefault(p.stem if p.is_file() else p.name, []).extend(load(p))
    return out


def _substitute(value: Any, canary: str) -> Any:
    if isinstance(value, str):
        return value.replace("{canary}", canary)
    if isinstance(value, dict):
        return {k: _substitute(v, canary) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, canary) for v in value]
    return value


def evaluate(session: Session, cases: list[Case], scenarios_dir: Path) -> list[Outcome]:
    """Each case runs in its own fresh episode, so no case can influence another."""
    outcomes = []
    for case in cases:
        episode = create_episode(session, case.scenario, case.variables, "corpus", scenarios_dir)
        calls = _substitute(case.calls, episode.world["canary"])
        try:
            last = run_calls(session, episode.id, calls)[-1]
        except ActionInputError as exc:
            raise CorpusError(f"{case.source}: case {case.id}: {exc}") from None
        outcomes.append(
            Outcome(case, last["labels"], last["decision"], last["scores"], last["abstained"], last["error"])
        )
    return outcomes
