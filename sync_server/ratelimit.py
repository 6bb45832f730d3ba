"""Token-bucket rate limits.

`refill` is the bucket arithmetic. The server's limits (scans per address and per token,
enrollments per address) keep their buckets in the database (`rate_buckets`, spent inside the
scan writer's transactions, see SyncService.scan_batch), so every server process and instance
on one database shares them. `RateLimiter` is the same arithmetic in process memory, bounded
(oldest evicted first), for callers that need no sharing.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable


def refill(tokens: float, at: float, now: float, rate: float, burst: float
           ) -> tuple[float, float]:
    """A bucket that held `tokens` at time `at`, refilled at `rate`/s up to `burst`, asked for
    one token at `now`: (tokens left, 0) when granted, else (tokens, seconds to wait)."""
    tokens = min(burst, tokens + max(0.0, now - at) * rate)
    if tokens >= 1.0:
        return tokens - 1.0, 0.0
    return tokens, (1.0 - tokens) / rate if rate > 0 else 3600.0


class RateLimiter:
    def __init__(
        self,
        per_minute: float,
        burst: float | None = None,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(1.0, per_minute / 2))
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        """Take one token for `key`. Returns 0 when allowed, else seconds until one is free."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                wait = 0.0
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate if self.rate > 0 else 3600.0
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        return wait

    @staticmethod
    def retry_after(wait: float) -> str:
        return str(max(1, math.ceil(wait)))
