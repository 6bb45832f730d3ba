"""Pilot tests that drive the real app on a fake channel and a fake model."""

from __future__ import annotations

from textual.widgets import DataTable

from .conftest import run, table_text, wait_for

SIZE = (150, 40)


def test_a_message_arrives_and_appears(rig):
    async def go():
        async with rig.app.run_test(size=SIZE) as pilot:
            rig.channel.inject("小王", "你们几点开门？")
            conv = rig.app.screen.query_one("#conversations", DataTable)
            stream = rig.app.screen.query_one("#stream", DataTable)
            await wait_for(pilot, lambda: "小王" in table_text(conv), what="conversation row")
            await wait_for(pilot, lambda: rig.channel.sent_to("小王"), what="the reply")
            await wait_for(pilot, lambda: "FAQ" in table_text(stream), what="tier in stream")
            text = table_text(stream)
            assert "你们几点开门" in text
            assert "AI" in table_text(conv)
    run(go())
