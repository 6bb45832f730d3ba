"""Every SQL statement of the app, behind named methods. Nothing else writes SQL.

`Store` wraps the write connection (the engine's) or a reader connection (TUI, reports); the
write methods expect to be called on the writer, inside `db.tx()` where they say so.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..domain import Customer, Outbound, Rule
from .db import Database


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


@dataclass(slots=True)
class PendingBatch:
    customer_id: int
    message_ids: list[int]
    last_received_at: float


class Store:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.conn: sqlite3.Connection = db.conn
        self.conn.row_factory = db.row_type

    def tx(self):
        return self.db.tx()

    # -- channel state ------------------------------------------------------------------------

    def baseline(self, channel: str, now: float, hint: float | None) -> float:
        """The channel's start baseline, fixed the first time the channel ever starts."""
        row = self.conn.execute("SELECT baseline FROM channel_state WHERE channel = ?",
                                [channel]).fetchone()
        if row:
            self.conn.execute("UPDATE channel_state SET started_at = ? WHERE channel = ?",
                              [now, channel])
            return row["baseline"]
        base = hint if hint is not None else now
        self.conn.execute("INSERT INTO channel_state (channel, baseline, started_at)"
                          " VALUES (?, ?, ?)", [channel, base, now])
        return base

    def set_channel_health(self, channel: str, healthy: bool, detail: str, now: float) -> None:
        self.conn.execute("UPDATE channel_state SET healthy = ?, detail = ?, last_poll_at = ?"
                          " WHERE channel = ?", [int(healthy), detail, now, channel])

    # -- customers ----------------------------------------------------------------------------

    def customer(self, channel: str, chat: str, member: str, name: str, now: float) -> Customer:
        row = self.conn.execute(
            "SELECT * FROM customers WHERE channel = ? AND chat = ? AND member = ?",
            [channel, chat, member]).fetchone()
        if row is None and not member:  # an earlier name of a renamed customer
            row = self.conn.execute(
                "SELECT c.* FROM customer_aliases a JOIN customers c ON c.id = a.customer_id"
                " WHERE a.channel = ? AND a.chat = ?", [channel, chat]).fetchone()
        if row is None:
            cur = self.conn.execute(
                "INSERT INTO customers (channel, chat, member, name, created_at, last_seen)"
                " VALUES (?, ?, ?, ?, ?, ?)", [channel, chat, member, name, now, now])
            row = self.conn.execute("SELECT * FROM customers WHERE id = ?",
                                    [cur.lastrowid]).fetchone()
        else:
            self.conn.execute("UPDATE customers SET last_seen = ? WHERE id = ?", [now, row["id"]])
        return _customer(row)

    def customer_by_id(self, customer_id: int) -> Customer | None:
        row = self.conn.execute("SELECT * FROM customers WHERE id = ?", [customer_id]).fetchone()
        return _customer(row) if row else None

    def rename_customer(self, channel: str, old: str, new: str, now: float, how: str
                        ) -> int | None:
        """The direct chat `old` is now called `new` (the same person). The customer keeps
        their id; a row already made under the new name is merged in. Returns the customer id,
        or None when nobody was known under `old`."""
        if old == new:
            return None
        keep = self.conn.execute(
            "SELECT id FROM customers WHERE channel = ? AND chat = ? AND member = ''",
            [channel, old]).fetchone() or self.conn.execute(
            "SELECT customer_id AS id FROM customer_aliases WHERE channel = ? AND chat = ?",
            [channel, old]).fetchone()
        if keep is None:
            return None
        keep_id = keep["id"]
        other = self.conn.execute(
            "SELECT id FROM customers WHERE channel = ? AND chat = ? AND member = ''"
            " AND id != ?", [channel, new, keep_id]).fetchone()
        if other is not None:
            self.merge_customers(keep_id, other["id"])
        self.conn.execute("UPDATE customers SET chat = ?, name = ? WHERE id = ?",
                          [new, new, keep_id])
        self.conn.execute(
            "INSERT INTO customer_aliases (channel, chat, customer_id, at, how)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, chat) DO UPDATE SET"
            " customer_id = excluded.customer_id, at = excluded.at, how = excluded.how",
            [channel, old, keep_id, now, how])
        self.conn.execute("DELETE FROM customer_aliases WHERE channel = ? AND chat = ?",
                          [channel, new])
        # replies not yet out go to the window under its new name
        self.conn.execute("UPDATE replies SET chat = ? WHERE customer_id = ? AND state IN"
                          " ('pending', 'failed')", [new, keep_id])
        return keep_id

    def merge_customers(self, keep_id: int, drop_id: int) -> None:
        """Two rows are one person: `drop_id`'s messages, replies, handoffs and names move to
        `keep_id`, which keeps the stricter of each flag (opted out, blocked, handed off), the
        later pause and every tag. An opt-out is never lost to a merge."""
        keep = self.conn.execute("SELECT * FROM customers WHERE id = ?", [keep_id]).fetchone()
        drop = self.conn.execute("SELECT * FROM customers WHERE id = ?", [drop_id]).fetchone()
        if keep is None or drop is None or keep_id == drop_id:
            raise ValueError(f"cannot merge customer {drop_id} into {keep_id}")
        tags = sorted(set(json.loads(keep["tags"] or "[]")) | set(json.loads(drop["tags"]
                                                                              or "[]")))
        pauses = [(keep["paused_until"], keep["pause_reason"]),
                  (drop["paused_until"], drop["pause_reason"])]
        until, reason = max(pauses, key=lambda p: p[0] or 0)
        self.conn.execute(
            "UPDATE customers SET opted_out = max(opted_out, ?), blocked = max(blocked, ?),"
            " handed_off = max(handed_off, ?), tags = ?, paused_until = ?, pause_reason = ?,"
            " remark = coalesce(remark, ?), created_at = min(created_at, ?),"
            " last_seen = max(coalesce(last_seen, 0), coalesce(?, 0)) WHERE id = ?",
            [drop["opted_out"], drop["blocked"], drop["handed_off"], _json(tags), until, reason,
             drop["remark"], drop["created_at"], drop["last_seen"], keep_id])
        for table in ("messages", "replies", "handoffs", "events", "customer_aliases"):
            self.conn.execute(f"UPDATE {table} SET customer_id = ? WHERE customer_id = ?",
                              [keep_id, drop_id])
        self.conn.execute(
            "INSERT OR IGNORE INTO customer_aliases (channel, chat, customer_id, at, how)"
            " VALUES (?, ?, ?, ?, 'merge')",
            [drop["channel"], drop["chat"], keep_id, drop["last_seen"] or drop["created_at"]])
        self.conn.execute("DELETE FROM customers WHERE id = ?", [drop_id])

    def aliases(self, customer_id: int) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM customer_aliases WHERE customer_id = ?"
                                 " ORDER BY at", [customer_id]).fetchall()

    def find_customers(self, name: str) -> list[Customer]:
        rows = self.conn.execute(
            "SELECT * FROM customers WHERE name = ? OR remark = ? OR chat = ? ORDER BY id",
            [name, name, name]).fetchall()
        return [_customer(r) for r in rows]

    def pause(self, customer_id: int, until: float | None, reason: str) -> None:
        self.conn.execute("UPDATE customers SET paused_until = ?, pause_reason = ? WHERE id = ?",
                          [until, reason, customer_id])

    def set_flags(self, customer_id: int, **flags: int) -> None:
        allowed = {"handed_off", "blocked", "opted_out"}
        for key, value in flags.items():
            if key not in allowed:
                raise ValueError(key)
            self.conn.execute(f"UPDATE customers SET {key} = ? WHERE id = ?",
                              [int(value), customer_id])

    def set_remark(self, customer_id: int, remark: str) -> None:
        self.conn.execute("UPDATE customers SET remark = ? WHERE id = ?", [remark, customer_id])

    def set_tags(self, customer_id: int, tags: list[str]) -> None:
        self.conn.execute("UPDATE customers SET tags = ? WHERE id = ?",
                          [_json(sorted(set(tags))), customer_id])

    # -- messages -----------------------------------------------------------------------------

    def insert_message(self, *, channel: str, key: str, customer_id: int | None, chat: str,
                       sender: str, text: str, kind: str, ts: float | None, now: float,
                       ui_id: str | None, is_group: bool, state: str, reason: str | None,
                       direction: str = "in") -> int | None:
        """Insert once; returns the new id, or None when the key was seen before."""
        cur = self.conn.execute(
            "INSERT INTO messages (channel, dedupe_key, customer_id, direction, chat, sender,"
            " text, kind, ts, received_at, ui_id, is_group, state, reason)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (channel, dedupe_key) DO NOTHING",
            [channel, key, customer_id, direction, chat, sender, text, kind, ts, now, ui_id,
             int(is_group), state, reason])
        return cur.lastrowid if cur.rowcount else None

    def seen(self, channel: str, key: str) -> bool:
        return self.conn.execute("SELECT 1 FROM messages WHERE channel = ? AND dedupe_key = ?",
                                 [channel, key]).fetchone() is not None

    def pending_batches(self) -> list[PendingBatch]:
        rows = self.conn.execute(
            "SELECT customer_id, group_concat(id) AS ids, max(received_at) AS last"
            " FROM (SELECT id, customer_id, received_at FROM messages"
            "       WHERE state = 'received' ORDER BY id)"
            " GROUP BY customer_id").fetchall()
        return [PendingBatch(r["customer_id"], [int(i) for i in r["ids"].split(",")], r["last"])
                for r in rows]

    def messages(self, ids: Iterable[int]) -> list[sqlite3.Row]:
        ids = list(ids)
        marks = ",".join("?" * len(ids))
        return self.conn.execute(f"SELECT * FROM messages WHERE id IN ({marks}) ORDER BY id",
                                 ids).fetchall()

    def settle(self, ids: list[int], state: str, reason: str | None,
               reply_id: int | None = None) -> None:
        """Give messages their terminal state (only those still waiting)."""
        marks = ",".join("?" * len(ids))
        self.conn.execute(
            f"UPDATE messages SET state = ?, reason = ?, reply_id = ?"
            f" WHERE id IN ({marks}) AND state = 'received'", [state, reason, reply_id, *ids])

    def history(self, customer_id: int, limit: int, before_id: int | None = None,
                *, keys: bool = False) -> list[tuple[str, ...]]:
        """The last `limit` turns with this customer, oldest first: ("user"|"assistant", text),
        with `keys` a third field naming the turn: the message's dedupe key, or "r:<reply id>"."""
        bound = before_id if before_id is not None else 1 << 62
        rows = self.conn.execute(
            "SELECT * FROM ("
            "  SELECT received_at AS at, id AS mid, 'user' AS role, text,"
            "   dedupe_key AS turn FROM messages"
            "   WHERE customer_id = ? AND direction = 'in' AND id < ?"
            "  UNION ALL"
            "  SELECT coalesce(sent_at, created_at), coalesce(message_id, 0), 'assistant', text,"
            "   'r:' || id FROM replies WHERE customer_id = ? AND state = 'sent'"
            "    AND coalesce(message_id, 0) < ?"
            " ) ORDER BY at DESC, mid DESC LIMIT ?",
            [customer_id, bound, customer_id, bound, limit]).fetchall()
        if keys:
            return [(r["role"], r["text"], r["turn"] or "") for r in reversed(rows)]
        return [(r["role"], r["text"]) for r in reversed(rows)]

    # -- replies (the outbox) -----------------------------------------------------------------

    def add_reply(self, *, message_id: int | None, customer_id: int | None, channel: str,
                  chat: str, text: str, kind: str, tier: str | None, reason: str | None,
                  model: str | None, trace: dict[str, Any], latency_ms: float | None,
                  now: float, not_before: float, run_key: str | None = None,
                  state: str = "pending") -> int | None:
        cur = self.conn.execute(
            "INSERT INTO replies (message_id, run_key, customer_id, channel, chat, text, kind,"
            " tier, reason, model, trace, latency_ms, state, not_before, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [message_id, run_key, customer_id, channel, chat, text, kind, tier, reason, model,
             _json(trace), latency_ms, state, not_before, now])
        return cur.lastrowid if cur.rowcount else None

    def due_replies(self, now: float, limit: int = 100) -> list[Outbound]:
        rows = self.conn.execute(
            "SELECT r.id, r.channel, r.chat, r.text, r.message_id, r.kind, r.attempts,"
            " coalesce(c.member, '') AS member FROM replies r"
            " LEFT JOIN customers c ON c.id = r.customer_id"
            " WHERE r.state = 'pending' AND r.not_before <= ? ORDER BY r.not_before, r.id"
            " LIMIT ?", [now, limit]).fetchall()
        return [_outbound(r) for r in rows]

    def next_due_at(self) -> float | None:
        row = self.conn.execute("SELECT min(not_before) FROM replies WHERE state = 'pending'"
                                ).fetchone()
        return row[0]

    def in_flight(self) -> list[Outbound]:
        rows = self.conn.execute(
            "SELECT r.id, r.channel, r.chat, r.text, r.message_id, r.kind, r.attempts,"
            " coalesce(c.member, '') AS member FROM replies r"
            " LEFT JOIN customers c ON c.id = r.customer_id"
            " WHERE r.state = 'sending' ORDER BY r.id").fetchall()
        return [_outbound(r) for r in rows]

    def reply_state(self, reply_id: int) -> str | None:
        row = self.conn.execute("SELECT state FROM replies WHERE id = ?", [reply_id]).fetchone()
        return row["state"] if row else None

    def mark_reply(self, reply_id: int, state: str, *, now: float | None = None,
                   error: str | None = None, not_before: float | None = None,
                   attempt: bool = False) -> None:
        sets = ["state = ?"]
        args: list[Any] = [state]
        if state == "sent":
            sets.append("sent_at = ?")
            args.append(now)
        if error is not None:
            sets.append("error = ?")
            args.append(error[:500])
        if not_before is not None:
            sets.append("not_before = ?")
            args.append(not_before)
        if attempt:
            sets.append("attempts = attempts + 1")
        self.conn.execute(f"UPDATE replies SET {', '.join(sets)} WHERE id = ?", [*args, reply_id])

    def reply_customer(self, reply_id: int) -> int | None:
        row = self.conn.execute("SELECT customer_id FROM replies WHERE id = ?",
                                [reply_id]).fetchone()
        return row["customer_id"] if row else None

    def cancel_pending(self, customer_id: int, reason: str,
                       kinds: tuple[str, ...] | None = None) -> int:
        """Cancel the customer's replies still waiting to go out (never the merchant's own);
        only those of `kinds` when given."""
        sql = ("UPDATE replies SET state = 'cancelled', error = ? WHERE customer_id = ?"
               " AND state = 'pending' AND kind != 'manual'")
        args: list[Any] = [reason, customer_id]
        if kinds:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            args += list(kinds)
        return self.conn.execute(sql, args).rowcount

    def match_echo(self, channel: str, chat: str, text: str, since: float) -> int | None:
        """Mark (and return) the oldest sent-or-sending reply to `chat` with this text whose
        echo has not come back yet."""
        row = self.conn.execute(
            "SELECT id FROM replies WHERE channel = ? AND chat = ? AND text = ? AND echoed = 0"
            " AND state IN ('sent', 'sending', 'unknown') AND created_at >= ?"
            " ORDER BY id LIMIT 1", [channel, chat, text, since]).fetchone()
        if row is None:
            return None
        self.conn.execute("UPDATE replies SET echoed = 1 WHERE id = ?", [row["id"]])
        return row["id"]

    def cursor(self, channel: str) -> str:
        row = self.conn.execute("SELECT cursor FROM channel_cursor WHERE channel = ?",
                                [channel]).fetchone()
        return row["cursor"] if row else ""

    def set_cursor(self, channel: str, cursor: str, now: float) -> None:
        self.conn.execute("INSERT INTO channel_cursor (channel, cursor, updated_at)"
                          " VALUES (?, ?, ?) ON CONFLICT (channel) DO UPDATE"
                          " SET cursor = excluded.cursor, updated_at = excluded.updated_at",
                          [channel, cursor, now])

    def reply_window(self, customer_id: int | None) -> tuple[float | None, int]:
        """When this customer last wrote (the channel's time when it gave one) and how many
        messages went to them since: what a platform's reply window is counted from."""
        if customer_id is None:
            return None, 0
        row = self.conn.execute(
            "SELECT MAX(COALESCE(ts, received_at)) AS at, MAX(received_at) AS seen"
            " FROM messages WHERE customer_id = ? AND direction = 'in'",
            [customer_id]).fetchone()
        if row is None or row["at"] is None:
            return None, 0
        # counted from when it reached us: the channel's times may have whole seconds only
        sent = self.conn.execute(
            "SELECT COUNT(*) AS n FROM replies WHERE customer_id = ? AND state = 'sent'"
            " AND sent_at >= ?", [customer_id, row["seen"]]).fetchone()["n"]
        return float(row["at"]), int(sent)

    def recent_sends(self, since: float) -> list[tuple[str, float]]:
        rows = self.conn.execute("SELECT chat, sent_at FROM replies WHERE state = 'sent'"
                                 " AND sent_at >= ?", [since]).fetchall()
        return [(r["chat"], r["sent_at"]) for r in rows]

    # -- handoffs and events ------------------------------------------------------------------

    def open_handoff(self, customer_id: int, message_id: int | None, reason: str,
                     now: float, *, owns_chat: bool = True) -> int:
        """Open a handoff. `owns_chat`: a human now owns the chat and the AI stays silent
        there until it is resolved; otherwise it is only a question for the owner's inbox."""
        cur = self.conn.execute(
            "INSERT INTO handoffs (customer_id, message_id, reason, created_at)"
            " VALUES (?, ?, ?, ?)", [customer_id, message_id, reason, now])
        if owns_chat:
            self.conn.execute("UPDATE customers SET handed_off = 1 WHERE id = ?", [customer_id])
        return cur.lastrowid

    def handoffs(self, state: str | None = None) -> list[sqlite3.Row]:
        sql = ("SELECT h.*, c.name AS customer, c.chat, c.channel FROM handoffs h"
               " JOIN customers c ON c.id = h.customer_id")
        if state:
            return self.conn.execute(sql + " WHERE h.state = ? ORDER BY h.id", [state]).fetchall()
        return self.conn.execute(sql + " ORDER BY h.id").fetchall()

    def update_handoff(self, handoff_id: int, state: str, now: float,
                       note: str | None = None) -> int | None:
        row = self.conn.execute("SELECT customer_id FROM handoffs WHERE id = ?",
                                [handoff_id]).fetchone()
        if row is None:
            return None
        col = "claimed_at" if state == "claimed" else "resolved_at"
        self.conn.execute(f"UPDATE handoffs SET state = ?, {col} = ?, note = coalesce(?, note)"
                          " WHERE id = ?", [state, now, note, handoff_id])
        if state == "resolved":
            still_open = self.conn.execute(
                "SELECT 1 FROM handoffs WHERE customer_id = ? AND state != 'resolved'",
                [row["customer_id"]]).fetchone()
            if not still_open:
                self.conn.execute("UPDATE customers SET handed_off = 0 WHERE id = ?",
                                  [row["customer_id"]])
        return row["customer_id"]

    def event(self, kind: str, now: float, *, customer_id: int | None = None,
              message_id: int | None = None, **detail: Any) -> None:
        self.conn.execute("INSERT INTO events (at, kind, customer_id, message_id, detail)"
                          " VALUES (?, ?, ?, ?, ?)",
                          [now, kind, customer_id, message_id, _json(detail)])

    def events(self, kind: str | None = None, limit: int = 100) -> list[sqlite3.Row]:
        if kind:
            return self.conn.execute("SELECT * FROM events WHERE kind = ? ORDER BY id DESC"
                                     " LIMIT ?", [kind, limit]).fetchall()
        return self.conn.execute("SELECT * FROM events ORDER BY id DESC LIMIT ?",
                                 [limit]).fetchall()

    # -- rules --------------------------------------------------------------------------------

    def rules(self) -> list[Rule]:
        rows = self.conn.execute("SELECT * FROM rules ORDER BY priority, id").fetchall()
        return [Rule(id=r["id"], name=r["name"], match=r["match"], pattern=r["pattern"],
                     action=r["action"], reply=r["reply"], field=r["field"],
                     priority=r["priority"], hours=r["hours"], enabled=bool(r["enabled"]),
                     builtin=bool(r["builtin"]), hits=r["hits"]) for r in rows]

    def rules_signature(self) -> tuple:
        row = self.conn.execute("SELECT count(*), max(updated_at), sum(id) FROM rules").fetchone()
        return tuple(row)

    def add_rule(self, rule: Rule, now: float) -> int:
        cur = self.conn.execute(
            "INSERT INTO rules (name, match, field, pattern, action, reply, priority, hours,"
            " enabled, builtin, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
            [rule.name, rule.match, rule.field, rule.pattern, rule.action, rule.reply,
             rule.priority, rule.hours, int(rule.enabled), now, now])
        return cur.lastrowid

    def remove_rule(self, rule_id: int) -> bool:
        return self.conn.execute("DELETE FROM rules WHERE id = ?", [rule_id]).rowcount > 0

    def set_rule_enabled(self, rule_id: int, enabled: bool, now: float) -> bool:
        return self.conn.execute("UPDATE rules SET enabled = ?, updated_at = ? WHERE id = ?",
                                 [int(enabled), now, rule_id]).rowcount > 0

    def rule_hit(self, rule_id: int) -> None:
        self.conn.execute("UPDATE rules SET hits = hits + 1 WHERE id = ?", [rule_id])

    # -- reports ------------------------------------------------------------------------------

    def counts(self, since: float = 0.0) -> dict[str, Any]:
        c = self.conn
        states = dict(c.execute("SELECT state, count(*) FROM messages WHERE direction = 'in'"
                                " AND received_at >= ? GROUP BY state", [since]).fetchall())
        tiers = dict(c.execute("SELECT coalesce(tier, kind), count(*) FROM replies"
                               " WHERE created_at >= ? GROUP BY 1", [since]).fetchall())
        outbox = dict(c.execute("SELECT state, count(*) FROM replies WHERE created_at >= ?"
                                " GROUP BY state", [since]).fetchall())
        lat = [r[0] for r in c.execute("SELECT latency_ms FROM replies WHERE created_at >= ?"
                                       " AND latency_ms IS NOT NULL ORDER BY latency_ms",
                                       [since]).fetchall()]
        return {
            "messages": sum(states.values()),
            "by_state": states,
            "by_tier": tiers,
            "outbox": outbox,
            "open_handoffs": c.execute("SELECT count(*) FROM handoffs WHERE state != 'resolved'"
                                       ).fetchone()[0],
            "customers": c.execute("SELECT count(*) FROM customers").fetchone()[0],
            "median_latency_ms": lat[len(lat) // 2] if lat else None,
        }

    def activity_today(self) -> tuple[int, int]:
        """(customers who wrote since local midnight, new friends since local midnight)."""
        import time as _time

        t = _time.localtime()
        midnight = _time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1))
        chats = self.conn.execute("SELECT count(DISTINCT customer_id) FROM messages"
                                  " WHERE direction = 'in' AND received_at >= ?",
                                  [midnight]).fetchone()[0]
        friends = self.conn.execute("SELECT count(*) FROM events WHERE kind = 'new-friend'"
                                    " AND at >= ?", [midnight]).fetchone()[0]
        return chats, friends

    def reply_for_message(self, message_id: int) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM replies WHERE message_id = ?",
                                 [message_id]).fetchone()

    # -- terminal UI (read-only views) --------------------------------------------------------

    def conversations(self, limit: int = 200) -> list[sqlite3.Row]:
        """Customers by latest activity, with their last inbound text and open handoffs."""
        return self.conn.execute(
            "SELECT c.id, c.name, c.remark, c.channel, c.chat, c.tags, c.paused_until,"
            " c.handed_off, c.blocked, c.last_seen,"
            " (SELECT text FROM messages m WHERE m.customer_id = c.id AND m.direction = 'in'"
            "   AND m.kind != 'friend' ORDER BY m.id DESC LIMIT 1) AS last_text,"
            " (SELECT count(*) FROM handoffs h WHERE h.customer_id = c.id"
            "   AND h.state != 'resolved') AS open_handoffs"
            " FROM customers c WHERE c.channel != 'ask'"
            " ORDER BY c.last_seen DESC, c.id DESC LIMIT ?", [limit]).fetchall()

    def stream(self, limit: int = 100) -> list[sqlite3.Row]:
        """The latest traffic, newest first: inbound messages and every reply, as one list
        (`who` is in | owner | bot | manual) with the reply's tier, latency and model."""
        return self.conn.execute(
            "SELECT * FROM ("
            "  SELECT m.received_at AS at, 'm' || m.id AS key, m.customer_id,"
            "   coalesce(c.name, m.chat) AS customer, CASE m.direction WHEN 'in' THEN 'in'"
            "   ELSE 'owner' END AS who, m.text, NULL AS tier, NULL AS latency_ms,"
            "   NULL AS model, m.state, m.reason FROM messages m"
            "   LEFT JOIN customers c ON c.id = m.customer_id"
            "   WHERE m.direction != 'self' AND m.channel != 'ask'"
            "  UNION ALL"
            "  SELECT coalesce(r.sent_at, r.created_at), 'r' || r.id, r.customer_id,"
            "   coalesce(c.name, r.chat), CASE r.kind WHEN 'manual' THEN 'manual' ELSE 'bot' END,"
            "   r.text, r.tier, r.latency_ms, r.model, r.state, r.reason FROM replies r"
            "   LEFT JOIN customers c ON c.id = r.customer_id WHERE r.channel != 'ask'"
            " ) ORDER BY at DESC, key DESC LIMIT ?", [limit]).fetchall()

    def conversation(self, customer_id: int, limit: int = 300) -> list[sqlite3.Row]:
        """One customer's chat, oldest first: messages and replies (with each reply's trace)."""
        rows = self.conn.execute(
            "SELECT * FROM ("
            "  SELECT received_at AS at, 'm' || id AS key, direction AS who, text, state,"
            "   reason, NULL AS tier, NULL AS latency_ms, NULL AS model, NULL AS trace,"
            "   NULL AS error, id AS message_id FROM messages"
            "   WHERE customer_id = ? AND direction != 'self'"
            "  UNION ALL"
            "  SELECT coalesce(sent_at, created_at), 'r' || id,"
            "   CASE kind WHEN 'manual' THEN 'manual' ELSE 'bot' END, text, state, reason, tier,"
            "   latency_ms, model, trace, error, message_id FROM replies WHERE customer_id = ?"
            " ) ORDER BY at DESC, key DESC LIMIT ?",
            [customer_id, customer_id, limit]).fetchall()
        return list(reversed(rows))

    def customer_row(self, customer_id: int) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM customers WHERE id = ?",
                                 [customer_id]).fetchone()

    def open_handoff_rows(self) -> list[sqlite3.Row]:
        """Open and claimed handoffs, oldest first, with the message that caused them."""
        return self.conn.execute(
            "SELECT h.*, c.name AS customer, c.chat, c.channel, m.text AS question"
            " FROM handoffs h JOIN customers c ON c.id = h.customer_id"
            " LEFT JOIN messages m ON m.id = h.message_id"
            " WHERE h.state != 'resolved' ORDER BY h.id").fetchall()

    def unanswered(self, limit: int = 200) -> list[sqlite3.Row]:
        """Questions the shop's data could not answer (handed off, or a fallback reply) that
        have not been turned into an FAQ or dismissed yet (no `faq-added` /
        `inbox-dismissed` event names them). Handoffs a rule asked for (转人工, 投诉) are not
        questions and are left out."""
        return self.conn.execute(
            "SELECT m.id, m.customer_id, coalesce(c.name, m.chat) AS customer, m.text,"
            " m.received_at, m.state, m.reason, r.tier FROM messages m"
            " LEFT JOIN customers c ON c.id = m.customer_id"
            " LEFT JOIN replies r ON r.id = m.reply_id"
            " WHERE m.direction = 'in' AND m.kind = 'text'"
            "  AND (m.state = 'handed_off' OR r.tier = 'fallback')"
            "  AND coalesce(m.reason, '') NOT LIKE 'rule:%'"
            "  AND NOT EXISTS (SELECT 1 FROM events e"
            "                  WHERE e.kind IN ('faq-added', 'inbox-dismissed')"
            "                  AND e.message_id = m.id)"
            " ORDER BY m.id DESC LIMIT ?", [limit]).fetchall()

    def channel_states(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM channel_state ORDER BY channel").fetchall()

    # -- jobs: the shop's automations and their run ledger ------------------------------------

    def jobs(self, *, enabled_only: bool = False) -> list[sqlite3.Row]:
        sql = "SELECT * FROM jobs" + (" WHERE enabled = 1" if enabled_only else "")
        return self.conn.execute(sql + " ORDER BY id").fetchall()

    def job(self, name_or_id: str | int) -> sqlite3.Row | None:
        if isinstance(name_or_id, int) or str(name_or_id).isdigit():
            row = self.conn.execute("SELECT * FROM jobs WHERE id = ?",
                                    [int(name_or_id)]).fetchone()
            if row is not None:
                return row
        return self.conn.execute("SELECT * FROM jobs WHERE name = ?",
                                 [str(name_or_id)]).fetchone()

    def add_job(self, *, name: str, kind: str, schedule: str, params: dict[str, Any],
                misfire_grace_s: float, coalesce: bool, now: float,
                enabled: bool = True) -> int:
        cur = self.conn.execute(
            "INSERT INTO jobs (name, kind, schedule, params, enabled, misfire_grace_s, coalesce,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [name, kind, schedule, _json(params), int(enabled), misfire_grace_s, int(coalesce),
             now, now])
        return cur.lastrowid

    def remove_job(self, job_id: int) -> bool:
        return self.conn.execute("DELETE FROM jobs WHERE id = ?", [job_id]).rowcount > 0

    def set_job_enabled(self, job_id: int, enabled: bool, now: float) -> bool:
        return self.conn.execute("UPDATE jobs SET enabled = ?, updated_at = ? WHERE id = ?",
                                 [int(enabled), now, job_id]).rowcount > 0

    def set_job_state(self, job_id: int, state: dict[str, Any]) -> None:
        self.conn.execute("UPDATE jobs SET state = ? WHERE id = ?", [_json(state), job_id])

    def jobs_signature(self) -> tuple:
        row = self.conn.execute("SELECT count(*), max(updated_at), sum(id), sum(enabled)"
                                " FROM jobs").fetchone()
        return tuple(row)

    def begin_run(self, *, job_id: int, job_name: str, run_key: str, scheduled_at: float,
                  now: float) -> str | None:
        """Claim a run in the ledger. Returns None for a new run; else the status it had
        ('ok', 'missed', 'skipped': done, leave it; 'running', 'error': claimed again)."""
        cur = self.conn.execute(
            "INSERT INTO job_runs (job_id, job_name, run_key, scheduled_at, started_at, status)"
            " VALUES (?, ?, ?, ?, ?, 'running') ON CONFLICT (run_key) DO NOTHING",
            [job_id, job_name, run_key, scheduled_at, now])
        if cur.rowcount:
            return None
        status = self.conn.execute("SELECT status FROM job_runs WHERE run_key = ?",
                                   [run_key]).fetchone()["status"]
        if status in ("running", "error"):
            self.conn.execute("UPDATE job_runs SET status = 'running', started_at = ?,"
                              " attempts = attempts + 1, error = NULL WHERE run_key = ?",
                              [now, run_key])
        return status

    def finish_run(self, run_key: str, status: str, now: float, *,
                   result: dict[str, Any] | None = None, error: str | None = None) -> None:
        self.conn.execute("UPDATE job_runs SET status = ?, finished_at = ?, result = ?,"
                          " error = ? WHERE run_key = ?",
                          [status, now, _json(result or {}), error, run_key])

    def record_run(self, *, job_id: int, job_name: str, run_key: str, scheduled_at: float,
                   now: float, status: str, error: str | None = None) -> bool:
        """A run that did not execute (missed its grace time): recorded once."""
        return self.conn.execute(
            "INSERT INTO job_runs (job_id, job_name, run_key, scheduled_at, started_at,"
            " finished_at, status, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (run_key) DO NOTHING",
            [job_id, job_name, run_key, scheduled_at, now, now, status, error]).rowcount > 0

    def job_runs(self, job_id: int | None = None, limit: int = 50) -> list[sqlite3.Row]:
        if job_id is None:
            return self.conn.execute("SELECT * FROM job_runs ORDER BY id DESC LIMIT ?",
                                     [limit]).fetchall()
        return self.conn.execute("SELECT * FROM job_runs WHERE job_id = ? ORDER BY id DESC"
                                 " LIMIT ?", [job_id, limit]).fetchall()

    def run_by_key(self, run_key: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM job_runs WHERE run_key = ?",
                                 [run_key]).fetchone()

    def last_scheduled(self, job_id: int) -> float | None:
        """The latest fire time the ledger holds for a job (manual runs excluded)."""
        return self.conn.execute(
            "SELECT max(scheduled_at) FROM job_runs WHERE job_id = ?"
            " AND run_key NOT LIKE '%@manual-%'", [job_id]).fetchone()[0]

    def last_runs(self) -> dict[int, sqlite3.Row]:
        rows = self.conn.execute(
            "SELECT r.* FROM job_runs r JOIN (SELECT job_id, max(id) AS id FROM job_runs"
            " GROUP BY job_id) last ON last.id = r.id").fetchall()
        return {r["job_id"]: r for r in rows}

    def last_errors(self) -> dict[int, sqlite3.Row]:
        rows = self.conn.execute(
            "SELECT r.* FROM job_runs r JOIN (SELECT job_id, max(id) AS id FROM job_runs"
            " WHERE status = 'error' GROUP BY job_id) last ON last.id = r.id").fetchall()
        return {r["job_id"]: r for r in rows}

    # -- jobs: broadcasts and follow-ups ------------------------------------------------------

    def broadcast_audience(self, channel: str | None = None) -> list[sqlite3.Row]:
        """Direct-chat customers who may get a proactive message: not opted out (退订), not
        blocked, not handed to a human, not in a group (a group send would reach everyone)."""
        sql = ("SELECT * FROM customers WHERE opted_out = 0 AND blocked = 0 AND handed_off = 0"
               " AND member = '' AND channel != 'ask'")
        if channel:
            return self.conn.execute(sql + " AND channel = ? ORDER BY id", [channel]).fetchall()
        return self.conn.execute(sql + " ORDER BY id").fetchall()

    def is_group_chat(self, channel: str, chat: str) -> bool:
        return self.conn.execute("SELECT 1 FROM messages WHERE channel = ? AND chat = ?"
                                 " AND is_group = 1 LIMIT 1", [channel, chat]).fetchone() is not None

    def opted_out_customers(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM customers WHERE opted_out = 1").fetchall()

    def run_key_used(self, run_key: str) -> bool:
        return self.conn.execute("SELECT 1 FROM replies WHERE run_key = ?",
                                 [run_key]).fetchone() is not None

    def proactive_since(self, since: float, customer_id: int | None = None) -> int:
        """Broadcasts and follow-ups queued since `since` (all, or to one customer)."""
        sql = ("SELECT count(*) FROM replies WHERE kind IN ('broadcast', 'followup')"
               " AND state != 'cancelled' AND created_at >= ?")
        if customer_id is None:
            return self.conn.execute(sql, [since]).fetchone()[0]
        return self.conn.execute(sql + " AND customer_id = ?", [since, customer_id]).fetchone()[0]

    def followup_candidates(self, since: float, until: float) -> list[sqlite3.Row]:
        """Customers whose last word (received in [since, until]) was a question that ended in
        a handoff, the safe fallback reply, or no reply at all, and who got nothing since: not
        from the bot, not from the owner. Rule handoffs (转人工, 投诉) are the owner's."""
        return self.conn.execute(
            "SELECT m.id AS message_id, m.customer_id, m.channel, m.chat, m.text,"
            " m.received_at, m.state, r.tier FROM messages m"
            " JOIN customers c ON c.id = m.customer_id"
            " LEFT JOIN replies r ON r.id = m.reply_id"
            " WHERE m.direction = 'in' AND m.kind = 'text' AND m.is_group = 0"
            "  AND m.channel != 'ask' AND m.received_at >= ? AND m.received_at <= ?"
            "  AND c.opted_out = 0 AND c.blocked = 0 AND c.member = ''"
            "  AND coalesce(m.reason, '') NOT LIKE 'rule:%'"
            "  AND (m.state = 'handed_off' OR (m.state = 'answered' AND (r.id IS NULL"
            "       OR r.tier = 'fallback' OR r.state IN ('failed', 'cancelled', 'unknown'))))"
            "  AND m.id = (SELECT max(m2.id) FROM messages m2 WHERE m2.customer_id = m.customer_id"
            "              AND m2.direction IN ('in', 'owner'))"
            "  AND NOT EXISTS (SELECT 1 FROM replies r2 WHERE r2.customer_id = m.customer_id"
            "       AND r2.state = 'sent' AND r2.sent_at > m.received_at"
            "       AND coalesce(r2.tier, '') NOT IN ('fallback', 'handoff'))"
            " ORDER BY m.id", [since, until]).fetchall()

    # -- jobs: the daily summary --------------------------------------------------------------

    def day_summary(self, since: float, until: float) -> dict[str, Any]:
        c = self.conn
        win = [since, until]
        inbound = c.execute("SELECT count(*) FROM messages WHERE direction = 'in'"
                            " AND kind = 'text' AND channel != 'ask' AND received_at >= ?"
                            " AND received_at < ?", win).fetchone()[0]
        tiers = dict(c.execute("SELECT coalesce(tier, kind), count(*) FROM replies"
                               " WHERE channel != 'ask' AND created_at >= ? AND created_at < ?"
                               " GROUP BY 1 ORDER BY 2 DESC", win).fetchall())
        kinds = dict(c.execute("SELECT kind, count(*) FROM replies WHERE channel != 'ask'"
                               " AND state = 'sent' AND created_at >= ? AND created_at < ?"
                               " GROUP BY kind", win).fetchall())
        handoffs = c.execute("SELECT count(*) FROM handoffs WHERE created_at >= ?"
                             " AND created_at < ?", win).fetchone()[0]
        still_open = c.execute("SELECT count(*) FROM handoffs WHERE state != 'resolved'"
                               ).fetchone()[0]
        unanswered = [dict(r) for r in c.execute(
            "SELECT m.id, coalesce(cu.name, m.chat) AS customer, m.text FROM messages m"
            " LEFT JOIN customers cu ON cu.id = m.customer_id"
            " LEFT JOIN replies r ON r.id = m.reply_id"
            " WHERE m.direction = 'in' AND m.kind = 'text' AND m.channel != 'ask'"
            "  AND m.received_at >= ? AND m.received_at < ?"
            "  AND (m.state = 'handed_off' OR r.tier = 'fallback')"
            "  AND coalesce(m.reason, '') NOT LIKE 'rule:%' ORDER BY m.id", win).fetchall()]
        hours = c.execute("SELECT CAST(strftime('%H', received_at, 'unixepoch', 'localtime')"
                          " AS INTEGER) AS hour, count(*) AS n FROM messages"
                          " WHERE direction = 'in' AND channel != 'ask' AND received_at >= ?"
                          " AND received_at < ? GROUP BY hour ORDER BY n DESC, hour LIMIT 3",
                          win).fetchall()
        return {"messages": inbound, "by_tier": tiers, "sent_by_kind": kinds,
                "handoffs": handoffs, "open_handoffs": still_open,
                "unanswered": unanswered,
                "busiest_hours": [{"hour": r["hour"], "messages": r["n"]} for r in hours]}

    # -- jobs: retention ----------------------------------------------------------------------

    def purge_before(self, cutoff: float, runs_cutoff: float) -> dict[str, int]:
        """Delete conversation data older than `cutoff` (never an open handoff's message or
        a reply still waiting to go out) and job history older than `runs_cutoff`."""
        c = self.conn
        out = {}
        out["replies"] = c.execute(
            "DELETE FROM replies WHERE created_at < ? AND state NOT IN ('pending', 'sending')",
            [cutoff]).rowcount
        # a chat a human still owns keeps its handoff and the message behind it
        owned = ("SELECT h.id FROM handoffs h JOIN customers cu ON cu.id = h.customer_id"
                 " WHERE h.state != 'resolved' AND cu.handed_off = 1")
        out["handoffs"] = c.execute(f"DELETE FROM handoffs WHERE created_at < ?"
                                    f" AND id NOT IN ({owned})", [cutoff]).rowcount
        out["messages"] = c.execute(
            f"DELETE FROM messages WHERE received_at < ? AND id NOT IN (SELECT message_id FROM"
            f" handoffs WHERE id IN ({owned}) AND message_id IS NOT NULL) AND id NOT IN"
            f" (SELECT message_id FROM replies WHERE message_id IS NOT NULL)",
            [cutoff]).rowcount
        out["events"] = c.execute("DELETE FROM events WHERE at < ?", [cutoff]).rowcount
        out["job_runs"] = c.execute("DELETE FROM job_runs WHERE scheduled_at < ?"
                                    " AND status != 'running'", [runs_cutoff]).rowcount
        return out

    # -- customer data rights (PIPL) ----------------------------------------------------------

    def customer_export(self, customer_id: int) -> dict[str, Any] | None:
        """Everything stored about one customer, as plain data."""
        c = self.conn
        row = c.execute("SELECT * FROM customers WHERE id = ?", [customer_id]).fetchone()
        if row is None:
            return None
        profile = dict(row)
        profile["tags"] = json.loads(profile.get("tags") or "[]")

        def rows(sql: str, *args: Any) -> list[dict[str, Any]]:
            return [dict(r) for r in c.execute(sql, args).fetchall()]

        replies = rows("SELECT * FROM replies WHERE customer_id = ? ORDER BY id", customer_id)
        for r in replies:
            r["trace"] = json.loads(r.get("trace") or "{}")
        events = rows("SELECT * FROM events WHERE customer_id = ? OR message_id IN"
                      " (SELECT id FROM messages WHERE customer_id = ?) ORDER BY id",
                      customer_id, customer_id)
        for e in events:
            e["detail"] = json.loads(e.get("detail") or "{}")
        return {
            "customer": profile,
            "messages": rows("SELECT * FROM messages WHERE customer_id = ? ORDER BY id",
                             customer_id),
            "replies": replies,
            "handoffs": rows("SELECT * FROM handoffs WHERE customer_id = ? ORDER BY id",
                             customer_id),
            "events": events,
        }

    def forget_customer(self, customer_id: int, now: float) -> dict[str, int] | None:
        """Delete a customer and everything about them; keep only the fact (and counts) of
        the deletion. Call inside `tx()`."""
        c = self.conn
        if c.execute("SELECT 1 FROM customers WHERE id = ?", [customer_id]).fetchone() is None:
            return None
        out = {}
        out["events"] = c.execute(
            "DELETE FROM events WHERE customer_id = ? OR message_id IN"
            " (SELECT id FROM messages WHERE customer_id = ?)",
            [customer_id, customer_id]).rowcount
        out["handoffs"] = c.execute("DELETE FROM handoffs WHERE customer_id = ?",
                                    [customer_id]).rowcount
        out["replies"] = c.execute("DELETE FROM replies WHERE customer_id = ? OR message_id IN"
                                   " (SELECT id FROM messages WHERE customer_id = ?)",
                                   [customer_id, customer_id]).rowcount
        out["messages"] = c.execute("DELETE FROM messages WHERE customer_id = ?",
                                    [customer_id]).rowcount
        c.execute("DELETE FROM customers WHERE id = ?", [customer_id])
        self.event("customer-forgotten", now, **out)
        return out


def _customer(row: sqlite3.Row) -> Customer:
    return Customer(id=row["id"], channel=row["channel"], chat=row["chat"], name=row["name"],
                    tags=json.loads(row["tags"] or "[]"), paused_until=row["paused_until"],
                    handed_off=bool(row["handed_off"]), blocked=bool(row["blocked"]),
                    opted_out=bool(row["opted_out"]))


def _outbound(r: sqlite3.Row) -> Outbound:
    return Outbound(r["id"], r["channel"], r["chat"], r["text"], r["message_id"], r["kind"],
                    r["attempts"], r["member"])
