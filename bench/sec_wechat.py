"""WeChat path: what the WeChat channel adds between a message appearing and its reply going
out, pacing switched off (the deliberate delay is not latency) and FakeWeChat in place of
wxauto. The same questions go through the plain FakeChannel in the same run; the difference
of the medians is the channel's own cost (composing keys, echo ledger, watchdog, adapter).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench.rows import Row

SECTION = "wechat"
QUESTIONS = ["你们几点开门？", "可以送货上门吗", "芒果多少钱一斤", "在吗"]


def _engine(home: Path, wechat: bool):
    from alpha01.app import AppContext, build_engine
    from alpha01.channels.fake import FakeChannel
    from alpha01.channels.wechat import WeChatChannel
    from alpha01.channels.wechat.fake_wx import FakeWeChat
    from alpha01.clock import FakeClock
    from alpha01.config import Settings
    from alpha01.demo import demo_passages
    from alpha01.llm.fake import FakeLLM
    from alpha01.paths import Paths
    from alpha01.pipeline.retrieval import MemoryRetriever

    app = AppContext(paths=Paths(home).ensure())
    app.settings = Settings().with_overrides(
        engine={"aggregate_window_s": 0.0}, pacing={"enabled": False},
        wechat={"listen": ["客户"]})
    clock = FakeClock()
    if wechat:
        world = FakeWeChat(clock=clock)
        world.add_chat("客户")
        channel = WeChatChannel(app.settings, lib=world.module, clock=clock,
                                version_probe=lambda: world.version)
        say, sent = (lambda t: world.customer_says("客户", t)), (lambda: len(world.sent))
    else:
        channel = FakeChannel(clock=clock)
        say, sent = (lambda t: channel.inject("客户", t)), (lambda: len(channel.sent))
    engine = build_engine(app, channels=[channel], llm=FakeLLM(default="好的"),
                          retriever=MemoryRetriever(demo_passages()), clock=clock)
    engine.start()
    return engine, clock, say, sent, app


def _measure(home: Path, wechat: bool, n: int) -> list[float]:
    engine, clock, say, sent, app = _engine(home, wechat)
    out = []
    try:
        for i in range(n):
            before = sent()
            say(f"{QUESTIONS[i % len(QUESTIONS)]} {i}")
            started = time.perf_counter()
            for _ in range(5):
                engine.step()
                if sent() > before:
                    break
            out.append((time.perf_counter() - started) * 1000)
            clock.advance(400)  # a new time separator now and then, like real chats
    finally:
        engine.close()
        app.close()
    return out


def _ocr_rows(screens: int) -> list[Row]:
    """The OCR fallback on chat screenshots drawn with Debian's fonts (tests/wechat/chatshots):
    time per screen, exact message texts after normalisation, bubbles on the right side."""
    try:
        from alpha01.channels.wechat.ocr import ChatReader
        from tests.wechat import chatshots
        from tests.wechat.test_ocr import score
    except ImportError as exc:  # the ocr extra is missing
        print(f"wechat: OCR rows skipped ({exc})")
        return []
    if not chatshots.fonts_present():
        print("wechat: OCR rows skipped (fonts missing: scripts/test-deps)")
        return []
    reader = ChatReader()
    reader.read(chatshots.render("预热", chatshots.conversation(1, 2)))  # loads the models
    result = score(reader, chatshots.screens(screens, seed=7))
    secs = sorted(result["seconds"])
    n = result["messages"] or 1
    return [
        Row(SECTION, f"OCR read, per screen, median ({screens} screens)",
            statistics.median(secs) * 1000, "ms"),
        Row(SECTION, "OCR read, per screen, max", secs[-1] * 1000, "ms"),
        Row.check(SECTION, f"OCR message texts exact ({n} messages)",
                  100 * result["exact"] / n, "%", ">= 95"),
        Row.check(SECTION, "OCR bubbles on the right side", 100 * result["sided"] / n, "%",
                  ">= 100"),
    ]


def run(opts) -> list[Row]:
    quick = getattr(opts, "quick", False)
    n = 40 if quick else 200
    with tempfile.TemporaryDirectory() as tmp:
        wx = _measure(Path(tmp) / "wx", True, n)
        plain = _measure(Path(tmp) / "plain", False, n)
    wx_med, plain_med = statistics.median(wx), statistics.median(plain)
    p95 = sorted(wx)[int(0.95 * (len(wx) - 1))]
    return [
        Row(SECTION, "intake->send, WeChat path, median (no pacing)", wx_med, "ms"),
        Row(SECTION, "intake->send, WeChat path, p95 (no pacing)", p95, "ms"),
        Row(SECTION, "intake->send, plain FakeChannel, median", plain_med, "ms"),
        Row.check(SECTION, "added by the WeChat channel (median diff)", wx_med - plain_med,
                  "ms", "<= 50"),
        *_ocr_rows(5 if quick else 30),
    ]
