"""Outbound pacing: reply like a person would, never faster or more often.

Every channel that can get the account banned goes through a Pacer: a minimum gap per chat,
global per-minute and per-day caps, a typing delay proportional to the reply's length (with
jitter), quiet hours for proactive sends, and a brake on the same text going to many chats. The
pacer only says *when*; the engine's sender asks `admit` right before each send and `record`s
what went out. Nothing here sleeps or reads the wall clock: `now` is always passed in, so tests
drive it with a simulated clock.

Long replies are cut by `split_text`; the channel sends the parts (a WeChat bubble of 800
characters is not what a person types), while the pacer counts the reply as one send.
"""

from __future__ import annotations

import random
import re
import threading
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from ..config import PacingSettings
from .hours import _minutes

DAY = 86_400.0
MINUTE = 60.0
EPS = 1e-3
#: Out.kind values that are the shop speaking first (they wait out quiet hours).
PROACTIVE_KINDS = frozenset({"broadcast", "proactive", "followup", "campaign"})


class Pacer:
    """Decides when a send may go out. Thread-safe: the TUI reads `risk` from its own thread.

    Knobs that are not (yet) in `PacingSettings` are constructor arguments:
    `same_text_chats` distinct chats may get one identical text within `same_text_window_s`
    before further copies are held back; texts shorter than `same_text_min_chars` ("好的") are
    exempt. `gap_jitter_s` is the most random extra wait added whenever a send must wait.
    """

    def __init__(self, settings: PacingSettings, *, rng: random.Random | None = None,
                 same_text_chats: int = 5, same_text_window_s: float = 600.0,
                 same_text_min_chars: int = 8, gap_jitter_s: float | None = None) -> None:
        self.s = settings
        self.rng = rng or random.Random()
        self.same_text_chats = same_text_chats
        self.same_text_window_s = same_text_window_s
        self.same_text_min_chars = same_text_min_chars
        self.gap_jitter_s = 2.0 * settings.jitter if gap_jitter_s is None else gap_jitter_s
        self._lock = threading.RLock()
        self._last_by_chat: dict[str, float] = {}
        self._recent: deque[float] = deque()  # send times within the last day
        self._texts: dict[str, deque[tuple[float, str]]] = {}  # text -> (at, chat)
        self.held: dict[str, int] = {"gap": 0, "minute": 0, "day": 0, "same-text": 0,
                                     "quiet": 0}

    # -- state --------------------------------------------------------------------------------

    def load(self, sent_times: list[tuple[str, float]], now: float) -> None:
        """Rebuild from the sends of the last day, so a restart does not reset the caps."""
        with self._lock:
            for chat, at in sorted(sent_times, key=lambda t: t[1]):
                if now - at < DAY:
                    self._recent.append(at)
                    self._last_by_chat[chat] = max(self._last_by_chat.get(chat, 0.0), at)

    def record(self, chat: str, at: float, text: str | None = None) -> None:
        with self._lock:
            self._recent.append(at)
            self._last_by_chat[chat] = at
            key = _norm(text) if text else ""
            if len(key) >= self.same_text_min_chars:
                self._texts.setdefault(key, deque()).append((at, chat))

    def _trim(self, now: float) -> None:
        while self._recent and now - self._recent[0] >= DAY:
            self._recent.popleft()
        for key in list(self._texts):
            q = self._texts[key]
            while q and now - q[0][0] >= self.same_text_window_s:
                q.popleft()
            if not q:
                del self._texts[key]

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

    def until_quiet_end(self, now: float) -> float:
        """Seconds from `now` to the end of the quiet hours (0 outside them)."""
        when = datetime.fromtimestamp(now)
        if not self.in_quiet_hours(when):
            return 0.0
        end = _minutes(self.s.quiet_end)
        target = when.replace(hour=end // 60, minute=end % 60, second=0, microsecond=0)
        if target <= when:
            target += timedelta(days=1)
        return (target - when).total_seconds()

    def admit(self, chat: str, now: float, *, text: str | None = None,
              kind: str = "reply") -> float:
        """0 if a send to `chat` may go out now, else the seconds to wait.

        `text` enables the same-text brake, `kind` the quiet hours (proactive kinds only).
        """
        if not self.s.enabled:
            return 0.0
        with self._lock:
            self._trim(now)
            waits = {"": 0.0}
            last = self._last_by_chat.get(chat)
            # a held send always waits a little: float rounding must not open a cap early
            if last is not None and now - last < self.s.min_gap_per_chat_s:
                waits["gap"] = max(EPS, last + self.s.min_gap_per_chat_s - now)
            if self.s.per_day and len(self._recent) >= self.s.per_day:
                waits["day"] = max(EPS, self._recent[-self.s.per_day] + DAY - now)
            if self.s.per_minute:
                in_minute = [t for t in self._recent if now - t < MINUTE]
                if len(in_minute) >= self.s.per_minute:
                    waits["minute"] = max(EPS, in_minute[-self.s.per_minute] + MINUTE - now)
            if text and self.same_text_chats:
                waits["same-text"] = self._same_text_wait(chat, text, now)
            if kind in PROACTIVE_KINDS:
                waits["quiet"] = self.until_quiet_end(now)
            why = max(waits, key=lambda k: waits[k])
            wait = waits[why]
            if wait <= 0:
                return 0.0
            self.held[why] += 1
            # a little randomness so held sends do not all fire on the same boundary
            return wait + self.rng.uniform(0.0, self.gap_jitter_s)

    def admit_window(self, window: ReplyWindow, last_customer_at: float | None,
                     sent_since: int, now: float) -> bool:
        """Whether a platform's reply window lets one more message go to this customer (it
        applies even with pacing off: the platform refuses the send either way)."""
        ok = window.open(last_customer_at, sent_since, now)
        if not ok:
            with self._lock:
                self.held["window"] = self.held.get("window", 0) + 1
        return ok

    def _same_text_wait(self, chat: str, text: str, now: float) -> float:
        key = _norm(text)
        if len(key) < self.same_text_min_chars:
            return 0.0
        first_by_chat: dict[str, float] = {}
        for at, other in self._texts.get(key, ()):
            if other != chat:
                first_by_chat.setdefault(other, at)
        if len(first_by_chat) < self.same_text_chats:
            return 0.0
        # wait until enough of those copies leave the window
        times = sorted(first_by_chat.values())
        return times[len(times) - self.same_text_chats] + self.same_text_window_s - now

    # -- the risk meter -----------------------------------------------------------------------

    def risk(self, now: float) -> float:
        """Share of the tightest budget used (0..1): the TUI's risk meter."""
        return self.risk_detail(now)["risk"]

    def risk_detail(self, now: float) -> dict[str, Any]:
        """The budgets behind the meter: sends in the last minute/day, caps, holds so far."""
        with self._lock:
            self._trim(now)
            minute = sum(1 for t in self._recent if now - t < MINUTE)
            day = len(self._recent)
            parts = []
            if self.s.per_minute:
                parts.append(minute / self.s.per_minute)
            if self.s.per_day:
                parts.append(day / self.s.per_day)
            busiest = max((len(q) for q in self._texts.values()), default=0)
            return {"risk": min(1.0, max(parts, default=0.0)), "minute": minute,
                    "per_minute": self.s.per_minute, "day": day, "per_day": self.s.per_day,
                    "same_text_max": busiest, "held": dict(self.held)}


class ReplyWindow:
    """A platform's own rule for answering a customer (微信客服: within 48 hours of the
    customer's last message, and at most 5 messages until they write again).

    Unlike the pacer's caps, waiting does not help: once the window is closed only the
    customer can open it again. The engine asks `Pacer.admit_window` before each send.
    """

    def __init__(self, window_s: float, max_messages: int) -> None:
        self.window_s = window_s
        self.max_messages = max_messages

    def open(self, last_customer_at: float | None, sent_since: int, now: float) -> bool:
        if last_customer_at is None:
            return False
        if now - last_customer_at >= self.window_s:
            return False
        return not (self.max_messages and sent_since >= self.max_messages)


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text or "")




