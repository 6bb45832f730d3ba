"""Days a customer names ("周六晚上", "工作日", "大年初五", "国庆") find the line whose day span
holds them, and a yes/no about something the shop never wrote of is the owner's to answer.
The shops here are made up (a tea house); none is an eval shop."""

from __future__ import annotations

import pytest

from alpha01.config import KnowledgeSettings
from alpha01.domain import Action, Passage
from alpha01.knowledge.shopwords import derive, shared_pieces
from alpha01.lexicon import Lexicon
from alpha01.pipeline import guard
from alpha01.pipeline.days import days
from alpha01.pipeline.retrieval import MemoryRetriever, retrieve
from tests.llm.test_evidence import _generate

HOURS = Passage(
    text=("茶馆介绍 > 营业时间\n日期 | 营业时间\n周一至周四 | 10:00-19:00\n周五、周六 | 10:00-22:00\n"
          "周日 | 店休\n法定节假日 | 11:00-18:00\n"
          "春节从除夕歇到初七，初八起照常营业。"),
    source="intro.md", score=0.5)
HAPPY = Passage(text="", source="faq.xlsx", score=0.6, kind="faq",
                question="晚上喝茶有优惠吗？", answer="周五、周六18:00以后，第二壶茶半价。")


@pytest.mark.parametrize("text, expected", [
    ("礼拜六晚上几点打烊", {"w6"}),
    ("平时几点关", {"w1", "w2", "w3", "w4", "w5"}),
    ("周末开吗", {"w6", "w7"}),
    ("周六日09:00-21:30", {"w6", "w7"}),
    ("星期五到礼拜一", {"w5", "w6", "w7", "w1"}),  # wraps around the weekend
    ("礼拜一营业不？要是不营业，礼拜二几点开", {"w1", "w2"}),
    ("大年初五开门吗", {"ny5"}),
    ("除夕至正月初二闭店", {"ny0", "ny1", "ny2"}),
    ("中秋营业吗", {"hol", "hol:中秋"}),
    ("法定节假日 11:00-18:00", {"hol"}),
])
def test_days_named_in_a_question_or_a_line(text, expected):
    assert days(text) == expected


def test_no_day_where_there_is_none():
    for text in ("生日花束能做吗", "十一点关门", "日期：", "年初会涨价吗", "一周能到吗"):
        assert days(text) == frozenset(), text
    assert {"ny8", "ny15"} <= days("初八起照常营业")
    assert days("过年开门吗") >= {"ny0", "ny1", "ny7"}


def test_the_row_of_the_named_day_replaces_a_line_that_only_shares_its_evening():
    # the model restates the weekend offer (周五、周六18:00以后) for a question about hours
    d = _generate("礼拜六晚上18:00以后第二壶半价。", [HOURS, HAPPY], "礼拜六晚上几点打烊啊")
    assert d.action == Action.RESPOND and d.trace["step"] == "named_day"
    assert d.reply == "周五、周六，营业时间10:00-22:00。"
    assert d.trace["overruled"][0].startswith("问：晚上喝茶有优惠吗")


def test_a_span_of_days_gets_every_row_it_needs_and_no_more():
    d = _generate("您好，请问您想问哪天？", [HOURS, HAPPY], "平时几点关门")
    assert d.trace["step"] == "named_day"
    assert d.reply.splitlines() == ["周一至周四，营业时间10:00-19:00。", "周五、周六，营业时间10:00-22:00。"]


def test_a_new_year_day_finds_the_closure_line_even_when_the_model_only_echoes():
    d = _generate("初五想来喝茶，店开着没？", [HOURS, HAPPY], "初五想带奶奶来喝茶，店开着没")
    assert d.action == Action.RESPOND and d.trace["step"] == "named_day"
    assert "初八起照常营业" in d.reply
    d = _generate("中秋正常营业。", [HOURS, HAPPY], "中秋你们开到几点")
    assert d.reply == "法定节假日，营业时间11:00-18:00。"


@pytest.mark.parametrize("question, reply, expected", [
    ("初三能过去喝茶吗", "可以过来喝茶，欢迎。", "初八起照常营业"),
    ("周四傍晚六点半还能来吗", "可以的，欢迎过来。", "10:00-19:00"),
    ("礼拜天能带朋友来坐坐不", "可以带朋友来。", "店休"),
])
def test_a_day_named_with_nothing_else_asked_is_a_question_about_opening(
        question, reply, expected):
    d = _generate(reply, [HOURS, HAPPY], question)
    assert d.action == Action.RESPOND and d.trace["step"] == "named_day"
    assert expected in d.reply


def test_the_models_choice_of_a_line_that_holds_the_day_is_kept():
    d = _generate("周五、周六10:00-22:00。", [HOURS, HAPPY], "周六几点关门")
    assert d.trace["step"] == "restated" and d.reply == "周五、周六，营业时间10:00-22:00。"


def test_day_words_do_not_answer_a_question_about_something_else():
    # "上班" is an hours word, but the customer asks about a job the shop never wrote of
    d = _generate("我们不招学徒，礼拜天可以来上班。", [HOURS, HAPPY], "招不招学徒？礼拜天能来上班吗")
    assert d.action == Action.HANDOFF


def _shop(*passages: Passage) -> MemoryRetriever:
    return MemoryRetriever(list(passages))


TEA = Passage(text="茶叶说明 > 产地\n本店绿茶来自浙江安吉，红茶来自福建武夷山，都是当年春茶。",
              source="tea.md", score=0.5)


@pytest.mark.parametrize("question, focus", [
    ("你们的绿茶是有机认证的吗", "有机认证"),
    ("红茶是不是手工炒的", "手工炒"),
    ("用的是农夫山泉还是怡宝的水", "农夫山泉"),
])
def test_a_yes_no_about_something_the_shop_never_wrote_of_is_the_owners(question, focus):
    shop = _shop(TEA, HOURS)
    word = guard.unknown_focus(question, shop.mentions, shop.lexicon)
    assert word and word in focus
    d = retrieve(shop, question, KnowledgeSettings())
    assert d.action == Action.HANDOFF and d.trace["unknown"] == word


@pytest.mark.parametrize("question", [
    "绿茶是当年的春茶吗",  # the data says so
    "红茶是不是武夷山的",
    "绿茶是安吉的还是外地的",  # one alternative is the data's
    "春节是不是不开门",  # 不开门 is the hours topic the data covers (营业)
])
def test_a_yes_no_the_data_can_answer_is_not_handed_off_for_its_focus(question):
    shop = _shop(TEA, HOURS)
    assert guard.unknown_focus(question, shop.mentions, shop.lexicon) is None


def test_whom_the_customer_buys_for_is_no_topic_and_a_misheard_category_word_is_the_shops():
    shop = _shop(TEA, HOURS)
    assert guard.unknown_topic("给奶奶买的，绿茶是当年的吗", [TEA], shop.mentions) is None
    names = ["芝麻汤圆", "花生汤圆", "鲜肉汤圆", "桂花酒酿"]
    assert "汤圆" in shared_pieces(names) and "酒酿" not in shared_pieces(names)
    rows = [{"kind": "product", "meta": {"name": n}} for n in names]
    lexicon = Lexicon.general().merged(derive(rows))
    menu = Passage(text="菜单 > 汤圆\n芝麻汤圆 12元一碗。", source="menu.md", score=0.5)
    assert guard.unknown_topic("有汤元吗", [menu], None, lexicon) is None
    assert lexicon.misheard("有汤元吗") == [("汤元", "汤圆")]
    assert Lexicon.general().misheard("有汤元吗") == []
