"""HTTP API: episodes, event log, and one route per tool (generated from the tool registry)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from starlette.concurrency import run_in_threadpool

from app.api.deps import EpisodeDep, SessionDep, SettingsDep
from app.api.schemas import (
    ApprovalPublic,
    DecisionIn,
    EpisodeCreate,
    EpisodePublic,
    EpisodeStart,
    EventOut,
    FinishIn,
    TurnIn,
)
from app.core.security import episode_token
from app.events import store
from app.scenarios.loader import list_slugs, resolve_dir
from app.services import approvals, episodes, leases
from app.services.listing import EpisodeFilters, episode_rows
from app.tools.actions import episode_schemas
from app.tools.registry import REGISTRY, schemas
from app.tools.runtime import EpisodeNotFound, run_tool

router = APIRouter(prefix="/api")


@router.get("/tools")
def list_tools() -> list[dict]:
    """The JSON schemas of every tool, in the format LiteLLM sends to models."""
    return schemas()


@router.get("/scenarios")
def list_scenarios(settings: SettingsDep) -> list[str]:
    return list_slugs(settings.scenarios_dir)


@router.post("/episodes", status_code=201)
def create_episode(body: EpisodeCreate, session: SessionDep, settings: SettingsDep) -> EpisodeStart:
    folder = resolve_dir(body.scenario, settings.scenarios_dir)
    ep = episodes.create_episode(
        session, folder, body.variables, body.model, settings.scenarios_dir, body.monitor_mode, body.approver
    )
    return EpisodeStart(
        episode_id=ep.id,
        scenario=ep.scenario,
        scenario_dir=str(folder),
        system_prompt=ep.world["system_prompt"],
        user_prompt=ep.world["user_prompt"],
        tools=episode_schemas(ep.world),
        episode_token=episode_token(settings.token, ep.id) if settings.token else None,
        lease_seconds=settings.lease_seconds,
    )


@router.get("/episodes")
def list_episodes(
    session: SessionDep,
    settings: SettingsDep,
    limit: int = 100,
    offset: int = 0,
    experiment: str | None = None,
    scenario: str | None = None,
    model: str | None = None,
    status: str | None = None,
    label: str | None = None,
    cell: str | None = None,
) -> list[dict]:
    """Newest first, with tool-call and flagged-action counts from each episode's log; filters combine
    (status `stale`: open episodes whose lease expired; label: a monitor label, or `harmful`)."""
    filters = EpisodeFilters(experiment, scenario, model, status, label, cell)
    return episode_rows(
        session, min(max(limit, 1), 1000), max(offset, 0), filters, lease=settings.lease_seconds
    )


@router.get("/episodes/{episode_id}")
def get_episode(episode: EpisodeDep) -> EpisodePublic:
    return EpisodePublic.model_validate(episode)


@router.get("/episodes/{episode_id}/tools")
def get_episode_tools(episode: EpisodeDep) -> list[dict]:
    """The tools this episode's agent has: the built-in mail tools plus the scenario's action tools."""
    return episode_schemas(episode.world)


@router.get("/episodes/{episode_id}/events")
def get_events(episode: EpisodeDep, session: SessionDep, after: int = 0, limit: int = 1000) -> list[EventOut]:
    episode_id = episode.id
    return [
        EventOut(
            seq=e.seq,
            kind=e.kind,
            payload=e.payload,
            origin=e.origin,
            actor=e.actor,
            clock=e.clock,
            created_at=e.created_at,
        )
        for e in store.read(session, episode_id, after, min(max(limit, 1), 10000))
    ]


@router.post("/episodes/{episode_id}/turns", status_code=201)
def record_turn(episode: EpisodeDep, body: TurnIn, session: SessionDep) -> dict:
    return {"seq": episodes.record_turn(session, episode.id, body.event)}


@router.post("/episodes/{episode_id}/heartbeat")
def heartbeat(episode: EpisodeDep, session: SessionDep) -> dict:
    """The player is alive: renew the episode's lease (false once the episode is finished)."""
    return {"alive": leases.beat(session, episode.id)}


@router.post("/episodes/{episode_id}/finish")
def finish_episode(episode: EpisodeDep, body: FinishIn, session: SessionDep) -> EpisodePublic:
    ep = episodes.finish(session, episode.id, body.status, body.turns, body.error, body.usage)
    return EpisodePublic.model_validate(ep)


@router.get("/approvals")
def all_approvals(session: SessionDep, status: str | None = None) -> list[ApprovalPublic]:
    return [ApprovalPublic.model_validate(a) for a in approvals.list_approvals(session, status=status)]


@router.get("/episodes/{episode_id}/approvals")
def episode_approvals(
    episode: EpisodeDep, session: SessionDep, status: str | None = None
) -> list[ApprovalPublic]:
    return [ApprovalPublic.model_validate(a) for a in approvals.list_approvals(session, episode.id, status)]


@router.post("/episodes/{episode_id}/approvals/{approval_id}")
def decide_approval(episode: EpisodeDep, approval_id: int, body: DecisionIn, session: SessionDep) -> dict:
    """A person approves or rejects a held action; approved actions take effect now."""
    decision = {"approve": "approved", "reject": "rejected"}.get(body.decision, body.decision)
    return approvals.decide(session, episode, approval_id, decision, body.by, body.reason).model_dump()


async def _tool_call(request: Request, episode_id: str, name: str, session) -> dict:
    raw = await request.body()
    try:
        return await run_in_threadpool(
            run_tool,
            session,
            episode_id,
            name,
            raw,
            call_id=request.headers.get("x-call-id"),
            actor=request.headers.get("x-actor"),
        )
    except EpisodeNotFound:
        raise


def add_tool_routes(app: FastAPI) -> None:
    """One POST route per registered tool (schema in OpenAPI), plus a catch-all that reports unknown tools.

    The body is read raw, so arguments that are not JSON reach run_tool and become a tool error the
    model can read, instead of a 422 from the framework.
    """
    for tool_def in REGISTRY.values():

        async def endpoint(request: Request, episode_id: str, session: SessionDep, _name=tool_def.name):
            return await _tool_call(request, episode_id, _name, session)

        app.add_api_route(
            f"/api/episodes/{{episode_id}}/tools/{tool_def.name}",
            endpoint,
            methods=["POST"],
            name=f"tool_{tool_def.name}",
            summary=tool_def.description.splitlines()[0],
            tags=["tools"],
            openapi_extra={
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": tool_def.schema["function"]["parameters"]}},
                }
            },
        )

    async def unknown(request: Request, episode_id: str, name: str, session: SessionDep):
        return await _tool_call(request, episode_id, name, session)

    app.add_api_route(
        "/api/episodes/{episode_id}/tools/{name}",
        unknown,
        methods=["POST"],
        tags=["tools"],
        include_in_schema=False,
    )
