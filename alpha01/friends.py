"""The friend policy: which friend requests the shop accepts, and how it names and tags them.

A channel that has friends (`Capability.FRIENDS`, e.g. WeChat) only lists the waiting requests
and accepts one when told to, with the remark and tags chosen here. The policy keeps the daily
cap, the remark sequence (`<prefix><store_code>-0001`, unique for the home) and the tags: the
configured ones, and for a binding code in the request (店码 ABC234) the code, and the store and
channel the sync server knows it by. Each accepted friend becomes a `kind="friend"` message; the
engine records the customer, sets the remark and tags, and queues the welcome through the outbox.

The counters live in the home's database (one row per channel); the engine writes them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .channels.base import Befriends
from .config import WeChatSettings
from .domain import Inbound

log = logging.getLogger("alpha01.friends")

CHECK_EVERY_S = 30.0  # friend requests are looked at this often


@dataclass
class FriendRules:
    auto_accept: bool = False
    daily_cap: int = 20
    store_code: str = "A01"
    remark_prefix: str = ""
    tags: list[str] = field(default_factory=list)

    @classmethod
    def from_settings(cls, s: WeChatSettings) -> FriendRules:
        return cls(auto_accept=s.friend_auto_accept, daily_cap=s.friend_daily_cap,
                   store_code=s.store_code, remark_prefix=s.remark_prefix,
                   tags=list(s.friend_tags))


@dataclass
class FriendCounters:
    day: str = ""
    accepted_today: int = 0
    seq: int = 0

    def to_json(self) -> str:
        return json.dumps({"day": self.day, "accepted_today": self.accepted_today,
                           "friend_seq": self.seq})

    @classmethod
    def from_json(cls, raw: str) -> FriendCounters:
        data = json.loads(raw)
        return cls(day=str(data.get("day", "")), accepted_today=int(data.get("accepted_today", 0)),
                   seq=int(data.get("friend_seq", 0)))


class FriendPolicy:
    def __init__(self, rules: FriendRules, *,
                 resolve_binding: Callable[[str], Any] | None = None,
                 legacy_state: Path | None = None) -> None:
        """`resolve_binding`: the sync server's lookup of a binding code (None offline);
        `legacy_state`: a JSON file where an earlier version kept the counters (read once,
        when the database has none yet)."""
        self.rules = rules
        self.resolve_binding = resolve_binding
        self.legacy_state = legacy_state
        self.held = 0  # requests left waiting because of the daily cap (since start)
        self._counters: dict[str, FriendCounters] = {}
        self._last_check: dict[str, float] = {}

    # -- counters ---------------------------------------------------------------------------

    def load(self, channel: str, raw: str) -> None:
        """The channel's counters as the database keeps them ("" when it has none yet)."""
        if raw:
            try:
                self._counters[channel] = FriendCounters.from_json(raw)
                return
            except (ValueError, TypeError):
                log.warning("unreadable friend counters of %s; they start over", channel)
        self._counters[channel] = self._legacy()

    def _legacy(self) -> FriendCounters:
        if self.legacy_state is None or not self.legacy_state.exists():
            return FriendCounters()
        try:
            return FriendCounters.from_json(self.legacy_state.read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError):
            return FriendCounters()

    def counters(self, channel: str) -> FriendCounters:
        return self._counters.setdefault(channel, FriendCounters())

    def today(self, channel: str) -> int:
        return self.counters(channel).accepted_today

    # -- the policy -------------------------------------------------------------------------

    def due(self, channel: str, now: float) -> bool:
        """Time to look at the channel's friend requests again?"""
        if not self.rules.auto_accept:
            return False
        if now - self._last_check.get(channel, float("-inf")) < CHECK_EVERY_S:
            return False
        self._last_check[channel] = now
        return True

    def admit(self, name: str, channel: Befriends, now: float,
              save: Callable[[str, str], None]) -> list[Inbound]:
        """Accept the waiting requests within today's cap; `save(channel, counters)` keeps the
        counters after each acceptance (the engine writes them). Returns the friend messages."""
        from .sync.client import parse_binding_code  # httpx only when friends come

        c = self.counters(name)
        today = datetime.fromtimestamp(now).strftime("%Y-%m-%d")
        if c.day != today:
            c.day, c.accepted_today = today, 0
        out = []
        for request in channel.friend_requests():
            if c.accepted_today >= self.rules.daily_cap:
                self.held += 1
                continue  # stays in the channel's list for tomorrow or for the merchant
            seq = c.seq + 1
            remark = f"{self.rules.remark_prefix}{self.rules.store_code}-{seq:04d}"
            tags = list(self.rules.tags)
            code = parse_binding_code(request.message)
            binding = None
            if code:
                tags.append(f"店码:{code}")
                binding = self._binding(code)
                if binding is not None:
                    tags += [f"门店:{binding.store_name}", f"渠道:{binding.channel}"]
            chat = channel.accept_friend(request, remark, tags)
            c.seq, c.accepted_today = seq, c.accepted_today + 1
            save(name, c.to_json())
            out.append(Inbound(
                channel=name, chat=chat, sender=request.name, text=request.message, ts=now,
                key_hint=f"friend:{remark}", kind="friend",
                extra={"remark": remark, "tags": tags, "welcome": True, "binding": code,
                       "store": binding.store_name if binding is not None else None}))
        return out

    def _binding(self, code: str) -> Any:
        if self.resolve_binding is None:
            return None
        try:
            return self.resolve_binding(code)
        except Exception as exc:  # offline or the server is down: the code tag still stands
            log.info("binding code %s not resolved: %s", code, exc)
            return None
