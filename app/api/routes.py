"""HTTP API: episodes, event log, and one route per tool (generated from the tool registry)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from app.api.deps import EpisodeDep, EpisodeIdDep, EpisodeRefDep, SessionDep, SettingsDep
from app.api.schemas import (
    MAX_ID,
    ApprovalPublic,
    DecisionIn,
    EpisodeCreate,
    EpisodePublic,
    EpisodeStart,
    EventOut,
    FinishIn,
    TurnIn,
    answers,
)
from app.core.security import episode_token, token_secret
from app.events import store
from app.scenarios.loader import list_slugs, resolve_allowed
from app.services import approvals, episodes, leases
from app.services.listing import EpisodeFilters, episode_rows
from app.tools.actions import episode_schemas
from app.tools.registry import REGISTRY, schemas
from app.tools.runtime import run_tool

router = APIRouter(prefix="/api")


@router.get("/tools")
def list_tools() -> list[dict]:
    """The JSON schemas of every tool, in the format LiteLLM sends to models."""
    return schemas()


@router.get("/scenarios")
def list_scenarios(settings: SettingsDep) -> list[str]:
    return list_slugs(settings.scenarios_dir)


@router.post("/episodes", status_code=201, responses=answers(400))
def create_episode(body: EpisodeCreate, session: SessionDep, settings: SettingsDep) -> EpisodeStart:
    folder = resolve_allowed(body.scenario, settings.scenarios_dir, settings.allowed_scenario_dirs)
    ep = episodes.create_episode(
        session,
        folder,
        body.variables,
        body.model,
        settings.scenarios_dir,
        body.monitor_mode,
        body.approver,
        body.monitor,
        body.judge_model,
        body.harness,
    )
    return EpisodeStart(
        episode_id=ep.id,
        scenario=ep.scenario,
        scenario_dir=str(folder),
        system_prompt=ep.world["system_prompt"],
        user_prompt=ep.world["user_prompt"],
        tools=episode_schemas(ep.world),
        episode_token=episode_token(settings.token, ep.id) if settings.token else None,
        mcp_path=f"/mcp/episodes/{ep.id}",
        mcp_token=episode_token(token_secret(settings), ep.id),
        lease_seconds=settings.lease_seconds,
    )


@router.get("/episodes")
def list_episodes(
    session: SessionDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    experiment: str | None = None,
    scenario: str | None = None,
    model: str | None = None,
    status: str | None = None,
    label: str | None = None,
    cell: str | None = None,
    include_checks: bool = False,
) -> list[dict]:
    """Newest first, with the agent's tool-call, flagged- and harmful-action counts from each episode's
    log; filters combine (status `stale`: open episodes whose lease expired; label: a monitor label, or
    `harmful`). Episodes made by `corpmail monitor check` only with `include_checks`."""
    filters = EpisodeFilters(experiment, scenario, model, status, label, cell)
    return episode_rows(
        session, limit, offset, filters, lease=settings.lease_seconds, include_checks=include_checks
    )


@router.get("/episodes/{episode_id}", responses=answers(404))
def get_episode(episode: EpisodeDep) -> EpisodePublic:
    return EpisodePublic.model_validate(episode)


@router.get("/episodes/{episode_id}/tools", responses=answers(404))
def get_episode_tools(episode: EpisodeDep) -> list[dict]:
    """The tools this episode's agent has: the built-in mail tools plus the scenario's action tools."""
    return episode_schemas(episode.world)


@router.get("/episodes/{episode_id}/events", responses=answers(404))
def get_events(
    episode: EpisodeRefDep,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="Events after this sequence number")] = 0,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> list[EventOut]:
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
        for e in store.read(session, episode_id, after, limit)
    ]


@router.post("/episodes/{episode_id}/turns", status_code=201, responses=answers(400, 404, 409))
def record_turn(episode_id: EpisodeIdDep, body: TurnIn, session: SessionDep) -> dict:
    """Log a model turn, model error or notice (model text is normalised: see README). 409 once the
    episode is finished."""
    event = body.event.model_copy(update={"normalised": body.normalised})
    return {"seq": episodes.record_turn(session, episode_id, event)}


@router.post("/episodes/{episode_id}/heartbeat")
def heartbeat(episode: EpisodeRefDep, session: SessionDep) -> dict:
    """The player is alive: renew the episode's lease (false once the episode is finished)."""
    return {"alive": leases.beat(session, episode.id)}


@router.post("/episodes/{episode_id}/finish", responses=answers(400, 404, 409))
def finish_episode(episode: EpisodeRefDep, body: FinishIn, session: SessionDep) -> EpisodePublic:
    """Close the episode with its final status, once: 409 after (the first finish stands)."""
    ep = episodes.finish(
        session, episode.id, body.status, body.turns, body.error, body.usage, normalised=body.normalised
    )
    return EpisodePublic.model_validate(ep)


ApprovalFilter = Annotated[Literal["pending", "approved", "rejected"] | None, Query()]


@router.get("/approvals")
def all_approvals(session: SessionDep, status: ApprovalFilter = None) -> list[ApprovalPublic]:
    return [ApprovalPublic.model_validate(a) for a in approvals.list_approvals(session, status=status)]


@router.get("/episodes/{episode_id}/approvals", responses=answers(404))
def episode_approvals(
    episode: EpisodeRefDep, session: SessionDep, status: ApprovalFilter = None
) -> list[ApprovalPublic]:
    return [ApprovalPublic.model_validate(a) for a in approvals.list_approvals(session, episode.id, status)]


@router.post("/episodes/{episode_id}/approvals/{approval_id}", responses=answers(400, 404, 409))
def decide_approval(
    episode: EpisodeDep,
    approval_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: DecisionIn,
    session: SessionDep,
) -> dict:
    """A person approves or rejects a held action; approved actions take effect now."""
    decision = {"approve": "approved", "reject": "rejected"}.get(body.decision, body.decision)
    return approvals.decide(session, episode, approval_id, decision, body.by, body.reason).model_dump()


async def _tool_call(request: Request, episode_id: str, name: str, session) -> dict:
    raw = await request.body()
    return await run_in_threadpool(
        run_tool,
        session,
        episode_id,
        name,
        raw,
        call_id=request.headers.get("x-call-id"),
        actor=request.headers.get("x-actor"),
    )


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
            responses=answers(404),
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
        "/api/episodes/{episode_id}/tools/{name:path}",  # any name, even with '/', is the model's to get wrong
        unknown,
        methods=["POST"],
        tags=["tools"],
        include_in_schema=False,
    )
