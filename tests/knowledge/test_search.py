"""Search internals on real LanceDB: the in-memory snapshot, the query-vector cache, synonyms
in relevance, and the order of fused results."""

from __future__ import annotations

import numpy as np
import pytest

from alpha01.knowledge import HashEmbedder
from alpha01.knowledge import kb as kb_module
from alpha01.knowledge.search import (
    coverage,
    full_text_query,
    fuse,
    query_bigrams,
    query_synonyms,
)
from alpha01.lexicon import Lexicon


class CountingEmbedder(HashEmbedder):
    """The hash embedder, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        return super().embed(texts)


def _ids(passages) -> list[str]:
    return [p.meta["id"] for p in passages]


# -- snapshot -----------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["vector", "fts", "hybrid"])
def test_the_snapshot_returns_what_lancedb_returns(hash_kb, shop, mode):
    hash_kb.add([shop])
    questions = ["配送费多少", "安吉白茶的价格", "可以开发票吗", "几点关门", "酥梨"]
    fast = [hash_kb.search(q, k=4, mode=mode) for q in questions]
    assert hash_kb._snapshot_cache is not None
    hash_kb.max_memory_rows = 0  # too large to copy: every query goes to LanceDB
    hash_kb._snapshot_cache = None
    slow = [hash_kb.search(q, k=4, mode=mode) for q in questions]
    assert hash_kb._snapshot_cache is None
    for a, b in zip(fast, slow, strict=True):
        assert _ids(a) == _ids(b)
        assert [p.score for p in a] == pytest.approx([p.score for p in b], abs=1e-5)


def test_the_snapshot_follows_ingest_remove_and_direct_writes(hash_kb, shop, tmp_path):
    hash_kb.add([shop / "intro.md"])
    assert {p.source for p in hash_kb.search("安吉白茶", k=10, mode="vector")} == {"intro.md"}
    first = hash_kb._snapshot_cache
    assert first is not None

    hash_kb.add([shop / "products.csv"])
    assert "products.csv" in {p.source for p in hash_kb.search("安吉白茶", k=10, mode="vector")}
    assert hash_kb._snapshot_cache is not first

    hash_kb.add_faq("可以寄到外地吗", "只做同城配送。")
    assert any(p.kind == "faq" for p in hash_kb.search("寄到外地", k=10, mode="vector"))
    assert hash_kb.faq_match("可以寄到外地吗") is not None

    hash_kb.remove(["products.csv"])
    assert "products.csv" not in {p.source for p in hash_kb.search("安吉白茶", k=10)}


def test_mentions_looks_through_all_of_the_shops_data_and_follows_changes(hash_kb, shop):
    assert not hash_kb.mentions("白茶")  # empty
    hash_kb.add([shop / "products.csv"])
    assert hash_kb.mentions("白茶") and hash_kb.mentions("ＡＢ") is False
    assert not hash_kb.mentions("卫生间")
    hash_kb.add_faq("有没有卫生间", "有，在二楼楼梯旁。")
    assert hash_kb.mentions("卫生间")
    hash_kb.remove(["products.csv"])
    assert not hash_kb.mentions("白茶")


def test_a_full_text_hit_newer_than_the_snapshot_is_fetched(hash_kb, shop):
    hash_kb.add([shop / "intro.md"])
    hash_kb.search("配送", k=1)
    snap = hash_kb._snapshot_cache
    hash_kb.add_faq("可以寄到外地吗", "只做同城配送。")
    new_id = hash_kb.store.rows("kind = 'faq'", ["id"])[0]["id"]
    rows = hash_kb._complete(snap, [{"id": new_id, "_score": 2.0},
                                    {"id": "gone", "_score": 1.0}])
    assert [(r["id"], r["_score"], r["answer"]) for r in rows] == [(new_id, 2.0, "只做同城配送。")]


def test_a_reindex_switches_the_snapshot_to_the_new_table(hash_kb, shop):
    hash_kb.add([shop])
    before = _ids(hash_kb.search("配送费多少", k=3))
    key = hash_kb._snapshot_cache.key
    hash_kb.reindex()
    assert _ids(hash_kb.search("配送费多少", k=3)) == before
    assert hash_kb._snapshot_cache.key != key


# -- query vectors ------------------------------------------------------------------------------

def test_one_question_is_embedded_once(paths, settings, shop):
    embedder = CountingEmbedder()
    knowledge = kb_module.KnowledgeBase(paths.kb, settings, embedder)
    knowledge.add([shop])
    embedder.texts.clear()
    knowledge.faq_match("发票能开吗？")
    knowledge.search("发票能开吗?", k=3)  # the same question after normalisation
    knowledge.search("发票能开吗？", k=3, mode="vector")
    assert embedder.texts == ["发票能开吗?"]


def test_the_query_vector_cache_is_bounded(paths, settings, monkeypatch):
    monkeypatch.setattr(kb_module, "QUERY_CACHE", 3)
    embedder = CountingEmbedder()
    knowledge = kb_module.KnowledgeBase(paths.kb, settings, embedder)
    for q in ["一", "二", "三", "四", "二"]:
        vector = knowledge.query_vector(q)
        assert not vector.flags.writeable  # shared between callers
    assert list(knowledge._query_vectors) == ["三", "四", "二"]
    assert embedder.texts == ["一", "二", "三", "四"]
    knowledge.query_vector("一")  # evicted: embedded again
    assert embedder.texts[-1] == "一" and len(knowledge._query_vectors) == 3


# -- lexicon and relevance ----------------------------------------------------------------------

def expand(query: str) -> str:
    return Lexicon.general().expand(query)


def test_english_words_match_whole_words_only():
    assert "配送" in expand("do you ship to 南京吗")
    assert "会员" in expand("membership怎么办") and "配送" not in expand("membership怎么办")
    assert expand("shipping fee多少") == "配送费 配送"


def test_the_general_lexicon_holds_no_goods_and_comes_from_its_data_file():
    general = Lexicon.general()
    assert general.sources == ("general",) and general.aliases == () and general.typos == ()
    assert expand("tangyuan有吗") == "" and expand("元宵有吗") == ""


def test_the_owners_file_adds_names_and_misspellings(tmp_path):
    path = tmp_path / "lexicon.txt"
    path.write_text("# 我们店的叫法\n汤圆, 元宵, tangyuan\n咖非 -> 咖啡\n\n单个词\n",
                    encoding="utf-8")
    owner = Lexicon.from_owner_file(path)
    assert owner.aliases == (("汤圆", "元宵", "tangyuan"),)
    assert owner.typos == (("咖非", "咖啡"),)
    merged = Lexicon.general().merged(owner)
    assert merged.expand("tangyuan有吗").split() == ["汤圆", "元宵"]
    assert merged.alias_names("咖非哪产的") == "咖啡"
    assert "咖非" not in merged.expand("咖啡多少钱")  # one way only
    assert Lexicon.from_owner_file(tmp_path / "missing.txt") == Lexicon()


def test_a_synonym_in_the_text_counts_as_the_customers_word():
    grams = query_bigrams("几点关门呀")
    hours = "营业时间：每天9:00-22:00"
    assert coverage(grams, hours) == 0.0
    assert coverage(grams, hours, query_synonyms("几点关门呀")) >= 0.5
    assert coverage(grams, "我们卖水果", query_synonyms("几点关门呀")) == 0.0


def test_a_price_word_says_nothing_about_which_product():
    # 多少钱 → 价格 widens the full-text query, but every product row has a price.
    assert "价格" in expand("大闸蟹多少钱")
    assert query_synonyms("大闸蟹多少钱") == []


def _row(rid: str, text: str) -> dict:
    return {"id": rid, "parent": rid, "text": text, "search_text": text, "kind": "chunk"}


def test_a_passage_with_the_questions_words_beats_weak_hits_in_both_lists():
    # Vector candidates: two vaguely similar passages; the full text finds the one that says
    # what was asked but the vector list missed it.
    vector = [dict(_row("a", "茶礼盒"), _distance=0.5), dict(_row("b", "茶点"), _distance=0.55)]
    fts = [dict(_row("c", "单位年会订茶、批量采购能优惠吗"), _score=9.0),
           dict(_row("a", "茶礼盒"), _score=1.0), dict(_row("b", "茶点"), _score=0.5)]
    hits = fuse(vector, fts, "hybrid", query_bigrams("单位年会批量采购"), 0.25, 0.75)
    assert [h.row["id"] for h in hits][0] == "c"
    assert hits[0].score == pytest.approx(max(h.relevance for h in hits[:3]))
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_the_full_text_query_leaves_out_what_is_asked_but_keeps_what_about():
    assert full_text_query("龙井茶多少钱一罐").split() == ["龙井茶", "一罐"]
    assert full_text_query("几点关门") == "几点关门 营业时间"
    assert full_text_query("多少钱?") == "多少钱 价格"  # nothing else to search for


def test_a_long_number_or_a_lettered_word_counts_like_a_pair_a_count_does_not():
    grams = query_bigrams("存3000块的卡送多少")
    row = "钻石卡 | 3000元 | 送450元 | 全场88折"
    assert coverage(grams, row) >= 0.3 > coverage(grams, "金卡 | 1000元 | 送100元")
    assert coverage(query_bigrams("能连wifi吗"), "店内有免费wifi") > coverage(
        query_bigrams("能连wifi吗"), "店内有免费无线网")
    # "10个人" is a count: a text that merely has a 10 in it gains little
    people = query_bigrams("10个人要几份")
    assert coverage(people, "10份：适合9-12人") - coverage(people, "8份：适合6-8人") < 0.2
