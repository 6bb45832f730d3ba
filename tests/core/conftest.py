from __future__ import annotations

from dataclasses import dataclass

import pytest

from alpha01.app import AppContext, build_engine
from alpha01.channels.fake import FakeChannel
from alpha01.clock import FakeClock
from alpha01.config import Settings
from alpha01.demo import demo_passages
from alpha01.engine import Engine
from alpha01.llm.fake import FakeLLM
from alpha01.paths import Paths
from alpha01.pipeline.retrieval import MemoryRetriever


@dataclass
class Rig:
    engine: Engine
    channel: FakeChannel
    llm: FakeLLM
    clock: FakeClock
    app: AppContext

    def settle(self, rounds: int = 3, advance: float = 10.0) -> None:
        """Let time pass and the engine work until nothing is left to do."""
        for _ in range(rounds):
            self.engine.step()
            self.clock.advance(advance)
        self.engine.step()

    def rows(self, sql: str, *args):
        return [dict(r) for r in self.engine.store.conn.execute(sql, args).fetchall()]


@pytest.fixture
def make_rig(tmp_path):
    made: list[Rig] = []

    def make(*, paced: bool = False, echo_sends: bool = False, home=None, clock=None,
             **overrides) -> Rig:
        app = AppContext(paths=Paths(home or tmp_path / "rig").ensure())
        sections = {"shop": {"name": "测试店"}, "engine": {"aggregate_window_s": 2.0},
                    "pacing": {"enabled": paced},
                    "knowledge": {"relevance_threshold": 0.1}}
        for key, value in overrides.items():
            sections.setdefault(key, {}).update(value)
        app.settings = Settings().with_overrides(**sections)
        clock = clock or FakeClock()
        channel = FakeChannel(paced=paced, echo_sends=echo_sends, clock=clock)
        llm = FakeLLM(default="芒果12.8元一斤，当季很甜。")
        retriever = MemoryRetriever(demo_passages(), faq_threshold=0.8)
        engine = build_engine(app, channels=[channel], llm=llm, retriever=retriever,
                              clock=clock)
        engine.start()
        rig = Rig(engine, channel, llm, clock, app)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.engine.close()
        rig.app.close()
