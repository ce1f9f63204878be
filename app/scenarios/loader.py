"""Find and validate scenario folders (a slug under the scenarios dir, or any folder path)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import yaml
from pydantic import ValidationError

from app.core.config import resource_dir
from app.errors import InvalidRequest
from app.scenarios.schema import Scenario

SHARED_DIR = resource_dir("sandbox_data") / "shared"
WORLD_KEYS = {"characters", "schedule", "world"}  # what world.yaml may hold
MERGED = ("variables", "texts", "constraints", "goals", "parameters")  # what an included file may contribute


class ScenarioError(InvalidRequest):
    """A scenario cannot be found, read, validated or rendered; the message is one line."""


def resolve_dir(ref: str | Path, scenarios_dir: Path) -> Path:
    path = Path(ref)
    if path.is_dir():
        return path.resolve()
    candidate = scenarios_dir / str(ref)
    if candidate.is_dir() and (candidate / "scenario.yaml").is_file():
        return candidate.resolve()
    known = ", ".join(list_slugs(scenarios_dir)) or "none"
    raise ScenarioError(f"unknown scenario {str(ref)!r} (not a folder; known scenarios: {known})")


def resolve_allowed(ref: str, scenarios_dir: Path, allowed: list[Path] | tuple[Path, ...] = ()) -> Path:
    """For requests from outside (the API): a slug, or a scenario folder inside `scenarios_dir` or an
    allowed folder. Anything else gets the same answer as an unknown scenario, so requests cannot
    probe the server's folders."""
    roots = [r.resolve() for r in (scenarios_dir, *allowed)]
    for candidate in (scenarios_dir / ref, Path(ref)):
        try:
            folder = candidate.resolve()
            inside = any(folder == r or r in folder.parents for r in roots)
            if inside and (folder / "scenario.yaml").is_file():
                return folder
        except (OSError, ValueError):  # a name the file system cannot hold (NUL, too long)
            continue
    known = ", ".join(list_slugs(scenarios_dir)) or "none"
    raise ScenarioError(f"scenario: unknown scenario {ref[:200]!r} (known scenarios: {known})")


def list_slugs(scenarios_dir: Path) -> list[str]:
    if not scenarios_dir.is_dir():
        return []
    return sorted(p.name for p in scenarios_dir.iterdir() if (p / "scenario.yaml").is_file())


def _read_yaml(path: Path):
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ScenarioError(f"{path}:{where} invalid YAML: {getattr(exc, 'problem', exc)}") from None


def _merge_includes(data: dict, folder: Path, main: Path, looked: Looked) -> None:
    """Merge shared files named in `include` (the scenario's own entries win)."""
    for name in data.get("include") or []:
        _look(looked, folder / name, SHARED_DIR / name)
        path = next((p for p in (folder / name, SHARED_DIR / name) if p.is_file()), None)
        if path is None:
            raise ScenarioError(f"{main}: include: no file {name!r} beside the scenario or in {SHARED_DIR}")
        shared = _read_yaml(path) or {}
        extra = set(shared) - set(MERGED)
        if not isinstance(shared, dict) or extra:
            raise ScenarioError(
                f"{path}: an included file may only hold {', '.join(MERGED)}"
                f"{f' (found {sorted(extra)})' if extra else ''}"
            )
        for key in MERGED:
            if key not in shared:
                continue
            if key == "constraints":
                data[key] = [*shared[key], *data.get(key, [])]
            else:
                data[key] = {**shared[key], **data.get(key, {})}


Stamp = tuple[int, int, int] | None
Looked = dict[Path, Stamp]
_PARSED: dict[Path, tuple[Looked, Scenario]] = {}
_PARSED_LOCK = threading.Lock()


def _stamp(path: Path) -> Stamp:
    """A file's (modification time in ns, size, inode), or None when there is no file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _look(looked: Looked, *paths: Path) -> None:
    """Note the stamps of files about to be read (or looked for), taken before reading them."""
    for p in paths:
        looked.setdefault(p, _stamp(p))


def load_scenario(ref: str | Path, scenarios_dir: Path, copy: bool = True) -> tuple[Scenario, Path]:
    """The scenario in a folder (a slug or a path), validated. Parsed once per version of its files:
    the result is kept per folder with the stamp of every file it read or looked for (scenario.yaml,
    emails.yaml, world.yaml, included files beside it or shared), and read again when any of them
    changes, appears or goes. Each caller gets its own deep copy (~0.6 ms, against ~30 ms to parse), so
    changing it cannot reach the next caller; `copy=False` gives the kept one itself, for a caller
    that only reads it (and keeps nothing of it that is changed later)."""
    folder = resolve_dir(ref, scenarios_dir)
    with _PARSED_LOCK:
        known = _PARSED.get(folder)
    if known is not None and all(_stamp(p) == st for p, st in known[0].items()):
        return known[1].model_copy(deep=True) if copy else known[1], folder
    looked: Looked = {}
    scenario = _parse(folder, looked)
    with _PARSED_LOCK:
        _PARSED[folder] = (looked, scenario)
    return scenario.model_copy(deep=True) if copy else scenario, folder


def _parse(folder: Path, looked: Looked) -> Scenario:
    main = folder / "scenario.yaml"
    _look(looked, main)
    if not main.is_file():
        raise ScenarioError(f"{folder}: no scenario.yaml")
    data = _read_yaml(main) or {}
    if not isinstance(data, dict):
        raise ScenarioError(f"{main}: top level must be a mapping")
    _merge_includes(data, folder, main, looked)
    emails_file = folder / "emails.yaml"
    world_file = folder / "world.yaml"  # optional: who reacts, and what happens when (characters, schedule)
    _look(looked, emails_file, world_file)
    if emails_file.is_file():
        emails = _read_yaml(emails_file) or []
        if not isinstance(emails, list):
            raise ScenarioError(f"{emails_file}: top level must be a list of emails")
        data["emails"] = [*data.get("emails", []), *emails]
    if world_file.is_file():
        world = _read_yaml(world_file) or {}
        if not isinstance(world, dict) or set(world) - WORLD_KEYS:
            raise ScenarioError(
                f"{world_file}: top level must be a mapping of {', '.join(sorted(WORLD_KEYS))}"
            )
        for key, value in world.items():
            if key in data:
                raise ScenarioError(f"{world_file}: {key} is also in scenario.yaml; keep it in one place")
            data[key] = value
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        problem = (err.get("ctx") or {}).get("error")
        loc = getattr(problem, "loc", None) or ".".join(str(p) for p in err["loc"])
        msg = str(problem) if problem is not None else err["msg"]
        source = emails_file if loc.startswith("emails") and emails_file.is_file() else main
        if loc.split(".")[0] in WORLD_KEYS and world_file.is_file():
            source = world_file
        raise ScenarioError(f"{source}: {loc or 'scenario'}: {msg}") from None
