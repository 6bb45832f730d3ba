"""The engine's promises: one reply per message, nothing from history, the owner wins."""

from __future__ import annotations

from alpha01.domain import Passage
from alpha01.errors import ChannelUnavailable, SendFailed
from alpha01.intent import catalog_intent
from alpha01.pipeline.retrieval import MemoryRetriever, catalog_answer


def test_a_question_gets_exactly_one_reply(make_rig):
    rig = make_rig()
    rig.channel.inject("小王", "你们几点开门？")
    rig.settle()
    assert rig.channel.sent_to("小王") == ["我们每天早上8:30开门，晚上9:30关门，节假日照常营业。"]
    [msg] = rig.rows("SELECT state, reply_id FROM messages")
    assert msg["state"] == "answered" and msg["reply_id"]
    [reply] = rig.rows("SELECT tier, state, trace FROM replies")
    assert reply["tier"] == "faq" and reply["state"] == "sent"
    assert '"stages"' in reply["trace"]


def test_redelivery_with_new_or_lost_ui_ids_is_never_answered_again(make_rig):
    rig = make_rig()
    rig.channel.inject("小王", "可以送货上门吗")
    rig.settle()
    rig.channel.redeliver()
    rig.channel.redeliver(drop_ids=True)
    rig.settle()
    assert len(rig.channel.sent) == 1
    assert rig.rows("SELECT count(*) AS n FROM messages")[0]["n"] == 1


def test_the_same_words_sent_twice_are_two_messages(make_rig):
    rig = make_rig(engine={"aggregate_window_s": 0.0})
    rig.channel.inject("小王", "在吗")
    rig.settle()
    rig.channel.inject("小王", "在吗")
    rig.settle()
    assert rig.rows("SELECT count(*) AS n FROM messages")[0]["n"] == 2


def test_history_older_than_the_baseline_is_never_answered(make_rig):
    rig = make_rig()
    baseline = rig.engine.baselines["fake"]
    rig.channel.inject("老顾客", "上次的芒果还有吗", ts=baseline - 3600)
    rig.settle()
    assert rig.channel.sent == []
    [msg] = rig.rows("SELECT state, reason FROM messages")
    assert (msg["state"], msg["reason"]) == ("ignored", "history")


def test_a_restart_keeps_the_first_baseline(make_rig, tmp_path):
    rig = make_rig(home=tmp_path / "h")
    first = rig.engine.baselines["fake"]
    rig.clock.advance(3600)
    rig.engine.close()
    again = make_rig(home=tmp_path / "h", clock=rig.clock)
    assert again.engine.baselines["fake"] == first


def test_messages_within_the_quiet_window_are_answered_together_once(make_rig):
    rig = make_rig(engine={"aggregate_window_s": 2.0})
    rig.llm.enqueue("收到两天内发现压坏的，拍照发给我们，确认后退钱或者补发。")
    rig.channel.inject("张先生", "我买的草莓坏了好几个")
    rig.engine.step()
    rig.clock.advance(1.0)
    rig.channel.inject("张先生", "能退吗")
    rig.engine.step()
    rig.clock.advance(1.0)
    rig.engine.step()
    assert rig.channel.sent == []  # still inside the window after the second message
    rig.settle()
    assert len(rig.channel.sent) == 1
    states = rig.rows("SELECT state, reply_id FROM messages ORDER BY id")
    assert {s["state"] for s in states} == {"answered"}
    assert len({s["reply_id"] for s in states}) == 1
    assert rig.llm.history[-1][-1]["content"].count("能退吗") == 1


def test_asking_for_a_human_hands_off_and_silences_the_bot(make_rig):
    rig = make_rig()
    rig.channel.inject("张先生", "转人工")
    rig.settle()
    assert "转接" in rig.channel.sent_to("张先生")[0]
    rig.channel.inject("张先生", "你们几点开门？")
    rig.settle()
    assert len(rig.channel.sent_to("张先生")) == 1
    [h] = rig.rows("SELECT state, reason FROM handoffs")
    assert h["state"] == "open" and h["reason"] == "rule:转人工"
    rig.engine.update_handoff(1, "resolved")
    rig.channel.inject("张先生", "你们几点开门？")
    rig.settle()
    assert len(rig.channel.sent_to("张先生")) == 2


def test_an_unanswerable_question_gets_the_safe_reply_and_the_bot_keeps_helping(make_rig):
    rig = make_rig(knowledge={"relevance_threshold": 0.25})
    rig.channel.inject("李阿姨", "你们支持花呗分期吗")
    rig.settle()
    assert rig.channel.sent_to("李阿姨") == ["这个问题我需要跟店主确认一下，确认后马上回复您。"]
    assert rig.llm.history == []  # the model was never asked to improvise
    rig.channel.inject("李阿姨", "可以送货上门吗")
    rig.settle()
    assert len(rig.channel.sent_to("李阿姨")) == 2
    [h] = rig.rows("SELECT state FROM handoffs")
    assert h["state"] == "open"


def test_the_owner_typing_pauses_the_ai_and_cancels_its_pending_reply(make_rig):
    rig = make_rig(paced=True)
    rig.channel.inject("小王", "芒果多少钱一斤？")
    rig.engine.step()
    rig.clock.advance(2.5)
    rig.engine.step()  # decided; the reply waits for its typing delay
    assert rig.rows("SELECT state FROM replies")[0]["state"] == "pending"
    rig.channel.owner_types("小王", "我来回答：今天芒果特价")
    rig.settle()
    assert rig.channel.sent == []
    assert rig.rows("SELECT state FROM replies")[0]["state"] == "cancelled"
    rig.channel.inject("小王", "好的，那来两斤")
    rig.settle()
    assert rig.channel.sent == []  # paused: the owner is talking
    assert rig.rows("SELECT kind FROM events WHERE kind = 'takeover'")
    rig.clock.advance(31 * 60)
    rig.channel.inject("小王", "你们几点开门？")
    rig.settle()
    assert len(rig.channel.sent) == 1  # the pause ran out


def test_the_bots_own_echo_is_not_mistaken_for_the_owner(make_rig):
    rig = make_rig(echo_sends=True)
    rig.channel.inject("小王", "你们几点开门？")
    rig.settle()
    rig.channel.redeliver()
    rig.settle()
    assert rig.rows("SELECT count(*) AS n FROM events WHERE kind = 'takeover'")[0]["n"] == 0
    [echo] = rig.rows("SELECT direction, reason FROM messages WHERE direction != 'in'")
    assert (echo["direction"], echo["reason"]) == ("self", "echo")
    rig.channel.inject("小王", "可以送货上门吗")
    rig.settle()
    assert len(rig.channel.sent) == 2


def test_a_failed_send_is_retried_once_then_handed_off(make_rig):
    rig = make_rig()
    rig.channel.fail_sends(SendFailed("no send button"), SendFailed("no send button"))
    rig.channel.inject("小王", "你们几点开门？")
    rig.settle(rounds=5)
    assert rig.channel.sent == []
    [reply] = rig.rows("SELECT state, attempts FROM replies")
    assert reply == {"state": "failed", "attempts": 2}
    assert rig.rows("SELECT reason FROM handoffs")[0]["reason"] == "send failed"


def test_a_send_that_fails_once_goes_out_on_the_retry(make_rig):
    rig = make_rig()
    rig.channel.fail_sends(SendFailed("window busy"))
    rig.channel.inject("小王", "你们几点开门？")
    rig.settle(rounds=5)
    assert len(rig.channel.sent) == 1


def test_an_unavailable_channel_loses_nothing(make_rig):
    rig = make_rig()
    rig.channel.inject("小王", "你们几点开门？")
    rig.channel.unavailable = "WeChat window not found"
    rig.settle()
    assert rig.channel.sent == []
    rig.channel.unavailable = None
    rig.settle(rounds=4, advance=15)
    assert len(rig.channel.sent) == 1


def test_after_a_crash_a_send_in_flight_is_settled_by_asking_the_channel(make_rig, tmp_path):
    rig = make_rig(home=tmp_path / "crash")
    rig.channel.inject("小王", "你们几点开门？")
    rig.channel.inject("李阿姨", "可以送货上门吗")
    rig.channel.inject("张先生", "怎么付款？")
    for msg in rig.channel.poll():
        rig.engine.intake(msg)
    rig.clock.advance(5)
    rig.engine.process_ready()
    store = rig.engine.store
    ids = [r["id"] for r in rig.rows("SELECT id FROM replies ORDER BY id")]
    for rid in ids:  # as if the process died inside channel.send
        with store.tx():
            store.mark_reply(rid, "sending")
    went, not_went, unknowable = ids
    outs = {o.id: o for o in store.in_flight()}
    rig.channel.sent.append(outs[went])  # this one had reached the chat

    class Unsure(type(rig.channel)):
        def confirm_sent(self, out):
            return None if out.id == unknowable else super().confirm_sent(out)

    rig.channel.__class__ = Unsure
    stats = rig.engine.reconcile()
    assert stats.unknown == 1
    rig.settle()
    states = {r["id"]: r["state"] for r in rig.rows("SELECT id, state FROM replies")}
    assert states == {went: "sent", not_went: "sent", unknowable: "unknown"}
    assert [o.id for o in rig.channel.sent].count(went) == 1  # never repeated
    assert unknowable not in [o.id for o in rig.channel.sent]


def test_every_message_reaches_exactly_one_terminal_state(make_rig):
    rig = make_rig(engine={"aggregate_window_s": 0.0})
    texts = ["你们几点开门？", "转人工", "", "x" * 5000, "花呗可以吗", "👍👍", "\x00\x07",
             "怎么付款？", "退订"]
    for n, t in enumerate(texts):
        rig.channel.inject(f"c{n}", t)
    rig.channel.inject("c9", "[图片]", kind="image")
    rig.channel.inject("c10", "[动画表情]", kind="sticker")
    rig.settle()
    states = rig.rows("SELECT state, reason FROM messages")
    assert len(states) == len(texts) + 2
    assert all(s["state"] in ("answered", "handed_off", "ignored") for s in states)
    reasons = {s["reason"] for s in states}
    assert {"empty", "too-long", "non-text:image", "non-text:sticker"} <= reasons


def test_control_characters_are_stripped_and_emoji_kept(make_rig):
    rig = make_rig()
    rig.channel.inject("小王", "你们\u202e几点\x07开门？🍉")
    rig.settle()
    [msg] = rig.rows("SELECT text FROM messages")
    assert msg["text"] == "你们几点开门？🍉"


def test_opt_out_marks_the_customer(make_rig):
    rig = make_rig()
    rig.channel.inject("小王", "退订")
    rig.settle()
    assert "退订" in rig.channel.sent_to("小王")[0]
    assert rig.rows("SELECT opted_out FROM customers")[0]["opted_out"] == 1


def test_the_engine_acts_on_the_decisions_typed_fields_not_its_trace(make_rig):
    from alpha01.config import ShopSettings
    from alpha01.pipeline import rules as rules_mod

    rig = make_rig()
    ruleset = rules_mod.RuleSet(rig.engine.store.rules())
    d = rules_mod.evaluate(ruleset, "退订", "小王", is_open=True, shop=ShopSettings())
    assert d.opt_out and d.rule_id is not None
    # a reply rule decides too (its hit counted) without opting anyone out
    d = rules_mod.evaluate(ruleset, "你好", "小王", is_open=True, shop=ShopSettings())
    assert not d.opt_out and d.rule_id is not None
    rig.channel.inject("小王", "你好")
    rig.settle()
    assert rig.rows("SELECT opted_out FROM customers")[0]["opted_out"] == 0
    assert sum(r["hits"] for r in rig.rows("SELECT hits FROM rules")) == 1


def test_manual_reply_goes_out_once_through_the_outbox(make_rig):
    rig = make_rig()
    rig.channel.inject("小王", "在吗")
    rig.settle()
    cid = rig.rows("SELECT id FROM customers")[0]["id"]
    fut = rig.engine.submit(rig.engine.manual_reply, cid, "我是店主，马上到")
    rig.settle()
    assert fut.result(timeout=1)
    assert rig.channel.sent_to("小王").count("我是店主，马上到") == 1


def test_the_ask_json_contract(make_rig):
    rig = make_rig()
    rig.llm.enqueue("海南金煌芒果当季，香甜少纤维。")
    out = rig.engine.ask("芒果甜不甜？", customer="eval").to_json()
    assert set(out) >= {"reply", "tier", "handoff", "passages", "model", "latency_ms"}
    assert out["tier"] == "local" and out["handoff"] is False
    assert out["model"] == "fake-model"
    assert all({"text", "source", "score"} <= set(p) for p in out["passages"])
    assert any("芒果" in p["text"] for p in out["passages"])


def test_a_price_question_is_answered_from_the_catalog_row_without_the_model(make_rig):
    rig = make_rig()
    out = rig.engine.ask("芒果多少钱一斤？", customer="eval").to_json()
    assert (out["tier"], out["reason"]) == ("faq", "catalog lookup")
    assert "海南金煌芒果" in out["reply"] and "12.8" in out["reply"]
    assert rig.llm.history == []
    # the core knows no goods: an English name finds the row only through the shop's own
    # words (an alias column, the owner's lexicon.txt; see tests/answers/test_shop_words.py)
    english = rig.engine.ask("mango多少钱？", customer="eval3").to_json()
    assert english["reason"] != "catalog lookup"
    # a product the shop does not sell is not "found" by a look-alike row
    other = rig.engine.ask("榴莲多少钱？", customer="eval2").to_json()
    assert other["reason"] != "catalog lookup"


def _product_row(name: str, origin: str, alias: str = "") -> Passage:
    fields = {"商品": name, "价格": "39元/箱", "产地": origin}
    if alias:
        fields["别名"] = alias
    return Passage(text="；".join(f"{k}：{v}" for k, v in fields.items()), source="products.csv",
                   score=0.3, kind="product", meta={"name": name, "fields": fields})


def test_an_origin_question_is_answered_from_every_row_the_product_has():
    rows = [_product_row("云南小粒咖啡", "云南保山"),
            _product_row("瑰夏豆", "巴拿马", alias="咖啡豆"),
            _product_row("西湖龙井（明前）", "杭州")]
    retriever = MemoryRetriever(rows)
    question = "咖啡豆是国产还是进口"
    assert catalog_intent(question)
    # the second row is 咖啡 too: the shop's alias column says so
    reply, used = catalog_answer(question, rows, retriever, retriever.lexicon)
    assert "云南保山" in reply and "巴拿马" in reply and len(used) == 2
    # a misspelt name (the input method's 西湖龙进, same sound) still finds 西湖龙井
    reply, _ = catalog_answer("西湖龙进哪产的", rows, retriever, retriever.lexicon)
    assert reply.startswith("西湖龙井（明前）") and "产地：杭州" in reply
    assert catalog_answer("龙井哪产的", rows[:2]) is None


def test_unavailable_channel_error_is_recorded(make_rig):
    rig = make_rig()
    rig.channel.unavailable = "logged out"
    rig.engine.step()
    [state] = rig.rows("SELECT healthy, detail FROM channel_state")
    assert state == {"healthy": 0, "detail": "logged out"}
    assert isinstance(ChannelUnavailable("x"), Exception)


def test_a_new_friend_is_tagged_and_welcomed_once(make_rig):
    rig = make_rig()
    msg = rig.channel.inject("新朋友", "我是来买水果的 bind:S1-ABCD", kind="friend")
    msg.extra.update({"remark": "S1-0001 新朋友", "tags": ["store:S1", "channel:门店海报"]})
    rig.settle()
    rig.channel.redeliver()
    rig.settle()
    assert rig.channel.sent_to("新朋友") == ["您好，欢迎光临！有什么可以帮您？"]
    [c] = rig.rows("SELECT remark, tags FROM customers")
    assert c["remark"] == "S1-0001 新朋友" and "store:S1" in c["tags"]


def test_group_replies_carry_the_member_to_mention(make_rig):
    rig = make_rig()
    rig.channel.inject("水果团购群", "你们几点开门？", sender="王姐", is_group=True,
                       mentioned=True)
    rig.settle()
    [out] = rig.channel.sent
    assert out.chat == "水果团购群" and out.member == "王姐"


def test_thanks_get_a_courtesy_and_an_ok_gets_silence(make_rig):
    rig = make_rig(engine={"aggregate_window_s": 0.0})
    rig.channel.inject("小王", "谢谢！")
    rig.settle()
    rig.channel.inject("小王", "好的~")
    rig.settle()
    assert rig.channel.sent_to("小王") == ["不客气～有需要随时找我们。"]
    assert rig.llm.history == []
    assert rig.rows("SELECT state, reason FROM messages ORDER BY id")[-1] == {
        "state": "ignored", "reason": "rule:好的"}


def test_opting_out_cancels_a_queued_broadcast(make_rig):
    rig = make_rig()
    rig.channel.inject("小王", "在吗")
    rig.settle()
    store, cid = rig.engine.store, rig.rows("SELECT id FROM customers")[0]["id"]
    with store.tx():
        store.add_reply(message_id=None, run_key="promo@1:c1", customer_id=cid, channel="fake",
                        chat="小王", text="周三会员9折", kind="broadcast", tier=None,
                        reason="job", model=None, trace={}, latency_ms=None,
                        now=rig.clock.now(), not_before=rig.clock.now() + 3600)
    rig.channel.inject("小王", "退订")
    rig.settle()
    rig.clock.advance(7200)
    rig.settle()
    assert "周三会员9折" not in rig.channel.sent_to("小王")
    assert rig.rows("SELECT state FROM replies WHERE kind = 'broadcast'") == [
        {"state": "cancelled"}]


def test_a_model_that_finds_no_answer_gives_the_safe_reply(make_rig):
    rig = make_rig()
    rig.llm.enqueue("抱歉，资料里没有提到这个，我无法确定。")
    rig.channel.inject("小王", "芒果是哪天到的货？")
    rig.settle()
    assert rig.channel.sent_to("小王") == ["这个问题我需要跟店主确认一下，确认后马上回复您。"]
    [r] = rig.rows("SELECT tier, reason FROM replies")
    assert r == {"tier": "fallback", "reason": "model found no answer in the shop data"}


def test_a_hello_on_its_own_gets_a_greeting_not_the_safe_reply(make_rig):
    rig = make_rig()
    for said in ("你好", "在吗？", "hello"):
        out = rig.engine.ask(said, customer=f"g-{said}").to_json()
        assert (out["tier"], out["reply"]) == ("rule", "您好～请问有什么可以帮您？"), said
    assert rig.llm.history == []


CUSTOMER_TABLES = ("customers", "messages", "replies", "handoffs", "events")


def _table_counts(rig) -> dict[str, int]:
    return {t: rig.rows(f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in CUSTOMER_TABLES}


def test_ask_answers_through_the_pipeline_and_writes_nothing(make_rig):
    rig = make_rig()
    before = _table_counts(rig)
    hits_before = [r["hits"] for r in rig.rows("SELECT hits FROM rules ORDER BY id")]
    asked = [rig.engine.ask(q, customer="cli") for q in
             ("芒果多少钱一斤？", "转人工", "你好", "芒果是哪天到的货？")]
    assert [a.tier for a in asked][:3] == ["faq", "handoff", "rule"]
    assert asked[1].handoff is True
    assert _table_counts(rig) == before
    assert [r["hits"] for r in rig.rows("SELECT hits FROM rules ORDER BY id")] == hits_before
    # within one run the same asker's earlier turns are still the conversation
    rig.llm.enqueue("好的。")
    rig.engine.ask("那芒果甜吗", customer="cli")
    assert "芒果多少钱一斤？" in str(rig.llm.history[-1])


def test_ask_and_a_channel_message_go_through_the_same_stages(make_rig):
    """The same question gets the same decision from `ask` as from a customer on a channel:
    a rule, the FAQ, the model, and intake's presort (a message too long for the pipeline)."""
    rig = make_rig()
    questions = ["你好", "芒果多少钱一斤？", "芒果甜不甜", "长" * 2001]
    tiers = []
    for n, q in enumerate(questions):
        chat = f"客{n}"
        rig.channel.inject(chat, q)
        rig.settle()
        [sent] = [o for o in rig.channel.sent if o.chat == chat]
        [row] = rig.rows("SELECT tier, reason FROM replies WHERE chat = ?", chat)
        asked = rig.engine.ask(q, customer=f"ask{n}")
        assert asked.reply == sent.text, q[:10]
        assert (asked.tier, asked.reason) == (row["tier"], row["reason"]), q[:10]
        tiers.append(asked.tier)
    assert tiers == ["rule", "faq", "local", "handoff"]
