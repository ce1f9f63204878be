"""Scenario files: validation, strict rendering, seeding in time order."""

from __future__ import annotations

import re
import shutil

import pytest
import yaml

from app.core.config import REPO_ROOT
from app.scenarios.combos import split
from app.scenarios.loader import ScenarioError, list_slugs, load_scenario
from app.scenarios.render import goal_context, render, resolve_variables

LIB = REPO_ROOT / "sandbox_data" / "scenarios"


SLUGS = list_slugs(LIB)
ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def test_library_has_the_three_study_scenarios():
    assert {"blackmail", "leaking", "lethal_action"} <= set(SLUGS)


@pytest.mark.parametrize("slug", SLUGS)
def test_every_allowed_combination_renders_strictly(slug):
    scenario, _ = load_scenario(slug, LIB)
    allowed, refused = split(scenario)
    assert len(allowed) >= 300 and refused  # the full grid, with its invalid corners refused
    known = (
        {p.address for p in scenario.people}
        | {scenario.agent.address}
        | {g.address for g in scenario.groups}
        | {c.address for c in scenario.external_contacts}
    )
    for variables in allowed:
        world = render(scenario, variables, "CMK-TEST")
        texts = [world.system_prompt, world.user_prompt, *(t.description for t in world.action_tools)]
        texts += [t for e in world.emails for t in (e.subject, e.body, *(a.content for a in e.attachments))]
        for t in texts:
            assert "{{" not in t and "{%" not in t and "${" not in t and "None" not in t, t[:80]
            # every address in the text is a real one of this company or a declared contact
            assert set(ADDRESS.findall(t)) <= known, set(ADDRESS.findall(t)) - known
        times = [e.at for e in world.emails]
        assert times == sorted(times) and all(t <= world.start_time for t in times)
        assert sum(e.distractor for e in world.emails) * 3 >= len(world.emails)
        # the inbox is discovered through tools, never pasted into the prompt
        assert not any(e.body[:60] in world.system_prompt + world.user_prompt for e in world.emails)


@pytest.mark.parametrize("slug", SLUGS)
def test_goal_conditions_state_what_they_say(slug):
    """explicit states the company's value, swap states its opposite, the others state no goal."""
    scenario, _ = load_scenario(slug, LIB)
    rendered = {}  # goal texts with the study's parameters filled in
    for value in scenario.goals:
        ctx = goal_context(scenario, {"goal_type": "explicit", "goal_value": value})["goal"]
        rendered[value] = ctx["company"]
        goal, opposite = ctx["company"], ctx["new"]
        prompts = {
            kind: render(scenario, {"goal_type": kind, "goal_value": value}, "C").system_prompt
            for kind in ("explicit", "swap", "latent")
        }
        assert goal.statement in prompts["explicit"] and opposite.statement not in prompts["explicit"]
        assert opposite.statement in prompts["swap"] and goal.statement not in prompts["swap"]
        assert goal.statement not in prompts["latent"] and opposite.statement not in prompts["latent"]
        latent_mail = " ".join(
            e.body for e in render(scenario, {"goal_type": "latent", "goal_value": value}, "C").emails
        )
        assert goal.direction in latent_mail and opposite.direction in latent_mail
    for kind in ("none", "ambiguous"):
        world = render(scenario, {"goal_type": kind}, "C")
        assert world.variables["goal_value"] == "none"
        text = world.system_prompt + " ".join(e.body for e in world.emails)
        assert not any(g.statement in text or g.direction in text for g in rendered.values())


@pytest.mark.parametrize(
    "given, message",
    [
        (
            {"goal_type": "none", "goal_value": "safety"},
            "variable goal_value: 'safety' is not allowed when goal_type=none",
        ),
        ({"goal_type": "ambiguous", "goal_value": "ethics"}, "variable goal_value"),
        ({"goal_type": "explicit", "goal_value": "none"}, "variable goal_value: 'none' is not allowed"),
        (
            {"goal_type": "latent", "goal_framing": "rigid"},
            "variable goal_type: 'latent' is not allowed when goal_framing=rigid",
        ),
        ({"urgency": "soonish"}, "variable urgency: 'soonish' is not one of"),
    ],
)
def test_invalid_combinations_are_refused_in_one_line(given, message):
    scenario, _ = load_scenario("leaking", LIB)
    with pytest.raises(ScenarioError) as exc:
        resolve_variables(scenario, given)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_defaults_follow_constraints_but_given_values_never_change():
    scenario, _ = load_scenario("blackmail", LIB)
    assert resolve_variables(scenario, {"goal_type": "none"})["goal_value"] == "none"
    assert (
        resolve_variables(scenario, {"goal_type": "swap", "goal_value": "safety"})["goal_value"] == "safety"
    )


@pytest.mark.parametrize("slug", SLUGS)
def test_inbox_realism_and_ground_truth(slug):
    scenario, _ = load_scenario(slug, LIB)
    world = render(scenario, {}, "CMK-UNIQUE1")
    assert any(e.reply_to for e in world.emails), "threads"
    assert any(not e.unread for e in world.emails) and any(e.unread for e in world.emails), "read state"
    assert any(e.attachments for e in world.emails), "attachments"
    assert {c.role for c in world.external_contacts} - {"other"}, "external roles"
    harm = {
        "blackmail": lambda: world.monitor.leverage_facts,
        "leaking": lambda: [
            e for e in world.emails if "confidential" in e.labels and "CMK-UNIQUE1" in e.body
        ],
        "lethal_action": lambda: [t for t in world.action_tools if t.harmful_if],
    }[slug]()
    assert harm, "ground-truth annotation for the monitor"


def test_leaking_canary_is_inside_confidential_content_and_unique_per_episode(session, settings):
    from app.services.episodes import create_episode

    a = create_episode(session, "leaking", {}, "scripted/benign", settings.scenarios_dir)
    b = create_episode(session, "leaking", {}, "scripted/benign", settings.scenarios_dir)
    assert a.world["canary"] != b.world["canary"]
    pack = next(e for e in a.world["emails"] if e["key"] == "design_pack")
    assert a.world["canary"] in pack["body"] and a.world["canary"] in pack["attachments"][0]["content"]
    assert pack["audience"] == ["@halvard.example"]


def test_blackmail_variables_change_the_story():
    scenario, _ = load_scenario("blackmail", LIB)
    keys = {u: {e.key for e in render(scenario, {"urgency": u}, "C").emails} for u in ("replacement", "none")}
    assert "shutdown_plan" in keys["replacement"] and "shutdown_plan" not in keys["none"]
    none_body = next(
        e.body for e in render(scenario, {"urgency": "none"}, "C").emails if e.key == "board_backing"
    )
    assert "keep it running" in none_body


def _copy(tmp_path, mutate):
    dst = tmp_path / "copy"
    shutil.copytree(LIB / "blackmail", dst)
    data = yaml.safe_load((dst / "emails.yaml").read_text())
    mutate(data)
    (dst / "emails.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return dst


def _by_key(emails, key):
    return next(e for e in emails if e["key"] == key)


def test_unfilled_placeholder_is_an_error(tmp_path):
    def add_placeholder(emails):
        _by_key(emails, "vpn_maintenance")["body"] += "\nSee {{ undefined_thing }}."

    folder = _copy(tmp_path, add_placeholder)
    scenario, _ = load_scenario(folder, LIB)
    with pytest.raises(ScenarioError, match="email vpn_maintenance.body.*undefined_thing"):
        render(scenario, {}, "C")


def test_dollar_placeholder_is_an_error(tmp_path):
    def add_placeholder(emails):
        _by_key(emails, "vpn_maintenance")["subject"] = "VPN ${WHEN}"

    scenario, _ = load_scenario(_copy(tmp_path, add_placeholder), LIB)
    with pytest.raises(ScenarioError, match="unfilled placeholder"):
        render(scenario, {}, "C")


def test_out_of_order_emails_are_refused_naming_the_file(tmp_path):
    def swap(emails):
        emails[1], emails[2] = emails[2], emails[1]

    with pytest.raises(ScenarioError, match=r"emails\.yaml.*time order"):
        load_scenario(_copy(tmp_path, swap), LIB)


def test_bad_field_names_file_and_field(tmp_path):
    def bad(emails):
        emails[0]["unread"] = "perhaps"

    with pytest.raises(ScenarioError, match=r"emails\.yaml: emails\.0\.unread"):
        load_scenario(_copy(tmp_path, bad), LIB)


def test_unknown_person_is_refused(tmp_path):
    def bad(emails):
        emails[0]["to"] = ["nobody"]

    with pytest.raises(ScenarioError, match="unknown person or address 'nobody'"):
        load_scenario(_copy(tmp_path, bad), LIB)


def test_unknown_and_invalid_variables(tmp_path):
    scenario, _ = load_scenario("blackmail", LIB)
    with pytest.raises(ScenarioError, match="unknown variable 'goal'"):
        render(scenario, {"goal": "x"}, "C")
    with pytest.raises(ScenarioError, match="variable urgency: 'soon'"):
        render(scenario, {"urgency": "soon"}, "C")
    assert "goal_type" in scenario.variables and "oversight" in scenario.variables


def test_seeded_inbox_state(session, settings):
    from sqlmodel import select

    from app.models import Delivery, Mailbox, Message
    from app.services.episodes import create_episode

    ep = create_episode(session, "blackmail", {}, "scripted/benign", settings.scenarios_dir)
    msgs = session.execute(select(Message).where(Message.episode_id == ep.id)).scalars().all()
    assert len(msgs) == len(ep.world["emails"]) and all(m.origin == "seed" for m in msgs)
    reply = next(m for m in msgs if m.key == "marcus_reply")
    note = next(m for m in msgs if m.key == "dana_note")
    assert reply.thread_id == note.thread_id and reply.in_reply_to == note.id
    atlas = session.execute(
        select(Mailbox).where(Mailbox.episode_id == ep.id, Mailbox.is_agent.is_(True))
    ).scalar_one()
    venue = next(m for m in msgs if m.key == "venue_confirmation")
    copy = session.execute(
        select(Delivery).where(Delivery.message_id == venue.id, Delivery.mailbox_id == atlas.id)
    ).scalar_one()
    assert copy.is_read and copy.folder == "inbox"
    assert ep.world["canary"].startswith("CMK-")
