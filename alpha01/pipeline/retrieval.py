"""Retrieval: find the shop's knowledge for a question; answer an FAQ verbatim when it matches.

The `Retriever` protocol is what the stage needs; the LanceDB knowledge base implements it, and
`MemoryRetriever` (character-bigram overlap over a list of passages) serves tests and shops
without an index.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from typing import Protocol

from ..config import KnowledgeSettings
from ..domain import Decision, Passage, Tier
from ..intent import catalog_intent, without_catalog_words
from ..lexicon import aliases
from . import evidence


class Retriever(Protocol):
    def search(self, query: str, k: int = 4) -> list[Passage]:
        """Best passages first, scores normalised to 0..1."""
        ...

    def faq_match(self, query: str) -> Passage | None:
        """The FAQ entry whose question matches closely enough to be returned verbatim."""
        ...


_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
# Characters too common in questions to say anything about the topic.
_STOP = frozenset("的了吗呢吧啊呀么我你您们是在有这那个和就也都还要请问下")


def _terms(text: str) -> set[str]:
    """Characters and character pairs: a tokenizer-free match that works for Chinese."""
    t = _PUNCT.sub("", text.lower())
    chars = {c for c in t if c not in _STOP}
    pairs = {t[i : i + 2] for i in range(len(t) - 1)}
    return chars | {p for p in pairs if p[0] not in _STOP and p[1] not in _STOP}


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
        for p in passages:
            self.add(p)

    def add(self, p: Passage) -> None:
        key = p.question if p.kind == "faq" and p.question else p.text
        body = _terms(p.text)
        self._items.append((p, _terms(key), body))
        for t in body:
            self._df[t] = self._df.get(t, 0) + 1
        self._idf_cache: dict[str, float] = {}

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


_CJK_RUN = re.compile(r"[\u3400-\u9fff]{2,}")


def _product(p: Passage) -> tuple[str, dict[str, str]] | None:
    """(name, columns) of a product passage, whichever retriever produced it."""
    fields = p.meta.get("fields") or {k: v for k, v in p.meta.items() if isinstance(v, str)}
    if not fields:
        return None
    name = p.meta.get("name") or next(iter(fields.values()), "")
    return (str(name), {str(k): str(v) for k, v in fields.items()}) if name else None


def _named_in(name: str, question: str) -> bool:
    """Whether the question names this product: a run of 2+ of its characters (榴莲 in
    泰国金枕榴莲) appears in the question."""
    for run in _CJK_RUN.findall(name):
        for size in range(len(run), 1, -1):
            if any(run[i:i + size] in question for i in range(len(run) - size + 1)):
                return True
    return False


def catalog_answer(question: str, hits: list[Passage]) -> tuple[str, list[Passage]] | None:
    """A price/stock question about products the question names: answered from the catalog
    rows themselves, every figure exactly as the merchant wrote it, no model involved."""
    topic = without_catalog_words(question)
    # the product's other names count: "avocado有吗" names 墨西哥牛油果, 奇异果 names 猕猴桃
    topic = f"{topic} {aliases(topic)}"
    rows = []
    for p in hits:
        if p.kind != "product":
            continue
        product = _product(p)
        if product and _named_in(product[0], topic):
            rows.append((p, product))
    if not rows:
        return None
    lines = []
    for _, (name, fields) in rows[:3]:
        details = "，".join(f"{k}{v}" for k, v in fields.items() if v and v != name)
        lines.append(f"{name}：{details}。" if details else f"{name}。")
    return "\n".join(lines), [p for p, _ in rows[:3]]


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


def retrieve(retriever: Retriever, question: str, settings: KnowledgeSettings) -> Decision:
    """The retrieval stage.

    Returns RESPOND (tier faq, the FAQ answer verbatim, no model) when an FAQ matches, or a
    catalog row answers a price/stock question; otherwise CONTINUE with `trace["passages"]`
    (the relevant passages), `trace["evidence"]` (their lines that bear on the question, best
    first, capped in characters: what the model will read) and `trace["relevant"]` saying
    whether anything relevant was found at all, so generation can hand off instead of
    improvising.
    """
    question = focus(question)
    faq = retriever.faq_match(question)
    if faq is None and "\n" in question:  # an aggregated batch: its last line may be the ask
        faq = retriever.faq_match(question.splitlines()[-1])
    if faq is not None and faq.answer:
        return Decision.respond(faq.answer, Tier.FAQ, "faq match", passages=[faq.to_json()],
                                faq_score=round(faq.score, 4))
    hits = retriever.search(question, k=settings.top_k)
    if catalog_intent(question):
        found = catalog_answer(question, hits)
        topic = without_catalog_words(question).strip()
        if found is None and topic and topic != question:
            # The product may rank below FAQ entries and documents that mention it in passing
            # ("蓝莓咋卖" finds the clearance rule about 蓝莓 first): look among more rows.
            found = catalog_answer(question, retriever.search(topic, k=3 * settings.top_k))
        if found is not None:
            reply, products = found
            return Decision.respond(reply, Tier.FAQ, "catalog lookup",
                                    passages=[p.to_json() for p in products])
    relevant = [p for p in hits if p.score >= settings.relevance_threshold]
    lines = evidence.select(question, relevant, max_chars=settings.passage_chars,
                            similarity=similarity_of(retriever)) if relevant else []
    d = Decision.proceed("passages found" if lines else "nothing relevant found",
                         relevant=bool(lines), passages=[p.to_json() for p in relevant],
                         evidence=[{"text": e.render(), "source": e.source, "score": e.score}
                                   for e in lines],
                         considered=[{"source": p.source, "score": round(p.score, 4)}
                                     for p in hits])
    d.trace["_passages"] = relevant  # the objects, for generation; dropped before storing
    d.trace["_evidence"] = lines
    return d
