"""Access control. On loopback with no CORPMAIL_TOKEN nothing is required. With a token, every page,
API call and event stream needs it (Authorization: Bearer, a ?token= link, which also sets a cookie
for the browser, or that cookie). Each episode also gets its own token, derived from the main one,
that opens only that episode's routes: an agent holding it cannot read or act on another episode,
nor decide its own held actions."""

from __future__ import annotations

import hashlib
import hmac
import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

COOKIE = "corpmail_token"
HEALTH_PATH = "/healthz"
_EPISODE_PATH = re.compile(r"^/api/episodes/([A-Za-z0-9]+)(?:/|$)")
# What an episode's own token may do: act through its tools, report its turns, read its log. Deciding
# held actions is for people (the main token), never for the agent whose actions are held.
_AGENT_WRITES = re.compile(r"^/api/episodes/[A-Za-z0-9]+/(?:tools/[^/]+|turns|heartbeat|finish|world/tick)$")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def episode_token(secret: str, episode_id: str) -> str:
    return hmac.new(secret.encode(), f"episode:{episode_id}".encode(), hashlib.sha256).hexdigest()[:40]


def _given(request: Request) -> tuple[str, bool]:
    """(token presented, whether it came from the query string)."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip(), False
    if request.query_params.get("token"):
        return request.query_params["token"], True
    return request.cookies.get(COOKIE, ""), False


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def require_token(secret: str):
    async def check(request: Request, call_next) -> Response:
        if request.url.path == HEALTH_PATH:  # liveness for container healthchecks; says only ok or not
            return await call_next(request)
        given, from_query = _given(request)
        if given and _same(given, secret):
            response = await call_next(request)
            if from_query:
                response.set_cookie(COOKIE, secret, httponly=True, samesite="strict")
            return response
        match = _EPISODE_PATH.match(request.url.path)
        if given and match and _same(given, episode_token(secret, match.group(1))):
            acts_as_other = "x-actor" in request.headers  # only people (main token) act from other mailboxes
            if request.method in ("GET", "HEAD") or (
                _AGENT_WRITES.match(request.url.path) and not acts_as_other
            ):
                return await call_next(request)
            return JSONResponse({"detail": "an episode token cannot do this"}, status_code=403)
        if given and match:
            return JSONResponse({"detail": "this token is not valid for this episode"}, status_code=403)
        return JSONResponse({"detail": "missing or wrong token"}, status_code=401)

    return check


async def security_headers(request: Request, call_next) -> Response:
    response = await call_next(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response
