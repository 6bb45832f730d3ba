"""The router: one reply from the local model or the cloud, under one deadline.

Policies: `local-first` (default), `cloud-first`, `local-only`, `cloud-only`. A backend that is
unavailable is skipped without a call; one that fails (error, timeout, rate limit) hands over
to the next while time is left. The cloud sits behind a circuit breaker: after a run of
failures it is not called for a cool-down, then one trial call decides whether it closes.

Exactly one reply: `complete` returns one Completion, from the first backend that succeeded,
or raises. A late answer from an abandoned attempt is discarded by that backend (see zhipu.py),
so a fallback can never put a second reply in front of the customer. `stream` falls back only
before the first piece was yielded; after that an error propagates instead of a second reply.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..config import LLMSettings
from ..domain import Completion
from ..errors import LLMError, LLMTimeout, LLMUnavailable
from ..paths import Paths
from .base import LLMBackend

POLICIES = ("local-first", "cloud-first", "local-only", "cloud-only")


class CircuitBreaker:
    """closed → (failures ≥ threshold) → open → (cool-down passed) → half-open → one trial:
    success closes it, failure opens it again. A 429 with Retry-After opens it for at least
    that long."""

    def __init__(self, threshold: int = 3, cooldown_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.open_until: float | None = None
        self._trial = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self.open_until is None:
            return "closed"
        if self.clock() < self.open_until:
            return "open"
        return "half-open"

    def allow(self) -> bool:
        """May a call go out now? In half-open, only one trial at a time."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "open" or self._trial:
                return False
            self._trial = True
            return True

    def release(self) -> None:
        """A granted trial was not used (the backend turned out unavailable)."""
        with self._lock:
            self._trial = False

    def success(self) -> None:
        with self._lock:
            self.failures = 0
            self.open_until = None
            self.opened_at = None
            self._trial = False

    def failure(self, retry_after: float | None = None) -> None:
        with self._lock:
            self.failures += 1
            was_trial = self._trial
            self._trial = False
            if was_trial or self.failures >= self.threshold or retry_after:
                now = self.clock()
                self.opened_at = now
                self.open_until = now + max(self.cooldown_s, retry_after or 0.0)


@dataclass
class Attempt:
    backend: str
    outcome: str  # ok | skipped | unavailable | timeout | error | circuit-open
    detail: str = ""
    ms: float = 0.0


@dataclass
class RouteTrace:
    policy: str
    attempts: list[Attempt] = field(default_factory=list)

    def to_json(self) -> list[dict[str, Any]]:
        return [{"backend": a.backend, "outcome": a.outcome, "detail": a.detail,
                 "ms": round(a.ms, 1)} for a in self.attempts]


class LLMRouter(LLMBackend):
    name = "router"

    def __init__(
        self,
        settings: LLMSettings | None = None,
        paths: Paths | None = None,
        *,
        local: LLMBackend | None = None,
        cloud: LLMBackend | None = None,
        policy: str | None = None,
        breaker: CircuitBreaker | None = None,
        reply_deadline_s: float | None = None,
        **_: Any,
    ) -> None:
        self.settings = settings or LLMSettings()
        self.policy = policy or self.settings.policy
        if self.policy not in POLICIES:
            raise ValueError(f"unknown router policy {self.policy!r}; one of {POLICIES}")
        if local is None and self.policy != "cloud-only":
            from .llamacpp import LlamaCppBackend

            local = LlamaCppBackend(self.settings, paths)
        if cloud is None and self.policy != "local-only":
            from .zhipu import ZhipuBackend

            cloud = ZhipuBackend(self.settings, paths)
        self.local = local
        self.cloud = cloud
        self.breaker = breaker or CircuitBreaker()
        self.reply_deadline_s = (reply_deadline_s if reply_deadline_s is not None
                                 else self.settings.reply_deadline_s)
        self.last_trace: RouteTrace | None = None

    @property
    def tier(self) -> str:  # type: ignore[override]
        order = self.order()
        return order[0].tier if order else "local"

    def order(self) -> list[LLMBackend]:
        chosen = {
            "local-first": [self.local, self.cloud],
            "cloud-first": [self.cloud, self.local],
            "local-only": [self.local],
            "cloud-only": [self.cloud],
        }[self.policy]
        return [b for b in chosen if b is not None]

    def available(self) -> bool:
        return any(self._usable(b) for b in self.order())

    def _usable(self, backend: LLMBackend) -> bool:
        if backend is self.cloud and self.breaker.state == "open":
            return False
        return backend.available()

    def close(self) -> None:
        for b in (self.local, self.cloud):
            if b is not None:
                b.close()

    # -- the fallback loop ------------------------------------------------------------------

    def _turns(self, trace: RouteTrace, overall: float) -> Iterator[_Turn]:
        """The one fallback loop `complete` and `stream` share: each backend worth calling now,
        in the policy's order, with its own deadline. Backends passed over are recorded here
        (skipped: the reply deadline passed; circuit-open; unavailable); the caller reports the
        outcome of each call through `_ok` / `_failed`, which time and record it the same way."""
        candidates = self.order()
        for i, backend in enumerate(candidates):
            now = time.monotonic()
            if now >= overall:
                trace.attempts.append(Attempt(backend.name, "skipped", "reply deadline passed"))
                return
            is_cloud = backend is self.cloud
            if is_cloud and not self.breaker.allow():
                trace.attempts.append(Attempt(backend.name, "circuit-open"))
                continue
            if not backend.available():
                if is_cloud:
                    self.breaker.release()  # a skipped trial is no verdict
                trace.attempts.append(Attempt(backend.name, "unavailable", _reason(backend)))
                continue
            yield _Turn(i, backend, self._attempt_deadline(now, overall, candidates[i + 1:]),
                        time.monotonic())

    def _ok(self, turn: _Turn, trace: RouteTrace) -> None:
        if turn.backend is self.cloud:
            self.breaker.success()
        trace.attempts.append(Attempt(turn.backend.name, "ok", "", turn.ms()))

    def _failed(self, turn: _Turn, trace: RouteTrace, exc: LLMError) -> None:
        outcome = ("timeout" if isinstance(exc, LLMTimeout)
                   else "unavailable" if isinstance(exc, LLMUnavailable) else "error")
        trace.attempts.append(Attempt(turn.backend.name, outcome, str(exc)[:200], turn.ms()))
        if turn.backend is self.cloud:
            self.breaker.failure(getattr(exc, "retry_after", None))

    def _begin(self, deadline: float | None) -> tuple[float, float, RouteTrace]:
        started = time.monotonic()
        overall = started + self.reply_deadline_s
        if deadline is not None:
            overall = min(overall, deadline)
        trace = RouteTrace(self.policy)
        self.last_trace = trace
        return started, overall, trace

    # -- one reply --------------------------------------------------------------------------

    def complete(self, messages, *, max_tokens=256, temperature=0.2, deadline=None) -> Completion:
        started, overall, trace = self._begin(deadline)
        errors: list[LLMError] = []
        for turn in self._turns(trace, overall):
            try:
                completion = turn.backend.complete(messages, max_tokens=max_tokens,
                                                   temperature=temperature,
                                                   deadline=turn.deadline)
            except LLMError as exc:
                self._failed(turn, trace, exc)
                errors.append(exc)
                continue
            self._ok(turn, trace)
            completion.served_by = completion.served_by or turn.backend.name
            completion.latency_ms = (time.monotonic() - started) * 1000
            completion.meta = {**completion.meta, "tier": turn.backend.tier,
                               "policy": self.policy, "route": trace.to_json(),
                               "fallback": turn.index > 0}
            return completion
        raise self._failure(trace, errors, overall)

    def _attempt_deadline(self, now: float, overall: float, rest: list[LLMBackend]) -> float:
        """Leave time for the next backend, if it could serve: a slow local model must not
        eat the whole reply deadline when the cloud is there to fall back on."""
        reserve = 0.0
        for b in rest:
            if b is self.cloud and self.breaker.state != "open" and b.available():
                reserve = min(self.settings.cloud_timeout_s, (overall - now) / 2)
            elif b is self.local and b.available():
                reserve = (overall - now) / 2
            if reserve:
                break
        return overall - reserve

    def _failure(self, trace: RouteTrace, errors: list[LLMError], overall: float) -> LLMError:
        summary = "; ".join(f"{a.backend}: {a.outcome}{' (' + a.detail + ')' if a.detail else ''}"
                            for a in trace.attempts) or "no backend configured"
        if time.monotonic() >= overall and any(isinstance(e, LLMTimeout) for e in errors):
            exc: LLMError = LLMTimeout(f"no reply within the deadline: {summary}")
        elif errors and not all(isinstance(e, LLMUnavailable) for e in errors):
            exc = LLMError(f"every model failed: {summary}")
        else:
            exc = LLMUnavailable(f"no model can answer: {summary}")
        exc.route = trace.to_json()  # type: ignore[attr-defined]
        return exc

    # -- streaming --------------------------------------------------------------------------

    def stream(self, messages, *, max_tokens=256, temperature=0.2, deadline=None) -> Iterator[str]:
        _, overall, trace = self._begin(deadline)
        errors: list[LLMError] = []
        for turn in self._turns(trace, overall):
            yielded = False
            try:
                for piece in turn.backend.stream(messages, max_tokens=max_tokens,
                                                 temperature=temperature,
                                                 deadline=turn.deadline):
                    yielded = True
                    yield piece
            except LLMError as exc:
                self._failed(turn, trace, exc)
                if yielded:
                    raise  # part of a reply is out: no second reply from another backend
                errors.append(exc)
                continue
            self._ok(turn, trace)
            return
        raise self._failure(trace, errors, overall)


@dataclass
class _Turn:
    """One backend's go in the fallback loop."""

    index: int
    backend: LLMBackend
    deadline: float
    started: float

    def ms(self) -> float:
        return (time.monotonic() - self.started) * 1000


def _reason(backend: LLMBackend) -> str:
    reason = getattr(backend, "unavailable_reason", None)
    if reason:
        return str(reason)[:200]
    if getattr(backend, "offline", False):
        return "offline mode"
    return "not available"

