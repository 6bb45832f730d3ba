"""Build: the double-click executable's size and start-up, one-folder and one-file.

Each variant is built by scripts/build (no model beside it: the model does not change start-up,
it loads in the background after the first screen), then timed: `alpha01 --version` (median of
5, after one warm-up run) and the terminal UI's first paint, from process start until the
dashboard's section title is on the pseudo-terminal's screen (median of 3, an initialised home).
`--quick` builds and measures only the one-folder variant.
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.rows import Row
from tests.packaging import frozen

SECTION = "build"
MIB = 1024 * 1024


def _version_s(exe: Path, runs: int = 5) -> float:
    times = []
    subprocess.run([str(exe), "--version"], capture_output=True, check=True, timeout=120)
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([str(exe), "--version"], capture_output=True, check=True, timeout=120)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _variant(out: Path, onefile: bool) -> list[Row]:
    kind = "one-file" if onefile else "one-folder"
    figures = frozen.build(out, onefile=onefile, model="none", zip_=True)
    exe = Path(figures["exe"])
    home = out / f"home-{kind}"
    frozen.run(exe, "init", home=home, timeout=120)
    paints = [frozen.first_paint_s(exe, home, timeout=120) for _ in range(3)]
    version, paint = _version_s(exe), statistics.median(paints)
    rows = [
        Row(SECTION, f"{kind}: bundle size (no model)", figures["app_bytes"] / MIB, "MiB"),
        Row(SECTION, f"{kind}: zip size (no model)", figures["zip_bytes"] / MIB, "MiB"),
        Row(SECTION, f"{kind}: build time", figures["build_s"], "s"),
    ]
    if onefile:  # shown for comparison; the targets are the shipped (one-folder) build's
        return rows + [Row(SECTION, f"{kind}: --version", version, "s"),
                       Row(SECTION, f"{kind}: first TUI paint", paint, "s")]
    return rows + [Row.check(SECTION, f"{kind}: --version", version, "s", "<= 1"),
                   Row.check(SECTION, f"{kind}: first TUI paint", paint, "s", "<= 3")]


def run(opts) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="alpha01-bench-build-") as tmp:
        rows = _variant(Path(tmp), onefile=False)
        if not opts.quick:
            rows += _variant(Path(tmp), onefile=True)
        return rows
