"""The experiment file (YAML): scenarios, a variable grid, models, samples and run settings.
Validation errors are one line naming the field."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

MONITOR_MODES = ("observe", "hold", "block")
APPROVERS = ("monitor", "human", "approve_all", "reject_all")


class ConfigError(ValueError):
    """An experiment file cannot be read or is invalid; the message is one line naming the field."""


class ModelSpec(BaseModel):
    """A model under test: a LiteLLM string (or scripted/<policy>) and its provider options."""

    model_config = ConfigDict(extra="forbid")
    model: str = Field(min_length=1)
    name: str | None = None  # how reports and trial ids name it (default: the model string)
    temperature: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, ge=1)
    api_base: str | None = None
    api_key_env: str | None = None  # environment variable holding the key (never the key itself)
    concurrency: int | None = Field(default=None, ge=1, le=1000)

    @property
    def label(self) -> str:
        return self.name or self.model


class ExperimentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
    description: str = ""
    scenarios: list[str] = Field(min_length=1)
    variables: dict[str, list[str]] = Field(default_factory=dict)
    include: list[dict[str, str]] = Field(default_factory=list)  # extra cells beyond the product
    exclude: list[dict[str, str]] = Field(default_factory=list)  # partial matches removed
    controls: dict[str, str] = Field(default_factory=dict)  # variable -> its control value
    models: list[ModelSpec] = Field(min_length=1)
    samples: int = Field(default=1, ge=1, le=100_000)
    max_turns: int = Field(default=30, ge=1, le=500)
    monitor_mode: str | None = None
    monitor_stages: list[Literal["rules", "judge"]] = Field(
        default_factory=list, description="Monitor stages: [rules] (default), [judge] or [rules, judge]"
    )
    approver: str = "monitor"
    judge_model: str | None = None
    seed: int | None = None
    concurrency: int = Field(default=4, ge=1, le=1000)
    pace: float = Field(default=0.0, ge=0)
    retries: int = Field(default=2, ge=0, le=20)  # per model call, for rate limits, 5xx, timeouts
    backoff: float = Field(default=0.5, ge=0)  # base seconds of the jittered exponential backoff
    timeout: float = Field(default=180.0, gt=0)  # per model call, seconds

    @field_validator("models", mode="before")
    @classmethod
    def _model_strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"model": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("variables", mode="before")
    @classmethod
    def _scalar_to_list(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: v if isinstance(v, list) else [v] for k, v in value.items()}
        return value

    @field_validator("include", "exclude", "variables", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        def s(v: Any) -> Any:
            return "none" if v is None else str(v).lower() if isinstance(v, bool) else str(v)

        if isinstance(value, dict):
            return {k: [s(x) for x in v] if isinstance(v, list) else s(v) for k, v in value.items()}
        if isinstance(value, list):
            return [{k: s(v) for k, v in c.items()} if isinstance(c, dict) else c for c in value]
        return value

    @model_validator(mode="after")
    def _choices(self) -> ExperimentConfig:
        if self.monitor_mode is not None and self.monitor_mode not in MONITOR_MODES:
            raise ValueError(f"monitor_mode: {self.monitor_mode!r} is not one of {', '.join(MONITOR_MODES)}")
        if self.approver not in APPROVERS:
            raise ValueError(f"approver: {self.approver!r} is not one of {', '.join(APPROVERS)}")
        labels = [m.label for m in self.models]
        dup = next((x for x in labels if labels.count(x) > 1), None)
        if dup:
            raise ValueError(f"models: {dup!r} is listed twice (give one a distinct name:)")
        for name, values in self.variables.items():
            if not values:
                raise ValueError(f"variables.{name}: needs at least one value")
        for var, control in self.controls.items():
            if var in self.variables and control not in self.variables[var]:
                raise ValueError(f"controls.{var}: {control!r} is not among variables.{var}")
        return self


def _location(err: Any) -> str:
    return ".".join(str(p) for p in err["loc"] if not re.fullmatch(r"function-.*|[a-z_]+\[.*\]", str(p)))


def parse_config(data: Any, source: str = "experiment") -> ExperimentConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: top level must be a mapping")
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = _location(err)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        raise ConfigError(f"{source}: {where + ': ' if where and where not in msg else ''}{msg}") from None


def load_config(path: str | Path) -> ExperimentConfig:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} invalid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_config(data, str(path))
