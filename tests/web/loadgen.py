"""A bounded load generator for the web chat: N browser sessions at once, each sending M
messages one after another (the next when the previous one's reply arrived over the stream).

Used by tests/web/test_load.py (small) and bench/sec_web.py (200 x 5, in a process of its own:
`python -m tests.web.loadgen URL --sessions 200 --messages 5`). Loopback addresses only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

import httpx

QUESTIONS = ["你们几点开门？", "芒果多少钱一斤", "可以送货上门吗", "有没有优惠", "怎么付款"]


@dataclass
class LoadResult:
    sessions: int
    messages: int
    sent: int = 0
    replies: int = 0  # replies seen over the streams, each reply id counted once
    duplicates: int = 0  # the same reply id seen twice on one page, or a reply beyond one per message
    lost: int = 0  # messages whose reply did not arrive in time
    errors: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)  # POST start -> reply on the page
    reply_latency: dict[str, float] = field(default_factory=dict)  # "r:<id>" -> e2e ms
    wall_s: float = 0.0

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        xs = sorted(self.latencies_ms)
        return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

    def summary(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if k not in ("latencies_ms",
                                                                  "reply_latency")}
        out.update(p50_ms=self.pct(50), p99_ms=self.pct(99), max_ms=self.pct(100),
                   mean_ms=statistics.fmean(self.latencies_ms) if self.latencies_ms else None)
        return out


async def _session(base: str, n: int, messages: int, result: LoadResult,
                   reply_timeout: float, grace: float) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=reply_timeout) as c:
        r = await c.get("/")
        r.raise_for_status()
        start = (await c.get("/api/history")).json()
        inbox: asyncio.Queue = asyncio.Queue()
        opened = asyncio.Event()

        async def listen() -> None:
            async with c.stream("GET", "/api/events", params={"after": start["position"]},
                                timeout=httpx.Timeout(reply_timeout, read=None)) as s:
                s.raise_for_status()
                opened.set()
                async for line in s.aiter_lines():
                    if line.startswith("data:"):
                        item = json.loads(line[5:])
                        if item["role"] == "shop":
                            await inbox.put((time.perf_counter(), item))

        listener = asyncio.create_task(listen())
        try:
            await asyncio.wait_for(opened.wait(), reply_timeout)
            seen: set[str] = set()
            for i in range(messages):
                text = f"{QUESTIONS[(n + i) % len(QUESTIONS)]} #{n}.{i}"
                started = time.perf_counter()
                r = await c.post("/api/messages", json={"id": uuid.uuid4().hex, "text": text})
                if r.status_code != 200:
                    result.errors.append(f"session {n} message {i}: HTTP {r.status_code}")
                    result.lost += 1
                    continue
                result.sent += 1
                try:
                    at, item = await asyncio.wait_for(inbox.get(), reply_timeout)
                except TimeoutError:
                    result.lost += 1
                    continue
                if item["id"] in seen:
                    result.duplicates += 1
                    continue
                seen.add(item["id"])
                result.replies += 1
                ms = (at - started) * 1000
                result.latencies_ms.append(ms)
                result.reply_latency[item["id"]] = ms
            await asyncio.sleep(grace)  # anything more arriving now is a duplicate
            result.duplicates += inbox.qsize()
        finally:
            listener.cancel()
            try:
                await listener
            except (asyncio.CancelledError, Exception):
                pass


async def run_load(base: str, *, sessions: int, messages: int, reply_timeout: float = 30.0,
                   grace: float = 0.5, budget_s: float = 120.0) -> LoadResult:
    host = urlsplit(base).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the load generator targets loopback only")
    result = LoadResult(sessions, messages)
    started = time.perf_counter()
    tasks = [asyncio.create_task(_session(base, n, messages, result, reply_timeout, grace))
             for n in range(sessions)]
    done, pending = await asyncio.wait(tasks, timeout=budget_s)
    for t in pending:
        t.cancel()
        result.errors.append("session cut off by the time budget")
    for t in done:
        if t.exception() is not None:
            result.errors.append(repr(t.exception())[:200])
    result.wall_s = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.web.loadgen")
    ap.add_argument("url")
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--messages", type=int, default=5)
    ap.add_argument("--budget", type=float, default=120.0)
    opts = ap.parse_args(argv)
    try:
        import uvloop  # the client should not be the bottleneck

        uvloop.install()
    except ImportError:
        pass
    res = asyncio.run(run_load(opts.url, sessions=opts.sessions, messages=opts.messages,
                               budget_s=opts.budget))
    out = res.summary()
    out["reply_latency"] = res.reply_latency
    json.dump(out, sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
