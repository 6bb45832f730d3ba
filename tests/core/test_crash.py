"""Crash consistency: SIGKILL the engine at random moments, restart it, check the invariants.

Fixed seed, bounded: about twenty kills, then one clean run to the end of the script.
"""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alpha01.storage.db import Database
from alpha01.vault import Vault

CHILD = Path(__file__).with_name("crash_child.py")
CHATS = ["小王", "李阿姨", "张先生", "赵姐", "opaque-老刘", "opaque-钱总"]
QUESTIONS = ["你们几点开门？", "可以送货上门吗", "芒果多少钱一斤？", "怎么付款？", "在吗",
             "转人工", "好的", "谢谢", "有会员优惠吗？", "可以做果篮吗？"]


def make_world(world: Path, rng: random.Random, t0: float, span: float) -> float:
    lines = []
    for n in range(5):  # history from before the bot ever started
        lines.append({"chat": CHATS[n % 4], "sender": CHATS[n % 4], "text": f"以前的消息{n}",
                      "ts": t0 - 3600 + n})
    at = t0 + 0.5
    while at < t0 + span:
        chat = rng.choice(CHATS)
        lines.append({"chat": chat, "sender": chat, "text": rng.choice(QUESTIONS),
                      "ts": round(at, 3)})
        at += rng.uniform(0.02, 0.25)
    seen: collections.Counter = collections.Counter()
    for m in lines:  # order among identical messages, as a chat window shows it
        key = (m["chat"], m["text"], m["ts"])
        m["seq"] = seen[key]
        seen[key] += 1
    (world / "inbox.jsonl").write_text(
        "\n".join(json.dumps(m, ensure_ascii=False) for m in lines) + "\n", encoding="utf-8")
    return at


def run_child(world: Path, home: Path, end: float, crash_p: float):
    env = dict(os.environ, WORLD_END=str(end), CRASH_AFTER_SEND=str(crash_p),
               PYTHONPATH=os.pathsep.join([str(CHILD.parents[2]), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, str(CHILD), str(world), str(home)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_sigkill_at_random_points_breaks_no_invariant(tmp_path):
    rng = random.Random(20261122)
    world, home = tmp_path / "world", tmp_path / "home"
    world.mkdir()
    t0 = time.time() + 0.5  # the first start happens before any live message
    end = make_world(world, rng, t0, span=8.0)
    kills = self_kills = 0
    deadline = time.monotonic() + 120
    while time.time() < end and time.monotonic() < deadline:
        child = run_child(world, home, end + 1.0, crash_p=0.12)
        try:
            child.wait(timeout=rng.uniform(0.2, 1.2))
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
            child.wait()
            kills += 1
        else:
            if child.returncode == -signal.SIGKILL:
                self_kills += 1
            else:
                assert child.returncode == 0, child.stderr.read().decode()
    # and one clean run to the end
    child = run_child(world, home, end + 1.0, crash_p=0.0)
    _, err = child.communicate(timeout=90)
    assert child.returncode == 0, err.decode()
    assert kills + self_kills >= 8, (kills, self_kills)

    inbox = [json.loads(x) for x in (world / "inbox.jsonl").read_text().splitlines()]
    sent = [json.loads(x) for x in (world / "sent.jsonl").read_text().splitlines()]
    # the engine ran on the encrypted database: plain SQLite cannot read it
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(home / "alpha01.db").execute("SELECT * FROM messages").fetchone()
    reader = Database.open_reader(home / "alpha01.db", key=Vault(home).database_key())
    assert reader.encrypted
    db = reader.conn
    db.row_factory = reader.row_type
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    msgs = [dict(r) for r in db.execute("SELECT * FROM messages WHERE direction = 'in'")]
    # nothing lost, nothing stored twice
    assert len(msgs) == len(inbox)
    assert len({(m["chat"], m["text"], m["ts"]) for m in msgs}) == len(
        {(m["chat"], m["text"], m["ts"]) for m in inbox})
    # exactly one terminal state each
    assert {m["state"] for m in msgs} <= {"answered", "handed_off", "ignored"}
    # history is never answered
    history = [m for m in msgs if m["ts"] < t0]
    assert history and all(m["reason"] == "history" and m["reply_id"] is None for m in history)
    # no reply reached the chat twice
    per_reply = collections.Counter(s["reply_id"] for s in sent)
    doubles = {rid: n for rid, n in per_reply.items() if n > 1}
    assert doubles == {}
    # ... and no message was answered by two different replies
    answered = collections.Counter(s["message_id"] for s in sent if s["message_id"])
    assert max(answered.values()) == 1
    # every reply settled; the unknowable ones are counted, handed to the owner, never resent
    states = collections.Counter(r[0] for r in db.execute("SELECT state FROM replies"))
    assert set(states) <= {"sent", "unknown", "cancelled", "failed"}
    unknown = [r[0] for r in db.execute("SELECT id FROM replies WHERE state = 'unknown'")]
    for rid in unknown:
        assert per_reply.get(rid, 0) <= 1
        assert db.execute("SELECT 1 FROM events WHERE kind = 'send-unknown'"
                          " AND json_extract(detail, '$.reply_id') = ?", [rid]).fetchone()
    # the owner was never "detected" typing: every self message was our own echo
    owner = db.execute("SELECT count(*) FROM messages WHERE direction = 'owner'").fetchone()[0]
    assert owner == 0
    print(f"\ncrash test: {kills} kills + {self_kills} self-kills after a send; "
          f"{len(inbox)} messages, {len(sent)} sends, {len(unknown)} unknowable outcomes "
          f"(not resent, handed to the owner), 0 doubles")
