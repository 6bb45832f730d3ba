"""The WeChat channel through the real engine, with FakeWeChat standing in for wxauto."""

from __future__ import annotations

from alpha01.channels.wechat.fake_wx import FakeWeChat
from alpha01.clock import FakeClock


def test_a_question_gets_one_reply_and_the_echo_is_not_the_owner(make_wx):
    rig = make_wx()
    rig.wx.customer_says("小王", "你们几点开门？")
    rig.settle()
    assert rig.bot_sent("小王") == ["我们每天早上8:30开门，晚上9:30关门，节假日照常营业。"]
    rig.wx.customer_says("小王", "可以送货上门吗")
    rig.settle()
    assert len(rig.bot_sent("小王")) == 2  # the echo of the first reply paused nothing
    assert rig.rows("SELECT count(*) AS n FROM events WHERE kind = 'takeover'")[0]["n"] == 0


def test_history_shown_when_the_window_opens_is_never_answered(make_wx):
    rig = make_wx(chats=[("小王", [("小王", "上次的芒果还有吗"), ("self", "有的"),
                                  ("小王", "多少钱")])])
    rig.settle()
    rig.wx.reopen("小王")
    rig.settle()
    assert rig.bot_sent("小王") == []
    states = rig.rows("SELECT state, reason FROM messages")
    assert states and {(s["state"], s["reason"]) for s in states} == {("ignored", "history")}
    assert rig.rows("SELECT count(*) AS n FROM events WHERE kind = 'takeover'")[0]["n"] == 0


def test_changed_ids_and_reopened_windows_never_cause_a_second_reply(make_wx):
    rig = make_wx()
    rig.wx.customer_says("小王", "在吗")
    rig.settle()
    for _ in range(3):
        rig.wx.redraw("小王")
        rig.wx.reopen("小王")
        rig.settle()
    assert len(rig.bot_sent("小王")) == 1
    rig.wx.customer_says("小王", "在吗")  # the same words again are a new question
    rig.settle()
    assert len(rig.bot_sent("小王")) == 2


def test_a_restart_treats_the_window_as_history_and_keeps_keys(make_wx, tmp_path):
    rig = make_wx(home=tmp_path / "h")
    rig.wx.customer_says("小王", "可以送货上门吗")
    rig.settle()
    clock, world = rig.clock, rig.wx
    rig.engine.close()
    again = make_wx(home=tmp_path / "h", clock=clock, world=world)
    again.settle()
    assert len(world.sent_to("小王")) == 1
    world.customer_says("小王", "你们几点开门？")
    again.settle()
    assert len(world.sent_to("小王")) == 2


def test_the_owner_typing_pauses_the_ai_for_that_customer(make_wx):
    rig = make_wx(chats=[("小王", ()), ("小李", ())])
    rig.wx.customer_says("小王", "芒果甜吗")
    rig.engine.step()
    rig.wx.owner_types("小王", "甜的，我给你挑")
    rig.settle()
    rig.wx.customer_says("小王", "几点开门")
    rig.wx.customer_says("小李", "几点开门")
    rig.settle()
    assert rig.bot_sent("小王") == []
    assert len(rig.bot_sent("小李")) == 1
    [ev] = rig.rows("SELECT detail FROM events WHERE kind = 'takeover'")
    assert "owner typed" in ev["detail"]


def test_asking_for_a_human_hands_off_and_silences_the_bot(make_wx):
    rig = make_wx()
    rig.wx.customer_says("小王", "转人工")
    rig.settle()
    assert rig.bot_sent("小王") == [rig.app.settings.shop.handoff_reply]
    rig.wx.customer_says("小王", "几点开门")
    rig.settle()
    assert len(rig.bot_sent("小王")) == 1
    assert rig.rows("SELECT count(*) AS n FROM handoffs")[0]["n"] == 1


def test_a_long_reply_goes_out_in_parts_and_its_echo_pauses_nothing(make_wx):
    rig = make_wx(wechat={"split_chars": 16})
    whole = rig.app.settings.shop.safe_reply  # what an unanswerable question gets
    rig.wx.customer_says("小王", "你们老板是哪里人")
    rig.settle()
    parts = rig.bot_sent("小王")
    assert len(parts) >= 2 and "".join(parts) == whole
    assert all(len(p) <= 16 for p in parts)
    assert rig.rows("SELECT count(*) AS n FROM events WHERE kind = 'takeover'")[0]["n"] == 0
    rig.wx.customer_says("小王", "几点开门")
    rig.settle()
    assert "".join(rig.bot_sent("小王")[len(parts):]).startswith("我们每天早上8:30开门")


def test_a_failed_send_is_retried_once_then_handed_to_a_human(make_wx):
    rig = make_wx()
    rig.wx.fail_next_send("发送失败", times=2)
    rig.wx.customer_says("小王", "几点开门")
    rig.settle(rounds=6)
    assert rig.bot_sent("小王") == []
    assert rig.wx.send_calls == 2
    [reply] = rig.rows("SELECT state, attempts FROM replies")
    assert (reply["state"], reply["attempts"]) == ("failed", 2)
    assert rig.rows("SELECT count(*) AS n FROM handoffs")[0]["n"] == 1


def test_one_failed_send_then_success_sends_once(make_wx):
    rig = make_wx()
    rig.wx.fail_next_send("发送失败")
    rig.wx.customer_says("小王", "几点开门")
    rig.settle(rounds=6)
    assert len(rig.bot_sent("小王")) == 1


def test_global_mode_answers_new_messages_but_not_history_on_open(make_wx):
    clock = FakeClock()
    world = FakeWeChat(clock=clock, nickname="果然鲜")
    world.add_chat("老顾客", history=[("老顾客", "上个月买的橙子不错")])
    clock.advance(3600)
    rig = make_wx(world=world, clock=clock, wechat={"mode": "global", "listen": []})
    rig.wx.redeliver_on_open("老顾客")
    rig.wx.customer_says("老顾客", "几点开门")
    rig.wx.customer_says("新客", "可以送货上门吗")
    rig.settle()
    assert len(rig.bot_sent("老顾客")) == 1
    assert len(rig.bot_sent("新客")) == 1
    rig.wx.reopen("老顾客")
    rig.wx.redeliver_on_open("老顾客")
    rig.wx.customer_says("老顾客", "谢谢")
    rig.settle()
    asked = [r["text"] for r in rig.rows("SELECT text FROM messages WHERE state != 'ignored'")]
    assert "上个月买的橙子不错" not in asked
