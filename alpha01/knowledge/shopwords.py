"""The shop's own vocabulary, derived from its documents (see lexicon.py for how it is used).

- **Product names and their aliases**: a catalog row's name with the cells of its alias columns
  (别名, 又名, 俗称, 英文名, alias …): a customer who types any of them finds the row.
- **FAQ paraphrases**: an FAQ entry pairs the shop's question with its answer, so the words of
  the question that the answer does not use are the customers' words for the answer's terms
  ("能带宠物吗" / "猫咪狗狗都能进店，需要牵绳或装包": 宠物 brings in 猫咪, 狗狗 and 牵绳).

Nothing here is written for a particular shop: every entry comes from the rows passed in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from ..lexicon import Lexicon, is_alias_header
from .search import query_terms

_CELL_SPLIT = re.compile(r"[,，、;；/|]+")
_FIRST_CLAUSE = re.compile(r"[。！？!?；;\n]")
# runs shorter than this say too little to trigger, longer ones never recur verbatim
_MIN_RUN, _MAX_RUN = 2, 10
_FAQ_TERMS = 3
# a two-character word in at least this many product names is one of the shop's category words
SHARED_NAMES = 2
# a word the shop's documents use more often than this is no FAQ's own
WIDE_USE = 2


def derive(rows: Iterable[dict]) -> Lexicon:
    """The lexicon of the knowledge base's rows (dicts with kind, meta, question, answer and,
    when there is one, text)."""
    aliases: list[tuple[str, ...]] = []
    faqs: list[tuple[str, str]] = []
    sounds: list[str] = []
    names_seen: list[str] = []
    written: list[str] = []  # what the shop's documents say outside the FAQ
    for row in rows:
        kind = row.get("kind")
        if kind != "faq" and row.get("text"):
            written.append(str(row["text"]))
        if kind == "product":
            names = product_names(_meta(row))
            names_seen += names[:1]
            if len(names) >= 2:
                aliases.append(names)
            sounds += name_pieces(names)
        elif kind == "faq" and row.get("question") and row.get("answer"):
            faqs.append((row["question"], row["answer"]))
    # a word many of the shop's questions use (可以, 多久), or one its documents use again and
    # again (送到 in a shop that delivers), says nothing about one answer
    seen: dict[str, int] = {}
    for question, _ in faqs:
        for w in _windows(question):
            seen[w] = seen.get(w, 0) + 1
    blob = "\n".join(written)
    common = {w for w, n in seen.items() if n > 1 or blob.count(w) > WIDE_USE}
    # and the general vocabulary has its own meaning for its words (送到 → 配送), not one FAQ's
    common |= {w for words, _ in Lexicon.general().topics for w in words}
    topics = []
    for question, answer in faqs:
        entry = faq_paraphrase(question, answer, common=common)
        if entry is not None:
            topics.append(entry)
    return Lexicon(topics=tuple(topics), aliases=tuple(aliases),
                   sounds=tuple(dict.fromkeys(sounds + shared_pieces(names_seen))),
                   sources=("shop",))


def shared_pieces(names: Iterable[str]) -> list[str]:
    """Two-character words several product names share: the shop's own category words (汤圆 in
    芝麻汤圆 and 花生汤圆, 咖啡 in a coffee shop), which customers mistype by sound as often as
    the names (汤元)."""
    count: dict[str, int] = {}
    for name in names:
        for run in re.findall(r"[\u3400-\u9fff]{2,}", name):
            for piece in {run[i:i + 2] for i in range(len(run) - 1)}:
                count[piece] = count.get(piece, 0) + 1
    return [p for p, n in count.items() if n >= SHARED_NAMES]


def name_pieces(names: Iterable[str]) -> list[str]:
    """The pieces of product names a customer may mistype by sound: each name's Chinese runs
    and their three- and four-character parts (云南小粒咖啡 → 小粒咖啡, 南小粒 …)."""
    out: list[str] = []
    for name in names:
        for run in re.findall(r"[\u3400-\u9fff]{3,}", name):
            out.append(run)
            for size in (3, 4):
                out += [run[i:i + size] for i in range(len(run) - size + 1)]
    return out


def product_names(meta: dict) -> tuple[str, ...]:
    """A product's name and the names its alias columns give it."""
    fields = meta.get("fields") or {}
    name = str(meta.get("name") or "").strip()
    names = [name] if name else []
    for header, cell in fields.items():
        if is_alias_header(str(header)):
            names += [c.strip() for c in _CELL_SPLIT.split(str(cell)) if c.strip()]
    return tuple(dict.fromkeys(n.lower() for n in names))


def faq_paraphrase(question: str, answer: str, common: set[str] | frozenset[str] = frozenset()
                   ) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(the question's own words, the answer's terms for them), or None when the answer
    already uses the question's words or has none of its own. The question's words are its
    two- and three-character pieces (no segmenter needed), less those in `common`."""
    asked = [w for w in _windows(question) if w not in answer and w not in common]
    head = _FIRST_CLAUSE.split(answer, 1)[0]
    terms = [t for t in _runs(head) if t not in question][:_FAQ_TERMS]
    if not asked or not terms:
        return None
    return tuple(asked), tuple(terms)


def _windows(text: str) -> list[str]:
    out: list[str] = []
    for run in query_terms(text):
        if run.isascii():
            continue
        for size in (2, 3):
            out += [run[i:i + size] for i in range(len(run) - size + 1)]
    return list(dict.fromkeys(out))


def _runs(text: str) -> list[str]:
    return list(dict.fromkeys(t for t in query_terms(text)
                              if not t.isascii() and _MIN_RUN <= len(t) <= _MAX_RUN))


def _meta(row: dict) -> dict:
    meta = row.get("meta") or {}
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except ValueError:
            return {}
    return meta if isinstance(meta, dict) else {}
