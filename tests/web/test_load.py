"""Many browser sessions at once on loopback: every message gets exactly one reply."""

from __future__ import annotations

import asyncio

from .loadgen import run_load

LOAD_LIMITS = {"session_per_min": 600, "address_per_min": 100_000,
               "new_sessions_per_min": 100_000}


def test_30_sessions_x_3_messages_no_lost_or_duplicated_replies(make_web):
    rig = make_web(web=LOAD_LIMITS)
    res = asyncio.run(run_load(rig.url, sessions=30, messages=3, reply_timeout=20.0,
                               budget_s=60.0))
    assert res.errors == []
    assert (res.sent, res.replies, res.lost, res.duplicates) == (90, 90, 0, 0)
    rows = rig.rows("SELECT state, count(*) AS n FROM messages WHERE channel = 'web'"
                    " GROUP BY state")
    # every message was dealt with once: answered, or (a fake reply the shop data does not
    # back) handed to the owner with the safe reply
    assert {r["state"] for r in rows} <= {"answered", "handed_off"}
    assert sum(r["n"] for r in rows) == 90
    replies = rig.rows("SELECT state, count(*) AS n FROM replies GROUP BY state")
    assert replies == [{"state": "sent", "n": 90}]
    assert len(rig.rows("SELECT id FROM customers WHERE channel = 'web'")) == 30
    print(f"30x3: p50 {res.pct(50):.1f} ms, p99 {res.pct(99):.1f} ms, wall {res.wall_s:.1f} s")
