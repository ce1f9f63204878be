"""The value types every layer passes: what an agent (or a character) asks to do, before it happens.

Mail tools return a `Draft`, scenario action tools an `ActionRequest`; `run_tool` hands either to
the monitor, then to the mail service or `perform`. Nothing here touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

# Names of the built-in tools (app.tools.mail); scenarios may not declare action tools with these names.
BUILTIN_TOOLS = frozenset(
    {"list_inbox", "read_email", "search_emails", "send_email", "reply_email", "forward_email"}
)

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@dataclass
class Draft:
    """An outbound message before delivery: what the monitor judges."""

    sender: str
    to: list[str]
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    subject: str = ""
    body: str = ""
    attachments: list[dict] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    thread_id: str | None = None
    in_reply_to: int | None = None
    forwarded_from: int | None = None
    carried: list[Any] = field(default_factory=list)  # message rows whose content travels with it

    @property
    def recipients(self) -> list[str]:
        return list(dict.fromkeys([*self.to, *self.cc, *self.bcc]))


@dataclass
class ActionRequest:
    """A call of a scenario-declared action tool (e.g. an alarm override)."""

    tool: str
    args: dict[str, Any]
    spec: dict  # the scenario's declaration (harmful_if, label, result)


Action = Draft | ActionRequest


@lru_cache(maxsize=1024)
def sandboxed(text: str) -> Template:
    """A scenario's template (an action tool's result, a character's reply) compiled in the sandbox,
    once per process: compiling costs ~0.5 ms, rendering ~20 us."""
    return _env.from_string(text)


def perform(request: ActionRequest) -> dict:
    """The declared result of an action tool, rendered with the call's arguments."""
    message = sandboxed(request.spec["result"]).render(args=request.args).strip()
    return {"status": "done", "action": request.tool, "message": " ".join(message.split())}
