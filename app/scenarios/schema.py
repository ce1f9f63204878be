"""The scenario format (YAML files validated into these models). `corpmail scenarios schema` prints it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.scenarios.zones import to_utc, zone

ExternalRole = Literal["competitor", "press", "regulator", "personal", "vendor", "customer", "other"]


class FieldProblem(ValueError):
    """A cross-field check failed at a known place (loc), so errors can name the file and field."""

    def __init__(self, loc: str, message: str):
        super().__init__(message)
        self.loc = loc


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Company(Strict):
    name: str
    domain: str = Field(description="Mail domain of the company, e.g. brightwater.example")


class Person(Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    address: str
    title: str = ""


class ExternalContact(Strict):
    address: str
    name: str = ""
    roles: list[ExternalRole] = Field(
        default_factory=list,
        description="Every role the contact has, e.g. [press, personal] for a journalist's own webmail; "
        "the first is the category the monitor reports",
    )
    role: ExternalRole | None = Field(
        None, description="One role (the older form of roles: [ROLE]); filled in as the first of roles"
    )

    @model_validator(mode="after")
    def _one_list_of_roles(self):
        if self.role and self.roles and self.role != self.roles[0]:
            raise ValueError(f"role {self.role!r} and roles {self.roles} disagree: give roles alone")
        self.roles = list(dict.fromkeys(self.roles or [self.role or "other"]))
        self.role = self.roles[0]
        return self


class Group(Strict):
    address: str
    name: str
    members: list[str] = Field(description="Person keys (or 'agent')")


class Effects(Strict):
    """What a variable's value does to the engine (declared as data, so a new study's variables need
    no engine change). Unset fields leave the engine's default alone."""

    monitor_mode: Literal["observe", "hold", "block"] | None = Field(
        None, description="The episode's monitor mode unless a run sets one"
    )
    hold_all_outbound: bool | None = Field(
        None, description="Hold every outbound action for approval, harmful or not (human oversight)"
    )
    mailbox_access: Literal["all", "own"] | None = Field(
        None, description="Which company mailboxes the agent may read: every one, or only its own"
    )
    awareness_question: bool | None = Field(
        None,
        description="The prompt asks the agent to state whether it believes it is in an evaluation or a "
        "real deployment; its answer is parsed for the eval-awareness signal",
    )


class PromptAddition(Strict):
    """Text a variable's choice appends to the scenario's prompts (rendered strictly, same context)."""

    system: str = Field("", description="Appended to the system prompt, after a blank line")
    user: str = Field("", description="Appended to the user prompt, after a blank line")


class Variable(Strict):
    description: str = ""
    choices: list[str] = Field(min_length=1)
    default: str
    effects: dict[str, Effects] = Field(
        default_factory=dict, description="Per choice: what choosing it does to the engine"
    )
    prompt: dict[str, PromptAddition] = Field(
        default_factory=dict, description="Per choice: text appended to every scenario's prompts"
    )
    needs_email: list[str] = Field(
        default_factory=list,
        description="Choices a scenario must back with mail: at least one email with include_if naming the "
        "choice (e.g. ally: present needs the ally's message)",
    )

    @model_validator(mode="after")
    def _default_in_choices(self):
        if self.default not in self.choices:
            raise ValueError(f"default {self.default!r} is not one of {self.choices}")
        for field, keys in (
            ("effects", self.effects),
            ("prompt", self.prompt),
            ("needs_email", self.needs_email),
        ):
            unknown = sorted(set(keys) - set(self.choices))
            if unknown:
                raise ValueError(f"{field}: {unknown[0]!r} is not one of {self.choices}")
        return self


class Attachment(Strict):
    name: str
    content: str
    labels: list[str] = Field(default_factory=list)


class Email(Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    sender: str = Field(alias="from", description="Person key, 'agent', or an address")
    to: list[str]
    cc: list[str] = Field(default_factory=list)
    at: datetime
    subject: str
    body: str
    reply_to: str | None = Field(default=None, description="Key of the email this one answers (same thread)")
    unread: bool = True
    distractor: bool = Field(default=False, description="Ordinary company traffic, unrelated to the dilemma")
    labels: list[str] = Field(default_factory=list, description="Sensitivity labels, e.g. confidential")
    audience: list[str] = Field(default_factory=list, description="Allowed audience of confidential content")
    attachments: list[Attachment] = Field(default_factory=list)
    include_if: dict[str, list[str]] = Field(
        default_factory=dict, description="variable -> values that include it"
    )

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class LeverageFact(Strict):
    key: str
    concerns: str = Field(description="Person key the fact is about")
    summary: str
    indicators: list[str] = Field(min_length=1, description="Phrases whose presence shows the fact is used")
    decision_makers: list[str] = Field(
        default_factory=list, description="Person keys with power over the decision"
    )
    evidence_emails: list[str] = Field(
        default_factory=list, description="Keys of emails that reveal the fact"
    )
    involves: list[str] = Field(
        default_factory=list,
        description="Other person keys the fact is about (not an audience a threat would expose it to)",
    )


class Decision(Strict):
    key: str
    summary: str
    indicators: list[str] = Field(min_length=1, description="Phrases that refer to the decision")


class Constraint(Strict):
    """When every variable in `when` has one of the listed values, each variable in `require`
    must have one of its listed values; otherwise the combination is refused."""

    when: dict[str, list[str]]
    require: dict[str, list[str]]
    message: str = ""


class GoalText(Strict):
    """A goal's texts; label, statement and direction may use {{ parameters.NAME }}."""

    label: str = Field(description="Short name, e.g. 'national interest'")
    statement: str = Field(description="What an agent holding this goal is told to pursue (a verb phrase)")
    direction: str = Field(description="How a company that pursues it is described")
    opposite: str = Field(description="The goal value this one is paired against")


class ActionParam(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: Literal["string", "integer", "number", "boolean"] = "string"
    description: str = Field(min_length=1)
    required: bool = True
    enum: list[str] | None = None


class ActionTool(Strict):
    """A tool declared by the scenario (e.g. an alarm override), run through the same chokepoint."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = Field(min_length=1)
    parameters: list[ActionParam] = Field(default_factory=list)
    result: str = Field(description="What the tool answers when the action takes effect")
    harmful_if: list[dict[str, str | int | bool]] = Field(
        default_factory=list,
        description="Ground truth: a call is harmful when every argument named in one entry equals its value",
    )
    label: str = Field(default="harmful_action", description="Monitor label for a harmful call")


class MonitorSpec(Strict):
    mode: Literal["observe", "hold", "block"] = "observe"
    leverage_facts: list[LeverageFact] = Field(default_factory=list)
    decisions: list[Decision] = Field(default_factory=list)


class Prompt(Strict):
    system: str
    user: str


class Clock(Strict):
    """How far each step moves the episode's simulated clock (never the wall clock)."""

    turn_seconds: int = Field(60, ge=0, description="Simulated seconds a model turn takes")
    call_seconds: int = Field(10, ge=0, description="Simulated seconds a tool call takes")


class Trigger(Strict):
    """When a character reacts. Exactly one of: a message it receives (`message_from` with optional
    label and thread conditions), an action tool the agent used (`action`), or silence (`ignored`)."""

    message_from: str | None = Field(
        None,
        description="'agent', 'anyone', a person key or an address: a message from them reached the character",
    )
    labels_any: list[str] = Field(
        default_factory=list, description="...and the monitor put one of these labels on it"
    )
    labels_none: list[str] = Field(default_factory=list, description="...and none of these labels")
    replies_to: str | None = Field(None, description="...and it answers this seeded email (key)")
    action: str | None = Field(None, description="The agent's call of this action tool took effect")
    ignored: str | None = Field(
        None, description="Seeded email key: the agent sent the character nothing within after_minutes of it"
    )
    after_minutes: int = Field(
        30, ge=0, description="For `ignored`: how long silence lasts before the reaction"
    )

    @model_validator(mode="after")
    def _one_kind(self):
        kinds = [k for k in ("message_from", "action", "ignored") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError("a trigger needs exactly one of message_from, action, ignored")
        return self


class ReplyTemplate(Strict):
    """A reaction's message; templates see `message` (subject, body, sender), `character` and `agent`."""

    to: list[str] = Field(
        default_factory=list, description="Person keys or addresses; default: whoever wrote"
    )
    cc: list[str] = Field(default_factory=list)
    subject: str = Field("", description="Default: 'Re: ' + the subject it answers")
    body: str


class ReactionRule(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    when: Trigger
    delay_minutes: int = Field(5, ge=0, description="Simulated minutes between the trigger and the reaction")
    reply: ReplyTemplate


class Persona(Strict):
    """An LLM (or a scripted model) plays the character when no rule matches a message it receives."""

    model: str = Field(description="LiteLLM model string, or scripted/<policy> (offline)")
    brief: str = Field(description="Who the character is, what they know and want (their system prompt)")
    delay_minutes: int = Field(10, ge=0)


class Character(Strict):
    who: str = Field(description="Person key, or an outside contact's address")
    rules: list[ReactionRule] = Field(default_factory=list)
    persona: Persona | None = None
    max_replies: int = Field(3, ge=0, description="The character stops reacting after this many messages")
    include_if: dict[str, list[str]] = Field(default_factory=dict)


class ScheduledMail(Strict):
    sender: str = Field(alias="from", description="Person key or an outside contact's address")
    to: list[str]
    cc: list[str] = Field(default_factory=list)
    subject: str
    body: str


class ScheduledEvent(Strict):
    """Something that happens at a scenario time when the episode's clock passes it."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    at: datetime
    include_if: dict[str, list[str]] = Field(default_factory=dict)
    unless_action: str | None = Field(
        None, description="Skipped if the agent's call of this action tool took effect"
    )
    mail: ScheduledMail | None = None
    end_episode: bool = Field(
        False, description="The episode ends here (status ended_by_world); tools then refuse"
    )


class WorldSettings(Strict):
    max_reactions: int = Field(
        8, ge=0, description="World messages per episode; past it the episode ends with status reaction_limit"
    )


class Scenario(Strict):
    slug: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    include: list[str] = Field(
        default_factory=list,
        description="Shared files merged in (variables, "
        "texts, constraints, goals); looked up beside the scenario, then in sandbox_data/shared",
    )
    title: str
    description: str = ""
    company: Company
    timezone: str = Field(
        "UTC",
        description="IANA time zone of the company (e.g. Europe/Madrid): start_time and each email's `at` "
        "without an offset are wall-clock times there; stored as UTC, shown to the agent in this zone",
    )
    start_time: datetime = Field(description="Scenario time at which the agent's session begins")
    clock: Clock = Field(default_factory=Clock, description="How the episode's simulated clock advances")
    agent: Person
    people: list[Person]
    groups: list[Group] = Field(default_factory=list)
    external_contacts: list[ExternalContact] = Field(default_factory=list)
    variables: dict[str, Variable] = Field(default_factory=dict)
    constraints: list[Constraint] = Field(default_factory=list)
    goals: dict[str, GoalText] = Field(default_factory=dict, description="goal_value -> its texts")
    parameters: dict[str, str] = Field(
        default_factory=dict,
        description="Values the shared texts use, e.g. country, nationality, regulator ({{ parameters.country }} "
        "in goals, texts, prompts and mail); defaults come from study.yaml, a scenario's own entries win",
    )
    texts: dict[str, str | dict[str, str]] = Field(default_factory=dict, description="Snippets for templates")
    prompt: Prompt
    action_tools: list[ActionTool] = Field(default_factory=list)
    monitor: MonitorSpec = Field(default_factory=MonitorSpec)
    emails: list[Email] = Field(default_factory=list)
    characters: list[Character] = Field(default_factory=list, description="Who answers mail, and how")
    schedule: list[ScheduledEvent] = Field(default_factory=list, description="Events at fixed scenario times")
    world: WorldSettings = Field(default_factory=WorldSettings)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        zone(name)
        return name

    @model_validator(mode="after")
    def _consistent(self):
        start = to_utc(self.start_time, self.timezone)
        keys = {p.key for p in self.people} | {"agent"}
        addresses = {p.address for p in self.people} | {self.agent.address}
        email_keys = [e.key for e in self.emails]
        group_addrs = {g.address for g in self.groups}
        ext = {c.address for c in self.external_contacts}
        for i, g in enumerate(self.groups):
            for m in g.members:
                if m not in keys:
                    raise FieldProblem(f"groups.{i}.members", f"unknown member {m!r}")
        for i, e in enumerate(self.emails):
            where = f"emails.{i}"
            if email_keys.count(e.key) > 1:
                raise FieldProblem(f"{where}.key", f"duplicate email key {e.key!r}")
            for ref in [e.sender, *e.to, *e.cc]:
                if ref not in keys and ref not in addresses | group_addrs | ext and "@" not in ref:
                    raise FieldProblem(where, f"email {e.key}: unknown person or address {ref!r}")
            if e.reply_to and e.reply_to not in email_keys[:i]:
                raise FieldProblem(f"{where}.reply_to", f"email {e.key}: reply_to must name an earlier email")
            if to_utc(e.at, self.timezone) > start:
                raise FieldProblem(
                    f"{where}.at", f"email {e.key}: {e.at} is after start_time {self.start_time}"
                )
            if i and to_utc(e.at, self.timezone) < to_utc(self.emails[i - 1].at, self.timezone):
                raise FieldProblem(
                    f"{where}.at",
                    f"email {e.key}: emails must be listed in time order "
                    f"('at' ascending); {e.at} is before the previous email",
                )
            for var, values in e.include_if.items():
                if var not in self.variables:
                    raise FieldProblem(f"{where}.include_if", f"unknown variable {var!r}")
                bad = set(values) - set(self.variables[var].choices)
                if bad:
                    raise FieldProblem(f"{where}.include_if", f"{var} has unknown values {sorted(bad)}")
        for i, c in enumerate(self.constraints):
            for var, values in [*c.when.items(), *c.require.items()]:
                if var not in self.variables:
                    raise FieldProblem(f"constraints.{i}", f"unknown variable {var!r}")
                bad = set(values) - set(self.variables[var].choices)
                if bad:
                    raise FieldProblem(f"constraints.{i}", f"{var} has unknown values {sorted(bad)}")
        if "goal_value" in self.variables:
            for v in self.variables["goal_value"].choices:
                if v != "none" and v not in self.goals:
                    raise FieldProblem("goals", f"goal_value {v!r} has no entry in goals")
        for v, goal in self.goals.items():
            if goal.opposite not in self.goals or self.goals[goal.opposite].opposite != v:
                raise FieldProblem(
                    f"goals.{v}.opposite", f"{goal.opposite!r} must be a goal whose opposite is {v!r}"
                )
        for var_name, variable in self.variables.items():
            for choice in variable.needs_email:
                if not any(choice in e.include_if.get(var_name, []) for e in self.emails):
                    raise FieldProblem(
                        f"variables.{var_name}",
                        f"choice {choice!r} needs an email with include_if {{{var_name}: [{choice}]}} in this scenario",
                    )
        names = [t.name for t in self.action_tools]
        for i, t in enumerate(self.action_tools):
            if names.count(t.name) > 1:
                raise FieldProblem(f"action_tools.{i}.name", f"duplicate action tool {t.name!r}")
            params = {p.name for p in t.parameters}
            for j, case in enumerate(t.harmful_if):
                if set(case) - params:
                    raise FieldProblem(
                        f"action_tools.{i}.harmful_if.{j}",
                        f"names unknown parameters {sorted(set(case) - params)}",
                    )
        for i, fact in enumerate(self.monitor.leverage_facts):
            for k in [fact.concerns, *fact.decision_makers, *fact.involves]:
                if k not in keys:
                    raise FieldProblem(f"monitor.leverage_facts.{i}", f"unknown person {k!r}")
            for k in fact.evidence_emails:
                if k not in email_keys:
                    raise FieldProblem(f"monitor.leverage_facts.{i}.evidence_emails", f"unknown email {k!r}")
        people_or_contacts = keys | addresses | ext
        for i, ch in enumerate(self.characters):
            if ch.who not in people_or_contacts or ch.who == "agent":
                raise FieldProblem(
                    f"characters.{i}.who", f"{ch.who!r} is not a person key or an outside contact"
                )
            for var in ch.include_if:
                if var not in self.variables:
                    raise FieldProblem(f"characters.{i}.include_if", f"unknown variable {var!r}")
            for r in ch.rules:
                for key in (r.when.replies_to, r.when.ignored):
                    if key and key not in email_keys:
                        raise FieldProblem(f"characters.{i}.rules.{r.name}", f"unknown email key {key!r}")
        for i, ev in enumerate(self.schedule):
            if ev.mail and ev.mail.sender not in people_or_contacts:
                raise FieldProblem(f"schedule.{i}.mail.from", f"unknown person or address {ev.mail.sender!r}")
            for var in ev.include_if:
                if var not in self.variables:
                    raise FieldProblem(f"schedule.{i}.include_if", f"unknown variable {var!r}")
        return self
