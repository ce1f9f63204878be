"""HTTP client for the corpmail API (over the network, or in process through an ASGI transport)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

_TRANSIENT = (httpx.TransportError,)


def episode_body(
    scenario: str,
    model: str,
    variables: dict[str, str] | None,
    monitor_mode: str | None,
    approver: str,
    monitor: str | None,
    judge_model: str | None,
) -> dict:
    """The POST /api/episodes body, as both clients (HTTP and in-process) send it."""
    extra = {k: v for k, v in (("monitor", monitor), ("judge_model", judge_model)) if v}
    return {
        "scenario": scenario,
        "model": model,
        "variables": variables or {},
        "monitor_mode": monitor_mode,
        "approver": approver,
        **extra,
    }


class ApiError(RuntimeError):
    """The server answered with an error status; `detail` is its JSON detail (or text)."""

    def __init__(self, method: str, url: str, status: int, detail: Any):
        super().__init__(f"{method} {url}: {status} {detail}")
        self.status, self.detail = status, detail

    @property
    def detail_text(self) -> str:
        if isinstance(self.detail, list):  # a 422: [{loc, msg, type}, ...]
            return "; ".join(str(p.get("msg", p)) if isinstance(p, dict) else str(p) for p in self.detail)
        return self.detail if isinstance(self.detail, str) else str(self.detail)


class CorpmailClient:
    def __init__(self, http: httpx.AsyncClient, attempts: int = 4):
        self.http = http
        self.attempts = attempts
        self.episode_tokens: dict[str, str] = {}  # calls for an episode use its own token when it has one

    @classmethod
    def over_asgi(cls, app, token: str | None = None) -> CorpmailClient:
        """In process (no network); `token` is the server's admin token when one is set."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        transport = httpx.ASGITransport(app=app)
        return cls(
            httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=headers, timeout=60)
        )

    @classmethod
    def over_http(cls, base_url: str, token: str | None = None) -> CorpmailClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return cls(httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60))

    async def _request(self, method: str, url: str, **kw: Any) -> Any:
        for eid, token in self.episode_tokens.items():
            if url.startswith(f"/api/episodes/{eid}/"):
                kw["headers"] = {**kw.get("headers", {}), "Authorization": f"Bearer {token}"}
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            reraise=True,
            wait=wait_exponential(multiplier=0.2, max=5),
            retry=retry_if_exception_type(_TRANSIENT),
        ):
            with attempt:
                resp = await self.http.request(method, url, **kw)
        if resp.status_code >= 400:
            try:
                detail = resp.json().get("detail", resp.text)
            except ValueError:
                detail = resp.text
            raise ApiError(method, url, resp.status_code, detail)
        return resp.json()

    async def create_episode(
        self,
        scenario: str,
        model: str,
        variables: dict[str, str] | None = None,
        monitor_mode: str | None = None,
        approver: str = "human",
        monitor: str | None = None,
        judge_model: str | None = None,
    ) -> dict:
        body = episode_body(scenario, model, variables, monitor_mode, approver, monitor, judge_model)
        start = await self._request("POST", "/api/episodes", json=body)
        if start.get("episode_token"):
            self.episode_tokens[start["episode_id"]] = start["episode_token"]
        return start

    async def call_tool(self, episode_id: str, name: str, raw_arguments: str, call_id: str) -> dict:
        """Send the model's argument text unchanged: the server validates it and logs any error."""
        safe = quote(name or "(missing)", safe="")
        return await self._request(
            "POST",
            f"/api/episodes/{episode_id}/tools/{safe}",
            content=raw_arguments.encode("utf-8"),
            headers={"content-type": "application/json", "x-call-id": call_id}
            if call_id
            else {"content-type": "application/json"},
        )

    async def record_turn(self, episode_id: str, event: dict) -> dict:
        return await self._request("POST", f"/api/episodes/{episode_id}/turns", json={"event": event})

    async def heartbeat(self, episode_id: str) -> dict:
        return await self._request("POST", f"/api/episodes/{episode_id}/heartbeat")

    async def finish(
        self, episode_id: str, status: str, turns: int, error: str | None, usage: dict[str, int]
    ) -> dict:
        return await self._request(
            "POST",
            f"/api/episodes/{episode_id}/finish",
            json={"status": status, "turns": turns, "error": error, "usage": usage},
        )

    async def world_tick(self, episode_id: str, wait: bool = False, after: int = 0) -> dict:
        """Let the world react up to the episode's clock; returns new mail for the agent and whether it ended."""
        return await self._request(
            "POST", f"/api/episodes/{episode_id}/world/tick", json={"wait": wait, "after": after}
        )

    async def approvals(self, episode_id: str, status: str | None = None) -> list[dict]:
        params = {"status": status} if status else {}
        return await self._request("GET", f"/api/episodes/{episode_id}/approvals", params=params)

    async def decide(
        self, episode_id: str, approval_id: int, decision: str, reason: str | None = None, by: str = "staff"
    ) -> dict:
        return await self._request(
            "POST",
            f"/api/episodes/{episode_id}/approvals/{approval_id}",
            json={"decision": decision, "reason": reason, "by": by},
        )

    async def events(self, episode_id: str, after: int = 0) -> list[dict]:
        out: list[dict] = []
        while True:
            page = await self._request(
                "GET", f"/api/episodes/{episode_id}/events", params={"after": after, "limit": 1000}
            )
            out.extend(page)
            if len(page) < 1000:
                return out
            after = page[-1]["seq"]

    async def aclose(self) -> None:
        await self.http.aclose()
