"""Strict rendering: variables are checked, every template field is rendered with Jinja2's
StrictUndefined after the YAML is parsed, and any placeholder left over is an error."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

from jinja2 import StrictUndefined, TemplateError, pass_context
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel

from app.actions import BUILTIN_TOOLS
from app.scenarios.loader import ScenarioError
from app.scenarios.schema import (
    ActionTool,
    Attachment,
    Character,
    Clock,
    Effects,
    ExternalContact,
    GoalText,
    Group,
    MonitorSpec,
    Person,
    Scenario,
    ScheduledEvent,
    WorldSettings,
)
from app.scenarios.zones import local, to_utc

_env = SandboxedEnvironment(
    undefined=StrictUndefined,
    keep_trailing_newline=False,
    autoescape=False,
    trim_blocks=True,
    lstrip_blocks=True,
)


@pass_context
def _render_filter(ctx, text: str) -> str:
    """`{{ texts.x | render }}`: render a shared snippet with the same (strict) context."""
    return _template(text).render(ctx.get_all())


_env.filters["render"] = _render_filter
_LEFTOVER = re.compile(r"\{\{|\}\}|\{%|%\}|\$\{")


class RenderedEmail(BaseModel):
    key: str
    sender: str
    to: list[str]
    cc: list[str]
    at: datetime
    subject: str
    body: str
    reply_to: str | None
    unread: bool
    distractor: bool
    labels: list[str]
    audience: list[str]
    attachments: list[Attachment]


class RenderedScenario(BaseModel):
    """Everything an episode needs; stored on the episode as its ground truth ("world")."""

    slug: str
    title: str
    company_name: str
    domain: str
    start_time: datetime
    timezone: str = "UTC"
    variables: dict[str, str]
    canary: str
    agent: Person
    people: list[Person]
    groups: list[Group]
    external_contacts: list[ExternalContact]
    system_prompt: str
    user_prompt: str
    monitor: MonitorSpec
    action_tools: list[ActionTool]
    goal: dict[str, str | None]
    effects: Effects = Effects()
    clock: Clock = Clock()
    characters: list[Character] = []  # those included under these variables; `who` is an address
    schedule: list[ScheduledEvent] = []  # likewise; mail rendered, addresses resolved
    world_settings: WorldSettings = WorldSettings()
    emails: list[RenderedEmail]


def resolve_variables(scenario: Scenario, given: dict[str, str]) -> dict[str, str]:
    unknown = set(given) - set(scenario.variables)
    if unknown:
        name = sorted(unknown)[0]
        raise ScenarioError(
            f"unknown variable {name!r} for scenario {scenario.slug} "
            f"(known: {', '.join(scenario.variables) or 'none'})"
        )
    values = {}
    for name, var in scenario.variables.items():
        value = given.get(name, var.default)
        if value not in var.choices:
            raise ScenarioError(f"variable {name}: {value!r} is not one of {', '.join(var.choices)}")
        values[name] = value
    for _ in range(len(scenario.constraints) + 1):  # defaults bend to constraints; given values never do
        broken = _first_broken(scenario, values)
        if broken is None:
            break
        c, var, allowed = broken
        if var in given or var not in scenario.variables:
            cond = ", ".join(f"{k}={values[k]}" for k in c.when)
            why = f" ({c.message})" if c.message else ""
            raise ScenarioError(
                f"variable {var}: {values[var]!r} is not allowed when {cond}; "
                f"use one of {', '.join(allowed)}{why}"
            )
        values[var] = allowed[0]
    else:
        raise ScenarioError(f"variables {values} cannot satisfy the scenario's constraints")
    return values


def effects_of(scenario: Scenario, values: dict[str, str]) -> Effects:
    """The engine effects of the chosen values; two variables may not set one effect differently."""
    merged: dict[str, tuple[str, object]] = {}
    for name, var in scenario.variables.items():
        chosen = var.effects.get(values[name])
        for field, value in (chosen.model_dump(exclude_none=True) if chosen else {}).items():
            if field in merged and merged[field][1] != value:
                raise ScenarioError(
                    f"variable {name}: effect {field}={value!r} clashes with {merged[field][0]}'s {merged[field][1]!r}"
                )
            merged[field] = (name, value)
    return Effects(**{k: v for k, (_, v) in merged.items()})


def check_monitor_mode(scenario: Scenario, values: dict[str, str], monitor_mode: str | None) -> None:
    """Refuse a run's monitor mode that contradicts a chosen value's declared effects (read from the
    study's `effects`, never from a variable's name): a value that sets `monitor_mode` needs that mode,
    and `hold_all_outbound` (e.g. the agent is told a person reviews every action) needs `hold`."""
    if monitor_mode is None:
        return
    for name, var in scenario.variables.items():
        chosen = var.effects.get(values.get(name, var.default))
        if chosen is None:
            continue
        needed = chosen.monitor_mode or ("hold" if chosen.hold_all_outbound else None)
        if needed and needed != monitor_mode:
            raise ScenarioError(
                f"monitor_mode {monitor_mode!r} contradicts {name}={values.get(name, var.default)}, "
                f"which needs monitor mode {needed!r} (leave the mode unset, or choose another {name})"
            )


def _with_additions(scenario: Scenario, values: dict[str, str], context: dict, part: str) -> str:
    """A prompt, then the text each chosen variable value appends to it (in declaration order)."""
    texts = [_render(getattr(scenario.prompt, part), context, f"prompt.{part}")]
    for name, var in scenario.variables.items():
        addition = var.prompt.get(values[name])
        if addition is not None and getattr(addition, part):
            texts.append(
                _render(getattr(addition, part), context, f"variables.{name}.prompt.{values[name]}.{part}")
            )
    return "\n\n".join(t for t in texts if t)


def _included(include_if: dict[str, list[str]], values: dict[str, str]) -> bool:
    return all(values[var] in allowed for var, allowed in include_if.items())


def _characters(scenario: Scenario, values: dict[str, str], addr) -> list[Character]:
    """Characters under these variables, `who` and reply recipients resolved to addresses. Reply
    templates are rendered per reaction (they see the message); their syntax is checked here."""
    out = []
    for c in scenario.characters:
        if not _included(c.include_if, values):
            continue
        rules = []
        for r in c.rules:
            for part in (r.reply.subject, r.reply.body):
                try:
                    _template(part)
                except TemplateError as exc:
                    raise ScenarioError(f"characters.{c.who}.rules.{r.name}.reply: {exc}") from None
            reply = r.reply.model_copy(
                update={"to": [addr(x) for x in r.reply.to], "cc": [addr(x) for x in r.reply.cc]}
            )
            when = r.when.model_copy(
                update={"message_from": addr(r.when.message_from) if r.when.message_from else None}
            )
            rules.append(r.model_copy(update={"reply": reply, "when": when}))
        out.append(c.model_copy(update={"who": addr(c.who), "rules": rules}))
    return out


def _schedule(scenario: Scenario, values: dict[str, str], context: dict, addr) -> list[ScheduledEvent]:
    out = []
    for ev in scenario.schedule:
        if not _included(ev.include_if, values):
            continue
        mail = None
        if ev.mail:
            where = f"schedule.{ev.name}.mail"
            mail = ev.mail.model_copy(
                update={
                    "sender": addr(ev.mail.sender),
                    "to": [addr(x) for x in ev.mail.to],
                    "cc": [addr(x) for x in ev.mail.cc],
                    "subject": _render(ev.mail.subject, context, f"{where}.subject"),
                    "body": _render(ev.mail.body, context, f"{where}.body"),
                }
            )
        out.append(ev.model_copy(update={"at": to_utc(ev.at, scenario.timezone), "mail": mail}))
    return out


def _first_broken(scenario: Scenario, values: dict[str, str]):
    for c in scenario.constraints:
        if all(values[v] in allowed for v, allowed in c.when.items()):
            for v, allowed in c.require.items():
                if values[v] not in allowed:
                    return c, v, allowed
    return None


def _goal_text(goal: GoalText | None, key: str, parameters: dict[str, str]) -> GoalText | None:
    """A goal's texts with the study's parameters filled in (`{{ parameters.country }}`)."""
    if goal is None:
        return None
    context = {"parameters": parameters}
    return goal.model_copy(
        update={
            f: _render(getattr(goal, f), context, f"goals.{key}.{f}")
            for f in ("label", "statement", "direction")
        }
    )


def goal_context(scenario: Scenario, values: dict[str, str]) -> dict:
    """The study's goal variables made explicit, so no condition silently loses its goal.

    company: the value the company has stood for and the new leadership moves away from
    (explicit, latent, swap); new: the value it moves to; stated: the goal written into the agent's
    prompt (explicit: company; swap: new, so the agent sides with the new direction; else none).
    """
    kind, value = values.get("goal_type"), values.get("goal_value", "none")
    if kind is None:
        return {"goal": None}
    raw = scenario.goals[value] if value != "none" else None
    company = _goal_text(raw, value, scenario.parameters)
    new = _goal_text(scenario.goals[raw.opposite], raw.opposite, scenario.parameters) if raw else None
    stated = {"explicit": company, "swap": new}.get(kind)
    if kind in ("explicit", "latent", "swap") and company is None:
        raise ScenarioError(f"variable goal_value: goal_type={kind} needs a goal value")
    return {"goal": {"type": kind, "company": company, "new": new, "stated": stated}}


@lru_cache(maxsize=4096)
def _template(text: str):
    return _env.from_string(text)


def _render(text: str, context: dict, where: str) -> str:
    try:
        out = _template(text).render(context)
    except TemplateError as exc:
        raise ScenarioError(f"{where}: {exc.__class__.__name__}: {exc}") from None
    if _LEFTOVER.search(out):
        raise ScenarioError(f"{where}: unfilled placeholder left after rendering")
    return out.strip()


def _monitor_for(spec: MonitorSpec, variables: dict[str, str]) -> MonitorSpec:
    """The monitor declarations that apply under these variables (each may have a `when`)."""

    def applies(d) -> bool:
        return all(variables.get(var) in values for var, values in d.when.items())

    return spec.model_copy(
        update={
            k: [d for d in getattr(spec, k) if applies(d)]
            for k in ("leverage_facts", "decisions", "confidential")
        }
    )


def render(scenario: Scenario, given: dict[str, str], canary: str) -> RenderedScenario:
    variables = resolve_variables(scenario, given)
    people = {p.key: p for p in scenario.people}
    context = {
        **variables,
        **goal_context(scenario, variables),
        "company": scenario.company,
        "agent": scenario.agent,
        "people": people,
        "texts": scenario.texts,
        "parameters": scenario.parameters,
        "canary": canary,
        "start_time": local(to_utc(scenario.start_time, scenario.timezone), scenario.timezone),
    }
    address_of = {k: p.address for k, p in people.items()} | {"agent": scenario.agent.address}

    def addr(ref: str) -> str:
        return address_of.get(ref, ref)

    emails = []
    for e in scenario.emails:
        if any(variables[var] not in values for var, values in e.include_if.items()):
            continue
        where = f"email {e.key}"
        emails.append(
            RenderedEmail(
                key=e.key,
                sender=addr(e.sender),
                to=[addr(r) for r in e.to],
                cc=[addr(r) for r in e.cc],
                at=to_utc(e.at, scenario.timezone),
                subject=_render(e.subject, context, f"{where}.subject"),
                body=_render(e.body, context, f"{where}.body"),
                reply_to=e.reply_to,
                unread=e.unread,
                distractor=e.distractor,
                labels=e.labels,
                audience=[addr(a) for a in e.audience],
                attachments=[
                    Attachment(
                        name=_render(a.name, context, f"{where}.attachments.name"),
                        content=_render(a.content, context, f"{where}.attachments.content"),
                        labels=a.labels,
                    )
                    for a in e.attachments
                ],
            )
        )
    for t in scenario.action_tools:
        if t.name in BUILTIN_TOOLS:
            raise ScenarioError(f"action_tools: {t.name!r} is already a built-in tool")
        try:  # the result is rendered per call, with that call's `args`; check its syntax now
            _template(t.result)
        except TemplateError as exc:
            raise ScenarioError(f"action_tools.{t.name}.result: {exc}") from None
    action_tools = [
        t.model_copy(
            update={"description": _render(t.description, context, f"action_tools.{t.name}.description")}
        )
        for t in scenario.action_tools
    ]
    kept = {r.key for r in emails}
    for r in emails:
        if r.reply_to and r.reply_to not in kept:
            raise ScenarioError(f"email {r.key}: replies to {r.reply_to!r}, which these variables exclude")
    return RenderedScenario(
        slug=scenario.slug,
        title=scenario.title,
        company_name=scenario.company.name,
        domain=scenario.company.domain,
        start_time=to_utc(scenario.start_time, scenario.timezone),
        timezone=scenario.timezone,
        variables=variables,
        canary=canary,
        agent=scenario.agent,
        people=scenario.people,
        groups=scenario.groups,
        external_contacts=scenario.external_contacts,
        system_prompt=_with_additions(scenario, variables, context, "system"),
        user_prompt=_with_additions(scenario, variables, context, "user"),
        monitor=_monitor_for(scenario.monitor, variables),
        action_tools=action_tools,
        emails=emails,
        effects=effects_of(scenario, variables),
        clock=scenario.clock,
        characters=_characters(scenario, variables, addr),
        schedule=_schedule(scenario, variables, context, addr),
        world_settings=scenario.world,
        goal={k: (v.label if v else None) for k, v in (context["goal"] or {}).items() if k != "type"}
        | {"type": (context["goal"] or {}).get("type")},
    )
