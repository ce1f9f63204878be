"""The MCP gateway on the corpmail server: streamable HTTP at /mcp/episodes/{id}.

One SDK Server and one streamable-HTTP session manager serve every episode; the gateway checks
the episode's token on every request (always — with no CORPMAIL_TOKEN the token derives from the
data folder's local secret), tells the handlers which episode the URL names, and binds each MCP
session to that episode's credential, so a token for episode A never reaches episode B.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

import anyio
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from app.core.config import Settings
from app.core.db import new_session
from app.core.security import bearer, episode_token, same_token, token_secret
from app.harness.mcp_server import McpEpisodes, build_server
from app.models import Episode

PATH = "/mcp/episodes/{episode_id}"
SCOPE_KEY = "corpmail.episode_id"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def mcp_url(settings: Settings, episode_id: str, base_url: str | None = None) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return f"{(base_url or f'http://{host}:{settings.port}').rstrip('/')}/mcp/episodes/{episode_id}"


async def _answer(send: Send, status: int, detail: str, headers: list | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _episode_of_request(ctx) -> str:
    if ctx.request is None:  # every message over streamable HTTP carries its HTTP request
        raise RuntimeError("an MCP message without its HTTP request")
    return ctx.request.scope[SCOPE_KEY]


class McpGateway:
    """ASGI endpoint for /mcp/episodes/{id}; its session manager runs inside the app's lifespan."""

    def __init__(self, app_state, settings: Settings):
        self.settings = settings
        self.app_state = app_state  # the engine is made at startup, so it is looked up per request
        self.shared = McpEpisodes(lambda: app_state.engine, settings.scenarios_dir)
        security = None
        if settings.host in LOOPBACK:  # the SDK's DNS-rebinding guard, as it sets it up for loopback
            security = TransportSecuritySettings(
                enable_dns_rebinding_protection=True,
                allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
                allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
            )
        self.manager = StreamableHTTPSessionManager(
            app=build_server(self.shared, _episode_of_request),
            json_response=True,
            security_settings=security,
        )
        self.running = False
        self._secret: str | None = None
        self._known: set[str] = set()  # episodes are never deleted: one look each

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        async with self.manager.run():
            self.running = True
            try:
                yield
            finally:
                self.running = False

    def route(self) -> Route:
        return Route(PATH, endpoint=self, methods=["GET", "POST", "DELETE"], include_in_schema=False)

    def _allowed(self, given: str, episode_id: str) -> bool:
        if self._secret is None:
            self._secret = token_secret(self.settings)
        if self.settings.token and same_token(given, self.settings.token):
            return True
        return same_token(given, episode_token(self._secret, episode_id))

    def _exists(self, episode_id: str) -> bool:
        if episode_id not in self._known:
            with new_session(self.app_state.engine) as session:
                if session.get(Episode, episode_id) is None:
                    return False
            self._known.add(episode_id)
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        episode_id = scope["path_params"]["episode_id"]
        given = bearer(Headers(scope=scope))
        if not self._allowed(given, episode_id):
            detail = "this token is not valid for this episode" if given else "missing episode token"
            await _answer(send, 401, detail, [(b"www-authenticate", b'Bearer realm="corpmail"')])
            return
        if episode_id not in self._known and not await anyio.to_thread.run_sync(self._exists, episode_id):
            await _answer(send, 404, f"no episode {episode_id}")
            return
        if not self.running:
            await _answer(send, 503, "the MCP gateway is not running (the app's lifespan has not started)")
            return
        scope = {
            **scope,
            SCOPE_KEY: episode_id,
            # the SDK binds each MCP session to the credential that opened it
            "user": AuthenticatedUser(AccessToken(token=given, client_id=f"episode:{episode_id}", scopes=[])),
        }
        await self.manager.handle_request(scope, receive, send)
