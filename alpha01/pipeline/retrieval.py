"""Retrieval: find the shop's knowledge for a question; answer an FAQ verbatim when it matches.

The `Retriever` protocol is what the stage needs; the LanceDB knowledge base implements it, and
`MemoryRetriever` (character-bigram overlap over a list of passages) serves tests and shops
without an index.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from ..config import KnowledgeSettings
from ..domain import Decision, Passage, Tier
from ..intent import catalog_intent, without_catalog_words
from ..lexicon import Lexicon
from ..textmatch import FUNCTION_CHARS
from . import catalog, evidence, guard


class Retriever(Protocol):
    def search(self, query: str, k: int = 4) -> list[Passage]:
        """Best passages first, scores normalised to 0..1."""
        ...

    def faq_match(self, query: str) -> Passage | None:
        """The FAQ entry whose question matches closely enough to be returned verbatim."""
        ...


_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def _terms(text: str) -> set[str]:
    """Characters and character pairs: a tokenizer-free match that works for Chinese."""
    t = _PUNCT.sub("", unicodedata.normalize("NFKC", text).lower())
    chars = {c for c in t if c not in FUNCTION_CHARS}
    pairs = {t[i : i + 2] for i in range(len(t) - 1)}
    return chars | {p for p in pairs if p[0] not in FUNCTION_CHARS and p[1] not in FUNCTION_CHARS}


class MemoryRetriever:
    """Passages held in memory, scored by IDF-weighted character and bigram overlap.

    For tests, the demo, and shops without an index; the LanceDB knowledge base does the
    real work. A score is the share of the question's (weighted) terms a passage covers.
    """

    def __init__(self, passages: Iterable[Passage] = (), *, faq_threshold: float = 0.8) -> None:
        self.faq_threshold = faq_threshold
        self._items: list[tuple[Passage, set[str], set[str]]] = []
        self._df: dict[str, int] = {}
        self._idf_cache: dict[str, float] = {}
        self._lexicon: Lexicon | None = None
        for p in passages:
            self.add(p)

    def add(self, p: Passage) -> None:
        key = p.question if p.kind == "faq" and p.question else p.text
        body = _terms(p.text)
        self._items.append((p, _terms(key), body))
        for t in body:
            self._df[t] = self._df.get(t, 0) + 1
        self._idf_cache = {}
        self._lexicon = None

    @property
    def lexicon(self) -> Lexicon:
        """General vocabulary + the words derived from these passages (see shopwords.py)."""
        from ..knowledge.shopwords import derive

        if self._lexicon is None:
            rows = [{"kind": p.kind, "question": p.question, "answer": p.answer,
                     "meta": p.meta, "text": p.text} for p, _, _ in self._items]
            self._lexicon = Lexicon.general().merged(derive(rows))
        return self._lexicon

    def products(self) -> list[catalog.Product]:
        return [prod for p, _, _ in self._items if (prod := catalog.product_of(p)) is not None]

    def doc_count(self, word: str) -> int:
        word = unicodedata.normalize("NFKC", word).lower()
        return sum(1 for p, _, _ in self._items if p.kind != "product"
                   and word in unicodedata.normalize("NFKC", p.text).lower())

    def mentions(self, word: str) -> bool:
        """Whether any passage contains `word` (compared after NFKC)."""
        word = unicodedata.normalize("NFKC", word)
        return any(word in unicodedata.normalize("NFKC", f"{p.text}\n{p.question or ''}\n{p.answer or ''}")
                   for p, _, _ in self._items)

    def add_faq(self, question: str, answer: str, source: str = "inbox") -> Passage:
        """A merchant-written FAQ (e.g. from the unanswered inbox), answerable at once."""
        p = Passage(text=f"{question}\n{answer}", source=source, score=0.0, kind="faq",
                    question=question, answer=answer)
        self.add(p)
        return p

    def _idf(self, term: str) -> float:
        idf = self._idf_cache.get(term)
        if idf is None:
            idf = math.log(1 + (len(self._items) + 1) / (self._df.get(term, 0) + 0.5))
            self._idf_cache[term] = idf
        return idf

    def _weight(self, terms: set[str]) -> float:
        return sum(self._idf(t) for t in terms)

    def search(self, query: str, k: int = 4) -> list[Passage]:
        q = _terms(query)
        total = self._weight(q)
        if not total:
            return []
        scored = [(self._weight(q & body) / total, p) for p, _, body in self._items]
        scored.sort(key=lambda t: t[0], reverse=True)
        return [Passage(p.text, p.source, score, p.kind, p.question, p.answer, p.meta)
                for score, p in scored[:k] if score > 0]

    def faq_match(self, query: str) -> Passage | None:
        """An FAQ whose question and the query cover each other (both directions)."""
        q = _terms(query)
        q_total = self._weight(q)
        best: tuple[float, Passage] | None = None
        for p, key, _ in self._items:
            if p.kind != "faq" or not q_total or not key:
                continue
            shared = self._weight(q & key)
            score = min(shared / q_total, shared / self._weight(key))
            if best is None or score > best[0]:
                best = (score, p)
        if best and best[0] >= self.faq_threshold:
            p = best[1]
            return Passage(p.text, p.source, best[0], p.kind, p.question, p.answer, p.meta)
        return None


_GREETING = re.compile(
    r"^(?:(?:你好|您好|哈喽|嗨|hi|hello|在吗|在不在|老板|亲|请问|麻烦问一下|问一下)[\s,，.。!！?？~、]*)+",
    re.IGNORECASE)


def focus(question: str) -> str:
    """The question without greetings and pure-greeting lines ("你好\n在吗\n几点开门" →
    "几点开门"), so an FAQ still matches when the customer says hello first."""
    lines = [_GREETING.sub("", line).strip() for line in question.splitlines()]
    kept = [line for line in lines if line]
    return "\n".join(kept) if kept else question.strip()


# How many times top_k passages the search returns, to find the rare words of the question in.
DEEP_SEARCH = 3
# At most this many passages join the top_k for the question's rare words, each for a word
# at most this many of the deeper passages have.
RARE_EXTRA = 2
RARE_IN = 3
# question words (多久, 几点, 啥样) ask, they do not say which thing
_ASKING = frozenset("多几啥什怎哪谁")


def rare_words(question: str, hits: list[Passage], deeper: list[Passage]) -> list[Passage]:
    """Passages below the top ones that have a word of the question none of the top ones has,
    and few others do ("大号的多少钱 得提前多久约": the price table's 大号 row ranks below
    passages that share 多少钱 and 提前 with it): the one word that says which thing the
    customer means should not be lost to the many that do not."""
    def words(p: Passage) -> str:
        return evidence.normalise_query(f"{p.question or ''} {p.text} {p.answer or ''}")

    top = [words(p) for p in hits]
    rest = [(p, words(p)) for p in deeper]
    extra: list[Passage] = []
    for pair in sorted(evidence.content_pairs(question), key=question.find):
        if len(extra) >= RARE_EXTRA:
            break
        if (set(pair) & (FUNCTION_CHARS | _ASKING)) or any(pair in t for t in top):
            continue
        having = [p for p, t in rest if pair in t]
        if 0 < len(having) <= RARE_IN and having[0] not in extra:
            extra.append(having[0])
    return extra


def lexicon_of(retriever: object) -> Lexicon:
    """The retriever's lexicon (general + the shop's + the owner's), or the general one."""
    lexicon = getattr(retriever, "lexicon", None)
    return lexicon if isinstance(lexicon, Lexicon) else Lexicon.general()


def catalog_answer(question: str, hits: list[Passage], retriever: object = None,
                   lexicon: Lexicon | None = None, named: catalog.Lookup | None = None
                   ) -> tuple[str, list[Passage]] | None:
    """A price/stock question about products the question names: answered from the catalog
    rows themselves, every figure exactly as the merchant wrote it, no model involved.
    `named` is the lookup already made for this question and these hits, if any."""
    found = named if named is not None else _lookup(question, hits, retriever, lexicon)
    if not found.rows:
        return None
    said = [catalog.say_row(name, fields) for name, fields in found.rows]
    by_name = {prod[0]: p for p in hits if (prod := catalog.product_of(p)) is not None}
    passages = [by_name.get(name) or Passage(text, "", 1.0, "product",
                                              meta={"name": name, "fields": fields})
                for (name, fields), text in zip(found.rows, said, strict=True)]
    return "\n".join(said), passages


def _lookup(question: str, hits: list[Passage], retriever: object,
            lexicon: Lexicon | None) -> catalog.Lookup:
    rows: list[catalog.Product] = []
    products = getattr(retriever, "products", None)
    if callable(products):
        try:
            rows = products()
        except Exception:  # a catalog that cannot be read: fall back to the hits
            rows = []
    if not rows:
        rows = [prod for p in hits if (prod := catalog.product_of(p)) is not None]
    doc_count = getattr(retriever, "doc_count", None)
    return catalog.lookup(question, rows, doc_count=doc_count if callable(doc_count) else None,
                          lexicon=lexicon)


def similarity_of(retriever: object) -> evidence.Similarity | None:
    """Embedding similarity through the retriever's own embedder, when it has one."""
    embedder = getattr(retriever, "embedder", None)
    if embedder is None or not hasattr(embedder, "embed"):
        return None

    def similarity(question: str, texts: list[str]) -> list[float]:
        vectors = embedder.embed([question, *texts])
        q = vectors[0]
        return [float(v @ q) for v in vectors[1:]]

    return similarity


@dataclass
class Found:
    """What retrieval hands generation when no tier before the model answered."""

    passages: list[Passage]  # the relevant passages, best first
    lines: list[evidence.Evidence]  # their lines that bear on the question: what the model reads
    lexicon: Lexicon
    decision: Decision  # CONTINUE, with the trace to store

    @property
    def relevant(self) -> bool:
        return bool(self.lines)

    @functools.cached_property
    def all_lines(self) -> list[evidence.Evidence]:
        """The lines shown to the model, then every other line of the passages (a definition
        or a code's rule the model was not shown): cut once per answer, read by several steps."""
        shown = {e.text for e in self.lines}
        return self.lines + [e for e in evidence.lines_of(self.passages) if e.text not in shown]


def retrieve(retriever: Retriever, question: str, settings: KnowledgeSettings
             ) -> Decision | Found:
    """The retrieval stage.

    Returns a terminal Decision when a tier before the model answers: RESPOND (tier faq) with
    an FAQ answer verbatim or the catalog rows a price/stock question names, HANDOFF when the
    question names a product the catalog does not list. Otherwise a `Found`: the relevant
    passages and their evidence lines (best first, capped in characters), so generation can
    answer from them, or hand off when there are none.
    """
    question = focus(question)
    faq = retriever.faq_match(question)
    if faq is None and "\n" in question:  # an aggregated batch: its last line may be the ask
        faq = retriever.faq_match(question.splitlines()[-1])
    if faq is not None and faq.answer:
        return Decision.respond(faq.answer, Tier.FAQ, "faq match", passages=[faq.to_json()],
                                faq_score=round(faq.score, 4))
    deep = retriever.search(question, k=settings.top_k * DEEP_SEARCH)
    hits = deep[:settings.top_k]
    lexicon = lexicon_of(retriever)
    focus_word = guard.unknown_focus(question, getattr(retriever, "mentions", None), lexicon)
    if focus_word:
        # "是有机的吗" where the shop never writes 有机: no line of its answers yes or no
        return Decision.handoff(None, "asks about something the shop data never mentions",
                                unknown=focus_word)
    named = _lookup(question, hits, retriever, lexicon)
    if named.unlisted:
        # "13 Pro Max" where the shop lists 13 and 13 Pro: the nearest row's figures would be a
        # confident wrong answer. The owner answers.
        return Decision.handoff(None, "asks about a product the catalog does not list",
                                unlisted=named.unlisted)
    if catalog_intent(question):
        found = catalog_answer(question, hits, retriever, lexicon, named)
        topic = without_catalog_words(question).strip()
        if found is None and topic and topic != question and not callable(
                getattr(retriever, "products", None)):
            # Without the whole catalog at hand the product may rank below FAQ entries and
            # documents that mention it in passing: look among more rows.
            found = catalog_answer(question, retriever.search(topic, k=3 * settings.top_k),
                                   None, lexicon)
        if found is not None:
            reply, products = found
            return Decision.respond(reply, Tier.FAQ, "catalog lookup",
                                    passages=[p.to_json() for p in products])
    relevant = [p for p in hits + rare_words(question, hits, deep[settings.top_k:])
                if p.score >= settings.relevance_threshold]
    lines = evidence.select(question, relevant, max_chars=settings.passage_chars,
                            max_items=settings.evidence_lines,
                            similarity=similarity_of(retriever),
                            lexicon=lexicon) if relevant else []
    d = Decision.proceed("passages found" if lines else "nothing relevant found",
                         relevant=bool(lines), passages=[p.to_json() for p in relevant],
                         evidence=[{"text": e.render(), "source": e.source, "score": e.score}
                                   for e in lines],
                         considered=[{"source": p.source, "score": round(p.score, 4)}
                                     for p in hits])
    return Found(relevant, lines, lexicon, d)
