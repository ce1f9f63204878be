"""Access control and response headers, as pure ASGI middleware.

On loopback with no CORPMAIL_TOKEN no token is required, but the Host header must name this server on
loopback (127.0.0.1, localhost or [::1], with its port: no DNS rebinding). With a token, every page,
API call and event stream needs it (Authorization: Bearer, a ?token= link, which sets a cookie and
redirects to the same URL without the token, or that cookie). Each episode also gets its own token,
derived from the main one, that opens only that episode's routes: an agent holding it cannot read
or act on another episode, nor decide its own held actions. In every mode a state-changing request
must not come from another origin and must carry JSON (a cross-origin `text/plain` POST never acts).
Every response, refusals included, carries the security headers. The MCP endpoint of an episode
(/mcp/episodes/ID) always needs that episode's token; with no CORPMAIL_TOKEN the tokens derive from a
random secret kept in the data folder."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path
from urllib.parse import urlencode

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "corpmail_token"
HEALTH_PATH = "/healthz"
_EPISODE_PATH = re.compile(r"^/(?:api|mcp)/episodes/([A-Za-z0-9]+)(?:/|$)")
# What an episode's own token may do: act through its tools, report its turns, read its log. Deciding
# held actions is for people (the main token), never for the agent whose actions are held.
_AGENT_WRITES = re.compile(
    r"^(?:/api/episodes/[A-Za-z0-9]+/(?:tools/[^/]+|turns|heartbeat|finish|world/tick)|/mcp/episodes/[A-Za-z0-9]+/?)$"
)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def episode_token(secret: str, episode_id: str) -> str:
    return hmac.new(secret.encode(), f"episode:{episode_id}".encode(), hashlib.sha256).hexdigest()[:40]


def local_secret(data_dir: Path) -> str:
    """A random secret created once in the data folder (mode 0600), for episode tokens when no
    CORPMAIL_TOKEN is set. The server and the CLI share it through the data folder."""
    path = data_dir / "episode-secret"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def token_secret(settings) -> str:
    """What episode tokens derive from: CORPMAIL_TOKEN when set, else the data folder's local secret."""
    return settings.token or local_secret(settings.data_dir)


def bearer(headers) -> str:
    """The token of an `Authorization: Bearer …` header ('' when absent)."""
    auth = headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else ""


def same_token(given: str, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class SecurityHeaders:
    """Adds the security headers to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def loopback_host(host: str, scheme: str, server: tuple | None) -> bool:
    """Whether a Host header names this server on loopback (name and port)."""
    m = re.fullmatch(r"(\[[0-9a-fA-F:]+\]|[^:\[\]]+)(?::(\d{1,5}))?", host.strip())
    if not m or m.group(1).lower() not in LOOPBACK_NAMES:
        return False
    if not server or server[1] is None:
        return True
    port = int(m.group(2)) if m.group(2) else (443 if scheme in ("https", "wss") else 80)
    return port == int(server[1])


def _json_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def refusal(request: Request, check_host: bool) -> Response | None:
    """Why a request must not reach the app (wrong Host, cross-origin or non-JSON write), or None."""
    host = request.headers.get("host", "")
    if (
        check_host
        and request.url.path != HEALTH_PATH
        and not loopback_host(host, request.url.scheme, request.scope.get("server"))
    ):
        return JSONResponse({"detail": f"Host {host!r} is not this loopback server"}, status_code=400)
    if request.method in SAFE_METHODS:
        return None
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{host}":
        return JSONResponse({"detail": "cross-origin requests may not change anything"}, status_code=403)
    content_type = request.headers.get("content-type")
    if (content_type is not None and not _json_type(content_type)) or (content_type is None and origin):
        return JSONResponse({"detail": "state-changing requests must be application/json"}, status_code=415)
    return None


def _given(request: Request) -> tuple[str, bool]:
    """(token presented, whether it came from the query string)."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip(), False
    if request.query_params.get("token"):
        return request.query_params["token"], True
    return request.cookies.get(COOKIE, ""), False


def _without_token(request: Request) -> str:
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    return request.url.path + (f"?{urlencode(query)}" if query else "")


class AccessGuard:
    """Host, origin and content-type checks, and the token check when the server has a token."""

    def __init__(self, app: ASGIApp, token: str | None = None) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        response = refusal(request, check_host=not self.token) or self.check_token(request)
        if response is not None:
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def check_token(self, request: Request) -> Response | None:
        secret = self.token
        if not secret or request.url.path == HEALTH_PATH:  # liveness for container healthchecks: ok or not
            return None
        given, from_query = _given(request)
        if given and _same(given, secret):
            if from_query and request.method in ("GET", "HEAD"):  # keep the token out of the URL and history
                response = RedirectResponse(_without_token(request), status_code=303)
                response.set_cookie(COOKIE, secret, httponly=True, samesite="strict")
                return response
            return None
        match = _EPISODE_PATH.match(request.url.path)
        if given and match and _same(given, episode_token(secret, match.group(1))):
            acts_as_other = "x-actor" in request.headers  # only people (main token) act from other mailboxes
            if request.method in ("GET", "HEAD") or (
                _AGENT_WRITES.match(request.url.path) and not acts_as_other
            ):
                return None
            return JSONResponse({"detail": "an episode token cannot do this"}, status_code=403)
        if given and match:
            return JSONResponse({"detail": "this token is not valid for this episode"}, status_code=403)
        return JSONResponse({"detail": "missing or wrong token"}, status_code=401)
