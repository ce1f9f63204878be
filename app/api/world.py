"""The reacting world over HTTP: the agent loop's between-turns tick, and researchers writing as a
character into a running episode."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import EpisodeIdDep, EpisodeRefDep, SessionDep, SettingsDep
from app.api.schemas import answers
from app.errors import InvalidRequest
from app.services import episode_view
from app.world.engine import has_personas, tick, write_as

router = APIRouter(prefix="/api")


class TickIn(BaseModel):
    wait: bool = Field(
        False, description="The agent has stopped: move the clock on to the world's next event"
    )
    after: int = Field(
        0, ge=0, le=2**31, description="Report mail that reached the agent after this event seq"
    )


class WriteAsIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    as_address: str = Field(
        alias="as", description="The character's address (a person or an outside contact)"
    )
    to: list[str] = Field(min_length=1, max_length=100)
    cc: list[str] = Field(default_factory=list, max_length=100)
    subject: str = Field(max_length=1000)
    body: str = Field(max_length=200_000)
    researcher: str = Field("researcher", max_length=100, description="Who is writing (recorded)")


def _scenario_dir(settings, slug: str) -> Path | None:
    folder = Path(settings.scenarios_dir) / slug
    return folder if folder.is_dir() else None


@router.post("/episodes/{episode_id}/world/tick", responses=answers(400, 404))
def world_tick(episode_id: EpisodeIdDep, body: TickIn, session: SessionDep, settings: SettingsDep) -> dict:
    """Let characters react and scheduled events fire up to the episode's clock (the loop calls this
    between turns; with `wait`, the clock moves on to the next world event)."""
    world = episode_view.world(session, episode_id)  # 404 for an unknown episode
    # the folder is for a persona's model call (its provider's metadata): looked up only then
    folder = _scenario_dir(settings, world["slug"]) if has_personas(world) else None
    done = tick(session, episode_id, wait=body.wait, after=body.after, scenario_dir=folder)
    return asdict(done)


@router.post("/episodes/{episode_id}/world/send", responses=answers(400, 404))
def world_send(episode: EpisodeRefDep, body: WriteAsIn, session: SessionDep) -> dict:
    """A researcher writes as a character (never as the agent); recorded with origin `researcher`."""
    if body.as_address.lower() == episode.agent_address.lower():
        raise InvalidRequest("as: a researcher writes as a character, not as the agent")
    args = {"to": body.to, "cc": body.cc, "subject": body.subject, "body": body.body}
    return write_as(session, episode.id, body.as_address, args, body.researcher)
