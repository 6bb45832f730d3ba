"""The Channel extension point.

A channel only moves messages: it never calls a model or decides a reply (the engine does), and
it keeps no dedupe state of its own (intake does, durably). One small base class, with a
scriptable fake beside it (`channels/fake.py`), in the manner of a transport and its mock.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from ..domain import Inbound, Outbound


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
