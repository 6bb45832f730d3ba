"""The WeCom channel against the local fake WeCom API (HTTP on 127.0.0.1), with a real engine
and the home's real (encrypted) database. The engine is stepped by the test, not a thread."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from alpha01.app import AppContext, build_channel, build_engine
from alpha01.channels.wecom.channel import WeComChannel
from alpha01.channels.wecom.fake import FakeWeCom
from alpha01.config import Settings
from alpha01.demo import demo_passages
from alpha01.engine import Engine
from alpha01.llm.fake import FakeLLM
from alpha01.paths import Paths
from alpha01.pipeline.retrieval import MemoryRetriever

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeCom makes them


def wecom_section(fake: FakeWeCom, url: str, **extra) -> dict:
    section = {"corp_id": fake.corp_id, "secret": fake.secret, "open_kfid": fake.open_kfid,
               "token": "cbtoken", "encoding_aes_key": AES_KEY, "base_url": url,
               "poll_s": 0.0, "timeout_s": 5.0}
    section.update(extra)
    return section


def settings_for(fake: FakeWeCom, url: str, **extra) -> Settings:
    return Settings().with_overrides(
        shop={"name": "果然鲜水果铺"},
        engine={"aggregate_window_s": 0.0, "poll_interval_s": 0.05},
        pacing={"enabled": False}, llm={"backend": "fake"},
        knowledge={"backend": "memory", "relevance_threshold": 0.1},
        wecom=wecom_section(fake, url, **extra))


@pytest.fixture
def fake():
    f = FakeWeCom()
    f.url = f.serve()
    yield f
    f.close()


@dataclass
class Rig:
    engine: Engine
    channel: WeComChannel
    app: AppContext
    llm: FakeLLM

    def settle(self, until, timeout: float = 10.0) -> None:
        """Step the engine until `until()` holds."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.engine.step()
            if until():
                return
            time.sleep(0.02)
        raise AssertionError("the engine did not get there in time")

    def rows(self, sql: str, *args) -> list[dict]:
        conn = self.engine.db.conn
        return [dict(zip([c[0] for c in cur.description], r, strict=True))
                for cur in [conn.execute(sql, args)] for r in cur.fetchall()]

    def close(self) -> None:
        self.engine.close()
        self.channel.close()
        self.app.close()


@pytest.fixture
def make_rig(tmp_path, fake):
    made: list[Rig] = []

    def make(name: str = "home", *, clock=None, **extra) -> Rig:
        app = AppContext(paths=Paths(Path(tmp_path / name)).ensure())
        app.settings = settings_for(fake, fake.url, **extra)
        channel = build_channel("wecom", app.settings, app.paths)
        llm = FakeLLM(default="好的，我帮您看一下。")
        eng = build_engine(app, channels=[channel], llm=llm, clock=clock,
                           retriever=MemoryRetriever(demo_passages(), faq_threshold=0.8))
        eng.start()
        rig = Rig(eng, channel, app, llm)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.close()
