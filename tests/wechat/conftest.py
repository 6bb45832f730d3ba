from __future__ import annotations

from dataclasses import dataclass

import pytest

from alpha01.app import AppContext, build_engine
from alpha01.channels.wechat import WeChatChannel
from alpha01.channels.wechat.fake_wx import FakeWeChat
from alpha01.clock import FakeClock
from alpha01.config import Settings
from alpha01.demo import demo_passages
from alpha01.engine import Engine
from alpha01.llm.fake import FakeLLM
from alpha01.paths import Paths
from alpha01.pipeline.retrieval import MemoryRetriever


@dataclass
class WxRig:
    engine: Engine
    channel: WeChatChannel
    wx: FakeWeChat
    clock: FakeClock
    app: AppContext

    def settle(self, rounds: int = 4, advance: float = 10.0) -> None:
        for _ in range(rounds):
            self.engine.step()
            self.clock.advance(advance)
        self.engine.step()

    def rows(self, sql: str, *args):
        return [dict(r) for r in self.engine.store.conn.execute(sql, args).fetchall()]

    def bot_sent(self, chat: str) -> list[str]:
        return self.wx.sent_to(chat)


@pytest.fixture
def make_wx(tmp_path):
    made: list[WxRig] = []

    def make(*, chats=(("小王", ()),), groups=(), wechat=None, paced=False, home=None,
             clock=None, world=None, version_probe=None, **overrides) -> WxRig:
        app = AppContext(paths=Paths(home or tmp_path / "rig").ensure())
        wsettings = {"listen": [c for c, _ in chats] + [g for g, _ in groups]}
        wsettings.update(wechat or {})
        sections = {"shop": {"name": "测试店"}, "engine": {"aggregate_window_s": 2.0},
                    "pacing": {"enabled": paced}, "knowledge": {"relevance_threshold": 0.1},
                    "wechat": wsettings}
        for key, value in overrides.items():
            sections.setdefault(key, {}).update(value)
        app.settings = Settings().with_overrides(**sections)
        clock = clock or FakeClock()
        if world is None:
            world = FakeWeChat(clock=clock, nickname="果然鲜")
            for name, history in chats:
                world.add_chat(name, history=list(history))
            for name, history in groups:
                world.add_chat(name, group=True, history=list(history))
        channel = WeChatChannel(app.settings, lib=world.module, clock=clock,
                                state_path=app.paths.home / "wechat_state.json",
                                version_probe=version_probe or (lambda: world.version))
        llm = FakeLLM(default="芒果12.8元一斤，当季很甜。")
        retriever = MemoryRetriever(demo_passages(), faq_threshold=0.8)
        engine = build_engine(app, channels=[channel], llm=llm, retriever=retriever,
                              clock=clock)
        engine.start()
        rig = WxRig(engine, channel, world, clock, app)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.engine.close()
        rig.app.close()
