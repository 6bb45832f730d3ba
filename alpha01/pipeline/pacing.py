"""Outbound pacing: reply like a person would, never faster or more often.

Every channel that can get the account banned goes through a Pacer: a minimum gap per chat,
global per-minute and per-day caps, a typing delay proportional to the reply's length (with
jitter), and quiet hours for proactive sends. The pacer only says *when*; the engine's sender
asks `admit` right before each send and records what went out.
"""

from __future__ import annotations

import random
from collections import deque
from datetime import datetime

from ..config import PacingSettings
from .hours import _minutes

DAY = 86_400.0


class Pacer:
    def __init__(self, settings: PacingSettings, *, rng: random.Random | None = None) -> None:
        self.s = settings
        self.rng = rng or random.Random()
        self._last_by_chat: dict[str, float] = {}
        self._recent: deque[float] = deque()  # send times within the last day

    # -- state --------------------------------------------------------------------------------

    def load(self, sent_times: list[tuple[str, float]], now: float) -> None:
        """Rebuild from the sends of the last day, so a restart does not reset the caps."""
        for chat, at in sorted(sent_times, key=lambda t: t[1]):
            if now - at < DAY:
                self._recent.append(at)
                self._last_by_chat[chat] = max(self._last_by_chat.get(chat, 0.0), at)

    def record(self, chat: str, at: float) -> None:
        self._recent.append(at)
        self._last_by_chat[chat] = at

    def _trim(self, now: float) -> None:
        while self._recent and now - self._recent[0] >= DAY:
            self._recent.popleft()

    # -- decisions ----------------------------------------------------------------------------

    def typing_delay(self, text: str) -> float:
        """Seconds a person would take to type `text`."""
        if not self.s.enabled or self.s.typing_chars_per_s <= 0:
            return 0.0
        base = min(self.s.typing_max_s, len(text) / self.s.typing_chars_per_s)
        return max(0.0, base * (1 + self.rng.uniform(-self.s.jitter, self.s.jitter)))

    def plan(self, text: str, now: float) -> float:
        """When a reply written now should go out at the earliest."""
        return now + self.typing_delay(text)

    def in_quiet_hours(self, when: datetime) -> bool:
        start, end = _minutes(self.s.quiet_start), _minutes(self.s.quiet_end)
        if start == end:
            return False
        m = when.hour * 60 + when.minute
        return start <= m < end if start < end else (m >= start or m < end)

    def admit(self, chat: str, now: float) -> float:
        """0 if a send to `chat` may go out now, else the seconds to wait."""
        if not self.s.enabled:
            return 0.0
        self._trim(now)
        waits = [0.0]
        last = self._last_by_chat.get(chat)
        if last is not None:
            waits.append(last + self.s.min_gap_per_chat_s - now)
        if self.s.per_day and len(self._recent) >= self.s.per_day:
            waits.append(self._recent[-self.s.per_day] + DAY - now)
        if self.s.per_minute:
            in_minute = [t for t in self._recent if now - t < 60.0]
            if len(in_minute) >= self.s.per_minute:
                waits.append(in_minute[-self.s.per_minute] + 60.0 - now)
        return max(waits)

    def risk(self, now: float) -> float:
        """Share of the tightest budget used (0..1): the TUI's risk meter."""
        self._trim(now)
        minute = sum(1 for t in self._recent if now - t < 60.0)
        parts = []
        if self.s.per_minute:
            parts.append(minute / self.s.per_minute)
        if self.s.per_day:
            parts.append(len(self._recent) / self.s.per_day)
        return min(1.0, max(parts, default=0.0))
