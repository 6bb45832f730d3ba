"""The LLM backend extension point.

A backend turns chat messages into a Completion. It knows nothing about shops, retrieval or
guards: the generation stage builds the prompt and the guard stage checks the answer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

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
