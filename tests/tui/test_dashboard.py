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


def _customer(rig, chat):
    return next(c for c in rig.engine.store.find_customers(chat))


def test_takeover_from_the_dashboard_pauses_the_ai(rig):
    async def go():
        async with rig.app.run_test(size=SIZE) as pilot:
            rig.channel.inject("小王", "你们几点开门？")
            await wait_for(pilot, lambda: rig.channel.sent_to("小王"), what="first reply")
            conv = rig.app.screen.query_one("#conversations", DataTable)
            await wait_for(pilot, lambda: "小王" in table_text(conv), what="row")
            await pilot.press("p")
            await wait_for(pilot, lambda: rig.app.bridge.reader.customer_row(
                _customer(rig, "小王").id)["paused_until"], what="pause")
            conv = rig.app.screen.query_one("#conversations", DataTable)
            await wait_for(pilot, lambda: "已暂停" in table_text(conv), what="paused label")
            rig.channel.inject("小王", "芒果多少钱一斤？")
            await wait_for(pilot, lambda: "AI paused" in str(
                rig.app.bridge.reader.stream(5)[0]["reason"]), what="ignored while paused")
            assert len(rig.channel.sent_to("小王")) == 1
            await pilot.press("r")
            await wait_for(pilot, lambda: "AI" == table_text(conv).split()[1],
                           what="AI again")
    run(go())


def test_manual_reply_goes_out_once(rig):
    async def go():
        async with rig.app.run_test(size=SIZE) as pilot:
            rig.channel.inject("李阿姨", "可以送货上门吗")
            await wait_for(pilot, lambda: rig.channel.sent_to("李阿姨"), what="bot reply")
            conv = rig.app.screen.query_one("#conversations", DataTable)
            await wait_for(pilot, lambda: "李阿姨" in table_text(conv), what="row")
            await pilot.press("enter")
            await wait_for(pilot, lambda: rig.app.screen.__class__.__name__ ==
                           "ConversationScreen", what="conversation screen")
            await pilot.press(*"下午三点给您送到")
            await pilot.press("enter")
            await wait_for(pilot, lambda: "下午三点给您送到" in rig.channel.sent_to("李阿姨"),
                           what="manual reply sent")
            await pilot.pause(0.5)
            assert rig.channel.sent_to("李阿姨").count("下午三点给您送到") == 1
            await wait_for(pilot, lambda: "店主(TUI)：下午三点给您送到" in
                           rig.app.screen.history_text, what="reply in the history")
            await pilot.press("escape")
            await wait_for(pilot, lambda: rig.app.screen.__class__.__name__ ==
                           "DashboardScreen", what="back on the dashboard")
    run(go())


def test_handoff_is_claimed_and_resolved(rig):
    async def go():
        async with rig.app.run_test(size=SIZE) as pilot:
            rig.channel.inject("张先生", "转人工")
            await wait_for(pilot, lambda: rig.app.bridge.reader.open_handoff_rows(),
                           what="handoff opened")
            await pilot.press("h")
            await wait_for(pilot, lambda: rig.app.screen.__class__.__name__ == "HandoffScreen")
            table = rig.app.screen.query_one("#handoffs", DataTable)
            assert "张先生" in table_text(table) and "待认领" in table_text(table)
            await pilot.press("c")
            await wait_for(pilot, lambda: "处理中" in table_text(table), what="claimed")
            await pilot.press("x")
            await wait_for(pilot, lambda: rig.app.screen.__class__.__name__ == "PromptScreen")
            await pilot.press(*"已电话联系")
            await pilot.press("enter")
            await wait_for(pilot, lambda: not rig.app.bridge.reader.open_handoff_rows(),
                           what="resolved")
            row = rig.app.bridge.reader.customer_row(_customer(rig, "张先生").id)
            assert row["handed_off"] == 0
            assert rig.engine.store.handoffs()[0]["note"] == "已电话联系"
    run(go())


def test_unanswered_question_becomes_an_faq_used_at_once(rig):
    rig.llm.is_available = False  # nothing but rules and FAQ: the question falls back

    async def go():
        async with rig.app.run_test(size=SIZE) as pilot:
            rig.channel.inject("小王", "榴莲能帮忙开好吗")
            await wait_for(pilot, lambda: rig.app.bridge.reader.unanswered(),
                           what="question in the inbox")
            await pilot.press("u")
            await wait_for(pilot, lambda: rig.app.screen.__class__.__name__ == "InboxScreen")
            table = rig.app.screen.query_one("#questions", DataTable)
            assert "榴莲能帮忙开好吗" in table_text(table)
            await pilot.press("enter")
            await pilot.press(*"可以开好装盒送到")
            await pilot.press("enter")
            await wait_for(pilot, lambda: not rig.app.bridge.reader.unanswered(),
                           what="inbox emptied")
            rig.channel.inject("小李", "榴莲能帮忙开好吗")
            await wait_for(pilot, lambda: rig.channel.sent_to("小李"), what="answer")
            assert rig.channel.sent_to("小李") == ["可以开好装盒送到"]
            assert rig.app.bridge.reader.stream(1)[0]["tier"] == "faq"
    run(go())
