"""An AIMD concurrency limiter per provider: the limit halves when the provider says "rate limited"
and grows by one after `recover_after` successes in a row, between 1 and the configured maximum."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager


class AimdLimiter:
    def __init__(self, maximum: int, recover_after: int = 4):
        self.maximum = max(1, maximum)
        self.limit = self.maximum
        self.recover_after = recover_after
        self.in_flight = 0
        self.successes = 0
        self.decreases = 0  # how often rate limiting shrank the limit (reported by the runner)
        self._cond = asyncio.Condition()

    @asynccontextmanager
    async def slot(self):
        async with self._cond:
            await self._cond.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1
        try:
            yield
        finally:
            async with self._cond:
                self.in_flight -= 1
                self._cond.notify_all()

    def rate_limited(self) -> None:
        """Multiplicative decrease."""
        self.limit = max(1, self.limit // 2)
        self.successes = 0
        self.decreases += 1

    async def succeeded(self) -> None:
        """Additive increase after a run of successes."""
        self.successes += 1
        if self.successes >= self.recover_after and self.limit < self.maximum:
            self.limit += 1
            self.successes = 0
            async with self._cond:
                self._cond.notify_all()
