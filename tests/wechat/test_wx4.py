"""The wxauto4 adapter (WeChat 4.x) through the real engine, on the wx4 fake."""

from __future__ import annotations

import pytest

from alpha01.channels.wechat.fake_wx import FakeWeChat
from alpha01.clock import FakeClock
from alpha01.errors import ConfigError


def _world(clock, *chats):
    world = FakeWeChat(clock=clock, nickname="果然鲜", generation="wx4")
    for chat in chats:
        world.add_chat(chat)
    return world


def test_wx4_answers_the_one_chat_it_can_listen_to(make_wx):
    clock = FakeClock()
    world = _world(clock, "小王", "小李")
    rig = make_wx(chats=[("小王", ()), ("小李", ())], world=world, clock=clock,
                  wechat={"adapter": "wx4"})
    assert rig.channel.health().extra["listening"] == ["小王"]  # wxauto4: one chat only
    assert rig.channel.health().extra["not_listening"] == ["小李"]
    assert world.module.WxParam.TELEMETRY_ENABLED is False
    world.customer_says("小王", "你们几点开门？")
    rig.settle()
    assert len(world.sent_to("小王")) == 1
    world.owner_types("小王", "我来")
    rig.settle()
    assert rig.rows("SELECT count(*) AS n FROM events WHERE kind = 'takeover'")[0]["n"] == 1


def test_wx4_has_no_global_mode(make_wx):
    clock = FakeClock()
    with pytest.raises(ConfigError, match="gcwxauto"):
        rig = make_wx(chats=[], world=_world(clock, "小王"), clock=clock,
                      wechat={"adapter": "wx4", "mode": "global"})
        rig.engine.step()
