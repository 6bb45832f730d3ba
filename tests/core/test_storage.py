"""The database: migrations from blank, WAL, and refusing what it cannot read."""

from __future__ import annotations

import sqlite3

import pytest

from alpha01.errors import SchemaTooNewError, StorageError
from alpha01.storage import migrations as mig
from alpha01.storage.db import Database


def test_a_blank_database_gets_every_migration_in_order(tmp_path):
    db = Database.open(tmp_path / "a.db")
    applied = [m.name for m in mig.migrations.applied(db.db)]
    assert applied == mig.known_names()
    tables = set(db.db.table_names())
    assert {"customers", "messages", "replies", "handoffs", "rules", "events",
            "channel_state"} <= tables
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.integrity_check() == "ok"


def test_reopening_applies_nothing_twice(tmp_path):
    Database.open(tmp_path / "a.db").close()
    db = Database.open(tmp_path / "a.db")
    assert db.conn.execute("SELECT count(*) FROM rules WHERE builtin = 1").fetchone()[0] == 7


def test_the_dedupe_key_is_unique_per_channel(tmp_path):
    db = Database.open(tmp_path / "a.db")
    row = ("wechat", "k1", "in", "chat", "s", "t", 0.0, "received")
    sql = ("INSERT INTO messages (channel, dedupe_key, direction, chat, sender, text,"
           " received_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
    db.conn.execute(sql, row)
    with pytest.raises(sqlite3.IntegrityError):
        db.conn.execute(sql, row)
    db.conn.execute(sql, ("web", *row[1:]))


def test_one_reply_per_message(tmp_path):
    db = Database.open(tmp_path / "a.db")
    db.conn.execute("INSERT INTO messages (channel, dedupe_key, chat, sender, text, received_at,"
                    " state) VALUES ('w', 'k', 'c', 's', 't', 0, 'received')")
    sql = ("INSERT INTO replies (message_id, channel, chat, text, state, created_at)"
           " VALUES (1, 'w', 'c', 'hi', 'pending', 0)")
    db.conn.execute(sql)
    with pytest.raises(sqlite3.IntegrityError):
        db.conn.execute(sql)


def test_a_database_from_a_newer_alpha01_is_refused_clearly(tmp_path):
    db = Database.open(tmp_path / "a.db")
    db.conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
                    " VALUES ('alpha01', '999_from_the_future', 'x')")
    db.close()
    with pytest.raises(SchemaTooNewError, match="newer alpha01"):
        Database.open(tmp_path / "a.db")


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StorageError, match="cannot open database"):
        Database.open(bad)


def test_a_failed_transaction_leaves_nothing_behind(tmp_path):
    db = Database.open(tmp_path / "a.db")
    with pytest.raises(RuntimeError), db.tx():
        db.conn.execute("INSERT INTO events (at, kind) VALUES (1, 'x')")
        raise RuntimeError("boom")
    assert db.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0


def test_readers_see_committed_data_and_cannot_write(tmp_path):
    db = Database.open(tmp_path / "a.db")
    with db.tx():
        db.conn.execute("INSERT INTO events (at, kind) VALUES (1, 'x')")
    reader = Database.open_reader(tmp_path / "a.db")
    assert reader.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    with pytest.raises(sqlite3.OperationalError):
        reader.conn.execute("INSERT INTO events (at, kind) VALUES (2, 'y')")
