"""TUI: launch to first paint, and input lag while a slow model generates.

First paint runs in a fresh interpreter (imports included): from process start to the
dashboard's first refresh, headless. Input lag: with a FakeLLM that takes `delay_s` per answer
busy on the engine thread (and new customer messages arriving, so the screens keep refreshing),
key events are posted to the app the way the terminal driver posts them, and the time until
the conversation view's reply box shows each key is measured (target < 100 ms).
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.rows import Row

SECTION = "tui"
ROOT = Path(__file__).resolve().parent.parent

FIRST_PAINT = r"""
import time, sys, asyncio
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
from tests.tui.conftest import make_rig
rig = make_rig({home!r})
async def go():
    async with rig.app.run_test(size=(140, 36)) as pilot:
        while rig.app.first_paint_at is None:
            await pilot.pause(0.005)
        print((rig.app.first_paint_at - t0) * 1000)
asyncio.run(go())
"""


def first_paint_ms(home: Path) -> float:
    code = FIRST_PAINT.format(root=str(ROOT), home=str(home))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True)
    return float(out.stdout.strip().splitlines()[-1])


async def _input_lag(home: Path, delay_s: float, keys: int) -> tuple[list[float], int]:
    sys.path.insert(0, str(ROOT))
    from textual import events

    from tests.tui.conftest import make_rig, wait_for

    rig = make_rig(home, delay_s=delay_s)
    rig.engine.settings.knowledge.faq_threshold = 2.0  # no FAQ shortcut: the model is asked
    rig.engine.pipeline.retriever.faq_threshold = 2.0
    lags: list[float] = []
    async with rig.app.run_test(size=(140, 36)) as pilot:
        rig.channel.inject("小王", "芒果多少钱一斤？")
        conv = rig.app.screen.query_one("#conversations")
        await wait_for(pilot, lambda: conv.row_count > 0, what="row")
        await pilot.press("enter")
        await wait_for(pilot, lambda: hasattr(rig.app.screen, "history_text"), what="view")
        box = rig.app.screen.query_one("#reply")
        started = len(rig.llm.history)
        for n in range(keys):
            rig.channel.inject(f"客{n % 3}", "芒果甜不甜，产地是哪里？")  # keep the model busy
            before = len(box.value)
            t = time.perf_counter()
            rig.app.post_message(events.Key("a", "a"))  # as the terminal driver would
            while len(box.value) == before:
                await asyncio.sleep(0.001)
            lags.append((time.perf_counter() - t) * 1000)
            await pilot.pause(0.05)
        generating = len(rig.llm.history) - started
    return lags, generating


def run(opts) -> list[Row]:
    keys = 20 if opts.quick else 60
    delay = 0.5 if opts.quick else 1.0
    with tempfile.TemporaryDirectory() as tmp:
        paints = [first_paint_ms(Path(tmp) / f"paint{i}") for i in range(1 if opts.quick else 3)]
        lags, generated = asyncio.run(_input_lag(Path(tmp) / "lag", delay, keys))
    lags.sort()
    p95 = lags[int(len(lags) * 0.95) - 1]
    return [
        Row(SECTION, "launch to first paint (median, fresh process)",
            statistics.median(paints), "ms"),
        Row(SECTION, f"answers generated during the typing ({delay:.1f} s each)",
            float(generated), "answers"),
        Row(SECTION, "input lag while the model generates (median)",
            statistics.median(lags), "ms"),
        Row.check(SECTION, "input lag while the model generates (p95)", p95, "ms", "<= 100"),
        Row(SECTION, "input lag (max)", lags[-1], "ms"),
    ]
