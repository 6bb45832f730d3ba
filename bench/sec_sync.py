"""Sync server: wrk against GET /q/{token} with one uvicorn worker, on SQLite and on
PostgreSQL (a throwaway server started for the run, tests/pgserver.py), next to a bare uvicorn
hello-world measured in the same run (their ratio shows what the app itself costs).

This machine's speed drifts by a third within a minute, so the servers run side by side and
are measured in alternation, hello-world then /q, round after round; each round gives a
ratio and the median round is reported (one baseline taken at a quiet moment would skew it).
Loopback only, bounded: 5 rounds of 5 s per measurement (3 rounds of 2 s with --quick) after a
short warm-up.
Rate limits are raised for the run (one client address would otherwise be throttled); the
limiter code still runs on every request (its buckets are in the database, as the replay
memory is). One client address without cookies: after the first routed scan, wrk's requests
are that scanner's replays (limits, token check, replay lookup: one batched transaction each
batch). Every routed scan writes its row, as in production.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.rows import Row

SECTION = "sync"
ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 32


async def hello_app(scope, receive, send):
    """The baseline: the smallest ASGI app uvicorn can serve."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello"})


def _wrk() -> str | None:
    found = shutil.which("wrk")
    if found or not shutil.which("apt-get") or os.geteuid() != 0:
        return found
    print("  wrk missing: apt-get install -y wrk", flush=True)
    try:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, timeout=180,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None
    return shutil.which("wrk")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], port: int, health: str) -> subprocess.Popen:
    import httpx

    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode()[-2000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}{health}", timeout=1.0).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    _stop(proc)
    raise RuntimeError("server did not start within 20 s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    if proc.stderr:
        proc.stderr.close()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _measure(wrk: str, url: str, seconds: int) -> dict[str, float]:
    """Requests/s, p50/p99 latency in ms and non-2xx count from one wrk run."""
    out = subprocess.run(
        [wrk, "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "2s", "--latency", url],
        capture_output=True, text=True, timeout=seconds + 30, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        lat[pct] = float(m.group(1)) * _UNITS[m.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"rps": rps, "p50": lat["50"], "p99": lat["99"],
            "non2xx": float(bad.group(1)) if bad else 0.0, "errors_line": errors is not None}


def _prepare(db: str) -> str:
    """A store with one online device that never hits its cap, and a minted token."""
    sys.path.insert(0, str(ROOT))
    from sync_server.service import SyncService

    service = SyncService(db)
    service.init_admin()
    store = service.add_store("压测店", "电话 010-0000", daily_cap=10**9)
    code, _ = service.create_enrollment_code(store["id"])
    device = service.enroll(code, "bench")
    service.heartbeat(device["device_id"], {"channel_ok": True, "wechat_name": "压测小美"})
    token = service.mint(store["id"], "bench", None, "admin")["token"]
    service.close()
    return token


ROUNDS, QUICK_ROUNDS = 5, 3


def _serve(db: str) -> tuple[subprocess.Popen, str]:
    token = _prepare(db)
    port = _free_port()
    server = _start(["-m", "sync_server", "serve", "--db", db, "--port", str(port),
                     "--scan-ip-per-min", "1e12", "--scan-token-per-min", "1e12",
                     "--online-window", "3600"], port, "/health")
    return server, f"http://127.0.0.1:{port}/q/{token}"


def _alternate(wrk: str, hello_url: str, url: str, seconds: int, n: int) -> dict:
    """`n` rounds of hello-world then /q: the median round's ratio and the rounds."""
    _measure(wrk, url, 2)  # warm-up
    rounds = []
    for _ in range(n):
        h = _measure(wrk, hello_url, seconds)
        q = _measure(wrk, url, seconds)
        rounds.append((q["rps"] / h["rps"], h, q))
    rounds.sort(key=lambda r: r[0])
    ratio, h, q = rounds[len(rounds) // 2]
    return {"ratio": ratio, "hello": h, "q": q,
            "non2xx": sum(r[2]["non2xx"] for r in rounds),
            "p99": max(r[2]["p99"] for r in rounds),
            "ratios": [r[0] for r in rounds]}


def run(opts) -> list[Row]:
    wrk = _wrk()
    if wrk is None:
        return [Row(SECTION, "wrk not installed (apt-get install wrk): skipped", float("nan"), "")]
    quick = getattr(opts, "quick", False)
    seconds, n = (2, QUICK_ROUNDS) if quick else (5, ROUNDS)
    rows: list[Row] = []
    port = _free_port()
    hello = _start(["-m", "uvicorn", "bench.sec_sync:hello_app", "--port", str(port),
                    "--workers", "1", "--log-level", "warning", "--no-access-log",
                    "--no-server-header"], port, "/")
    hello_url = f"http://127.0.0.1:{port}/"
    results: dict[str, dict | None] = {}
    pg_error = ""
    try:
        _measure(wrk, hello_url, 2)  # warm-up
        with tempfile.TemporaryDirectory() as tmp:
            server, url = _serve(str(Path(tmp) / "bench.db"))
            try:
                results["SQLite"] = _alternate(wrk, hello_url, url, seconds, n)
            finally:
                _stop(server)
        try:
            from tests.pgserver import PgServer

            pg = PgServer().start()
        except Exception as exc:  # reported as a row: the SQLite figures still stand
            pg, pg_error = None, str(exc).splitlines()[0][:120]
        results["PostgreSQL"] = None
        if pg is not None:
            try:
                server, url = _serve(pg.fresh_url("bench"))
                try:
                    results["PostgreSQL"] = _alternate(wrk, hello_url, url, seconds, n)
                finally:
                    _stop(server)
            finally:
                pg.stop()
    finally:
        _stop(hello)
    for name, m in results.items():
        if m is None:
            rows.append(Row(SECTION, f"/q on {name}: not measured ({pg_error})", float("nan"), ""))
            continue
        rows.append(Row(SECTION, f"bare uvicorn hello-world beside /q on {name} (median round)",
                        m["hello"]["rps"], "req/s"))
        rows.append(Row.check(SECTION, f"/q on {name}, 1 uvicorn worker (median round)",
                              m["q"]["rps"], "req/s", ">= 2000"))
        rows.append(Row.check(SECTION, f"/q on {name} latency p99 (worst round)", m["p99"], "ms",
                              "<= 50"))
        rows.append(Row(SECTION, f"/q on {name} latency p50 (median round)", m["q"]["p50"], "ms"))
        rows.append(Row.check(SECTION, f"/q on {name} non-2xx responses", m["non2xx"], "count",
                              "<= 0"))
        spread = " / ".join(f"{r:.2f}" for r in m["ratios"])
        rows.append(Row.check(SECTION, f"/q on {name} ÷ hello-world, median of {n} rounds"
                              f" ({spread})", m["ratio"], "x",
                              ">= 0.5" if name == "SQLite" else ">= 0"))
    return rows
