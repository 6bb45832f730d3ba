"""Query handling, the three search modes and their fusion.

Scores are normalised to 0..1 and mean the same thing in every mode, so one threshold works:

- vector: cosine similarity mapped through the embedder's calibration (`sim_low` → 0,
  `sim_high` → 1);
- full text: the share of the query's character bigrams found in the passage (BM25 orders the
  candidates, coverage says how much of the question they actually touch);
- hybrid: candidates from both lists ranked by reciprocal-rank fusion; the RRF value,
  normalised by its maximum, is multiplied by the passage's best absolute relevance, so an
  unrelated question gets low scores instead of a confident-looking top hit.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from ..intent import without_catalog_words

MODES = ("vector", "fts", "hybrid")
RRF_K = 20

# Chinese function characters and chat fillers that carry no topic. Dropped from the full-text
# query only (the embedder sees the question as typed).
_FILLERS = set("的了吗呢啊呀吧么嘛哦哈呗啦喔噢哇嗯诶欸哎是在我你您们这那个有没不")
_WORD = re.compile(r"[0-9a-z]+|[\u3400-\u9fff\uf900-\ufaff]+")
_ASCII_WORD = re.compile(r"[0-9a-z]+")


def normalise_query(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    return re.sub(r"\s+", " ", text).strip()


def query_terms(text: str) -> list[str]:
    """Words and CJK runs of a query, with filler characters removed."""
    out = []
    for word in _WORD.findall(normalise_query(text)):
        if word[0].isascii():
            out.append(word)
            continue
        run = "".join(" " if ch in _FILLERS else ch for ch in word).split()
        out.extend(run)
    return out


def fts_query(text: str) -> str:
    return " ".join(query_terms(text))


def bigrams(text: str) -> set[str]:
    grams: set[str] = set()
    for word in _WORD.findall(normalise_query(text)):
        if word[0].isascii():
            grams.add(word)
        elif len(word) == 1:
            grams.add(word)
        else:
            grams.update(word[i : i + 2] for i in range(len(word) - 1))
    return grams


def query_bigrams(text: str) -> set[str]:
    grams: set[str] = set()
    for term in query_terms(text):
        grams |= bigrams(term)
    return grams


def coverage(query_grams: set[str], text: str) -> float:
    """Share of the query's terms found in `text`: half for its characters (and ASCII words),
    half for its character bigrams, so a colloquial paraphrase still gets partial credit."""
    if not query_grams:
        return 0.0
    # Substring tests on the normalised text instead of building its bigram set (this runs
    # for every candidate of every search): a CJK bigram occurs in the text exactly when it
    # is one of its bigrams, a single character anywhere counts, ASCII words count whole.
    norm = unicodedata.normalize("NFKC", text or "").lower()
    words: set[str] | None = None

    def has(gram: str) -> bool:
        nonlocal words
        if gram.isascii() and len(gram) > 1:
            if words is None:
                words = set(_ASCII_WORD.findall(norm))
            return gram in words
        return gram in norm

    chars = {g for g in query_grams if len(g) == 1 or g.isascii()}
    pairs = query_grams - chars
    singles = {c for g in pairs for c in g} | chars
    char_cov = sum(1 for c in singles if has(c)) / len(singles)
    if not pairs:
        return char_cov
    pair_cov = sum(1 for g in pairs if has(g)) / len(pairs)
    # Single characters match almost anything in Chinese; bigrams carry the meaning.
    return 0.3 * char_cov + 0.7 * pair_cov


def mentions(query: str, text: str) -> bool:
    """Whether `text` contains a topic word of `query` (a CJK bigram or an ASCII word of 3+
    letters), leaving out the catalog-intent words themselves (多少钱, 有货…)."""
    topic = without_catalog_words(normalise_query(query))
    grams = {g for g in query_bigrams(topic) if len(g) >= 2 and (not g.isascii() or len(g) >= 3)}
    have = bigrams(text)
    return bool(grams & have)


@dataclass
class Hit:
    row: dict[str, Any]
    vector_rank: int | None = None
    fts_rank: int | None = None
    cosine: float | None = None
    bm25: float | None = None
    relevance: float = 0.0
    score: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def _first_per_passage(rows: list[dict]) -> list[dict]:
    seen: set[str] = set()
    out = []
    for row in rows:
        key = row.get("parent") or row["id"]
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


def calibrate(cosine: float, low: float, high: float) -> float:
    return min(1.0, max(0.0, (cosine - low) / max(high - low, 1e-6)))


def fuse(vector_rows: list[dict], fts_rows: list[dict], mode: str, query_grams: set[str],
         sim_low: float, sim_high: float, rrf_k: int = RRF_K,
         prefer_kind: str | None = None, query: str = "") -> list[Hit]:
    """Merge the two candidate lists into scored hits, best first. `prefer_kind` (e.g.
    "product" for a price question) gives rows of that kind that name a topic word of
    `query` half a top rank extra."""
    hits: dict[str, Hit] = {}
    # Rows are search units; a passage ranks by its best unit in each list.
    for rank, row in enumerate(_first_per_passage(vector_rows), 1):
        hit = hits.setdefault(row.get("parent") or row["id"], Hit(row))
        hit.vector_rank = rank
        hit.cosine = 1.0 - float(row.get("_distance", 1.0))
    for rank, row in enumerate(_first_per_passage(fts_rows), 1):
        hit = hits.setdefault(row.get("parent") or row["id"], Hit(row))
        hit.fts_rank = rank
        hit.bm25 = float(row.get("_score", 0.0))
        hit.extra["fts_unit"] = row.get("search_text") or row["text"]
    for hit in hits.values():
        rel_v = calibrate(hit.cosine, sim_low, sim_high) if hit.cosine is not None else 0.0
        rel_f = coverage(query_grams, hit.extra.pop("fts_unit", None) or hit.row["text"])
        hit.extra = {"vector_relevance": round(rel_v, 4), "fts_relevance": round(rel_f, 4)}
        if mode == "vector":
            hit.relevance = hit.score = rel_v
        elif mode == "fts":
            hit.relevance = hit.score = rel_f
        else:
            rrf = sum(1.0 / (rrf_k + r) for r in (hit.vector_rank, hit.fts_rank) if r)
            if (prefer_kind and hit.row.get("kind") == prefer_kind
                    and (rel_f > 0 or mentions(query, hit.row["text"]))):
                rrf += 0.5 / (rrf_k + 1)
            hit.relevance = max(rel_v, rel_f)
            hit.score = rrf / (2.0 / (rrf_k + 1))
            hit.extra["rrf"] = round(hit.score, 4)
    ordered = list(hits.values())
    if mode == "vector":
        ordered.sort(key=lambda h: h.vector_rank or 1e9)
    elif mode == "fts":
        ordered.sort(key=lambda h: h.fts_rank or 1e9)
    else:
        ordered.sort(key=lambda h: (-h.score, -h.relevance))
        # Rank fusion only orders; how sure we are comes from the absolute relevance of the
        # best candidates, so an unrelated question gets uniformly low scores.
        confidence = max((h.relevance for h in ordered[:3]), default=0.0)
        for h in ordered:
            h.score = min(1.0, h.score) * confidence
    return ordered
