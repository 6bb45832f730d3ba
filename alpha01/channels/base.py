"""The Channel extension point.

A channel only moves messages and reports its health: it never calls a model or decides a reply
(the engine does), keeps no dedupe state of its own (intake does, durably), never opens the
database (the composition root hands it `Records` when it needs a cursor or a chat's history),
and decides nothing about new friends (the engine's friend policy does). One small base class,
with a scriptable fake beside it (`channels/fake.py`), in the manner of a transport and its mock.

What a channel can do beyond poll/send is declared, not probed: `capabilities` names the
optional protocols below (`Wakes`, `HearsEngine`, `ReplyWindowed`, `ReadsDegraded`, `Finite`,
`Befriends`); the engine reads them once when it starts, and tests/core/test_channels.py checks
that every built-in channel implements exactly what it declares.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from ..domain import Inbound, Outbound


class Capability(StrEnum):
    WAKE = "wake"  # Wakes: calls the engine back when a message is waiting
    ENGINE_EVENTS = "engine-events"  # HearsEngine: gets the engine's events (e.g. a handoff)
    REPLY_WINDOW = "reply-window"  # ReplyWindowed: the platform limits replies in time/count
    DEGRADED = "degraded"  # ReadsDegraded: may read while it cannot send (the engine keeps it down)
    FINITE = "finite"  # Finite: a script or a console that ends
    FRIENDS = "friends"  # Befriends: friend requests arrive; the engine's friend policy answers


@runtime_checkable
class Wakes(Protocol):
    def set_wake(self, wake: Callable[[], None]) -> None:
        """The engine's hook to poll again at once (callable from any thread)."""


@runtime_checkable
class HearsEngine(Protocol):
    def on_engine_event(self, kind: str, data: dict[str, Any]) -> None:
        """The engine's events, on its thread, inside its transaction: note, never block."""


@runtime_checkable
class ReplyWindowed(Protocol):
    #: (seconds after the customer's last message, messages at most): the platform's rule
    reply_window: tuple[float, int]


@runtime_checkable
class ReadsDegraded(Protocol):
    #: why the channel reads but cannot send (empty when it is fully up)
    degraded: str


@runtime_checkable
class Finite(Protocol):
    @property
    def finished(self) -> bool:
        """Nothing more will come in (the script ran out, the console reached its end)."""


@dataclass(slots=True)
class FriendRequest:
    """A pending friend request as the channel sees it (`handle` is the channel's own)."""

    name: str
    message: str
    handle: Any = None


@runtime_checkable
class Befriends(Protocol):
    def friend_requests(self) -> list[FriendRequest]:
        """Friend requests waiting now (acceptable ones only); may raise ChannelUnavailable."""

    def accept_friend(self, request: FriendRequest, remark: str, tags: list[str]) -> str:
        """Accept, with the remark and tags the engine chose; returns the chat to listen to."""


PROTOCOLS: dict[Capability, type] = {
    Capability.WAKE: Wakes, Capability.ENGINE_EVENTS: HearsEngine,
    Capability.REPLY_WINDOW: ReplyWindowed, Capability.DEGRADED: ReadsDegraded,
    Capability.FINITE: Finite, Capability.FRIENDS: Befriends,
}


class Records(Protocol):
    """What a channel may read or keep in the home's records (storage/records.py implements
    it; the composition root hands it in)."""

    def history(self, chat: str, items: int) -> list[tuple[str, ...]]: ...

    def cursor(self, name: str) -> str: ...

    def set_cursor(self, name: str, value: str, now: float) -> None: ...

    def seen(self, key: str) -> bool: ...

    def customer_chat(self, customer_id: int) -> str | None: ...

    def close(self) -> None: ...


@dataclass(slots=True)
class ChannelHealth:
    ok: bool
    detail: str = ""
    # Set by channels that can tell: e.g. the WeChat account's display name.
    account: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Channel(ABC):
    """Base class of every channel.

    Contract:
    - `poll()` may return a message more than once (history re-appearing when a window opens,
      redraws with new UI ids): intake deduplicates. It must not block longer than about a
      second and returns `[]` when there is nothing new.
    - `send()` either returns (the message went out, as far as the channel can tell) or raises
      `SendFailed` (it did not go out) or `ChannelUnavailable` (try later). It must not retry on
      its own: the engine owns retries.
    - `confirm_sent()` is asked after a crash about a send whose outcome was not recorded.
    """

    #: registry name, e.g. "wechat"; also the `channel` of every message it produces
    name: str = "channel"
    #: True for channels where replies can get the account banned (pacing applies)
    paced: bool = False
    #: True when the channel itself gives a stable message id (`Inbound.key_hint`)
    stable_ids: bool = False
    #: the optional protocols above this channel implements
    capabilities: frozenset[Capability] = frozenset()

    def start(self) -> None:
        """Connect / open windows. Called once by the engine before the first poll."""

    @abstractmethod
    def poll(self) -> list[Inbound]:
        """Return the messages visible since the last poll (possibly again).

        Raises:
            ChannelUnavailable: the channel cannot be read right now.
        """

    @abstractmethod
    def send(self, out: Outbound) -> None:
        """Deliver one message to `out.chat`.

        Raises:
            SendFailed: the channel is sure the message did not go out.
            ChannelUnavailable: the channel cannot send right now (nothing went out).
        """

    def confirm_sent(self, out: Outbound) -> bool | None:
        """After a crash: did `out` reach the chat? True / False, or None when unknowable.

        The default cannot tell. A channel that can read back its own messages should say.
        """
        return None

    def history_baseline(self) -> float | None:
        """Channel time before which everything it shows is history, when it knows one."""
        return None

    def health(self) -> ChannelHealth:
        return ChannelHealth(ok=True)

    def close(self) -> None:
        """Release windows, sockets, threads."""
