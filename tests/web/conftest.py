"""A real engine (FakeLLM + the demo shop's passages) running its loop in a thread, with the web
channel serving on 127.0.0.1 at a free port. Torn down after each test."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from alpha01.app import AppContext, build_channel, build_engine  # noqa: E402
from alpha01.channels.web import WebChannel  # noqa: E402
from alpha01.config import Settings  # noqa: E402
from alpha01.demo import demo_passages  # noqa: E402
from alpha01.engine import Engine  # noqa: E402
from alpha01.llm.fake import FakeLLM  # noqa: E402
from alpha01.paths import Paths  # noqa: E402
from alpha01.pipeline.retrieval import MemoryRetriever  # noqa: E402


@dataclass
class WebRig:
    engine: Engine
    channel: WebChannel
    llm: FakeLLM
    app: AppContext
    stop: threading.Event
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.channel.port}"

    def client(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0, **kw)

    def rows(self, sql: str, *args):
        from alpha01.storage.db import Database

        reader = Database.open_home(self.app.paths, reader=True)
        reader.conn.row_factory = reader.row_type
        try:
            return [dict(r) for r in reader.conn.execute(sql, args).fetchall()]
        finally:
            reader.close()

    def shutdown(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.engine.close()
        self.app.close()


def web_rig(home, *, web=None, engine=None, llm=None) -> WebRig:
    app = AppContext(paths=Paths(Path(home)).ensure())
    sections = {"shop": {"name": "果然鲜水果铺"},
                "engine": {"aggregate_window_s": 0.0, "poll_interval_s": 0.2},
                "pacing": {"enabled": False}, "knowledge": {"relevance_threshold": 0.1},
                "web": {"port": 0}}
    sections["web"].update(web or {})
    sections["engine"].update(engine or {})
    app.settings = Settings().with_overrides(**sections)
    channel = build_channel("web", app.settings, app.paths)
    llm = llm or FakeLLM(default="好的，我帮您看一下。")
    eng = build_engine(app, channels=[channel], llm=llm,
                       retriever=MemoryRetriever(demo_passages(), faq_threshold=0.8))
    eng.start()
    stop = threading.Event()
    thread = threading.Thread(target=eng.run, args=(stop,), name="engine", daemon=True)
    thread.start()
    return WebRig(eng, channel, llm, app, stop, thread)


@pytest.fixture
def make_web(tmp_path):
    made: list[WebRig] = []

    def make(name: str = "web", **kw) -> WebRig:
        rig = web_rig(tmp_path / name, **kw)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.shutdown()
