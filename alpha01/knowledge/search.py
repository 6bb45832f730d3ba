"""Query handling, the three search modes and their fusion.

Scores are normalised to 0..1 and mean the same thing in every mode, so one threshold works:

- vector: cosine similarity mapped through the embedder's calibration (`sim_low` → 0,
  `sim_high` → 1);
- full text: the share of the query's character bigrams found in the passage (BM25 orders the
  candidates, coverage says how much of the question they actually touch);
- hybrid: candidates from both lists ordered by reciprocal-rank fusion (normalised by its
  maximum) plus their full-text coverage; the first hit's score is the best relevance
  among the top three, the others scale with their fused value, so an unrelated question
  gets low scores instead of a confident-looking top hit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..intent import without_catalog_words
from ..lexicon import Lexicon, resolve
from ..textmatch import (  # noqa: F401  (re-exported: the knowledge base's helpers)
    Synonyms,
    bigrams,
    coverage,
    normalise_query,
    query_bigrams,
    query_terms,
)

MODES = ("vector", "fts", "hybrid")
RRF_K = 20
# Weight of a candidate's full-text coverage next to its normalised RRF value when ordering
# hybrid results (see fuse).
COVERAGE_WEIGHT = 1.0

def fts_query(text: str) -> str:
    return " ".join(query_terms(text))



def full_text_query(query: str, expand_queries: bool = True,
                    lexicon: Lexicon | None = None) -> str:
    """What is sent to the full-text index for `query`: its terms without fillers and
    without the catalog-intent words (多少钱, 有货…), plus the lexicon's terms for them.

    The intent words say what is asked, not about what: catalog rows are indexed without
    their column labels, so they cannot match there, and in other passages they match
    whatever mentions prices. Leaving them out also makes the query cheaper (each word's
    characters are posting lists to merge). Relevance still counts them (coverage), and
    the catalog intent itself steers the fusion (`prefer_kind`)."""
    topic = without_catalog_words(query)
    if not query_terms(topic):
        topic = query  # nothing but intent words ("多少钱?"): search them as they are
    extra = resolve(lexicon).expand(topic) if expand_queries else ""
    return " ".join(filter(None, [fts_query(topic), extra]))



def query_synonyms(query: str, lexicon: Lexicon | None = None) -> Synonyms:
    """For each everyday word of `query` the lexicon knows (几点, 包邮, kids…): its grams
    and characters, and the terms a shop's text may use instead (营业时间, 免配送费, 儿童)."""
    out: Synonyms = []
    for word, terms in resolve(lexicon).synonyms(normalise_query(query)):
        if not without_catalog_words(" ".join(terms)).strip():
            # 多少钱 → 价格: every catalog row has a price, so finding one says nothing
            # about whether the passage is about the thing asked for.
            continue
        grams = bigrams(word)
        if not word.isascii():
            grams |= set(word)
        out.append((grams, terms))
    return out



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
         prefer_kind: str | None = None, query: str = "",
         synonyms: Synonyms = (), coverage_weight: float = COVERAGE_WEIGHT) -> list[Hit]:
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
        rel_f = coverage(query_grams, hit.extra.pop("fts_unit", None) or hit.row["text"],
                         synonyms)
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
            rrf /= 2.0 / (rrf_k + 1)
            hit.extra["rrf"] = round(rrf, 4)
            # Ranks alone cannot tell a strong match in one list from a weak one in both:
            # in a small shop's table the 30 vector candidates are half of all rows, so
            # being in both lists is common and says little, while a passage holding most
            # of the question's words may be missing from the vector list altogether. The
            # share of the question a passage covers is that missing absolute measure; the
            # calibrated cosine is not added (its evidence is in the vector rank already,
            # and unrelated shop texts reach cosines that look half relevant).
            hit.score = rrf + coverage_weight * rel_f
    ordered = list(hits.values())
    if mode == "vector":
        ordered.sort(key=lambda h: h.vector_rank or 1e9)
    elif mode == "fts":
        ordered.sort(key=lambda h: h.fts_rank or 1e9)
    else:
        ordered.sort(key=lambda h: (-h.score, -h.relevance))
        # The fused value only orders; how sure we are comes from the absolute relevance of
        # the best candidates, so an unrelated question gets uniformly low scores. The first
        # hit gets that confidence, the others their share of its fused value.
        confidence = max((h.relevance for h in ordered[:3]), default=0.0)
        top = ordered[0].score if ordered else 0.0
        for h in ordered:
            h.score = min(1.0, confidence * h.score / top) if top > 0 else 0.0
    return ordered
