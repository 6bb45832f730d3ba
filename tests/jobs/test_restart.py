"""Restart across a fire time: the configured misfire behaviour, and never a second send."""

from __future__ import annotations

from datetime import datetime

from alpha01.jobs.runner import JobRunner
from alpha01.jobs.schedule import make_trigger, plan_start
from alpha01.jobs.scheduler import JobScheduler
from alpha01.storage.queries import Store

from .conftest import local, say


def _broadcast_job(store: Store, created: float, **kw) -> int:
    with store.tx():
        return store.add_job(name="早安促销", kind="broadcast", schedule="cron:0 10 * * *",
                             params={"text": "今天草莓第二盒半价", "tags": ["老客"]},
                             misfire_grace_s=kw.get("grace", 3600.0),
                             coalesce=kw.get("coalesce", True), now=created)


def _customers(engine, channel, clock, n: int) -> None:
    for i in range(n):
        say(engine, channel, clock, f"顾客{i}", "你好")
    with engine.store.tx():
        for row in engine.store.broadcast_audience():
            engine.store.set_tags(row["id"], ["老客"])


def _scheduler(app, engine, clock) -> JobScheduler:
    sch = JobScheduler(app.settings, app.paths, clock=clock)
    return sch.start(store=engine.store, paused=True)


def _broadcasts(engine) -> list[dict]:
    return [dict(r) for r in engine.store.conn.execute(
        "SELECT * FROM replies WHERE kind = 'broadcast' ORDER BY id")]


def test_the_scheduler_sets_misfire_and_coalesce_explicitly(shop):
    engine, channel, clock, app = shop()
    jid = _broadcast_job(engine.store, clock.now(), grace=900.0, coalesce=False)
    sch = _scheduler(app, engine, clock)
    try:
        aj = sch.aps.get_job(str(jid))
        assert aj.misfire_grace_time == 900 and aj.coalesce is False and aj.max_instances == 1
        for aj in sch.aps.get_jobs():  # built-ins too: nothing relies on APScheduler defaults
            assert aj.misfire_grace_time is not None and aj.misfire_grace_time >= 30
    finally:
        sch.shutdown()


def test_restart_after_a_missed_fire_time_runs_it_once_within_grace(shop):
    engine, channel, clock, app = shop(start=local(2026, 3, 2, 9, 0))
    _customers(engine, channel, clock, 3)
    jid = _broadcast_job(engine.store, clock.now())
    first = _scheduler(app, engine, clock)  # the app runs at 09:00 ...
    nxt = first.aps.get_job(str(jid)).next_run_time
    assert nxt.timestamp() == local(2026, 3, 2, 10, 0)
    first.shutdown()  # ... and the PC is switched off before 10:00
    clock.advance(local(2026, 3, 2, 10, 20) - clock.now())

    second = _scheduler(app, engine, clock)  # back at 10:20: within the hour of grace
    aj = second.aps.get_job(str(jid))
    assert aj.next_run_time.timestamp() == local(2026, 3, 2, 10, 0)  # due at once
    second._fire(aj, [aj.next_run_time])
    second._fire(aj, [aj.next_run_time])  # fired twice (a duplicate submission)
    second.shutdown()
    assert len(_broadcasts(engine)) == 3
    assert [r.status for r in second.results] == ["ok", "duplicate"]

    clock.advance(600)  # a third start the same morning: nothing is due any more
    third = _scheduler(app, engine, clock)
    assert third.aps.get_job(str(jid)).next_run_time.timestamp() == local(2026, 3, 3, 10, 0)
    third.shutdown()
    assert len(_broadcasts(engine)) == 3
    runs = engine.store.job_runs(jid)
    assert [r["status"] for r in runs] == ["ok"]


def test_restart_past_the_grace_time_records_a_miss_and_sends_nothing(shop):
    engine, channel, clock, app = shop(start=local(2026, 3, 2, 9, 0))
    _customers(engine, channel, clock, 2)
    jid = _broadcast_job(engine.store, clock.now())
    clock.advance(local(2026, 3, 2, 12, 0) - clock.now())  # off from 09:00 to 12:00
    sch = _scheduler(app, engine, clock)
    assert sch.aps.get_job(str(jid)).next_run_time.timestamp() == local(2026, 3, 3, 10, 0)
    sch.shutdown()
    runs = engine.store.job_runs(jid)
    assert [r["status"] for r in runs] == ["missed"] and "grace 3600" in runs[0]["error"]
    assert _broadcasts(engine) == []


def test_a_run_cut_short_by_a_crash_completes_without_sending_twice(shop):
    engine, channel, clock, app = shop()
    _customers(engine, channel, clock, 4)
    jid = _broadcast_job(engine.store, clock.now())
    runner = JobRunner(settings=app.settings, paths=app.paths, store=engine.store, clock=clock)
    job = runner.job(jid)
    fire = local(2026, 3, 2, 10, 0)
    key = f"{jid}@{int(fire)}"
    # the crashed process had claimed the run and queued two of the four sends
    with engine.store.tx():
        engine.store.begin_run(job_id=jid, job_name=job.name, run_key=key, scheduled_at=fire,
                               now=fire)
        for row in engine.store.broadcast_audience()[:2]:
            engine.store.add_reply(message_id=None, run_key=f"{key}:c{row['id']}",
                                   customer_id=row["id"], channel=row["channel"],
                                   chat=row["chat"], text="今天草莓第二盒半价", kind="broadcast",
                                   tier=None, reason="job", model=None, trace={},
                                   latency_ms=None, now=fire, not_before=fire)
    result = runner.run(job, fire, now=fire + 60)
    assert result.status == "ok" and result.result["queued"] == 2
    assert result.result["already"] == 2
    assert len(_broadcasts(engine)) == 4
    assert runner.run(job, fire).status == "duplicate"
    assert engine.store.run_by_key(key)["attempts"] == 2


def test_plan_start_coalesces_or_replays_missed_fire_times():
    created = local(2026, 3, 1, 0, 0)
    trigger = make_trigger("every:600", created)
    now = created + 3600 + 5  # six fire times passed
    both = plan_start(trigger, last=None, created_at=created, now=now, grace_s=1500,
                      coalesce=True)
    assert both.run_now == [created + 3600]
    assert both.coalesced == [created + 2400, created + 3000]
    assert both.missed == [created + 600, created + 1200, created + 1800]
    replay = plan_start(trigger, last=None, created_at=created, now=now, grace_s=1500,
                        coalesce=False)
    assert replay.run_now == [created + 2400, created + 3000, created + 3600]
    assert replay.next_at == created + 4200
    done = plan_start(make_trigger("at:2026-03-01 08:00", created), last=local(2026, 3, 1, 8),
                      created_at=created, now=now, grace_s=60, coalesce=True)
    assert done.run_now == [] and done.next_at is None
    assert datetime.fromtimestamp(both.next_at).minute == 10
