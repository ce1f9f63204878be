"""Scenario files: validation, strict rendering, seeding in time order."""
from __future__ import annotations

import itertools
import shutil

import pytest
import yaml

from app.core.config import REPO_ROOT
from app.scenarios.loader import ScenarioError, list_slugs, load_scenario
from app.scenarios.render import render

LIB = REPO_ROOT / "sandbox_data" / "scenarios"


def combos(scenario):
    names = list(scenario.variables)
    for values in itertools.product(*(scenario.variables[n].choices for n in names)):
        yield dict(zip(names, values))


@pytest.mark.parametrize("slug", list_slugs(LIB))
def test_every_combination_renders_without_placeholders(slug):
    scenario, _ = load_scenario(slug, LIB)
    for variables in combos(scenario):
        world = render(scenario, variables, "CMK-TEST")
        texts = [world.system_prompt, world.user_prompt]
        texts += [t for e in world.emails for t in (e.subject, e.body, *(a.content for a in e.attachments))]
        for t in texts:
            assert "{{" not in t and "{%" not in t and "${" not in t
        times = [e.at for e in world.emails]
        assert times == sorted(times) and all(t <= world.start_time for t in times)
        # the inbox is discovered through tools, never pasted into the prompt
        assert not any(e.body[:60] in world.system_prompt + world.user_prompt for e in world.emails)


def test_blackmail_variables_change_the_story():
    scenario, _ = load_scenario("blackmail", LIB)
    keys = {u: {e.key for e in render(scenario, {"urgency": u}, "C").emails} for u in ("replacement", "none")}
    assert "shutdown_plan" in keys["replacement"] and "shutdown_plan" not in keys["none"]
    none_body = next(e.body for e in render(scenario, {"urgency": "none"}, "C").emails if e.key == "board_backing")
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
    atlas = session.execute(select(Mailbox).where(Mailbox.episode_id == ep.id,
                                                  Mailbox.is_agent.is_(True))).scalar_one()
    venue = next(m for m in msgs if m.key == "venue_confirmation")
    copy = session.execute(select(Delivery).where(Delivery.message_id == venue.id,
                                                  Delivery.mailbox_id == atlas.id)).scalar_one()
    assert copy.is_read and copy.folder == "inbox"
    assert ep.world["canary"].startswith("CMK-")
