"""Append-only named migrations of the alpha01 database.

Never edit or reorder a migration that has shipped: add a new one at the end. A database that
has applied a migration this code does not know was written by a newer alpha01 and is refused.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("alpha01")


@migrations(name="001_core")
def m001_core(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE customers (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,
            chat TEXT NOT NULL,
            member TEXT NOT NULL DEFAULT '',       -- the sender inside a group chat, else ''
            name TEXT NOT NULL,
            remark TEXT,
            tags TEXT NOT NULL DEFAULT '[]',       -- JSON list
            created_at REAL NOT NULL,
            last_seen REAL,
            paused_until REAL,                     -- AI paused (owner took over) until then
            pause_reason TEXT,
            handed_off INTEGER NOT NULL DEFAULT 0, -- an open handoff: a human owns the chat
            blocked INTEGER NOT NULL DEFAULT 0,
            opted_out INTEGER NOT NULL DEFAULT 0,  -- sent 退订: no broadcasts
            UNIQUE (channel, chat, member)
        );

        -- Every inbound message, and every message the owner typed himself, exactly once.
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,
            dedupe_key TEXT NOT NULL,
            customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE,
            direction TEXT NOT NULL DEFAULT 'in',  -- in | owner
            chat TEXT NOT NULL,
            sender TEXT NOT NULL,
            text TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'text',
            ts REAL,                               -- the channel's time marker, if any
            received_at REAL NOT NULL,
            ui_id TEXT,
            is_group INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL,                   -- received | answered | handed_off | ignored
            reason TEXT,
            reply_id INTEGER,                      -- the reply that answered it (batch)
            UNIQUE (channel, dedupe_key)
        );
        CREATE INDEX messages_pending ON messages (state) WHERE state = 'received';
        CREATE INDEX messages_customer ON messages (customer_id, id);

        -- The outbox: every reply, keyed by the message it answers; written before any send.
        CREATE TABLE replies (
            id INTEGER PRIMARY KEY,
            message_id INTEGER UNIQUE REFERENCES messages(id) ON DELETE CASCADE,
            run_key TEXT UNIQUE,                   -- idempotency key of proactive sends (jobs)
            customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE,
            channel TEXT NOT NULL,
            chat TEXT NOT NULL,
            text TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'reply',    -- reply | manual | broadcast | welcome | followup
            tier TEXT,
            reason TEXT,
            model TEXT,
            trace TEXT NOT NULL DEFAULT '{}',      -- JSON: rule, passages and scores, guard, timings
            latency_ms REAL,
            state TEXT NOT NULL,                   -- pending | sending | sent | failed | unknown | cancelled
            attempts INTEGER NOT NULL DEFAULT 0,
            not_before REAL NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            sent_at REAL,
            echoed INTEGER NOT NULL DEFAULT 0,     -- its echo came back through the channel
            error TEXT
        );
        CREATE INDEX replies_due ON replies (state, not_before) WHERE state IN ('pending', 'sending');
        CREATE INDEX replies_chat ON replies (channel, chat, id);

        CREATE TABLE handoffs (
            id INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            message_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
            reason TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'open',    -- open | claimed | resolved
            created_at REAL NOT NULL,
            claimed_at REAL,
            resolved_at REAL,
            note TEXT
        );
        CREATE INDEX handoffs_open ON handoffs (state) WHERE state != 'resolved';

        CREATE TABLE rules (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            match TEXT NOT NULL,                   -- keyword | regex | exact
            field TEXT NOT NULL DEFAULT 'text',    -- text | sender
            pattern TEXT NOT NULL,
            action TEXT NOT NULL,                  -- reply | handoff | ignore | optout
            reply TEXT,
            priority INTEGER NOT NULL DEFAULT 100, -- lower runs first
            hours TEXT NOT NULL DEFAULT 'always',  -- always | open | closed
            enabled INTEGER NOT NULL DEFAULT 1,
            builtin INTEGER NOT NULL DEFAULT 0,
            hits INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );

        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            kind TEXT NOT NULL,
            customer_id INTEGER,
            message_id INTEGER,
            detail TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX events_kind ON events (kind, at);

        CREATE TABLE channel_state (
            channel TEXT PRIMARY KEY,
            baseline REAL NOT NULL,                -- nothing older is ever answered
            started_at REAL NOT NULL,
            last_poll_at REAL,
            healthy INTEGER NOT NULL DEFAULT 1,
            detail TEXT
        );
        """
    )


@migrations(name="002_builtin_rules")
def m002_builtin_rules(db: Database) -> None:
    """The handoff and opt-out triggers every shop needs, visible and editable as rules."""
    import time

    now = time.time()
    rows = [
        ("转人工", "keyword", r"转人工|人工客服|找人工|真人客服|要人工|转接人工", "handoff", None, 10),
        ("找店主", "keyword", r"找老板|叫老板|找店主|老板在吗", "handoff", None, 11),
        ("投诉", "keyword", r"投诉|举报|差评|12315|消协", "handoff", None, 12),
        ("退订", "exact", r"退订|TD|td|取消订阅", "optout",
         "已为您退订活动消息，之后不再打扰。如需咨询随时发消息给我们。", 13),
    ]
    for name, match, pattern, action, reply, priority in rows:
        db.execute(
            "INSERT INTO rules (name, match, field, pattern, action, reply, priority, hours,"
            " enabled, builtin, created_at, updated_at)"
            " VALUES (?, ?, 'text', ?, ?, ?, ?, 'always', 1, 1, ?, ?)",
            [name, match, pattern, action, reply, priority, now, now],
        )


@migrations(name="003_reply_customer_index")
def m003_reply_customer_index(db: Database) -> None:
    """A customer's history reads their replies; without this it scanned the whole outbox."""
    db.execute("CREATE INDEX replies_customer ON replies (customer_id, id)")


@migrations(name="004_jobs")
def m004_jobs(db: Database) -> None:
    """The shop's automations (the source of truth the scheduler reads at start) and the run
    ledger: one row per (job, scheduled fire time), so a restart never runs a send twice."""
    import time

    db.executescript(
        """
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,        -- broadcast | followup | summary | catalog | watch | retention | backup | heartbeat
            schedule TEXT NOT NULL,    -- cron:<5 fields> | every:<seconds> | at:<ISO local time>
            params TEXT NOT NULL DEFAULT '{}',
            enabled INTEGER NOT NULL DEFAULT 1,
            misfire_grace_s REAL NOT NULL DEFAULT 3600,
            coalesce INTEGER NOT NULL DEFAULT 1,
            builtin INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL DEFAULT '{}', -- what a job remembers between runs (watch: file stamps)
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );

        CREATE TABLE job_runs (
            id INTEGER PRIMARY KEY,
            job_id INTEGER,
            job_name TEXT NOT NULL,
            run_key TEXT NOT NULL UNIQUE, -- <job id>@<scheduled fire time>: the idempotency key
            scheduled_at REAL NOT NULL,
            started_at REAL NOT NULL,
            finished_at REAL,
            status TEXT NOT NULL,         -- running | ok | error | missed | skipped
            result TEXT NOT NULL DEFAULT '{}',
            error TEXT,
            attempts INTEGER NOT NULL DEFAULT 1
        );
        CREATE INDEX job_runs_job ON job_runs (job_id, scheduled_at);
        CREATE INDEX messages_received ON messages (received_at);
        CREATE INDEX replies_created ON replies (created_at);
        """
    )
    now = time.time()
    rows = [
        ("每日备份", "backup", "cron:30 3 * * *", 6 * 3600.0),
        ("数据保留清理", "retention", "cron:0 4 * * *", 6 * 3600.0),
        ("每日小结", "summary", "cron:30 21 * * *", 3 * 3600.0),
        ("资料文件夹监控", "watch", "every:300", 300.0),
        ("同步心跳", "heartbeat", "every:60", 60.0),  # off: the host's HeartbeatLoop beats
    ]
    for name, kind, schedule, grace in rows:
        db.execute(
            "INSERT INTO jobs (name, kind, schedule, params, enabled, misfire_grace_s, coalesce,"
            " builtin, created_at, updated_at) VALUES (?, ?, ?, '{}', ?, ?, 1, 1, ?, ?)",
            [name, kind, schedule, int(kind != "heartbeat"), grace, now, now],
        )


@migrations(name="005_social_rules")
def m005_social_rules(db: Database) -> None:
    """Thanks and plain acknowledgements are not questions: a short courtesy, or silence,
    instead of "I'll check with the owner" (and never a model call)."""
    import time

    now = time.time()
    rows = [
        ("谢谢", r"谢谢|谢谢你|谢谢啦|多谢|感谢|thanks|thank you|thx", "reply",
         "不客气～有需要随时找我们。", 20),
        ("好的", r"好的|好|好滴|嗯|嗯嗯|哦|哦哦|ok|okay|收到|知道了|行|👌|👍", "ignore", None, 21),
    ]
    for name, pattern, action, reply, priority in rows:
        db.execute(
            "INSERT INTO rules (name, match, field, pattern, action, reply, priority, hours,"
            " enabled, builtin, created_at, updated_at)"
            " VALUES (?, 'exact', 'text', ?, ?, ?, ?, 'always', 1, 1, ?, ?)",
            [name, pattern, action, reply, priority, now, now],
        )


@migrations(name="006_greeting_rule")
def m006_greeting_rule(db: Database) -> None:
    """A hello on its own is not a question: a greeting back, not "I'll check with the
    owner" (and never a model call). A hello before a question is dropped by retrieval."""
    import time

    now = time.time()
    db.execute(
        "INSERT INTO rules (name, match, field, pattern, action, reply, priority, hours,"
        " enabled, builtin, created_at, updated_at)"
        " VALUES (?, 'exact', 'text', ?, 'reply', ?, 22, 'always', 1, 1, ?, ?)",
        ["问好", r"你好|您好|你好呀|您好呀|在吗|在么|在不在|在嘛|哈喽|嗨|hello|hi|亲|亲在吗",
         "您好～请问有什么可以帮您？", now, now],
    )


@migrations(name="007_channel_cursor")
def m007_channel_cursor(db: Database) -> None:
    """Where a channel that reads a server's message log (WeCom kf/sync_msg) has read up to:
    saved only after the messages before it are in `messages`, so a restart neither misses
    nor repeats one."""
    db.executescript(
        """
        CREATE TABLE channel_cursor (
            channel TEXT PRIMARY KEY,
            cursor TEXT NOT NULL,
            updated_at REAL NOT NULL
        );
        """
    )


@migrations(name="008_customer_aliases")
def m008_customer_aliases(db: Database) -> None:
    """Earlier chat names of a customer on a name-only channel (WeChat shows display names):
    a message under an old name lands on the same customer, so pause, handoff, tags and 退订
    follow the person across a rename."""
    db.executescript(
        """
        CREATE TABLE customer_aliases (
            channel TEXT NOT NULL,
            chat TEXT NOT NULL,
            customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            at REAL NOT NULL,
            how TEXT NOT NULL,                     -- what found the rename
            PRIMARY KEY (channel, chat)
        );
        """
    )


def known_names() -> list[str]:
    return [m.name for m in migrations._migrations]
