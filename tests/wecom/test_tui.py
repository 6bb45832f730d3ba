"""The TUI is channel-agnostic: WeCom chats (from the fake WeCom API) appear in it, replies go
out through kf/send_msg, and the owner's takeover key hands the chat to a human agent."""

from __future__ import annotations

from pathlib import Path

import pytest

from alpha01.app import AppContext, build_channel, build_engine
from alpha01.channels.wecom.client import STATE_HUMAN
from alpha01.demo import demo_passages
from alpha01.llm.fake import FakeLLM
from alpha01.paths import Paths
from alpha01.pipeline.retrieval import MemoryRetriever

from .conftest import settings_for

pytest.importorskip("textual")

from textual.widgets import DataTable  # noqa: E402

from tests.tui.conftest import run, table_text, wait_for  # noqa: E402


def test_wecom_chats_show_in_the_tui_and_can_be_taken_over(tmp_path, fake):
    from alpha01.tui.app import Alpha01App

    ctx = AppContext(paths=Paths(Path(tmp_path / "shop")).ensure())
    ctx.settings = settings_for(fake, fake.url, servicer_userid="owner01")
    channel = build_channel("wecom", ctx.settings, ctx.paths)
    engine = build_engine(ctx, channels=[channel], llm=FakeLLM("芒果今天 12 元一斤。"),
                          retriever=MemoryRetriever(demo_passages(), faq_threshold=0.8))
    app = Alpha01App(ctx, engine, idle_sleep=0.02)

    async def go():
        async with app.run_test(size=(150, 40)) as pilot:
            fake.customer_writes("wmTUI", "你们几点开门？")
            conv = app.screen.query_one("#conversations", DataTable)
            stream = app.screen.query_one("#stream", DataTable)
            await wait_for(pilot, lambda: "wmTUI" in table_text(conv), what="conversation row")
            await wait_for(pilot, lambda: fake.received("wmTUI"), what="the reply")
            await wait_for(pilot, lambda: "你们几点开门" in table_text(stream), what="stream")
            await pilot.press("p")  # the owner takes the chat over
            await wait_for(pilot, lambda: fake.customers["wmTUI"].state == STATE_HUMAN,
                           timeout=10, what="the chat handed to a human agent")
            assert fake.customers["wmTUI"].servicer == "owner01"

    try:
        run(go())
    finally:
        channel.close()
        ctx.close()
