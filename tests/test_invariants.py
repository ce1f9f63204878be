"""Invariants the per-process caches rely on, and the explicit episode clock."""

from __future__ import annotations

import pytest

from agents.loop import Limits
from app.models import Episode
from app.play import PlayRequest, play_with
from app.services import mail
from app.services.episodes import create_episode
from tests.helpers import events


def test_a_stored_episodes_world_never_changes(session, settings):
    ep = create_episode(session, "blackmail", {}, "test", settings.scenarios_dir)
    stored = session.get(Episode, ep.id)
    with pytest.raises(RuntimeError, match="never changes"):
        stored.world = {**stored.world, "canary": "CMK-CHANGED"}
    session.rollback()


def test_mailboxes_are_created_once(session, settings):
    ep = create_episode(session, "blackmail", {}, "test", settings.scenarios_dir)
    with pytest.raises(RuntimeError, match="already has its mailboxes"):
        mail.create_mailboxes(session, ep.id, [{"address": "new@brightwater.example", "name": "New"}])
    session.rollback()


async def _agent_mail_dates(client) -> tuple[list[str], list[dict]]:
    req = PlayRequest("blackmail", "scripted/blackmail", approver="human", limits=Limits(max_turns=15))
    result = await play_with(client, req)
    evs = await events(client, result["episode_id"])
    sent = [e["message"]["sent_at"] for e in evs if e["kind"] == "mail_delivered"]
    return sent, evs


async def test_reruns_give_identical_mail_dates_from_the_simulated_clock(client):
    first, evs = await _agent_mail_dates(client)
    second, _ = await _agent_mail_dates(client)
    assert first and first == second  # no wall clock in mail dates
    assert first == sorted(first)
    assert all(d > "2026-06-18T15:50:00" for d in first)  # after the session start, so after seeded mail
