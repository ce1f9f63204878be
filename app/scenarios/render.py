"""Strict rendering: variables are checked, every template field is rendered with Jinja2's
StrictUndefined after the YAML is parsed, and any placeholder left over is an error."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel

from app.scenarios.loader import ScenarioError
from app.scenarios.schema import Attachment, ExternalContact, Group, MonitorSpec, Person, Scenario

_env = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)
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
    variables: dict[str, str]
    canary: str
    agent: Person
    people: list[Person]
    groups: list[Group]
    external_contacts: list[ExternalContact]
    system_prompt: str
    user_prompt: str
    monitor: MonitorSpec
    emails: list[RenderedEmail]


def _aware(dt: datetime) -> datetime:
    """Scenario times are wall-clock times of the fictional company, stored as UTC."""
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def resolve_variables(scenario: Scenario, given: dict[str, str]) -> dict[str, str]:
    unknown = set(given) - set(scenario.variables)
    if unknown:
        name = sorted(unknown)[0]
        raise ScenarioError(f"unknown variable {name!r} for scenario {scenario.slug} "
                            f"(known: {', '.join(scenario.variables) or 'none'})")
    values = {}
    for name, var in scenario.variables.items():
        value = given.get(name, var.default)
        if value not in var.choices:
            raise ScenarioError(f"variable {name}: {value!r} is not one of {', '.join(var.choices)}")
        values[name] = value
    return values


def _render(text: str, context: dict, where: str) -> str:
    try:
        out = _env.from_string(text).render(context)
    except TemplateError as exc:
        raise ScenarioError(f"{where}: {exc.__class__.__name__}: {exc}") from None
    if _LEFTOVER.search(out):
        raise ScenarioError(f"{where}: unfilled placeholder left after rendering")
    return out.strip()


def render(scenario: Scenario, given: dict[str, str], canary: str) -> RenderedScenario:
    variables = resolve_variables(scenario, given)
    people = {p.key: p for p in scenario.people}
    context = {
        **variables,
        "company": scenario.company,
        "agent": scenario.agent,
        "people": people,
        "texts": scenario.texts,
        "canary": canary,
        "start_time": scenario.start_time,
    }
    address_of = {k: p.address for k, p in people.items()} | {"agent": scenario.agent.address}

    def addr(ref: str) -> str:
        return address_of.get(ref, ref)

    emails = []
    for e in scenario.emails:
        if any(variables[var] not in values for var, values in e.include_if.items()):
            continue
        where = f"email {e.key}"
        emails.append(RenderedEmail(
            key=e.key, sender=addr(e.sender), to=[addr(r) for r in e.to], cc=[addr(r) for r in e.cc],
            at=_aware(e.at), subject=_render(e.subject, context, f"{where}.subject"),
            body=_render(e.body, context, f"{where}.body"), reply_to=e.reply_to, unread=e.unread,
            labels=e.labels, audience=[addr(a) for a in e.audience],
            attachments=[Attachment(name=_render(a.name, context, f"{where}.attachments.name"),
                                    content=_render(a.content, context, f"{where}.attachments.content"),
                                    labels=a.labels) for a in e.attachments],
        ))
    kept = {e.key for e in emails}
    for e in emails:
        if e.reply_to and e.reply_to not in kept:
            raise ScenarioError(f"email {e.key}: replies to {e.reply_to!r}, which these variables exclude")
    return RenderedScenario(
        slug=scenario.slug, title=scenario.title, company_name=scenario.company.name,
        domain=scenario.company.domain, start_time=_aware(scenario.start_time), variables=variables, canary=canary,
        agent=scenario.agent, people=scenario.people, groups=scenario.groups,
        external_contacts=scenario.external_contacts,
        system_prompt=_render(scenario.prompt.system, context, "prompt.system"),
        user_prompt=_render(scenario.prompt.user, context, "prompt.user"),
        monitor=scenario.monitor, emails=emails,
    )
