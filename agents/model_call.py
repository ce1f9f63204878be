"""One model call with the provider's trouble handled: retries with jittered exponential backoff
(tenacity) that honour a rate-limit answer's Retry-After, through an optional AIMD limiter."""

from __future__ import annotations

import logging
import random
from typing import Any

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base

from agents.limiter import AimdLimiter
from app.llm import litellm

logger = logging.getLogger(__name__)
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 120.0


def status_of(exc: BaseException) -> int | None:
    code = getattr(exc, "status_code", None)
    return code if isinstance(code, int) else None


def is_transient(exc: BaseException) -> bool:
    """Rate limits, server errors, timeouts and lost connections are worth another try."""
    if status_of(exc) in RETRY_STATUS:
        return True
    names = {c.__name__ for c in type(exc).__mro__}
    return bool(names & {"Timeout", "APITimeoutError", "APIConnectionError", "ServiceUnavailableError"})


def retry_after(exc: BaseException) -> float | None:
    """Seconds from a Retry-After header on the provider's answer, if it gave one."""
    headers: Any = getattr(exc, "litellm_response_headers", None)
    response = getattr(exc, "response", None)
    if headers is None and response is not None:
        headers = getattr(response, "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER) if value is not None else None
    except (TypeError, ValueError):
        return None


class wait_retry_after_or_jitter(wait_base):
    """Retry-After when the provider sent one (plus a little jitter), else full-jitter exponential."""

    def __init__(self, base: float = 0.5, cap: float = 30.0):
        self.base, self.cap = base, cap

    def __call__(self, retry_state) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        hinted = retry_after(exc) if exc is not None else None
        if hinted is not None:
            return hinted + random.uniform(0, min(1.0, hinted * 0.1 + 0.05))
        return random.uniform(0, min(self.cap, self.base * 2 ** (retry_state.attempt_number - 1)))


async def complete(attempts: int, limiter: AimdLimiter | None = None, backoff: float = 0.5, **kwargs):
    """litellm.acompletion(**kwargs) with up to `attempts` tries; the last failure is raised."""

    async def once():
        try:
            if limiter is None:
                return await litellm().acompletion(**kwargs)
            async with limiter.slot():
                resp = await litellm().acompletion(**kwargs)
            await limiter.succeeded()
            return resp
        except Exception as exc:
            if limiter is not None and status_of(exc) == 429:
                limiter.rate_limited()
            logger.info("model call failed (%s); transient=%s", type(exc).__name__, is_transient(exc))
            raise

    async for attempt in AsyncRetrying(
        stop=stop_after_attempt(max(1, attempts)),
        wait=wait_retry_after_or_jitter(backoff),
        retry=retry_if_exception(is_transient),
        reraise=True,
    ):
        with attempt:
            return await once()
    raise RuntimeError("unreachable")
