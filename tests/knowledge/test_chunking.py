"""Chunking keeps headings with their text, never cuts a sentence, and gives stable ids."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from alpha01.knowledge.chunking import assign_ids, chunk_blocks, split_sentences
from alpha01.knowledge.formats import Block


def test_sentences_keep_their_closing_quotes():
    assert split_sentences("他说：“好的。”然后走了！还有吗？") == ["他说：“好的。”", "然后走了！", "还有吗？"]


def test_every_chunk_carries_its_heading_path():
    blocks = [Block("店铺介绍", 1), Block("营业时间", 2), Block("每天九点开门。" * 40),
              Block("门店地址", 2), Block("龙井路18号。")]
    chunks = chunk_blocks(blocks, max_chars=120)
    hours = [c for c in chunks if "营业时间" in c.headings]
    assert len(hours) > 1  # long section split...
    assert all(c.text.startswith("店铺介绍 > 营业时间\n") for c in hours)  # ...heading on each
    assert any(c.text.startswith("店铺介绍 > 门店地址\n龙井路18号。") for c in chunks)
    assert all(u.startswith("店铺介绍 > ") for c in chunks for u in c.units)


def test_short_sibling_sections_share_a_passage_and_keep_their_headings():
    blocks = [Block("配送说明", 1), Block("一、配送费", 2), Block("3号区配送费16元。"),
              Block("二、免配送费", 2), Block("3号区满158元免配送费。")]
    (chunk,) = chunk_blocks(blocks, max_chars=200)
    assert chunk.text == "配送说明\n一、配送费\n3号区配送费16元。\n二、免配送费\n3号区满158元免配送费。"
    assert chunk.units == ["配送说明 > 一、配送费\n3号区配送费16元。",
                           "配送说明 > 二、免配送费\n3号区满158元免配送费。"]


def test_table_rows_are_never_split():
    rows = "\n".join(f"商品{i} | {i}元 | 产地{i}" for i in range(40))
    chunks = chunk_blocks([Block("价目表", 1), Block(rows, table=True)], max_chars=100)
    for chunk in chunks:
        for line in chunk.body.split("\n"):
            assert line.count("|") == 2


def test_ids_are_stable_and_distinct_for_repeated_text():
    keys = ["甲", "乙", "甲"]
    assert assign_ids("a.md", "chunk", keys) == assign_ids("a.md", "chunk", keys)
    assert len(set(assign_ids("a.md", "chunk", keys))) == 3
    assert assign_ids("a.md", "chunk", ["甲"]) != assign_ids("b.md", "chunk", ["甲"])


_sentence = st.builds(
    lambda body, end: body + end,
    st.text(alphabet="营业时间配送会员积分退款礼盒水果茶叶每天九点开门免费送货上门元斤箱0123456789，",
            min_size=1, max_size=60),
    st.sampled_from(["。", "！", "？", "；"]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_sentence, min_size=1, max_size=8), min_size=1, max_size=6),
       st.integers(min_value=70, max_value=400))
def test_no_sentence_is_cut(paragraphs, max_chars):
    blocks = [Block("标题", 1)] + [Block("".join(p)) for p in paragraphs]
    chunks = chunk_blocks(blocks, max_chars=max_chars)
    bodies = [c.body for c in chunks]
    for paragraph in paragraphs:
        for sentence in paragraph:
            assert any(sentence in body for body in bodies), sentence
    assert all(len(b) <= max_chars + 1 for b in bodies)
