"""The LLM backend extension point.

A backend turns chat messages into a Completion. It knows nothing about shops, retrieval or
guards: the generation stage builds the prompt and the guard stage checks the answer.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

from ..domain import Completion

# A chat message as every backend takes it: {"role": "system"|"user"|"assistant", "content": str}
ChatMessage = dict[str, str]


class LLMBackend(ABC):
    """Base class of every model backend.

    `deadline` is an absolute `time.monotonic()` value: the backend must return or raise
    `LLMTimeout` by then (a backend that cannot interrupt itself checks between tokens).
    """

    #: registry name, also recorded as `served_by`
    name: str = "llm"
    #: "local" or "cloud": which answer tier a reply from this backend counts as
    tier: str = "local"

    def available(self) -> bool:
        """Cheap check: can this backend serve now? Must not touch the network when offline."""
        return True

    @abstractmethod
    def complete(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int = 256,
        temperature: float = 0.2,
        deadline: float | None = None,
    ) -> Completion:
        """Return the model's reply to `messages`.

        Raises:
            LLMUnavailable: the backend cannot serve (no model, offline, circuit open).
            LLMTimeout: the deadline passed.
            LLMError: anything else that went wrong, translated from the library.
        """

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int = 256,
        temperature: float = 0.2,
        deadline: float | None = None,
    ) -> Iterator[str]:
        """Yield the reply in pieces. The default yields the whole completion at once."""
        yield self.complete(
            messages, max_tokens=max_tokens, temperature=temperature, deadline=deadline
        ).text

    def close(self) -> None:
        """Free the model / connection."""


class StreamingBackend(LLMBackend):
    """A backend that produces its reply as a stream of pieces: `complete` and `stream` both
    come from `_pieces`, which fills `info` with tokens_in/tokens_out/ttft_ms/finish_reason
    (and `model` when the server names it); any other key it sets lands in the Completion's
    meta (the local model's `prompt_threads`)."""

    @abstractmethod
    def _pieces(self, messages: list[ChatMessage], max_tokens: int, temperature: float,
                deadline: float | None, info: dict[str, Any]) -> Iterator[str]:
        """Yield the reply in pieces, honouring `deadline` between them."""

    @abstractmethod
    def model_label(self) -> str:
        """The model's name, asked after generation (a lazily loaded model knows it then)."""

    def complete(self, messages, *, max_tokens=256, temperature=0.2, deadline=None) -> Completion:
        started = time.monotonic()
        info: dict[str, Any] = {}
        text = "".join(self._pieces(messages, max_tokens, temperature, deadline, info)).strip()
        return Completion(
            text=text,
            model=info.get("model") or self.model_label(),
            served_by=self.name,
            tokens_in=info.get("tokens_in", 0),
            tokens_out=info.get("tokens_out", 0),
            latency_ms=(time.monotonic() - started) * 1000,
            meta={"tier": self.tier, "ttft_ms": None, "finish_reason": None,
                  **{k: v for k, v in info.items()
                     if k not in ("model", "tokens_in", "tokens_out")}},
        )

    def stream(self, messages, *, max_tokens=256, temperature=0.2, deadline=None) -> Iterator[str]:
        yield from self._pieces(messages, max_tokens, temperature, deadline, {})
