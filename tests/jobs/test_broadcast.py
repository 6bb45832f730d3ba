"""Broadcasts and follow-ups go through the outbox and pacing: quiet hours, caps, opt-out."""

from __future__ import annotations

from alpha01.jobs.runner import JobRunner

from .conftest import local, say


def _runner(engine, app, clock) -> JobRunner:
    return JobRunner(settings=app.settings, paths=app.paths, store=engine.store, clock=clock)


def _job(engine, runner, name="周末促销", **params):
    with engine.store.tx():
        jid = engine.store.add_job(name=name, kind=params.pop("kind", "broadcast"),
                                   schedule="cron:0 21 * * *", params=params,
                                   misfire_grace_s=3600, coalesce=True, now=runner.clock.now())
    return runner.job(jid)


def _tag_all(engine, tags):
    with engine.store.tx():
        for row in engine.store.conn.execute("SELECT id FROM customers WHERE channel = 'fake'"):
            engine.store.set_tags(row["id"], tags)


def test_broadcast_waits_out_quiet_hours_and_skips_who_sent_tuiding(shop):
    engine, channel, clock, app = shop(start=local(2026, 3, 2, 21, 50))
    for who in ("小王", "小李", "小张"):
        say(engine, channel, clock, who, "你好")
    _tag_all(engine, ["老客"])
    say(engine, channel, clock, "小张", "退订")  # the built-in opt-out rule
    runner = _runner(engine, app, clock)
    clock.advance(local(2026, 3, 2, 23, 0) - clock.now())  # 23:00: quiet hours
    sent_before = len(channel.sent)
    result = runner.run(_job(engine, runner, text="{name}您好，周末草莓买二送一",
                             tags=["老客"]))
    assert result.status == "ok"
    assert result.result["queued"] == 2 and result.result["opted_out"] == 1
    assert result.result["not_before"] == local(2026, 3, 3, 8, 0)
    for _ in range(5):  # the night passes in steps; nothing goes out before 08:00
        clock.advance(3600)
        engine.step()
        assert len(channel.sent) == sent_before
    clock.advance(local(2026, 3, 3, 8, 1) - clock.now())
    engine.step()
    engine.step()
    texts = sorted(s.text for s in channel.sent[sent_before:])
    assert texts == ["小李您好，周末草莓买二送一", "小王您好，周末草莓买二送一"]
    assert channel.sent_to("小张")[-1].startswith("已为您退订")


def test_broadcast_keeps_daily_caps(shop):
    engine, channel, clock, app = shop(start=local(2026, 3, 2, 10, 0),
                                       jobs={"broadcast_daily_cap": 3, "per_customer_daily": 1})
    for i in range(5):
        say(engine, channel, clock, f"顾客{i}", "在吗")
    _tag_all(engine, ["会员"])
    runner = _runner(engine, app, clock)
    first = runner.run(_job(engine, runner, text="会员日全场九折", tags=["会员"]))
    assert first.result["queued"] == 3 and first.result["daily_cap"] == 2
    clock.advance(3600)
    again = runner.run(_job(engine, runner, name="再来一次", text="会员日最后一天",
                            tags=["会员"]))
    assert again.result["queued"] == 0
    assert again.result["customer_cap"] == 3 and again.result["daily_cap"] == 2
    clock.advance(86_400)  # a new day: the budget is back
    later = runner.run(_job(engine, runner, name="次日", text="新品到店", tags=["会员"]))
    assert later.result["queued"] == 3


def test_pacer_holds_broadcasts_beyond_the_per_minute_cap(shop):
    engine, channel, clock, app = shop(start=local(2026, 3, 2, 10, 0),
                                       pacing={"per_minute": 2})
    for i in range(4):
        say(engine, channel, clock, f"客{i}", "你好")
        clock.advance(60)
    _tag_all(engine, ["新客"])
    runner = _runner(engine, app, clock)
    assert runner.run(_job(engine, runner, text="欢迎再来", tags=["新客"])).result["queued"] == 4
    before = len(channel.sent)
    engine.step()
    assert len(channel.sent) - before == 2  # the rest wait for the next minute
    clock.advance(61)
    engine.step()
    assert len(channel.sent) - before == 4


def test_followup_after_a_fallback_once_and_not_after_the_owner_answered(shop):
    engine, channel, clock, app = shop(start=local(2026, 3, 2, 10, 0))
    say(engine, channel, clock, "小王", "你们有没有榴莲冰淇淋")  # no data: safe fallback
    say(engine, channel, clock, "小李", "能开发票吗")
    channel.owner_types("小李", "可以的，加我微信发抬头")
    engine.step()
    runner = _runner(engine, app, clock)
    job = _job(engine, runner, name="回访", kind="followup", after_hours=2,
               text="您好，您问的问题店主已经确认，稍后联系您")
    assert runner.run(job).result["queued"] == 0  # too early
    clock.advance(3 * 3600)
    result = runner.run(job)
    assert result.result["queued"] == 1
    row = engine.store.conn.execute("SELECT chat, kind FROM replies WHERE kind = 'followup'"
                                    ).fetchall()
    assert [tuple(r) for r in row] == [("小王", "followup")]
    clock.advance(3600)
    assert runner.run(job).result["queued"] == 0  # one follow-up per question
