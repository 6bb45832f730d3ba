"""Groups (@ only), new friends (cap, remark, tags, binding code, welcome), the watchdog."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from alpha01.errors import ChannelUnavailable

GROUPS = [("水果团购群", ())]


def test_groups_are_off_unless_enabled(make_wx):
    rig = make_wx(chats=[], groups=GROUPS)
    rig.wx.customer_says("水果团购群", "@果然鲜 几点开门", sender="阿强")
    rig.settle()
    assert rig.bot_sent("水果团购群") == []


def test_an_enabled_group_is_answered_only_when_the_bot_is_mentioned(make_wx):
    rig = make_wx(chats=[], groups=GROUPS, wechat={"groups": ["水果团购群"]})
    rig.wx.customer_says("水果团购群", "几点开门", sender="阿强")
    rig.settle()
    assert rig.wx.sent == []
    rig.wx.customer_says("水果团购群", "@果 然 鲜\u2005几点开门", sender="阿强")
    rig.settle()
    [sent] = rig.wx.sent
    assert sent["at"] == "阿强" and sent["msg"].startswith("我们每天早上8:30开门")
    [msg] = rig.rows("SELECT text, state FROM messages WHERE state = 'answered'")
    assert msg["text"] == "几点开门"
    # our own "@阿强 ..." echo is not the owner typing
    assert rig.rows("SELECT count(*) AS n FROM events WHERE kind = 'takeover'")[0]["n"] == 0


def test_a_renamed_bot_is_still_recognised_under_both_names(make_wx):
    rig = make_wx(chats=[], groups=GROUPS, wechat={"groups": ["水果团购群"],
                                                   "watchdog_interval_s": 5.0})
    rig.wx.nickname = "果然鲜水果铺"
    rig.settle()  # the watchdog reads the account name again
    rig.wx.customer_says("水果团购群", "@果然鲜水果铺 可以送货上门吗", sender="阿强")
    rig.settle()
    rig.wx.customer_says("水果团购群", "@果然鲜 几点开门", sender="阿珍")
    rig.settle()
    assert [s["at"] for s in rig.wx.sent] == ["阿强", "阿珍"]


def test_new_friends_are_accepted_within_the_cap_with_remark_tags_and_welcome(make_wx):
    stores = {"ABC234": SimpleNamespace(store_name="城南店", channel="海报")}
    rig = make_wx(chats=[], wechat={"friend_auto_accept": True, "friend_daily_cap": 2,
                                    "store_code": "NS", "friend_tags": ["新客"]})
    rig.engine.friends.resolve_binding = stores.get
    rig.wx.friend_request("阿珍", "我是扫码来的 店码 abc234")
    rig.wx.friend_request("老李", "你好")
    rig.wx.friend_request("小赵", "在吗")
    rig.settle()
    accepted = [r for r in rig.wx._friend_requests if r.accepted]
    assert [(r.name, r.remark) for r in accepted] == [("阿珍", "NS-0001"), ("老李", "NS-0002")]
    assert accepted[0].tags == ["新客", "店码:ABC234", "门店:城南店", "渠道:海报"]
    assert rig.wx.sent_to("NS-0001") == [rig.app.settings.shop.welcome]
    assert rig.wx.sent_to("NS-0002") == [rig.app.settings.shop.welcome]
    [cust] = rig.rows("SELECT tags, remark FROM customers WHERE chat = 'NS-0001'")
    assert "门店:城南店" in cust["tags"] and cust["remark"] == "NS-0001"
    assert rig.engine.friends.held >= 1
    # the next day the held request goes through with the next sequence number
    rig.clock.advance(86_400)
    rig.settle()
    assert [r.remark for r in rig.wx._friend_requests if r.accepted][-1] == "NS-0003"
    # and a welcome message from the new friend's window is not taken for the owner typing
    assert rig.rows("SELECT count(*) AS n FROM events WHERE kind = 'takeover'")[0]["n"] == 0


def test_the_friend_sequence_survives_a_restart(make_wx, tmp_path):
    rig = make_wx(home=tmp_path / "h", chats=[], wechat={"friend_auto_accept": True})
    rig.wx.friend_request("阿珍", "你好")
    rig.settle()
    world, clock = rig.wx, rig.clock
    rig.engine.close()
    world.friend_request("老李", "你好")
    make_wx(home=tmp_path / "h", chats=[], world=world, clock=clock,
            wechat={"friend_auto_accept": True}).settle()
    assert [r.remark for r in world._friend_requests] == ["A01-0001", "A01-0002"]


def test_friend_counters_an_earlier_version_kept_in_the_channel_file_carry_on(make_wx, tmp_path):
    """The counters moved from the WeChat channel's state file to the database: a home that
    had accepted 7 friends goes on with -0008, never reusing a remark."""
    import json

    home = tmp_path / "old"
    home.mkdir()
    (home / "wechat_state.json").write_text(json.dumps(
        {"day": "2000-01-01", "accepted_today": 3, "friend_seq": 7, "tails": {}}),
        encoding="utf-8")
    rig = make_wx(home=home, chats=[], wechat={"friend_auto_accept": True})
    rig.wx.friend_request("阿珍", "你好")
    rig.settle()
    assert [r.remark for r in rig.wx._friend_requests if r.accepted] == ["A01-0008"]
    [row] = rig.rows("SELECT cursor FROM channel_cursor WHERE channel = 'wechat#friends'")
    assert json.loads(row["cursor"])["friend_seq"] == 8


@pytest.mark.parametrize("trouble", ["window_lost", "logged_out", "ui_empty",
                                     "listener_dead", "version"])
def test_the_watchdog_pauses_sending_alerts_and_recovers(make_wx, trouble):
    rig = make_wx(chats=[("小王", ()), ("小李", ())], wechat={"watchdog_interval_s": 15.0})
    if trouble == "version":
        rig.wx.version = "3.9.12.55"
    elif trouble == "listener_dead":
        rig.wx.listener_dead = rig.wx.listener_stuck = True
    else:
        setattr(rig.wx, trouble, True)
    started = rig.clock.now()
    rig.settle(rounds=7)  # 70 s
    [down] = rig.rows("SELECT at, detail FROM events WHERE kind = 'channel-down'")
    assert down["at"] - started <= 60
    assert not rig.channel.health().ok
    with pytest.raises(ChannelUnavailable):
        rig.channel.send(rig.engine.store.due_replies(10**12)[0]
                         if rig.engine.store.due_replies(10**12) else _out())
    # it comes back
    if trouble == "version":
        rig.wx.version = "3.9.12.51"
    elif trouble == "listener_dead":
        rig.wx.listener_stuck = False
    else:
        setattr(rig.wx, trouble, False)
    rig.settle()
    assert rig.channel.health().ok
    assert rig.rows("SELECT count(*) AS n FROM events WHERE kind = 'channel-up'")[0]["n"] == 1
    rig.wx.customer_says("小李", "几点开门")
    rig.settle()
    assert len(rig.bot_sent("小李")) == 1


def test_messages_arriving_while_the_window_is_gone_are_answered_after(make_wx):
    rig = make_wx()
    rig.wx.customer_says("小王", "几点开门")
    rig.wx.window_lost = True
    rig.settle()
    assert rig.bot_sent("小王") == []
    [reply] = rig.rows("SELECT state FROM replies") or [{"state": "none"}]
    assert reply["state"] in ("pending", "none")
    rig.wx.window_lost = False
    rig.settle()
    assert len(rig.bot_sent("小王")) == 1


def _out():
    from alpha01.domain import Outbound

    return Outbound(id=1, channel="wechat", chat="小王", text="hi")
