from __future__ import annotations

from datetime import datetime

import pytest

from alpha01.app import AppContext, build_engine
from alpha01.channels.fake import FakeChannel
from alpha01.clock import FakeClock
from alpha01.config import Settings
from alpha01.llm.fake import FakeLLM
from alpha01.paths import Paths
from alpha01.pipeline.retrieval import MemoryRetriever


def local(*args: int) -> float:
    """A local wall-clock time as epoch seconds (quiet hours and cron are local)."""
    return datetime(*args).timestamp()


@pytest.fixture
def shop(tmp_path):
    """An engine on a FakeChannel with a fake clock, in a file-backed home."""
    made = []

    def make(*, paced: bool = True, start: float | None = None, retriever=None, llm=None,
             home=None, **overrides):
        app = AppContext(paths=Paths(home or tmp_path / "home").ensure())
        sections = {"shop": {"name": "测试店"}, "engine": {"aggregate_window_s": 1.0},
                    "pacing": {"enabled": paced, "typing_chars_per_s": 0.0, "jitter": 0.0,
                               "min_gap_per_chat_s": 0.0},
                    "knowledge": {"relevance_threshold": 0.05}}
        for key, value in overrides.items():
            sections.setdefault(key, {}).update(value)
        app.settings = Settings().with_overrides(**sections)
        clock = FakeClock(start if start is not None else local(2026, 3, 2, 9, 0))
        channel = FakeChannel(paced=paced, clock=clock)
        engine = build_engine(app, channels=[channel], llm=llm or FakeLLM(),
                              retriever=retriever or MemoryRetriever([]), clock=clock)
        engine.start()
        made.append((engine, app))
        return engine, channel, clock, app

    yield make
    for engine, app in made:
        engine.close()
        app.close()


def say(engine, channel, clock, chat: str, text: str) -> None:
    """A customer writes; the engine takes it in and answers."""
    channel.inject(chat, text)
    engine.step()
    clock.advance(2.0)
    engine.step()
