"""FakeChannel: a scriptable channel for tests and the demo, like a mock transport.

It behaves the way an unreliable UI channel does when asked to: history re-delivered with new
UI ids, ids lost, the bot's own sends echoed back as self messages, the owner typing, send
failures, the window disappearing.
"""

from __future__ import annotations

import collections
import itertools
import threading
from dataclasses import replace

from ..domain import Inbound, Outbound
from ..errors import ChannelUnavailable, SendFailed
from .base import Channel, ChannelHealth


class FakeChannel(Channel):
    name = "fake"

    def __init__(self, name: str = "fake", *, paced: bool = False, echo_sends: bool = False,
                 stable_ids: bool = False, clock=None, **_: object) -> None:
        self.name = name
        self.paced = paced
        self.echo_sends = echo_sends
        self.stable_ids = stable_ids
        self.clock = clock
        self.sent: list[Outbound] = []
        self.visible: list[Inbound] = []  # everything the "window" shows, in order
        self._queue: list[Inbound] = []
        self._ids = itertools.count(1)
        self._seen: collections.Counter = collections.Counter()
        self._fail: list[BaseException] = []
        self._lock = threading.Lock()
        self.unavailable: str | None = None
        self.report: dict[str, object] = {}  # what health() adds about the channel (extra)
        self.polls = 0

    # -- scripting ----------------------------------------------------------------------------

    def inject(self, chat: str, text: str, *, sender: str | None = None, ts: float | None = None,
               is_self: bool = False, key_hint: str | None = None, kind: str = "text",
               is_group: bool = False, mentioned: bool = False) -> Inbound:
        """A new message appears in the window (delivered on the next poll)."""
        if ts is None and self.clock is not None:
            ts = self.clock.now()
        msg = Inbound(channel=self.name, chat=chat, sender=sender or chat, text=text, ts=ts,
                      key_hint=key_hint, ui_id=f"ui{next(self._ids)}", is_self=is_self,
                      kind=kind, is_group=is_group, mentioned=mentioned)
        with self._lock:
            same = (msg.chat, msg.sender, msg.text, msg.ts)
            msg.seq = self._seen[same]  # order among identical messages in the window
            self._seen[same] += 1
            self.visible.append(msg)
            self._queue.append(msg)
        return msg

    def owner_types(self, chat: str, text: str, ts: float | None = None) -> Inbound:
        """The merchant types into the chat himself (a self message the bot did not send)."""
        return self.inject(chat, text, sender="self", ts=ts, is_self=True)

    def redeliver(self, *, last: int | None = None, drop_ids: bool = False) -> int:
        """History re-appears (window reopened / redrawn): same messages, new or no UI ids."""
        with self._lock:
            again = self.visible[-last:] if last else list(self.visible)
            for m in again:
                self._queue.append(replace(m, ui_id=None if drop_ids else
                                           f"ui{next(self._ids)}", extra=dict(m.extra)))
            return len(again)

    def fail_sends(self, *errors: BaseException) -> None:
        """The next sends raise these, in order."""
        self._fail.extend(errors or (SendFailed("send button not found"),))

    # -- Channel ------------------------------------------------------------------------------

    def poll(self) -> list[Inbound]:
        self.polls += 1
        if self.unavailable:
            raise ChannelUnavailable(self.unavailable)
        with self._lock:
            out, self._queue = self._queue, []
        return out

    def send(self, out: Outbound) -> None:
        if self.unavailable:
            raise ChannelUnavailable(self.unavailable)
        if self._fail:
            raise self._fail.pop(0)
        self.sent.append(out)
        if self.echo_sends:
            self.inject(out.chat, out.text, sender="self", is_self=True)

    def confirm_sent(self, out: Outbound) -> bool | None:
        return any(s.id == out.id for s in self.sent)

    def health(self) -> ChannelHealth:
        # `report` is what a real channel would add about itself (the web chat its URL)
        return ChannelHealth(ok=self.unavailable is None, detail=self.unavailable or "",
                             extra=dict(self.report))

    # -- helpers for assertions ---------------------------------------------------------------

    def sent_to(self, chat: str) -> list[str]:
        return [s.text for s in self.sent if s.chat == chat]
