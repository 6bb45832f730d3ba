"""Hostile and huge knowledge files: peak RSS of the real `alpha01 kb add` (a child process,
its peak from wait4) for a zip-bomb .docx and a 50 MB text file (streamed: read, embedded and
written a segment at a time), held against a one-line file's peak (which loads the embedder and
the index) plus 300 MB; and ingest throughput of plain text files (MB of text per 10 s)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.hostile_files import MB, text_file, zip_bomb_docx
from bench.rows import Row

SECTION = "limits"


LAST_CPU: list[float] = [0.0]  # CPU seconds (user + system) of the last kb_add's process


def kb_add(home: Path, path: Path, timeout: float = 3600.0) -> tuple[float, float, dict]:
    """Run `alpha01 kb add --json path`: (peak RSS in MB, seconds, its JSON report); its CPU
    seconds go to LAST_CPU (wall time on a shared machine depends on the other load)."""
    env = {**os.environ, "ALPHA01_HOME": str(home)}
    started = time.perf_counter()
    cli = [sys.executable, "-c", "from alpha01.cli import main; main()"]
    proc = subprocess.Popen([*cli, "kb", "add", "--json", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + timeout
    out = b""
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            raise TimeoutError(f"kb add {path.name} took over {timeout:.0f} s")
        time.sleep(0.1)
    took = time.perf_counter() - started
    LAST_CPU[0] = usage.ru_utime + usage.ru_stime
    out = proc.stdout.read() if proc.stdout else b""
    proc.returncode = os.waitstatus_to_exitcode(status)
    try:
        report = json.loads(out or b"{}")
    except ValueError:
        report = {}
    return usage.ru_maxrss / 1024, took, report  # ru_maxrss is in KB on Linux


def _detail(report: dict) -> str:
    files = report.get("files") or [{}]
    return f"{files[0].get('status', '?')}: {(files[0].get('detail') or '')[:60]}"


def run(opts) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="a01-limits-") as tmp_s:
        tmp = Path(tmp_s)
        small = tmp / "one.md"
        small.write_text("# 营业时间\n\n每天 8:30 到 21:00。\n", encoding="utf-8")
        base, start, _ = kb_add(tmp / "h0", small)
        rows.append(Row(SECTION, "kb add peak RSS, one-line file (baseline)", base, "MB"))
        # The one-line file's time is the command's start-up (Python, LanceDB, the embedder's
        # weights): the rows "after start-up" take it off a big file's time.
        rows.append(Row(SECTION, "kb add time, one-line file (start-up)", start, "s"))
        start_cpu = LAST_CPU[0]

        bomb = tmp / "bomb.docx"
        bomb.write_bytes(zip_bomb_docx(300))
        peak, took, report = kb_add(tmp / "h1", bomb)
        print(f"    zip bomb ({bomb.stat().st_size / 1024:.0f} KB, 300 MB inside): "
              f"{took:.1f} s, {_detail(report)}", flush=True)
        bound = f"<= {base + 300:.0f}"
        rows.append(Row.check(SECTION, "kb add peak RSS, zip-bomb .docx (300 MB inside)",
                              peak, "MB", bound))

        # Streamed (over knowledge.stream_text_mb): just under knowledge.max_file_mb (50).
        big_mb = 5 if opts.quick else 49.9
        big = text_file(tmp / "big.txt", big_mb)
        peak, took, report = kb_add(tmp / "h2", big)
        print(f"    {big_mb:g} MB text: {took:.1f} s, {_detail(report)}", flush=True)
        ok = _detail(report).startswith("ok")
        row = Row.check(SECTION, f"kb add peak RSS, {big_mb:g} MB text file (streamed)", peak,
                        "MB", bound)
        row.ok = row.ok and ok  # a refused file would hold nothing
        rows.append(row)
        rows.append(Row(SECTION, f"kb add time, {big_mb:g} MB text file", took, "s"))
        big_cpu = LAST_CPU[0]
        rows.append(Row(SECTION, f"kb add CPU time, {big_mb:g} MB text file (user + system)",
                        big_cpu, "s"))
        rows.append(Row.check(SECTION, f"ingest throughput, {big_mb:g} MB text file (MB per 10 s)",
                              10 * (big.stat().st_size / MB) / took, "MB/10s", ">= 1"))

        near = text_file(tmp / "near-cap.txt", 0.7 if opts.quick else 2.3)
        peak, took, report = kb_add(tmp / "h4", near)
        print(f"    {near.stat().st_size / MB:.1f} MB text: {took:.1f} s, {_detail(report)}",
              flush=True)
        rows.append(Row.check(SECTION, f"kb add peak RSS, {near.stat().st_size / MB:.1f} MB text "
                              "file", peak, "MB", bound))

        one = text_file(tmp / "one-mb.txt", 1)
        peak, took, report = kb_add(tmp / "h3", one)
        print(f"    1 MB text: {took:.1f} s, {_detail(report)}", flush=True)
        rows.append(Row.check(SECTION, "ingest throughput, 1 MB text file (MB per 10 s)",
                              10 * (one.stat().st_size / MB) / took, "MB/10s", ">= 1"))
        rows.append(Row(SECTION, "ingest throughput, 1 MB text file, after start-up",
                        10 * (one.stat().st_size / MB) / max(took - start, 0.1), "MB/10s"))
        # Per CPU second, start-up excluded: what one free core would do, whatever the load.
        rows.append(Row(SECTION, "ingest throughput per CPU, 1 MB text file, after start-up",
                        10 * (one.stat().st_size / MB) / max(LAST_CPU[0] - start_cpu, 0.1),
                        "MB/10s"))
        rows.append(Row(SECTION, f"ingest throughput per CPU, {big_mb:g} MB text file",
                        10 * (big.stat().st_size / MB) / max(big_cpu - start_cpu, 0.1),
                        "MB/10s"))
        rows.append(Row.check(SECTION, "kb add peak RSS, 1 MB text file", peak, "MB", bound))
    return rows
