"""The benchmark harness: `scripts/bench [SECTION ...] [--json FILE] [--quick]`.

Each section is a module `bench/sec_<name>.py` with a function `run(opts) -> list[Row]`.
Sections are found by file name, so adding one needs no edit here. A row is one measured
figure with its unit and, where the issue sets one, the target it is held against.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
import traceback
from pathlib import Path

from bench.rows import Row

HERE = Path(__file__).resolve().parent


def sections() -> list[str]:
    return sorted(p.stem[4:] for p in HERE.glob("sec_*.py"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    ap.add_argument("sections", nargs="*", help=f"which sections (default all): {sections()}")
    ap.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    opts = ap.parse_args(argv)
    chosen = opts.sections or sections()
    unknown = sorted(set(chosen) - set(sections()))
    if unknown:
        ap.error(f"unknown section(s): {', '.join(unknown)}")
    rows: list[Row] = []
    failed = False
    for name in chosen:
        print(f"== {name} ==", flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.sec_{name}")
            got = module.run(opts)
        except Exception:
            traceback.print_exc()
            got = [Row(name, "section crashed", float("nan"), "", ok=False)]
        for row in got:
            print("  " + row.format(), flush=True)
        print(f"  ({time.perf_counter() - started:.1f} s)", flush=True)
        rows.extend(got)
        failed |= any(r.ok is False for r in got)
    print()
    print(Row.table(rows))
    if opts.json:
        meta = {"python": sys.version.split()[0], "machine": platform.machine(),
                "when": time.strftime("%Y-%m-%d %H:%M:%S")}
        Path(opts.json).write_text(
            json.dumps({"meta": meta, "rows": [r.to_json() for r in rows]},
                       ensure_ascii=False, indent=1), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
