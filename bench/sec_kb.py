"""Knowledge base: retrieval quality on every public eval shop, ingest and search speed.

Quality, per shop under ../shared/eval (qinghe, yunduo, …): each answerable question of its
questions.jsonl is a hit@k when all its facts occur in the text of the top-k passages (after
NFKC and whitespace removal), for vector, full-text, hybrid and a jieba + BM25 baseline over
the same chunks, in one run. FAQ direct answers are counted too: how many faq-sourced questions
get a right verbatim answer, and how many questions get a wrong one (the costly mistake).
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
import unicodedata
from pathlib import Path

from bench.rows import Row

SECTION = "kb"
EVAL_ROOT = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
EVAL = EVAL_ROOT / "qinghe"
DEMO = Path(__file__).resolve().parent.parent / "alpha01" / "demo"


def _norm(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def _hit(facts: list[str], texts: list[str]) -> bool:
    blob = _norm("\n".join(texts))
    return all(_norm(f) in blob for f in facts)


def _open(home: Path, embedder):
    from alpha01.config import KnowledgeSettings
    from alpha01.knowledge import open_kb
    from alpha01.paths import Paths

    return open_kb(Paths(home), KnowledgeSettings(), embedder=embedder)


def quality(embedder, tmp: Path, verbose: bool = False) -> list[Row]:
    rows: list[Row] = []
    for shop in sorted(p.parent for p in EVAL_ROOT.glob("*/questions.jsonl")):
        rows += shop_quality(shop, embedder, tmp, verbose)
    return rows


def shop_quality(shop: Path, embedder, tmp: Path, verbose: bool = False) -> list[Row]:
    import jieba
    from rank_bm25 import BM25Okapi

    jieba.setLogLevel(60)
    kb = _open(tmp / f"eval-{shop.name}", embedder)
    report = kb.add([shop / "docs"])
    files = len([p for p in (shop / "docs").iterdir() if p.is_file()])
    rows_out = [Row(SECTION, f"{shop.name}: eval shop files ingested", len(report.ok), "files",
                    f">= {files}")]
    rows_out[0].ok = len(report.ok) == files
    items = [json.loads(line) for line in (shop / "questions.jsonl").read_text("utf-8").splitlines()
             if line.strip()]
    answerable = [q for q in items if q["kind"] == "answerable"]

    chunks = kb.store.rows(columns=["id", "text", "search_text"])
    corpus = [[t for t in jieba.lcut(r["search_text"].lower()) if t.strip()] for r in chunks]
    bm25 = BM25Okapi(corpus)

    def bm25_top(question: str, k: int) -> list[str]:
        scores = bm25.get_scores([t for t in jieba.lcut(question.lower()) if t.strip()])
        order = sorted(range(len(chunks)), key=lambda i: -scores[i])[:k]
        return [chunks[i]["text"] for i in order]

    results: dict[str, tuple[float, float]] = {}
    for mode in ("vector", "fts", "hybrid", "bm25"):
        h1 = h3 = 0
        for q in answerable:
            if mode == "bm25":
                texts = bm25_top(q["question"], 3)
            else:
                texts = [p.text for p in kb.search(q["question"], k=3, mode=mode)]
            h1 += _hit(q["facts"], texts[:1])
            h3 += _hit(q["facts"], texts[:3])
            if verbose and mode == "hybrid" and not _hit(q["facts"], texts[:1]):
                print(f"    miss@1 {q['id']} {q['question']!r} facts={q['facts']} "
                      f"top={texts[0][:50]!r}" if texts else f"    miss {q['id']}")
        results[mode] = (h1 / len(answerable), h3 / len(answerable))
    targets = {"hybrid": (">= 0.85", ">= 0.95")}
    names = {"vector": "vector", "fts": "full-text (n-gram)", "hybrid": "hybrid (RRF)",
             "bm25": "jieba+BM25 baseline"}
    for mode, (h1, h3) in results.items():
        t1, t3 = targets.get(mode, ("", ""))
        for label, value, target in (("hit@1", h1, t1), ("hit@3", h3, t3)):
            metric = f"{shop.name}: {names[mode]} {label} ({len(answerable)} q)"
            rows_out.append(Row.check(SECTION, metric, value, "", target) if target
                            else Row(SECTION, metric, value, ""))
    margin = results["hybrid"][0] - results["bm25"][0]
    rows_out.append(Row.check(SECTION, f"{shop.name}: hybrid hit@1 minus BM25 hit@1", margin, "",
                              ">= 0.15"))

    # FAQ direct answers: verbatim replies, so a wrong one is worse than none.
    from_faq = [q for q in answerable if "faq" in (q.get("source") or "")]
    right = sum(1 for q in from_faq
                if (m := kb.faq_match(q["question"])) and _hit(q["facts"], [m.answer or ""]))
    wrong = 0
    for q in items:
        m = kb.faq_match(q["question"])
        if m is None:
            continue
        ok = q["kind"] == "answerable" and q["facts"] and _hit(q["facts"], [m.answer or ""])
        if not ok:
            wrong += 1
            if verbose:
                print(f"    faq wrong {q['id']} {q['question']!r} -> {m.question!r} {m.score:.2f}")
    rows_out.append(Row(SECTION, f"{shop.name}: FAQ direct answers right "
                        f"({len(from_faq)} faq questions)", right, "q"))
    rows_out.append(Row.check(SECTION, f"{shop.name}: FAQ direct answers wrong "
                              f"(all {len(items)} q)", wrong, "q", "<= 0"))
    kb.close()
    return rows_out


def ingest_sample(embedder_factory, tmp: Path) -> list[Row]:
    folder = DEMO if any(DEMO.glob("*.*")) else EVAL / "docs"
    label = "demo shop" if folder == DEMO else "eval shop (no demo yet)"
    started = time.perf_counter()
    embedder = embedder_factory()
    kb = _open(tmp / "sample", embedder)
    report = kb.add([folder])
    total = time.perf_counter() - started
    kb.close()
    return [
        Row.check(SECTION, f"ingest {label}, cold (model load + {len(report.ok)} files)", total,
                  "s", "<= 5"),
    ]


_WORDS = ("苹果 香蕉 草莓 蓝莓 车厘子 芒果 榴莲 橙子 葡萄 西瓜 荔枝 猕猴桃 礼盒 会员 积分 配送 自提 退款 "
          "售后 发票 储值卡 优惠券 营业时间 停车 地址 电话 冷链 产地 规格 价格 库存 预订 定金 果切 "
          "保鲜 冷藏 坏果 破损 拍照 签收 快递 运费 满减 折扣 周末 节假日 早上 晚上").split()


def _synthetic_docs(folder: Path, n_chunks: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    per_file = 100
    for f in range(max(1, n_chunks // per_file)):
        parts = [f"# 资料 {f}\n"]
        for s in range(per_file):
            parts.append(f"## 第{s}节 {rng.choice(_WORDS)}\n")
            sentences = []
            for _ in range(rng.randint(3, 6)):
                a, b, c = rng.sample(_WORDS, 3)
                sentences.append(f"{a}和{b}的{c}是{rng.randint(1, 999)}元，{rng.randint(1, 30)}天内有效。")
            parts.append("".join(sentences) + "\n")
        (folder / f"doc{f:03d}.md").write_text("\n".join(parts), encoding="utf-8")
    return [f"{rng.choice(_WORDS)}{rng.choice(_WORDS)}多少钱" for _ in range(60)]


def speed(embedder, tmp: Path, n_chunks: int) -> list[Row]:
    folder = tmp / "synthetic"
    queries = _synthetic_docs(folder, n_chunks)
    texts = [t for p in sorted(folder.glob("*.md"))[:5] for t in p.read_text("utf-8").split("\n")
             if len(t) > 20][:400]
    embedder.embed(texts[:8])  # loaded and warm
    started = time.perf_counter()
    embedder.embed(texts)
    rate = len(texts) / (time.perf_counter() - started)
    rows = [Row.check(SECTION, f"embedding throughput ({embedder.name}, {len(texts)} chunks)",
                      rate, "chunk/s", ">= 300")]

    kb = _open(tmp / "big", embedder)
    started = time.perf_counter()
    report = kb.add([folder])
    took = time.perf_counter() - started
    count = kb.store.count()
    rows.append(Row(SECTION, f"ingest synthetic KB ({count} chunks)", took, "s"))
    if report.errors:
        raise RuntimeError(report.lines())
    # Every measured search is a question not asked before (the knowledge base keeps recent
    # query embeddings), so each includes embedding it: 10 to warm up, 60 for each mode.
    rng = random.Random(11)
    asked = set(queries)
    fresh: list[str] = []
    while len(fresh) < 130:
        q = f"{rng.choice(_WORDS)}{rng.choice(_WORDS)}{rng.choice(('多少钱', '有吗', '怎么样'))}"
        if q not in asked:
            asked.add(q)
            fresh.append(q)
    for q in fresh[:10]:  # warm caches and index files
        kb.search(q, k=4)
    for n, mode in enumerate(("hybrid", "vector", "fts")):
        times = []
        for q in (queries if mode == "hybrid" else fresh[10 + 60 * (n - 1):][:60]):
            t0 = time.perf_counter()
            kb.search(q, k=4, mode=mode)
            times.append((time.perf_counter() - t0) * 1000)
        p95 = statistics.quantiles(times, n=20)[-1]
        label = f"{mode} search p95 warm ({count} chunks)"
        rows.append(Row.check(SECTION, label, p95, "ms", "<= 30") if mode == "hybrid"
                    else Row(SECTION, label, p95, "ms"))
    kb.close()
    return rows


def catalog_speed(n_rows: int = 5000) -> list[Row]:
    """The catalog lookup runs on every question (a model the catalog does not list is a
    handoff): its time per question on a large generated catalog."""
    from alpha01.pipeline import catalog

    rng = random.Random(3)
    rows = []
    for i in range(n_rows):
        name = "".join(rng.sample(_WORDS, 2)) + rng.choice(["", " pro", " mini"]) + f" {i % 50}"
        rows.append((name, {"品名": name, "价格": str(rng.randint(1, 999))}))
    questions = [f"{rng.choice(_WORDS)}多少钱" for _ in range(30)] + ["x13 pro max 多少钱"] * 5
    started = time.perf_counter()
    for q in questions:
        catalog.lookup(q, rows, doc_count=lambda word: 0)
    per = (time.perf_counter() - started) / len(questions) * 1000
    return [Row.check(SECTION, f"catalog lookup per question ({n_rows} rows)", per, "ms",
                      "<= 30")]


def run(opts) -> list[Row]:
    from alpha01.knowledge.embed import Usem3Embedder

    quick = getattr(opts, "quick", False)
    verbose = getattr(opts, "verbose", False)
    with tempfile.TemporaryDirectory(prefix="alpha01-bench-kb-") as d:
        tmp = Path(d)
        rows = ingest_sample(Usem3Embedder, tmp)
        embedder = Usem3Embedder()
        rows += quality(embedder, tmp, verbose=verbose)
        rows += speed(embedder, tmp, 2000 if quick else 10000)
        rows += catalog_speed(2000 if quick else 5000)
    return rows


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--only", choices=["quality", "speed", "ingest"])
    opts = ap.parse_args()
    from alpha01.knowledge.embed import Usem3Embedder

    with tempfile.TemporaryDirectory(prefix="alpha01-bench-kb-") as d:
        emb = Usem3Embedder()
        if opts.only == "quality":
            got = quality(emb, Path(d), verbose=opts.verbose)
        elif opts.only == "speed":
            got = speed(emb, Path(d), 2000 if opts.quick else 10000)
        elif opts.only == "ingest":
            got = ingest_sample(Usem3Embedder, Path(d))
        else:
            got = run(opts)
    print(Row.table(got))
