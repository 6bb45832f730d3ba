"""The web channel's in-process state, free of any web framework: sessions' transcripts, the
queue of customer messages for the engine, reply fan-out to open pages, rate limits.

Threads: the HTTP server's event loop calls `accept`, `transcript`, `subscribe`; the engine
thread calls `drain` (poll) and `deliver` (send). One lock guards it all; nothing slow runs
under it.
"""

from __future__ import annotations

import asyncio
import collections
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...domain import Inbound, Outbound

#: client message ids: what a browser may send as the durable id of one message
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


@dataclass(slots=True)
class Item:
    """One line of a chat as the page shows it."""

    seq: int  # order within the session; the page resumes its stream after the last seq
    id: str  # stable for the page: "c:<client id>", "r:<reply id>", "h:<n>" (from the database)
    role: str  # "customer" | "shop"
    text: str
    at: float

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "id": self.id, "role": self.role, "text": self.text,
                "at": round(self.at, 3)}


@dataclass
class Session:
    sid: str
    name: str
    items: collections.deque = field(default_factory=collections.deque)
    seq: int = 0
    client_ids: set[str] = field(default_factory=set)
    reply_ids: set[int] = field(default_factory=set)
    waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class Hub:
    """Transcripts of the live sessions and the hand-over points to and from the engine."""

    def __init__(self, channel: str, *, history_items: int = 100, max_sessions: int = 5000,
                 seed: Callable[[str], list[tuple[str, ...]]] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.channel = channel
        self.history_items = history_items
        self.max_sessions = max_sessions
        self.seed = seed  # earlier turns of a chat from the database, oldest first
        self.clock = clock
        self.wake: Callable[[], None] | None = None
        self._sessions: collections.OrderedDict[str, Session] = collections.OrderedDict()
        self._inbox: list[Inbound] = []
        self._lock = threading.Lock()
        self.streams = 0
        # Sequence numbers restart with the process: a page that resumes with another epoch's
        # position gets the whole transcript again instead of a gap.
        self.epoch = secrets.token_hex(4)

    # -- sessions -----------------------------------------------------------------------------

    def _session(self, sid: str, name: str | None = None) -> Session:
        """The session's state, loaded from the database on first use (call under the lock)."""
        s = self._sessions.get(sid)
        if s is not None:
            self._sessions.move_to_end(sid)
            return s
        s = Session(sid=sid, name=name or display_name(sid))
        s.items = collections.deque(maxlen=self.history_items)
        if self.seed is not None:
            try:
                earlier = self.seed(sid)
            except Exception:  # history is a courtesy: a locked or missing DB must not stop chat
                earlier = []
            for n, (role, text, *turn) in enumerate(earlier[-self.history_items:]):
                s.seq += 1
                s.items.append(Item(s.seq, self._seed_id(s, n, turn[0] if turn else ""),
                                    "customer" if role == "user" else "shop", text, 0.0))
        self._sessions[sid] = s
        while len(self._sessions) > self.max_sessions:
            old_sid, old = next(iter(self._sessions.items()))
            if old.waiters:  # a page is open: keep it, evict nothing this time
                break
            del self._sessions[old_sid]
        return s

    @staticmethod
    def _seed_id(s: Session, n: int, turn: str) -> str:
        """The shown id of an earlier turn: the page's own client id, or the reply's id, so a
        retry or a resend after a restart is recognised instead of shown again."""
        prefix = f"h:{s.sid}:"
        if turn.startswith(prefix) and CLIENT_ID.match(turn[len(prefix):]):
            s.client_ids.add(turn[len(prefix):])
            return "c:" + turn[len(prefix):]
        if turn.startswith("r:") and turn[2:].isdigit():
            s.reply_ids.add(int(turn[2:]))
            return turn
        return f"h:{n}"

    def tag(self, sid: str, **extra: Any) -> None:
        """Remember facts about a session (e.g. the QR binding code it arrived with)."""
        with self._lock:
            self._session(sid).extra.update(extra)

    def transcript(self, sid: str) -> list[dict[str, Any]]:
        with self._lock:
            return [i.to_json() for i in self._session(sid).items]

    # -- customer → engine --------------------------------------------------------------------

    def accept(self, sid: str, client_id: str, text: str) -> tuple[bool, dict[str, Any]]:
        """A customer's message from the page. Returns (new?, the item as shown).

        A retried POST with the same client id is answered with the same item and queued only
        once here; intake's durable key (session + client id) covers restarts.
        """
        now = self.clock()
        with self._lock:
            s = self._session(sid)
            item_id = f"c:{client_id}"
            if client_id in s.client_ids:
                for it in s.items:
                    if it.id == item_id:
                        return False, it.to_json()
                return False, {"id": item_id, "role": "customer", "text": text, "seq": 0,
                               "at": now}
            s.client_ids.add(client_id)
            if len(s.client_ids) > 4 * self.history_items:
                s.client_ids = {i.id[2:] for i in s.items if i.id.startswith("c:")}
                s.client_ids.add(client_id)
            s.seq += 1
            item = Item(s.seq, item_id, "customer", text, now)
            s.items.append(item)
            self._inbox.append(Inbound(
                channel=self.channel, chat=sid, sender=s.name, text=text, ts=now,
                key_hint=f"{sid}:{client_id}", extra=dict(s.extra)))
            self._publish(s, item)
        if self.wake is not None:
            self.wake()
        return True, item.to_json()

    def drain(self) -> list[Inbound]:
        with self._lock:
            out, self._inbox = self._inbox, []
        return out

    # -- engine → customer --------------------------------------------------------------------

    def deliver(self, out: Outbound) -> None:
        """A reply (bot or merchant) for a session; repeated reply ids are shown once."""
        with self._lock:
            s = self._session(out.chat)
            if out.id in s.reply_ids:
                return
            s.reply_ids.add(out.id)
            s.seq += 1
            item = Item(s.seq, f"r:{out.id}", "shop", out.text, self.clock())
            s.items.append(item)
            self._publish(s, item)

    def delivered(self, chat: str, reply_id: int) -> bool:
        with self._lock:
            s = self._sessions.get(chat)
            return bool(s and reply_id in s.reply_ids)

    def reply_delays(self) -> list[float]:
        """Seconds from each customer message to the next shop message in its session, as
        this process saw them (for the benchmark: the server-side part of the latency)."""
        out = []
        with self._lock:
            for s in self._sessions.values():
                asked = None
                for it in s.items:
                    if it.role == "customer" and asked is None and it.at:
                        asked = it.at
                    elif it.role == "shop" and asked is not None:
                        out.append(it.at - asked)
                        asked = None
        return out

    # -- streams to open pages ----------------------------------------------------------------

    def position(self, sid: str) -> str:
        with self._lock:
            return f"{self.epoch}.{self._session(sid).seq}"

    def subscribe(self, sid: str, after: str, keep: int = 0
                  ) -> tuple[asyncio.Queue, list[dict[str, Any]] | None, list[dict[str, Any]]]:
        """Register the calling event loop's queue for a session's new items. With `keep`, the
        session's oldest streams beyond the newest `keep` are told to end.

        `after` is a position ("epoch.seq") the page has shown. Returns the queue, the whole
        transcript when the page must start over (None when it need not), and the items after
        that position.
        """
        loop = asyncio.get_running_loop()
        q: asyncio.Queue = asyncio.Queue()
        epoch, _, seq = after.partition(".")
        with self._lock:
            s = self._session(sid)
            s.waiters.append((loop, q))
            self.streams += 1
            if keep:
                for old_loop, old_q in s.waiters[:-keep]:
                    _put(old_loop, old_q, None)
            if epoch == self.epoch and seq.isdigit():
                return q, None, [i.to_json() for i in s.items if i.seq > int(seq)]
            return q, [i.to_json() for i in s.items], []

    def unsubscribe(self, sid: str, q: asyncio.Queue) -> None:
        with self._lock:
            self.streams -= 1
            s = self._sessions.get(sid)
            if s is not None:
                s.waiters = [(lp, w) for lp, w in s.waiters if w is not q]

    def close_streams(self) -> None:
        """Tell every open stream to end (the server is stopping)."""
        with self._lock:
            for s in self._sessions.values():
                for loop, q in s.waiters:
                    _put(loop, q, None)

    def _publish(self, s: Session, item: Item) -> None:
        data = item.to_json()
        for loop, q in s.waiters:
            _put(loop, q, data)


def _put(loop: asyncio.AbstractEventLoop, q: asyncio.Queue, data: Any) -> None:
    try:
        loop.call_soon_threadsafe(q.put_nowait, data)
    except RuntimeError:  # that loop has closed: the page is gone
        pass


def display_name(sid: str) -> str:
    """How a web customer is listed in the TUI until the merchant gives a remark."""
    return f"网页访客{sid[:4].upper()}"
