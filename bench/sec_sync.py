"""Sync server: wrk against GET /q/{token} with one uvicorn worker, on SQLite and on
PostgreSQL (a throwaway server started for the run, tests/pgserver.py), next to a bare uvicorn
hello-world measured in the same run (their ratio shows what the app itself costs).

Loopback only, bounded: 10 s per measurement (3 s with --quick) after a short warm-up.
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


def _serve_and_measure(wrk: str, db: str, seconds: int) -> dict[str, float]:
    token = _prepare(db)
    port = _free_port()
    server = _start(["-m", "sync_server", "serve", "--db", db, "--port", str(port),
                     "--scan-ip-per-min", "1e12", "--scan-token-per-min", "1e12",
                     "--online-window", "3600"], port, "/health")
    try:
        url = f"http://127.0.0.1:{port}/q/{token}"
        _measure(wrk, url, 2)  # warm-up
        return _measure(wrk, url, seconds)
    finally:
        _stop(server)


def run(opts) -> list[Row]:
    wrk = _wrk()
    if wrk is None:
        return [Row(SECTION, "wrk not installed (apt-get install wrk): skipped", float("nan"), "")]
    seconds = 3 if getattr(opts, "quick", False) else 10
    rows: list[Row] = []
    # The baseline is measured before and after the /q runs and averaged: on a shared machine
    # the load drifts, and one baseline taken at a quiet moment would skew every ratio.
    port = _free_port()
    hello = _start(["-m", "uvicorn", "bench.sec_sync:hello_app", "--port", str(port),
                    "--workers", "1", "--log-level", "warning", "--no-access-log",
                    "--no-server-header"], port, "/")
    hello_url = f"http://127.0.0.1:{port}/"
    try:
        _measure(wrk, hello_url, 2)
        h1 = _measure(wrk, hello_url, seconds)
    except BaseException:
        _stop(hello)
        raise
    try:
        with tempfile.TemporaryDirectory() as tmp:
            q = _serve_and_measure(wrk, str(Path(tmp) / "bench.db"), seconds)
        pg_error = ""
        try:
            from tests.pgserver import PgServer

            pg = PgServer().start()
        except Exception as exc:  # reported as a row: the SQLite figures still stand
            pg, pg_error = None, str(exc).splitlines()[0][:120]
        try:
            qp = _serve_and_measure(wrk, pg.fresh_url("bench"), seconds) if pg else None
        finally:
            if pg is not None:
                pg.stop()
        h2 = _measure(wrk, hello_url, seconds)
    finally:
        _stop(hello)
    h = {"rps": (h1["rps"] + h2["rps"]) / 2, "p99": max(h1["p99"], h2["p99"])}
    rows.append(Row(SECTION, "bare uvicorn hello-world throughput (before)", h1["rps"], "req/s"))
    rows.append(Row(SECTION, "bare uvicorn hello-world throughput (after)", h2["rps"], "req/s"))
    rows.append(Row(SECTION, "bare uvicorn hello-world latency p99 (worse)", h["p99"], "ms"))
    for name, m in (("SQLite", q), ("PostgreSQL", qp)):
        if m is None:
            rows.append(Row(SECTION, f"/q on {name}: not measured ({pg_error})", float("nan"), ""))
            continue
        rows.append(Row.check(SECTION, f"/q on {name}, 1 uvicorn worker", m["rps"], "req/s",
                              ">= 2000"))
        rows.append(Row.check(SECTION, f"/q on {name} latency p99", m["p99"], "ms", "<= 50"))
        rows.append(Row(SECTION, f"/q on {name} latency p50", m["p50"], "ms"))
        rows.append(Row.check(SECTION, f"/q on {name} non-2xx responses", m["non2xx"], "count",
                              "<= 0"))
        rows.append(Row.check(SECTION, f"/q on {name} ÷ hello-world (mean) throughput",
                              m["rps"] / h["rps"], "x", ">= 0.5" if name == "SQLite" else ">= 0"))
    return rows
