"""Catalog lookup on generated catalogs: which rows a question names, and when it names a
product or variant the shop does not list (then the owner answers, never a neighbour's row)."""

from __future__ import annotations

import random

import pytest

from alpha01.config import Settings
from alpha01.domain import Action, Passage, Tier
from alpha01.llm.fake import FakeLLM
from alpha01.pipeline import catalog
from alpha01.pipeline.core import Pipeline
from alpha01.pipeline.prompt import make_canary
from alpha01.pipeline.retrieval import MemoryRetriever

PHONES = [
    ("iPhone 13 屏幕", {"维修项目": "iPhone 13 屏幕", "价格(元)": "599", "保修": "90天"}),
    ("iPhone 13 Pro 屏幕", {"维修项目": "iPhone 13 Pro 屏幕", "价格(元)": "899", "保修": "90天"}),
    ("iPhone 13 mini 屏幕", {"维修项目": "iPhone 13 mini 屏幕", "价格(元)": "549", "保修": "90天"}),
    ("iPhone 15 Pro 电池", {"维修项目": "iPhone 15 Pro 电池", "价格(元)": "329", "保修": "180天"}),
]


def names(found: catalog.Lookup) -> list[str]:
    return [n for n, _ in found.rows]


@pytest.mark.parametrize("question, expected", [
    ("13换屏多少钱", ["iPhone 13 屏幕"]),
    ("iphone13 pro 换屏幕多少", ["iPhone 13 Pro 屏幕"]),
    ("13 mini屏幕碎了 换一个多少钱", ["iPhone 13 mini 屏幕"]),
    ("15pro换电池多少钱", ["iPhone 15 Pro 电池"]),
])
def test_the_row_with_exactly_the_customers_model_words_is_named(question, expected):
    assert names(catalog.lookup(question, PHONES)) == expected


@pytest.mark.parametrize("question, unlisted", [
    ("13 Pro Max 换屏多少钱", "13 pro max"),
    ("iPad Pro 换屏幕多少钱", "ipad pro"),
    ("15换电池多少钱", "15"),
    ("14 pro 屏幕多少", "14 pro"),
])
def test_a_model_the_catalog_does_not_list_is_named_as_such(question, unlisted):
    found = catalog.lookup(question, PHONES)
    assert found.rows == [] and found.unlisted == unlisted


def test_generated_catalogs_of_near_identical_names_never_answer_with_a_neighbour():
    rng = random.Random(7)
    for _ in range(30):
        series = rng.sample(range(6, 40), 3)
        variants = ["", "pro", "mini", "plus", "max"]
        rows = []
        for s in series:
            for v in rng.sample(variants, 3):
                name = f"X{s} {v}".strip()
                rows.append((name, {"型号": name, "价格": str(rng.randint(100, 999))}))
        listed = {n.lower() for n, _ in rows}
        for s in series + [max(series) + 1]:
            for v in variants:
                asked = f"x{s} {v}".strip()
                found = catalog.lookup(f"{asked} 多少钱", rows)
                if asked in listed:
                    assert names(found) and all(n.lower() == asked for n in names(found)), asked
                else:  # never the figures of another row
                    assert found.rows == [] and found.unlisted.replace(" ", "") == asked.replace(
                        " ", ""), (asked, names(found))


def test_a_word_the_shops_own_writing_uses_everywhere_names_no_product():
    menu = [("冲泡杯", {"品名": "冲泡杯", "价格": "25"}),
            ("茉莉花茶", {"品名": "茉莉花茶", "价格": "48"}),
            ("普洱茶饼", {"品名": "普洱茶饼", "价格": "198"})]
    docs = {"冲泡": 9, "花茶": 5}

    def doc_count(word: str) -> int:
        return docs.get(word, 0)

    assert names(catalog.lookup("第一次买茶，冲泡方法教一下？多少钱", menu,
                                doc_count=doc_count)) == []
    assert names(catalog.lookup("花茶换成红茶加几块钱", menu, doc_count=doc_count)) == []
    assert names(catalog.lookup("冲泡杯多少钱", menu, doc_count=doc_count)) == ["冲泡杯"]
    assert names(catalog.lookup("普洱茶饼多少钱", menu, doc_count=doc_count)) == ["普洱茶饼"]


def test_a_row_is_said_as_a_sentence_with_every_figure_as_written():
    said = catalog.say_row("海南金煌芒果", {"品名": "海南金煌芒果", "规格": "每斤", "价格（元）": "12.8",
                                          "产地": "海南万宁", "备注": "当季，香甜少纤维"})
    assert said == "海南金煌芒果 12.8元（每斤），产地：海南万宁，当季，香甜少纤维。"
    said = catalog.say_row("西湖龙井", {"商品": "西湖龙井", "价格": "168元/罐", "库存": "20"})
    assert said == "西湖龙井 168元/罐，库存20。"


def _product(name: str, fields: dict[str, str]) -> Passage:
    text = "；".join(f"{k}：{v}" for k, v in fields.items())
    return Passage(text, "price.csv", 0.0, "product", meta={"name": name, "fields": fields})


def test_an_unlisted_model_is_handed_to_the_owner_by_the_pipeline():
    settings = Settings()
    retriever = MemoryRetriever([_product(n, f) for n, f in PHONES])
    llm = FakeLLM("iPhone 13 Pro 屏幕899元。")
    pipe = Pipeline(settings=settings, retriever=retriever, llm=llm,
                    canary=make_canary(settings.shop.name))
    from datetime import datetime

    d = pipe.decide("13 Pro Max 换屏多少钱", sender="c", history=[], when=datetime(2026, 1, 5, 12))
    assert d.action == Action.HANDOFF and d.tier == Tier.FALLBACK
    assert d.reply in (settings.shop.safe_reply, settings.shop.after_hours_reply)
    assert d.trace["unlisted"] == "13 pro max" and llm.history == []
    d = pipe.decide("13 Pro 换屏多少钱", sender="c", history=[], when=datetime(2026, 1, 5, 12))
    assert d.action == Action.RESPOND and d.reason == "catalog lookup"
    assert d.reply == "iPhone 13 Pro 屏幕 899元，保修90天。"


MIXED = [(n, {"机型": n, "价格(元)": p}) for n, p in
         [("iPhone 13", "500"), ("iPhone 14", "600"), ("iPhone 14 Plus", "650"), ("小米 14", "300")]]


@pytest.mark.parametrize("question, expected", [
    ("iphone14多少钱", ["iPhone 14"]),
    ("苹果13多少钱", ["iPhone 13"]),
    ("小米14多少钱", ["小米 14"]),
    ("14 plus 多少钱", ["iPhone 14 Plus"]),
])
def test_brands_that_share_a_model_number_are_told_apart(question, expected):
    # a brand word (iphone) is no variant word: the iPhone 14 and the 小米 14 differ in more
    assert names(catalog.lookup(question, MIXED)) == expected


def test_a_bare_number_where_only_its_variants_are_listed_is_unlisted():
    rows = [(n, {"机型": n, "价格": "1"}) for n in ("Y13 mini", "Y13 pro", "Y14")]
    found = catalog.lookup("y13多少钱", rows)
    assert found.rows == [] and found.unlisted == "y 13"


def test_an_alias_matching_inside_a_longer_model_name_does_not_widen_the_lookup():
    from alpha01.lexicon import Lexicon

    lexicon = Lexicon.general().merged(Lexicon(aliases=(("iphone 14", "苹果14"),)))
    assert names(catalog.lookup("iPhone 14 Plus 多少钱", MIXED, lexicon=lexicon)) == [
        "iPhone 14 Plus"]


def _repair_list(rng: random.Random) -> list[catalog.Product]:
    services = ["换屏", "换电池", "换后盖", "换尾插", "换摄像头"]
    rows = []
    for model in rng.sample(["A10", "A10 Pro", "B20", "B20 mini", "C30"], 4):
        for service in rng.sample(services, rng.randint(1, 4)):
            rows.append((model, {"机型": model, "维修项目": f"{service}（原厂配件）",
                                 "价格(元)": str(rng.randint(50, 999)), "别名": model.replace(" ", "")}))
    return rows


def test_a_repair_list_answers_the_repair_asked_for_or_hands_off():
    rng = random.Random(11)
    for _ in range(25):
        rows = _repair_list(rng)
        listed = {(n, f["维修项目"].split("（")[0]) for n, f in rows}
        offered = {s for _, s in listed}
        for model in {n for n, _ in rows}:
            for service in offered:
                found = catalog.lookup(f"{model}{service}多少钱", rows)
                if (model, service) in listed:
                    assert [(n, f["维修项目"].split("（")[0]) for n, f in found.rows] == [
                        (model, service)]
                else:  # another model's price for this repair would be a confident wrong answer
                    assert found.rows == [] and service in found.unlisted, (model, service)
            asked = catalog.lookup(f"{model}修一下多少钱", rows)  # no repair named: its rows
            assert asked.rows and {n for n, _ in asked.rows} == {model}


def test_other_names_of_a_product_are_not_said_back():
    said = catalog.say_row("iPhone 13", {"机型": "iPhone 13", "价格(元)": "1280", "别名": "苹果13",
                                         "英文名": "iPhone13"})
    assert said == "iPhone 13 1280元。"


ALTERATIONS = [  # a tailor: one row per alteration and garment, garments of one character too
    ("改短", {"项目": "改短", "衣物": "裤", "价格(元)": "15"}),
    ("改短", {"项目": "改短", "衣物": "裙", "价格(元)": "18"}),
    ("改短", {"项目": "改短", "衣物": "大衣（含里衬）", "价格(元)": "60"}),
    ("换拉链", {"项目": "换拉链", "衣物": "裤", "价格(元)": "25"}),
    ("换拉链", {"项目": "换拉链", "衣物": "大衣（含里衬）", "价格(元)": "45"}),
]


@pytest.mark.parametrize("question, expected", [
    ("裤子改短多少钱", [("改短", "裤")]),
    ("大衣换拉链多少钱", [("换拉链", "大衣（含里衬）")]),
    ("裙子改短要多少", [("改短", "裙")]),
])
def test_a_garment_of_one_character_picks_its_rows(question, expected):
    found = catalog.lookup(question, ALTERATIONS)
    assert [(n, f["衣物"]) for n, f in found.rows] == expected


def test_a_kind_the_catalog_lists_only_for_other_products_is_unlisted():
    # 裙 is a value of the garment column, but 换拉链 has no 裙 row: not the trousers' price
    found = catalog.lookup("裙子换拉链多少钱", ALTERATIONS)
    assert found.rows == [] and "裙" in found.unlisted
