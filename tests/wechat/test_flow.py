"""The WeChat channel through the real engine, with FakeWeChat standing in for wxauto."""

from __future__ import annotations


def test_a_question_gets_one_reply_and_the_echo_is_not_the_owner(make_wx):
    rig = make_wx()
    rig.wx.customer_says("小王", "你们几点开门？")
    rig.settle()
    assert rig.bot_sent("小王") == ["我们每天早上8:30开门，晚上9:30关门，节假日照常营业。"]
    rig.wx.customer_says("小王", "可以送货上门吗")
    rig.settle()
    assert len(rig.bot_sent("小王")) == 2  # the echo of the first reply paused nothing
    assert rig.rows("SELECT count(*) AS n FROM events WHERE kind = 'takeover'")[0]["n"] == 0
