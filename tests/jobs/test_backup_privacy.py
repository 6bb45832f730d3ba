"""Backups restore to a sound database; export and forget one customer; summary; retention."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from click.testing import CliRunner

from alpha01.cli import cli
from alpha01.jobs.runner import JobRunner
from alpha01.storage.db import Database

from .conftest import local, say


def _runner(engine, app, clock):
    return JobRunner(settings=app.settings, paths=app.paths, store=engine.store, clock=clock)


def test_backup_restores_to_a_database_that_passes_integrity_check(shop, tmp_path):
    engine, channel, clock, app = shop()
    for i in range(30):
        say(engine, channel, clock, f"顾客{i % 5}", f"第{i}个问题：芒果多少钱")
    runner = _runner(engine, app, clock)
    job = runner.job("每日备份")
    files = []
    for _ in range(4):  # keep 2 of 4 daily backups
        job.params["keep"] = 2
        result = runner.run(job, clock.now())
        assert result.status == "ok" and result.result["integrity"] == "ok"
        files.append(result.result["file"])
        clock.advance(86_400)
    kept = sorted(p.name for p in app.paths.backups.glob("alpha01-*.db"))
    assert len(kept) == 2 and kept[-1] in files[-1]
    # the backups are encrypted with the home's key: plain SQLite cannot read them
    key = engine.store.db.key
    assert key and all(p.stat().st_mode & 0o077 == 0 for p in app.paths.backups.iterdir())
    assert "顾客" in engine.store.conn.execute("SELECT name FROM customers").fetchone()[0]
    assert "顾客".encode() not in open(files[-1], "rb").read()
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(files[-1]).execute("SELECT count(*) FROM messages").fetchone()
    restored = tmp_path / "restored.db"
    shutil.copy(files[-1], restored)
    db = Database.open(restored, key=key)
    try:
        assert db.integrity_check() == "ok"
        n = db.conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        assert n == engine.store.conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    finally:
        db.close()


def test_export_and_forget_one_customer(shop):
    engine, channel, clock, app = shop()
    say(engine, channel, clock, "小王", "芒果甜吗")
    say(engine, channel, clock, "小王", "转人工")
    say(engine, channel, clock, "小李", "营业到几点")
    engine.close()
    app.close()
    home = str(app.paths.home)
    run = CliRunner().invoke
    out = run(cli, ["--home", home, "customers", "export", "小王"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["customer"]["name"] == "小王"
    assert {m["text"] for m in data["messages"]} == {"芒果甜吗", "转人工"}
    assert data["handoffs"] and data["replies"]
    out = run(cli, ["--home", home, "customers", "forget", "小王", "--yes"])
    assert out.exit_code == 0, out.output
    conn = Database.open_reader(app.paths.db, key=app.vault().database_key()).conn
    assert conn.execute("SELECT count(*) FROM messages WHERE text LIKE '%芒果甜%'"
                        ).fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM customers WHERE name = '小王'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM handoffs h LEFT JOIN customers c"
                        " ON c.id = h.customer_id WHERE c.name IS NULL").fetchone()[0] == 0
    events = conn.execute("SELECT kind, customer_id, detail FROM events"
                          " WHERE kind = 'customer-forgotten'").fetchall()
    assert len(events) == 1 and events[0][1] is None and "小王" not in events[0][2]
    assert conn.execute("SELECT count(*) FROM customers WHERE name = '小李'").fetchone()[0] == 1
    assert run(cli, ["--home", home, "customers", "export", "小王"]).exit_code != 0


def test_summary_file_and_owner_chat(shop):
    engine, channel, clock, app = shop(start=local(2026, 3, 2, 9, 0),
                                       jobs={"owner_chat": "店主本人", "owner_channel": "fake"})
    say(engine, channel, clock, "小王", "榴莲冰淇淋有吗")
    say(engine, channel, clock, "小李", "转人工")
    runner = _runner(engine, app, clock)
    result = runner.run(runner.job("每日小结"), clock.now())
    assert result.status == "ok" and result.result["sent_to_owner"]
    text = (app.paths.reports / "summary-2026-03-02.md").read_text(encoding="utf-8")
    assert "顾客消息：2 条" in text and "转人工：1 次" in text and "榴莲冰淇淋" in text
    assert "09点" in text
    engine.step()
    assert channel.sent_to("店主本人") and "客服小结" in channel.sent_to("店主本人")[0]


def test_retention_deletes_old_conversations_only(shop):
    engine, channel, clock, app = shop(jobs={"retention_days": 30})
    say(engine, channel, clock, "老顾客", "去年的问题")
    clock.advance(40 * 86_400)
    say(engine, channel, clock, "新顾客", "今天的问题")
    runner = _runner(engine, app, clock)
    result = runner.run(runner.job("数据保留清理"), clock.now())
    assert result.status == "ok" and result.result["messages"] == 1
    texts = [r[0] for r in engine.store.conn.execute("SELECT text FROM messages")]
    assert texts == ["今天的问题"]


def test_jobs_cli_add_list_run_history_remove(tmp_path):
    home = str(tmp_path / "cli-home")
    run = CliRunner().invoke
    out = run(cli, ["--home", home, "jobs", "add", "周末促销", "--kind", "broadcast",
                    "--cron", "0 10 * * 6", "--tags", "老客,会员", "--text", "周末特惠",
                    "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["params"]["tags"] == ["老客", "会员"]
    listed = json.loads(run(cli, ["--home", home, "jobs", "list", "--json"]).output)
    job = next(j for j in listed if j["name"] == "周末促销")
    assert job["schedule"] == "cron:0 10 * * 6" and job["next_run"] and job["coalesce"]
    out = run(cli, ["--home", home, "jobs", "run", "周末促销", "--json"])
    assert json.loads(out.output)["status"] == "ok"
    hist = json.loads(run(cli, ["--home", home, "jobs", "history", "周末促销", "--json"]).output)
    assert len(hist) == 1 and hist[0]["status"] == "ok"
    bad = run(cli, ["--home", home, "jobs", "add", "x", "--kind", "backup", "--cron", "99 * * * *"])
    assert bad.exit_code != 0
    assert run(cli, ["--home", home, "jobs", "remove", "周末促销"]).exit_code == 0
    names = [j["name"] for j in json.loads(run(cli, ["--home", home, "jobs", "list",
                                                     "--json"]).output)]
    assert "周末促销" not in names


def test_merge_two_customers_by_hand_keeps_the_opt_out(shop):
    engine, channel, clock, app = shop()
    say(engine, channel, clock, "小王", "退订")
    say(engine, channel, clock, "王大锤", "你好")
    engine.close()
    app.close()
    home = str(app.paths.home)
    run = CliRunner().invoke
    out = run(cli, ["--home", home, "customers", "merge", "小王", "王大锤"])
    assert out.exit_code == 0, out.output
    assert "小王 → 王大锤" in out.output and "退订" in out.output
    db = Database.open_home(app.paths)
    try:
        rows = db.conn.execute("SELECT chat, opted_out FROM customers").fetchall()
        assert [tuple(r) for r in rows] == [("王大锤", 1)]
    finally:
        db.close()
    again = run(cli, ["--home", home, "customers", "merge", "王大锤", "王大锤"])
    assert again.exit_code != 0 and "同一位顾客" in again.output
