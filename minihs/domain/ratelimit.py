"""Token-bucket rate limiting (spec: "Rate limiting", 429 M_LIMIT_EXCEEDED with retry_after_ms)."""

from __future__ import annotations

import time

from minihs.config import RateLimit
from minihs.spec.errors import rate_limited

# Buckets that have refilled completely carry no information; drop them past this many keys.
_PRUNE_ABOVE = 10_000


class Ratelimiter:
    """One bucket per key (a user ID or an address), ``burst`` deep, refilled at ``per_second``."""

    def __init__(self, limit: RateLimit, clock=time.monotonic) -> None:
        self.enabled = limit.enabled
        self._rate = limit.per_second
        self._burst = float(limit.burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def check(self, key: str) -> None:
        """Take one token for ``key`` or raise the 429 MatrixError saying when to retry."""
        if not self.enabled:
            return
        now = self._clock()
        tokens, at = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            retry_after_ms = int((1.0 - tokens) / self._rate * 1000) + 1
            raise rate_limited(retry_after_ms)
        if len(self._buckets) > _PRUNE_ABOVE:
            self._prune(now)
        self._buckets[key] = (tokens - 1.0, now)

    def _prune(self, now: float) -> None:
        full_after = self._burst / self._rate
        self._buckets = {
            key: (tokens, at)
            for key, (tokens, at) in self._buckets.items()
            if now - at < full_after
        }

    def reset(self) -> None:
        self._buckets.clear()
