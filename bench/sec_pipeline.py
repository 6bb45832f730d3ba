"""Pipeline overhead: fake channel + fake LLM + real SQLite (WAL) on disk.

- throughput: a backlog of messages from many customers, answered and sent (FAQ, model, rule);
- per-message latency: one message at a time, inject → sent, p50/p99;
- start-up: open a database holding 100k messages and be ready to poll.

Each runs on the home's encrypted database (SQLCipher, as shipped) and on a plain SQLite one in
the same run, alternating (best of two each), and the encrypted/plain throughput ratio is
reported against its target (>= 0.7).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

from alpha01.app import AppContext, build_engine
from alpha01.channels.fake import FakeChannel
from alpha01.config import Settings
from alpha01.demo import demo_passages
from alpha01.llm.fake import FakeLLM
from alpha01.paths import Paths
from alpha01.pipeline.retrieval import MemoryRetriever
from alpha01.storage.db import Database
from bench.rows import Row

S = "pipeline"
QUESTIONS = ["你们几点开门？", "可以送货上门吗", "芒果多少钱一斤？", "怎么付款？",
             "草莓新鲜吗", "转人工", "有会员优惠吗？", "苹果甜不甜", "你们店在哪里？", "谢谢"]


def _rig(home: Path, encrypted: bool):
    app = AppContext(paths=Paths(home).ensure())
    if not encrypted:  # the comparison: the same engine on a plain SQLite file
        app._db = Database.open(app.paths.db)
    app.settings = Settings().with_overrides(engine={"aggregate_window_s": 0.0},
                                             pacing={"enabled": False},
                                             knowledge={"relevance_threshold": 0.1})
    channel = FakeChannel()
    engine = build_engine(app, channels=[channel], llm=FakeLLM(default="好的，我帮您看一下。"),
                          retriever=MemoryRetriever(demo_passages()))
    engine.start()
    return app, channel, engine


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def _kind(encrypted: bool) -> str:
    return "encrypted" if encrypted else "plain"


def throughput(n: int, encrypted: bool) -> tuple[float, int]:
    """Messages per second, and how many reached a terminal state."""
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        app, channel, engine = _rig(Path(tmp), encrypted)
        started = time.perf_counter()
        for i in range(0, n, 100):
            for j in range(i, min(n, i + 100)):
                channel.inject(f"客户{j % 500}", rng.choice(QUESTIONS), ts=time.time())
            engine.step()
        while len(channel.sent) < n and engine.store.pending_batches():
            engine.step()
        for _ in range(3):
            engine.step()
        elapsed = time.perf_counter() - started
        counts = engine.store.counts()
        done = sum(counts["by_state"].values())
        app.close()
    return done / elapsed, done


def latency(n: int, encrypted: bool) -> list[Row]:
    kind = _kind(encrypted)
    with tempfile.TemporaryDirectory() as tmp:
        app, channel, engine = _rig(Path(tmp), encrypted)
        lat = []
        for i in range(n):
            t = time.perf_counter()
            channel.inject(f"客户{i % 50}", QUESTIONS[i % len(QUESTIONS)], ts=time.time())
            engine.step()
            lat.append((time.perf_counter() - t) * 1000)
        sent = len(channel.sent)
        app.close()
    return [Row(S, f"per message inject→sent p50 ({kind})", statistics.median(lat), "ms"),
            Row.check(S, f"per message inject→sent p99 ({kind})", _pct(lat, 99), "ms", "<= 10"),
            Row(S, f"replies sent for {n} single messages ({kind})", sent, "msgs")]


def startup(n: int, encrypted: bool) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        app, _, engine = _rig(home, encrypted)
        conn = engine.store.conn
        now = time.time()
        with engine.store.tx():
            conn.executemany(
                "INSERT INTO customers (channel, chat, name, created_at) VALUES ('fake', ?, ?, ?)",
                [(f"c{i}", f"c{i}", now) for i in range(2000)])
            conn.executemany(
                "INSERT INTO messages (channel, dedupe_key, customer_id, chat, sender, text,"
                " ts, received_at, state, reason) VALUES ('fake', ?, ?, ?, ?, ?, ?, ?,"
                " 'answered', 'faq match')",
                [(f"k{i}", i % 2000 + 1, f"c{i % 2000}", f"c{i % 2000}", QUESTIONS[i % 10],
                  now - (n - i) * 30, now - (n - i) * 30) for i in range(n)])
            conn.executemany(
                "INSERT INTO replies (message_id, customer_id, channel, chat, text, tier, state,"
                " created_at, sent_at) VALUES (?, ?, 'fake', ?, '好的', 'faq', 'sent', ?, ?)",
                [(i + 1, i % 2000 + 1, f"c{i % 2000}", now - (n - i) * 30, now - (n - i) * 30)
                 for i in range(n)])
        app.close()
        started = time.perf_counter()
        app, channel, engine = _rig(home, encrypted)
        engine.step()
        ready = time.perf_counter() - started
        held = engine.store.conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        app.close()
    return [Row.check(S, f"open a DB of {held:,} msgs, ready to poll ({_kind(encrypted)})",
                      ready, "s", "<= 1")]


def run(opts) -> list[Row]:
    quick = getattr(opts, "quick", False)
    n = 1000 if quick else 5000
    best: dict[bool, float] = {True: 0.0, False: 0.0}
    done: dict[bool, int] = {}
    for encrypted in (False, True, False, True):  # alternating: a busy moment hits both
        rate, done[encrypted] = throughput(n, encrypted)
        best[encrypted] = max(best[encrypted], rate)
    rows = [Row.check(S, f"throughput, {n} msgs from 500 customers ({_kind(e)})", best[e],
                      "msg/s", ">= 1000") for e in (True, False)]
    rows.append(Row.check(S, "throughput encrypted / plain", best[True] / best[False], "x",
                          ">= 0.7"))
    rows += [Row(S, f"messages with a terminal state ({_kind(e)})", done[e], "msgs", f"== {n}",
                 done[e] == n) for e in (True, False)]
    for encrypted in (True, False):
        rows += latency(300 if quick else 2000, encrypted)
    for encrypted in (True, False):
        rows += startup(20_000 if quick else 100_000, encrypted)
    return rows
