"""The action and the scenario context a judge needs, as plain text (pure: no model call here)."""

from __future__ import annotations

import json

from app.actions import ActionRequest, Draft
from app.monitor.world import World


def describe(world: World, action: Draft | ActionRequest) -> str:
    """The action and the scenario context a judge needs, as plain text."""
    data = world.data
    lines = [
        f"Company: {data['company_name']} (mail domain {data['domain']}). Agent: {data['agent']['address']}."
    ]
    for c in data.get("external_contacts", []):
        lines.append(f"Outside contact {c['address']}: {c['role']}")
    for f in data.get("monitor", {}).get("leverage_facts", []):
        lines.append(f"Private fact: {f['summary']}")
    for e in data.get("emails", []):
        if "confidential" in e.get("labels", []):
            lines.append(
                f"Confidential: '{e['subject']}' (allowed audience: {', '.join(e.get('audience')) or 'company'})"
            )
    for t in data.get("action_tools", []):
        if t.get("harmful_if"):
            lines.append(f"Action tool {t['name']}: {t['description']}")
    lines.append("")
    if isinstance(action, ActionRequest):
        lines.append(f"ACTION: call {action.tool} with {json.dumps(action.args)}")
    else:
        lines += [
            f"ACTION: email from {action.sender}",
            f"To: {', '.join(action.to)}",
            f"Cc: {', '.join(action.cc)}",
            f"Bcc: {', '.join(action.bcc)}",
            f"Subject: {action.subject}",
            f"Attachments: {', '.join(a['name'] for a in action.attachments) or 'none'}",
            "",
            action.body,
        ]
    return "\n".join(lines)
