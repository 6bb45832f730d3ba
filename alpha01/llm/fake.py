"""A scriptable fake model: queue replies with `enqueue`, read prompts back from `history`."""

from __future__ import annotations

import threading
import time
from collections import deque

from ..domain import Completion
from ..errors import LLMError, LLMTimeout, LLMUnavailable
from .base import ChatMessage, LLMBackend


class FakeLLM(LLMBackend):
    """Returns queued replies in order, then `default`. Records every prompt it was given.

    `enqueue` also takes an exception instance (raised in place of a reply) so tests can script
    failures; `delay_s` simulates a slow model and honours the deadline like a real one.
    """

    name = "fake"

    def __init__(self, default: str = "好的，收到。", *, tier: str = "local",
                 delay_s: float = 0.0, model: str = "fake-model", **_: object) -> None:
        self.default = default
        self.tier = tier
        self.delay_s = delay_s
        self.model = model
        self.is_available = True
        self.history: list[list[ChatMessage]] = []
        self._queue: deque[str | BaseException] = deque()
        self._lock = threading.Lock()

    def enqueue(self, *replies: str | BaseException) -> FakeLLM:
        with self._lock:
            self._queue.extend(replies)
        return self

    def available(self) -> bool:
        return self.is_available

    def complete(self, messages, *, max_tokens=256, temperature=0.2, deadline=None) -> Completion:
        if not self.is_available:
            raise LLMUnavailable("fake model switched off")
        started = time.monotonic()
        with self._lock:
            self.history.append([dict(m) for m in messages])
            item = self._queue.popleft() if self._queue else self.default
        if self.delay_s:
            wait = self.delay_s
            if deadline is not None and started + wait > deadline:
                time.sleep(max(0.0, deadline - started))
                raise LLMTimeout("fake model passed its deadline")
            time.sleep(wait)
        if isinstance(item, BaseException):
            raise item if isinstance(item, LLMError) else LLMError(str(item))
        prompt_chars = sum(len(m["content"]) for m in messages)
        return Completion(
            text=item,
            model=self.model,
            served_by=self.name,
            tokens_in=prompt_chars // 2,
            tokens_out=max(1, len(item) // 2),
            latency_ms=(time.monotonic() - started) * 1000,
        )


class NullLLM(LLMBackend):
    """No model at all: every question the shop's FAQ and rules cannot answer is handed off."""

    name = "none"

    def __init__(self, **_: object) -> None:
        pass

    def available(self) -> bool:
        return False

    def complete(self, messages, *, max_tokens=256, temperature=0.2, deadline=None) -> Completion:
        raise LLMUnavailable("no model configured (settings: llm.backend = \"none\")")
