"""A customer stays the same person across a WeChat rename: pause, handoff, tags and 退订 follow."""

from __future__ import annotations

import json

from alpha01.jobs.runner import JobRunner

PROMO = "周末新品上架，欢迎来看看"


def _broadcast(rig) -> dict:
    runner = JobRunner(settings=rig.app.settings, paths=rig.app.paths, store=rig.engine.store,
                       clock=rig.clock)
    with rig.engine.store.tx():
        jid = rig.engine.store.add_job(name="周末上新", kind="broadcast",
                                       schedule="cron:0 21 * * *", params={"text": PROMO},
                                       misfire_grace_s=3600, coalesce=True, now=rig.clock.now())
    result = runner.run(runner.job(jid))
    assert result.status == "ok", result
    return result.result


def _deliver_everything(rig) -> None:
    for _ in range(3):  # through quiet hours, if the broadcast landed in them
        rig.clock.advance(12 * 3600)
        rig.settle()


def _chat_with_history(world, name, opening):
    world.add_chat(name, history=[(name, opening), ("self", f"{name}您好"),
                                  (name, "有什么新品"), ("self", "草莓到了")])


def test_a_renamed_customer_who_sent_tuiding_never_gets_a_broadcast(make_wx):
    rig = make_wx(chats=[], wechat={"mode": "global"})
    rig.wx.customer_says("小王", "你好，在吗")
    rig.settle()
    rig.wx.customer_says("小王", "退订")
    rig.wx.customer_says("小李", "几点开门")
    rig.settle()
    [before] = rig.rows("SELECT id, opted_out FROM customers WHERE chat = '小王'")
    assert before["opted_out"] == 1
    rig.wx.rename("小王", "王大锤")
    rig.clock.advance(600)
    rig.wx.customer_says("王大锤", "可以送货上门吗")
    rig.settle()
    after = rig.rows("SELECT id, chat, opted_out FROM customers WHERE chat IN ('小王', '王大锤')")
    assert after == [{"id": before["id"], "chat": "王大锤", "opted_out": 1}]
    [asked] = rig.rows("SELECT customer_id, state FROM messages WHERE text = '可以送货上门吗'")
    assert asked["customer_id"] == before["id"] and asked["state"] == "answered"
    # the history the renamed window shows again is not taken for new messages
    assert rig.rows("SELECT count(*) AS n FROM messages WHERE text = '退订'")[0]["n"] == 1
    [event] = rig.rows("SELECT detail FROM events WHERE kind = 'customer-renamed'")
    assert json.loads(event["detail"])["old"] == "小王"
    result = _broadcast(rig)
    assert result["queued"] == 1 and result["opted_out"] == 1  # 小李 only
    _deliver_everything(rig)
    assert PROMO in rig.wx.sent_to("小李")
    assert PROMO not in rig.wx.sent_to("王大锤") + rig.wx.sent_to("小王")


def test_a_listened_chat_renamed_keeps_its_pause_and_handoff_and_is_listened_again(make_wx,
                                                                                    tmp_path):
    rig = make_wx(home=tmp_path / "h", chats=[("小王", ()), ("小李", ())],
                  wechat={"watchdog_interval_s": 5.0})
    world = rig.wx
    world.customer_says("小王", "我要投诉")  # the built-in rule: a handoff
    rig.settle()
    world.owner_types("小王", "您好，我来处理")  # and the owner takes over: AI paused
    rig.settle()
    [cust] = rig.rows("SELECT id, handed_off, paused_until FROM customers WHERE chat = '小王'")
    assert cust["handed_off"] == 1 and cust["paused_until"]
    with rig.engine.store.tx():
        rig.engine.store.set_tags(cust["id"], ["老客"])
    sent_before = len(world.sent)
    world.rename("小王", "王先生")
    world.customer_says("王先生", "怎么还没人回")
    rig.settle()
    assert rig.channel.health().ok, rig.channel.health().detail
    assert "王先生" in rig.channel.health().extra["listening"]
    [after] = rig.rows("SELECT id, chat, handed_off, paused_until, tags FROM customers"
                       " WHERE id = ?", cust["id"])
    assert after["chat"] == "王先生" and after["handed_off"] == 1
    assert after["paused_until"] == cust["paused_until"] and "老客" in after["tags"]
    [msg] = rig.rows("SELECT customer_id FROM messages WHERE text = '怎么还没人回'")
    assert msg["customer_id"] == cust["id"]
    assert len(world.sent) == sent_before  # paused and handed off: the AI stays silent
    assert rig.rows("SELECT count(*) AS n FROM customers")[0]["n"] == 1  # no new customer
    # a restart listens under the new name
    clock = rig.clock
    rig.engine.close()
    again = make_wx(home=tmp_path / "h", chats=[("小王", ()), ("小李", ())], world=world,
                    clock=clock, wechat={"watchdog_interval_s": 5.0})
    again.settle()
    assert again.channel.health().ok
    assert sorted(again.channel.health().extra["listening"]) == ["小李", "王先生"]


def test_two_chats_with_the_same_opening_are_not_merged(make_wx):
    """Both customers got the same greeting exchange: the history matches two chats that
    left the list, so nothing is merged (a wrong merge would be worse than none)."""
    rig = make_wx(chats=[], wechat={"mode": "global"})
    for name in ("阿强", "阿珍"):
        rig.wx.customer_says(name, "你好")
        rig.settle()
        rig.wx.customer_says(name, "在吗")
        rig.settle()
    rig.wx.rename("阿强", "强哥")
    rig.wx.rename("阿珍", "珍姐")
    rig.clock.advance(600)
    rig.wx.customer_says("强哥", "多少钱")
    rig.settle()
    assert rig.rows("SELECT count(*) AS n FROM events WHERE kind = 'customer-renamed'"
                    )[0]["n"] == 0
    assert {r["chat"] for r in rig.rows("SELECT chat FROM customers")} == {
        "阿强", "阿珍", "强哥"}


def test_merging_keeps_the_stricter_flags_and_every_tag(make_wx):
    rig = make_wx(chats=[])
    store = rig.engine.store
    now = rig.clock.now()
    with store.tx():
        a = store.customer("wechat", "小王", "", "小王", now)
        b = store.customer("wechat", "王大锤", "", "王大锤", now + 5)
        store.set_flags(a.id, opted_out=1)
        store.set_tags(a.id, ["老客"])
        store.set_tags(b.id, ["新品"])
        store.pause(b.id, now + 3600, "owner typed")
        store.open_handoff(b.id, None, "投诉", now, owns_chat=True)
        assert store.rename_customer("wechat", "小王", "王大锤", now + 10, "test") == a.id
    [row] = rig.rows("SELECT * FROM customers")
    assert row["id"] == a.id and row["chat"] == "王大锤" and row["opted_out"] == 1
    assert row["handed_off"] == 1 and row["paused_until"] == now + 3600
    assert json.loads(row["tags"]) == ["新品", "老客"]
    assert rig.rows("SELECT customer_id FROM handoffs") == [{"customer_id": a.id}]
    # a message under the old name still lands on the same person
    with store.tx():
        assert store.customer("wechat", "小王", "", "小王", now + 20).id == a.id
