"""A rule and its exception: the customer's case is the one a shop rule leaves out, and the
model restated the rule for everyone else (`generation.excepted`). Made-up shops only (an
appliance shop, a grocery, a tailor); several phrasings of each exception."""

from __future__ import annotations

import pytest

from alpha01.domain import Action, Passage
from alpha01.pipeline import evidence
from tests.llm.test_evidence import _generate


def _line(text: str, heading: str, source: str, rank: int, score: float, faq=False):
    return evidence.Evidence(text, heading, source, rank, score=score, faq=faq)


def _pick(reply, question, lines):
    passages = [Passage(e.text, e.source, e.score) for e in lines]
    return _generate(reply, passages, question, shown=list(lines))


INSTALL = _line("购机免费上门安装（偏远乡镇除外）。", "问：安装收费吗", "faq.csv", 0, 0.55, faq=True)
TOWNSHIP = _line("偏远乡镇上门安装收路费30元，三天内排期。", "安装服务", "service.md", 1, 0.32)
HOURS = _line("安装师傅每天9:00-18:00上门。", "安装服务", "service.md", 2, 0.2)


@pytest.mark.parametrize("question", [
    "我家在偏远乡镇，上门安装要钱吗", "住乡镇能免费装吗", "乡镇那边安装收不收费"])
def test_a_line_that_leaves_out_the_customers_case_gives_way_to_the_line_about_it(question):
    d = _pick("购机免费上门安装。", question, [INSTALL, TOWNSHIP, HOURS])
    assert d.action == Action.RESPOND and d.trace["step"] == "excepted"
    assert "30元" in d.reply and "免费上门安装" not in d.reply
    assert d.trace["overruled"]


def test_the_left_out_case_with_no_line_about_it_goes_to_the_owner():
    d = _pick("购机免费上门安装。", "住乡镇能免费装吗", [INSTALL, HOURS])
    assert d.action == Action.HANDOFF
    assert "leaves out" in d.reason


def test_a_customer_outside_the_left_out_case_gets_the_rule():
    d = _pick("购机免费上门安装。", "买了空调上门安装收费吗", [INSTALL, TOWNSHIP, HOURS])
    assert d.action == Action.RESPOND and d.trace["step"] != "excepted"
    assert "免费上门安装" in d.reply


RETURNS = _line("收货7天内，商品未使用可以无理由退货。", "退换货", "policy.docx", 0, 0.5)
OPENED = _line("开封后的食品、生鲜不退不换。", "退换货", "policy.docx", 1, 0.3)
REFUND_TIME = _line("退款原路退回，两到三天到账。", "退换货", "policy.docx", 2, 0.25)


@pytest.mark.parametrize("question", [
    "饼干开封了还能退货吗", "开封过的零食可以退货不", "零食已经开封 能退货吗"])
def test_another_line_that_refuses_the_customers_case_comes_first(question):
    d = _pick("可以，收货7天内无理由退货。", question, [RETURNS, OPENED, REFUND_TIME])
    assert d.action == Action.RESPOND and d.trace["step"] == "excepted"
    first, *rest = d.reply.splitlines()
    assert "不退不换" in first and any("7天" in r for r in rest)
    assert d.trace["case"]


def test_a_refusal_that_names_nothing_of_the_customers_case_stays_out():
    d = _pick("可以，收货7天内无理由退货。", "衣服不合适能退货吗", [RETURNS, OPENED, REFUND_TIME])
    assert d.action == Action.RESPOND and d.trace["step"] != "excepted"
    assert "不退不换" not in d.reply


def test_a_chosen_line_that_already_refuses_is_left_as_it_is():
    d = _pick("开封后的食品不退不换。", "开封了能退吗", [RETURNS, OPENED, REFUND_TIME])
    assert d.trace["step"] != "excepted"
    assert d.reply.startswith("退换货：开封后的食品") or "不退不换" in d.reply.splitlines()[0]


# a word of the customer's that several lines share is no case of an exception
HEM = _line("裤子改短15元，当天可取。", "改衣价目", "price.md", 0, 0.5)
LEATHER = _line("皮裤、皮衣不接受改短。", "改衣须知", "notes.md", 1, 0.3)
SILK = _line("真丝裤子改短20元，需要2天。", "改衣价目", "price.md", 2, 0.28)


def test_a_shared_word_of_several_lines_does_not_make_a_refusal_the_answer():
    d = _pick("裤子改短15元，当天可取。", "裤子改短多少钱", [HEM, LEATHER, SILK])
    assert d.trace["step"] != "excepted" and d.reply.startswith("改衣价目")


def test_the_refusal_of_the_customers_own_material_is_said():
    d = _pick("裤子改短15元，当天可取。", "皮裤能改短吗", [HEM, LEATHER, SILK])
    assert d.trace["step"] == "excepted"
    assert "不接受改短" in d.reply.splitlines()[0]


def test_excluded_cases_and_refusals_are_read_from_the_rule_as_written():
    assert evidence.excluded_cases("购机免费上门安装（偏远乡镇除外）。") == ["偏远乡镇"]
    assert evidence.excluded_cases("除定制款外，七天无理由退换。") == ["定制款"]
    assert evidence.excluded_cases("店庆周全场8.8折，烟酒不在此列。") == ["烟酒"]
    assert evidence.excluded_cases("全场包邮。") == []
    assert evidence.refuses(OPENED) and evidence.refuses(LEATHER)
    assert not evidence.refuses(RETURNS) and not evidence.refuses(HEM)
