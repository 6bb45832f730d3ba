"""How many of this process's cores other programs are keeping busy, right now.

The local model evaluates a new prompt (the passages of a new question) almost twice as fast
on every core as on cores − 1, measured on the 2-core box when it is quiet. When another
program is running, the extra thread makes llama.cpp's workers wait for each other and the
prompt gets slower instead. `CpuMeter.others_busy()` tells the two cases apart just before
each prompt: system CPU time minus this process's own, over a short recent window.

Linux reads /proc/stat (only the cores this process may run on); Windows asks
GetSystemTimes. Elsewhere the answer is None and callers keep the safe choice.
No third-party module, no subprocess, nothing that can hang.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

Sample = tuple[float, float, float]  # (wall clock, busy CPU seconds of the system, own CPU)


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _linux_busy_seconds() -> float | None:
    try:
        cpus = {f"cpu{i}" for i in os.sched_getaffinity(0)}
    except (AttributeError, OSError):
        cpus = set()
    try:
        with open("/proc/stat", encoding="ascii") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    busy = 0
    found = False
    for line in lines:
        name, _, rest = line.partition(" ")
        if name not in cpus:
            continue
        fields = [int(x) for x in rest.split()]
        if len(fields) < 4:
            continue
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        busy += sum(fields[:8]) - idle  # guest time is already inside user time
        found = True
    return busy / tick if found else None


def _windows_busy_seconds() -> float | None:
    import ctypes
    from ctypes import wintypes

    idle, kernel, user = wintypes.FILETIME(), wintypes.FILETIME(), wintypes.FILETIME()
    try:
        ok = ctypes.windll.kernel32.GetSystemTimes(  # type: ignore[attr-defined]
            ctypes.byref(idle), ctypes.byref(kernel), ctypes.byref(user))
    except (AttributeError, OSError):
        return None
    if not ok:
        return None

    def secs(ft: wintypes.FILETIME) -> float:
        return ((ft.dwHighDateTime << 32) | ft.dwLowDateTime) / 1e7

    # kernel time includes idle time; all cores together
    return secs(kernel) + secs(user) - secs(idle)


def system_busy_seconds() -> float | None:
    """CPU seconds all usable cores have spent busy since boot, or None where unknown."""
    if sys.platform.startswith("linux"):
        return _linux_busy_seconds()
    if sys.platform == "win32":
        return _windows_busy_seconds()
    return None


class CpuMeter:
    """`others_busy()`: cores' worth of CPU used by other processes over a recent window.

    The window runs from the previous call when that was between `min_window` and
    `max_window` seconds ago (between two replies of a busy spell: the retrieval just before
    this prompt); otherwise the meter looks for `sample` seconds first.
    """

    def __init__(self, *, sample: float = 0.1, min_window: float = 0.05,
                 max_window: float = 3.0,
                 busy: Callable[[], float | None] = system_busy_seconds,
                 own: Callable[[], float] = time.process_time,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.sample, self.min_window, self.max_window = sample, min_window, max_window
        self._busy, self._own, self._clock, self._sleep = busy, own, clock, sleep
        self._last: Sample | None = None

    def _take(self) -> Sample | None:
        busy = self._busy()
        if busy is None:
            return None
        return self._clock(), busy, self._own()

    def mark(self) -> None:
        """Start a window now (e.g. when a reply ends)."""
        self._last = self._take()

    def others_busy(self) -> float | None:
        now = self._take()
        if now is None:
            return None
        last = self._last
        if last is None or not self.min_window <= now[0] - last[0] <= self.max_window:
            self._sleep(self.sample)
            last, now = now, self._take()
            if now is None:
                return None
        self._last = now
        wall = now[0] - last[0]
        if wall <= 0:
            return None
        others = (now[1] - last[1]) - (now[2] - last[2])
        return max(0.0, others / wall)
