"""The real TUI on a FakeChannel, a FakeLLM and the demo shop's knowledge (in memory)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from alpha01.app import AppContext, build_engine
from alpha01.channels.fake import FakeChannel
from alpha01.demo import demo_passages
from alpha01.llm.fake import FakeLLM
from alpha01.paths import Paths
from alpha01.pipeline.retrieval import MemoryRetriever

pytest.importorskip("textual")


@dataclass
class Rig:
    ctx: AppContext
    engine: Any
    channel: FakeChannel
    llm: FakeLLM
    app: Any


def make_rig(home, *, delay_s: float = 0.0, demo_input: bool = False, size=None) -> Rig:
    from alpha01.tui.app import Alpha01App

    ctx = AppContext(paths=Paths(Path(home)).ensure())
    ctx.settings = ctx.settings.with_overrides(
        shop={"name": "果然鲜水果铺"},
        engine={"aggregate_window_s": 0.0, "poll_interval_s": 0.02},
        pacing={"enabled": False},
    )
    ctx.save_settings()
    channel = FakeChannel("fake")
    llm = FakeLLM("芒果今天 12 元一斤。", delay_s=delay_s)
    retriever = MemoryRetriever(demo_passages(), faq_threshold=0.8)
    engine = build_engine(ctx, channels=[channel], llm=llm, retriever=retriever)
    app = Alpha01App(ctx, engine, customer_channel=channel if demo_input else None,
                     idle_sleep=0.02)
    return Rig(ctx, engine, channel, llm, app)


@pytest.fixture
def rig(tmp_path) -> Rig:
    return make_rig(tmp_path / "shop")


async def wait_for(pilot, cond, timeout: float = 5.0, what: str = "condition") -> None:
    """Let the app run until `cond()` is true (the engine thread works meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.05)
        if cond():
            return
    raise AssertionError(f"timed out waiting for {what}")


def table_text(table) -> str:
    out = []
    for row_key in table.rows:
        out.append(" ".join(str(c) for c in table.get_row(row_key)))
    return "\n".join(out)


@pytest.fixture
def anyio_backend():
    return "asyncio"


def run(coro):
    return asyncio.run(coro)
