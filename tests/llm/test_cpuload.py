"""CpuMeter: other programs' CPU use just before a prompt decides the prompt's threads."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from alpha01.llm.cpuload import CpuMeter, system_busy_seconds


class Box:
    """A scripted machine: system busy seconds, our own CPU seconds, a clock."""

    def __init__(self) -> None:
        self.t, self.busy, self.own = 100.0, 50.0, 5.0
        self.slept: list[float] = []

    def run(self, secs: float, others: float, own: float = 0.0) -> None:
        """`secs` of wall time in which other programs use `others` cores and we use `own`."""
        self.t += secs
        self.busy += secs * (others + own)
        self.own += secs * own

    def sleep(self, secs: float) -> None:
        self.slept.append(secs)
        self.run(secs, self.others_while_sleeping)

    others_while_sleeping = 0.0

    def meter(self, **kw) -> CpuMeter:
        return CpuMeter(busy=lambda: self.busy, own=lambda: self.own, clock=lambda: self.t,
                        sleep=self.sleep, **kw)


def test_a_recent_window_is_used_without_waiting_and_our_own_cpu_is_left_out():
    box = Box()
    m = box.meter()
    m.mark()
    box.run(0.5, others=0.2, own=1.0)  # our retrieval keeps a core busy: not "others"
    assert m.others_busy() == pytest.approx(0.2)
    assert box.slept == []


def test_a_stale_window_is_measured_afresh():
    box = Box()
    m = box.meter(sample=0.1)
    m.mark()
    box.run(60, others=2.0)  # long ago: a busy minute that has ended
    box.others_while_sleeping = 0.1
    assert m.others_busy() == pytest.approx(0.1)
    assert box.slept == [0.1]


def test_the_first_call_measures_a_short_sample():
    box = Box()
    box.others_while_sleeping = 1.0
    assert box.meter(sample=0.05).others_busy() == pytest.approx(1.0)
    assert box.slept == [0.05]


def test_an_unknown_platform_answers_none():
    m = CpuMeter(busy=lambda: None, sleep=lambda s: None)
    m.mark()
    assert m.others_busy() is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/stat")
def test_the_real_meter_sees_another_busy_program():
    assert system_busy_seconds() is not None
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        m = CpuMeter(sample=0.5)
        assert m.others_busy() > 0.5
    finally:
        spin.kill()
        spin.wait(timeout=10)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/stat")
def test_the_real_meter_does_not_count_our_own_work():
    real, naive = CpuMeter(sample=0.0), CpuMeter(sample=0.0, own=lambda: 0.0)
    real.mark()
    naive.mark()
    end = time.perf_counter() + 0.5
    while time.perf_counter() < end:  # this process keeps one core busy
        pass
    ours_left_out, all_counted = real.others_busy(), naive.others_busy()
    assert all_counted - ours_left_out > 0.7, (all_counted, ours_left_out)
