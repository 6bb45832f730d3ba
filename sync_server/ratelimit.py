"""Token-bucket rate limits: the project's one bucket (alpha01/ratelimit.py).

The server's limits (scans per address and per token, enrollments per address) keep their
buckets in the database (`rate_buckets`, spent inside the scan writer's transactions, see
SyncService.scan_batch) with `refill`, so every server process and instance on one database
shares them; `RateLimiter.retry_after` formats the wait for the Retry-After header.
"""

from __future__ import annotations

from alpha01.ratelimit import RateLimiter, refill, retry_after

__all__ = ["RateLimiter", "refill", "retry_after"]
