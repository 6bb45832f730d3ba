"""Answering on the local model: our path vs raw llama-cpp-python, time to first token with a
warm shop prefix, end-to-end reply time, and the idle memory of the app without a model.

Uses the default catalog model when it has been assembled (`alpha01 models install`, or a
copy in the checkout's models/); otherwise the model rows are skipped with a row saying so.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.rows import Row

SECTION = "llm"

SHOP_PASSAGES = [  # a made-up stationery shop
    ("intro.md", "营业时间：周一至周五 08:00-20:30，周六周日 09:30-21:00。地址：南京市松针路7号。"
                 "支持微信、支付宝、现金付款。店侧可免费停车20分钟。"),
    ("policy.docx", "收货后48小时内发现破损可申请售后，需拍2张照片（外箱、破损处特写）。"
                    "破损超过一半可整单退款。银卡会员9.2折，金卡会员8.8折。"),
    ("delivery_gbk.txt", "2公里内配送费6元，满66元免配送费。下午4点前下单当天送达，之后次日送达。"),
]
QUESTIONS = ["你们几点关门？", "东西摔坏了怎么售后，要拍什么照片？", "配送费怎么算？",
             "周末几点开门？", "会员有什么折扣？", "店在哪里，能停车吗？", "可以用支付宝吗？"]


def _idle_rss_mb() -> float:
    code = ("import importlib, sys\n"
            "try:\n    import alpha01.cli\nexcept Exception:\n    import alpha01.app\n"
            "import alpha01.llm.router, alpha01.pipeline.guard, alpha01.pipeline.prompt\n"
            "for line in open('/proc/self/status'):\n"
            "    if line.startswith('VmRSS:'):\n        print(int(line.split()[1]) / 1024)\n")
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=root)
    return float(out.stdout.strip().splitlines()[-1])


def _messages(question: str, passages=SHOP_PASSAGES):
    from alpha01.config import ShopSettings
    from alpha01.domain import Passage
    from alpha01.pipeline.prompt import build_messages, make_canary

    shop = ShopSettings(name="松针文具")
    return build_messages(shop=shop, history=[], question=question,
                          canary=make_canary(shop.name),
                          passages=[Passage(text=t, source=s, score=1.0) for s, t in passages])


def _raw_run(llm, messages, max_tokens):
    started = time.perf_counter()
    first = None
    n = 0
    for chunk in llm.create_chat_completion(messages=messages, max_tokens=max_tokens,
                                            temperature=0.0, stream=True):
        if chunk["choices"][0]["delta"].get("content"):
            n += 1
            first = first or time.perf_counter() - started
    return n, time.perf_counter() - started, first


def run(opts) -> list[Row]:
    rows: list[Row] = []
    try:
        rows.append(Row.check(SECTION, "idle RSS, app imported, no model", _idle_rss_mb(), "MB",
                              "<= 200"))
    except Exception as exc:  # the app may not import while others are mid-change
        rows.append(Row(SECTION, f"idle RSS failed: {type(exc).__name__}", float("nan"), "MB",
                        ok=False))

    from alpha01.config import LLMSettings
    from alpha01.errors import LLMError
    from alpha01.llm import models
    from alpha01.paths import Paths

    try:
        import llama_cpp
    except ImportError:
        rows.append(Row(SECTION, "SKIPPED: llama-cpp-python not installed", float("nan"), ""))
        return rows
    try:
        found = models.discover(LLMSettings(), Paths.resolve())
    except LLMError as exc:
        rows.append(Row(SECTION, f"SKIPPED model rows: {exc}"[:120], float("nan"), ""))
        return rows
    if found.spec is None or not found.spec.default:
        rows.append(Row(SECTION, f"note: model is {found.path.name}, not the default",
                        float("nan"), ""))

    from alpha01.llm.cpuload import usable_cores
    from alpha01.llm.llamacpp import LlamaCppBackend, default_threads

    runs = 2 if opts.quick else 3
    max_tokens = 60
    ours = LlamaCppBackend(model_path=found.path)
    t0 = time.perf_counter()
    ours.load()
    rows.append(Row(SECTION, f"model load ({found.path.name[:28]})",
                    (time.perf_counter() - t0) * 1000, "ms"))
    raw = llama_cpp.Llama(model_path=str(found.path), n_ctx=ours.n_ctx,
                          n_threads=default_threads(),
                          n_threads_batch=usable_cores() if ours.adaptive_batch
                          else ours.n_threads_batch,
                          n_batch=ours.n_batch, seed=ours.seed, verbose=False)

    # 1. throughput, same model and prompt, alternating so load on the box hits both alike.
    msgs = _messages("请介绍一下你们的营业时间、售后和配送规则。")
    _raw_run(raw, msgs, 8)
    ours.complete(msgs, max_tokens=8, temperature=0.0)
    ours_tps, raw_tps = [], []
    for _ in range(runs):
        n, secs, _ = _raw_run(raw, msgs, max_tokens)
        raw_tps.append(n / secs)
        started = time.perf_counter()
        c = ours.complete(msgs, max_tokens=max_tokens, temperature=0.0)
        ours_tps.append(c.tokens_out / (time.perf_counter() - started))
    r_raw, r_ours = statistics.median(raw_tps), statistics.median(ours_tps)
    rows.append(Row(SECTION, "raw llama-cpp-python, tokens/s (60-token reply)", r_raw, "tok/s"))
    rows.append(Row(SECTION, "alpha01 LlamaCppBackend, tokens/s (same prompt)", r_ours, "tok/s"))
    rows.append(Row.check(SECTION, "ours / raw throughput", r_ours / r_raw, "x", ">= 0.95"))
    raw.close()

    # 2. time to first token when the shop prefix (and the passages) are already evaluated:
    #    a follow-up question in the same conversation.
    ttfts = []
    for q in QUESTIONS[: runs + 1]:
        c = ours.complete(_messages(q), max_tokens=4, temperature=0.0)
        ttfts.append(c.meta["ttft_ms"] / 1000)
    rows.append(Row.check(SECTION, "TTFT, warm shop prefix + same passages (p50)",
                          statistics.median(ttfts[1:]), "s", "<= 1.0"))

    # 3. TTFT when only the shop prefix is warm: new passages for a new topic.
    ttft_new = []
    for i in range(runs):
        passages = [SHOP_PASSAGES[i % 3], (f"note{i}.md", f"第{i}号补充说明：本店水果每天早上到货。")]
        c = ours.complete(_messages(QUESTIONS[i], passages), max_tokens=4, temperature=0.0)
        ttft_new.append(c.meta["ttft_ms"] / 1000)
    rows.append(Row(SECTION, "TTFT, warm shop prefix, new passages (p50)",
                    statistics.median(ttft_new), "s"))

    # 4. end to end: a ~60-token grounded answer, new question each time.
    e2e, toks = [], []
    for q in QUESTIONS[: runs + 2]:
        started = time.perf_counter()
        c = ours.complete(_messages(q + "请详细说明。"), max_tokens=max_tokens, temperature=0.2)
        e2e.append(time.perf_counter() - started)
        toks.append(c.tokens_out)
    rows.append(Row.check(SECTION, f"end-to-end reply p50 (~{statistics.mean(toks):.0f} tokens)",
                          statistics.median(e2e), "s", "<= 5"))

    # 5. the usual worst case of the real pipeline: close to a full evidence budget (700
    #    characters, `engine.passage_chars`) the model has not seen yet, and a long reply;
    #    side by side with the prompt fixed on cores − 1 threads (no CpuMeter).
    fixed = LlamaCppBackend(model_path=found.path, n_threads_batch=default_threads())
    fixed.load()
    fixed.complete(_messages("你好"), max_tokens=2, temperature=0.0)
    e2e: dict[str, list[float]] = {"adaptive": [], "fixed": []}
    toks, threads = [], []
    for i in range(runs + 1):
        for label, backend in (("adaptive", ours), ("fixed", fixed)):
            extra = "".join(f"第{i}-{label}-{r}-{k}条：{t}\n" for r in range(3)
                            for k, (_, t) in enumerate(SHOP_PASSAGES))
            passages = [(f"full{i}.md", extra[:700])]
            started = time.perf_counter()
            c = backend.complete(_messages("请把营业时间、售后和配送规则逐条详细说明。", passages),
                                 max_tokens=max_tokens, temperature=0.0)
            e2e[label].append(time.perf_counter() - started)
            if label == "adaptive":
                toks.append(c.tokens_out)
                threads.append(c.meta.get("prompt_threads"))
    size = f"{len(passages[0][1])} new chars of evidence, ~{statistics.mean(toks):.0f} tokens"
    adaptive, fixed_p50 = statistics.median(e2e["adaptive"]), statistics.median(e2e["fixed"])
    rows.append(Row.check(SECTION, f"end-to-end p50, {size}", adaptive, "s", "<= 5"))
    rows.append(Row(SECTION, f"  same, prompt fixed on {fixed.n_threads_batch} thread(s)",
                    fixed_p50, "s"))
    rows.append(Row(SECTION, f"  adaptive / fixed (prompt threads chosen: {threads})",
                    adaptive / fixed_p50, "x"))
    fixed.close()
    rows.append(Row(SECTION, f"threads: prompt and reply "
                    f"{'adaptive, last ' if ours.adaptive_batch else ''}{ours.n_threads_batch}, "
                    f"{ours.n_threads} while other programs are busy",
                    float(ours.n_threads_batch), "threads"))
    ours.close()
    return rows
