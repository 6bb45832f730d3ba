"""Web chat under load: 200 browser sessions at once on loopback, each sending 5 messages (the
next when the previous reply arrived over its stream), the fake model behind the real engine.

The sessions run in a process of their own (tests/web/loadgen.py) so the client does not share
the server's interpreter. Every message must get exactly one reply. "Added latency" is the time
from the POST to the reply on the page minus the engine's own decision time for that reply; the
"server side" rows are the part spent between the channel taking the message and handing the
reply to the page's stream (engine pickup, intake, decision, outbox). The load generator's CPU
row says how much of the rest is the client itself (httpx, one core).
Bounded: 127.0.0.1 only, at most 120 s of load. --quick: 50 sessions x 3 messages.
"""

from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.rows import Row

SECTION = "web"
ROOT = Path(__file__).resolve().parent.parent


def _pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def run(opts) -> list[Row]:
    from tests.web.conftest import web_rig

    sessions, messages = (50, 3) if getattr(opts, "quick", False) else (200, 5)
    total = sessions * messages
    with tempfile.TemporaryDirectory() as tmp:
        rig = web_rig(Path(tmp) / "home", web={
            "session_per_min": 600, "address_per_min": 1_000_000,
            "new_sessions_per_min": 1_000_000})
        try:
            cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            proc = subprocess.run(
                [sys.executable, "-m", "tests.web.loadgen", rig.url, "--sessions",
                 str(sessions), "--messages", str(messages), "--budget", "120"],
                cwd=ROOT, capture_output=True, text=True, timeout=180)
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr[-2000:])
            res = json.loads(proc.stdout)
            cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            client_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
            server_ms = [d * 1000 for d in rig.channel.hub.reply_delays()]
            engine_ms = {f"r:{r['id']}": r["latency_ms"] or 0.0
                         for r in rig.rows("SELECT id, latency_ms FROM replies")}
            db_in = rig.rows("SELECT count(*) AS n FROM messages WHERE channel = 'web'"
                             " AND state = 'answered'")[0]["n"]
            db_sent = rig.rows("SELECT count(*) AS n FROM replies WHERE state = 'sent'")[0]["n"]
        finally:
            rig.shutdown()
    e2e = list(res["reply_latency"].values())
    added = [ms - engine_ms.get(rid, 0.0) for rid, ms in res["reply_latency"].items()]
    label = f"{sessions}x{messages}"
    rows = [
        Row.check(SECTION, f"{label}: replies on the pages", res["replies"], "replies",
                  f">= {total}"),
        Row.check(SECTION, f"{label}: lost replies", res["lost"], "", "<= 0"),
        Row.check(SECTION, f"{label}: duplicated replies", res["duplicates"], "", "<= 0"),
        Row.check(SECTION, f"{label}: errors", len(res["errors"]), "", "<= 0"),
        Row.check(SECTION, f"{label}: messages answered in the database", db_in, "msgs",
                  f">= {total}"),
        Row.check(SECTION, f"{label}: replies sent in the database", db_sent, "replies",
                  f">= {total}"),
        Row(SECTION, f"{label}: end-to-end p50", _pct(e2e, 50), "ms"),
        Row(SECTION, f"{label}: end-to-end p99", _pct(e2e, 99), "ms"),
        Row(SECTION, f"{label}: added latency p50 (e2e - engine decision)", _pct(added, 50),
            "ms"),
        Row.check(SECTION, f"{label}: added latency p99 (e2e - engine decision)",
                  _pct(added, 99), "ms", "<= 2000"),
        Row(SECTION, f"{label}: server side p50 (message in -> reply out)", _pct(server_ms, 50),
            "ms"),
        Row(SECTION, f"{label}: server side p99 (message in -> reply out)", _pct(server_ms, 99),
            "ms"),
        Row(SECTION, f"{label}: load generator CPU / wall (1.0 = one core busy)",
            client_cpu / res["wall_s"] if res["wall_s"] else math.nan, ""),
        Row(SECTION, f"{label}: wall time", res["wall_s"], "s"),
        Row(SECTION, f"{label}: throughput", total / res["wall_s"] if res["wall_s"] else math.nan,
            "msg/s"),
    ]
    return rows
