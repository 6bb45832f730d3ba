"""Token-bucket rate limits: one arithmetic for every limit in the project.

`refill` is the bucket arithmetic. `RateLimiter` keeps a bucket per key in process memory,
bounded (the longest-idle keys are forgotten first): the web chat's limits per session, per
address and for new sessions. The sync server keeps its buckets in its database instead, so
that every process on one database shares them, and spends them with the same `refill`
(sync_server/service.py). Standard library only.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable


def refill(tokens: float, at: float, now: float, rate: float, burst: float
           ) -> tuple[float, float]:
    """A bucket that held `tokens` at time `at`, refilled at `rate`/s up to `burst`, asked for
    one token at `now`: (tokens left, 0) when granted, else (tokens, seconds to wait)."""
    tokens = min(burst, tokens + max(0.0, now - at) * rate)
    if tokens >= 1.0:
        return tokens - 1.0, 0.0
    return tokens, (1.0 - tokens) / rate if rate > 0 else 3600.0


def retry_after(wait: float) -> str:
    """A Retry-After header value for a wait in seconds (whole seconds, at least 1)."""
    return str(max(1, math.ceil(wait)))


class RateLimiter:
    """A token bucket per key: `per_min` a minute on average, bursts up to `burst`.
    0 a minute means no limit."""

    def __init__(self, per_min: float, burst: float, *, max_keys: int = 50_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_min / 60.0
        self.burst = max(1.0, burst)
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: collections.OrderedDict[str, tuple[float, float]] = (
            collections.OrderedDict())
        self._lock = threading.Lock()

    retry_after = staticmethod(retry_after)

    def take(self, key: str) -> float:
        """Spend one token. Returns 0.0 when allowed, else the seconds until one is free."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.burst, now))
            tokens, wait = refill(tokens, last, now, self.rate, self.burst)
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_keys:  # forget the longest-idle keys
                self._buckets.popitem(last=False)
        return wait
