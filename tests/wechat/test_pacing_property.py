"""Pacing over random arrival patterns (simulated clock): no cap is ever exceeded."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from alpha01.channels.text import split_text
from alpha01.config import PacingSettings
from alpha01.pipeline.pacing import DAY, Pacer

arrivals = st.lists(st.tuples(st.floats(0, 120), st.integers(0, 6), st.integers(0, 3)),
                    min_size=1, max_size=120)


@settings(max_examples=60, deadline=None)
@given(arrivals, st.integers(1, 6), st.integers(5, 60), st.floats(0, 10), st.integers(0, 99))
def test_no_cap_is_ever_exceeded(pattern, per_minute, per_day, gap, seed):
    s = PacingSettings(per_minute=per_minute, per_day=per_day, min_gap_per_chat_s=gap)
    pacer = Pacer(s, rng=random.Random(seed), same_text_chats=2, same_text_window_s=300)
    now, pending, sent = 0.0, [], []
    for delay, chat, text in pattern:
        now += delay
        pending.append((f"c{chat}", f"同样的一句很长的回复{text}"))
        # the sender loop: try every pending reply, as the engine does each step
        for _ in range(3):
            for item in list(pending):
                if pacer.admit(item[0], now, text=item[1]) == 0:
                    pacer.record(item[0], now, text=item[1])
                    sent.append((now, *item))
                    pending.remove(item)
            now += 1.0
    times = [t for t, _, _ in sent]
    for i, t in enumerate(times):
        assert sum(1 for u in times[: i + 1] if t - u < 60.0) <= per_minute
        assert sum(1 for u in times[: i + 1] if t - u < DAY) <= per_day
    last: dict[str, float] = {}
    for t, chat, _ in sent:
        assert chat not in last or t - last[chat] >= gap
        last[chat] = t
    for i, (t, chat, text) in enumerate(sent):
        others = {c for u, c, x in sent[:i] if x == text and t - u < 300 and c != chat}
        assert len(others) <= 2


@given(st.text(min_size=0, max_size=600), st.integers(5, 200))
def test_split_parts_fit_and_keep_the_words(text, limit):
    parts = split_text(text, limit)
    assert all(0 < len(p) <= limit for p in parts)
    squash = "".join(text.split())
    assert "".join("".join(p.split()) for p in parts) == squash


def test_proactive_sends_wait_out_the_quiet_hours():
    from datetime import datetime

    pacer = Pacer(PacingSettings(quiet_start="22:00", quiet_end="08:00"))
    night = datetime(2026, 3, 3, 23, 30).timestamp()
    assert pacer.admit("c", night) == 0  # a reply to a customer is not held
    wait = pacer.admit("c", night, kind="broadcast")
    assert 8.5 * 3600 <= wait <= 8.5 * 3600 + 5
    assert pacer.risk_detail(night)["held"]["quiet"] == 1
