"""APScheduler 3.11 beside the engine: reads the jobs table at start, catches up what a
restart missed (within each job's grace time), fires the rest on time.

    scheduler = JobScheduler(settings, paths)
    scheduler.start(engine)      # after the engine exists (its loop may start later)
    ...
    scheduler.shutdown()

Every APScheduler job is added with `misfire_grace_time` and `coalesce` taken from the job's
row (APScheduler's default grace of 1 s would silently drop a job the PC was a little late
for), `max_instances=1`, and runs through `JobRunner`, whose ledger makes each fire time run
once. A small watcher re-reads the table when it changes (`alpha01 jobs add` in another
process), so new jobs need no restart.
"""

from __future__ import annotations

import concurrent.futures
import logging
from datetime import datetime, tzinfo
from typing import Any

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import BasePoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from ..config import Settings
from ..paths import Paths
from .runner import Job, JobRunner, RunResult
from .schedule import local_tz, make_trigger, plan_start

log = logging.getLogger("alpha01.jobs")
RESYNC_S = 30.0
WATCHER_ID = "__jobs_table__"


class LedgerExecutor(BasePoolExecutor):
    """A thread pool executor that hands each fire time to the runner (which keeps the ledger)
    instead of calling the job function bare: the run key needs the scheduled time."""

    def __init__(self, scheduler: JobScheduler, max_workers: int = 2) -> None:
        super().__init__(concurrent.futures.ThreadPoolExecutor(
            max_workers, thread_name_prefix="alpha01-job"))
        self.owner = scheduler

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        def done(f: concurrent.futures.Future) -> None:
            exc = f.exception()
            if exc is not None:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, f.result())

        self._pool.submit(self.owner._fire, job, run_times).add_done_callback(done)


class JobScheduler:
    def __init__(self, settings: Settings, paths: Paths, *, tz: tzinfo | None = None,
                 max_workers: int = 2, **runner_kwargs: Any) -> None:
        self.settings = settings
        self.paths = paths
        self.tz = tz or local_tz()
        self.max_workers = max_workers
        self.runner_kwargs = runner_kwargs
        self.runner: JobRunner | None = None
        self.aps: BackgroundScheduler | None = None
        self.results: list[RunResult] = []  # what ran in this process (newest last)
        self._sig: tuple | None = None
        self._catch_up = True

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, engine: Any = None, *, store: Any = None, paused: bool = False,
              catch_up: bool = True) -> JobScheduler:
        """Read the jobs table, catch up missed fire times, start firing.

        `engine`: writes go through `engine.submit` (its loop must be running or stepping).
        `paused=True` loads everything without firing (tests, inspection)."""
        self.runner = JobRunner(settings=self.settings, paths=self.paths, engine=engine,
                                store=store, **self.runner_kwargs)
        self.aps = BackgroundScheduler(
            executors={"default": LedgerExecutor(self, self.max_workers)},
            job_defaults={"max_instances": 1}, timezone=self.tz)
        self._catch_up = catch_up
        self.aps.start(paused=True)
        first: dict[str, Any] = {}
        if engine is None:
            self.sync_jobs(catch_up=catch_up)
        else:  # the engine thread may still be starting: read the table from a job thread
            first["next_run_time"] = datetime.now(self.tz)
        self.aps.add_job(_noop, "interval", seconds=RESYNC_S, id=WATCHER_ID,
                         misfire_grace_time=int(RESYNC_S), coalesce=True, max_instances=1,
                         **first)
        if not paused:
            self.aps.resume()
        return self

    def shutdown(self) -> None:
        """Stop firing; a job in progress finishes on its own thread (not waited for)."""
        if self.aps is not None and self.aps.running:
            self.aps.shutdown(wait=False)
        self.aps = None

    @property
    def running(self) -> bool:
        return self.aps is not None and self.aps.running

    # -- the jobs table → APScheduler ---------------------------------------------------------

    def sync_jobs(self, *, catch_up: bool = True) -> None:
        """Make APScheduler's jobs match the table (added, changed, removed, disabled)."""
        runner, aps = self.runner, self.aps
        assert runner is not None and aps is not None
        self._sig = runner.write(lambda s: s.jobs_signature())
        wanted = {str(j.id): j for j in runner.jobs() if j.enabled}
        for aj in aps.get_jobs():
            if aj.id != WATCHER_ID and (aj.id not in wanted or
                                        aj.kwargs.get("sig") != _job_sig(wanted[aj.id])):
                aj.remove()
        have = {aj.id for aj in aps.get_jobs()}
        for jid, job in wanted.items():
            if jid not in have:
                self._add(job, catch_up=catch_up)

    def _add(self, job: Job, *, catch_up: bool) -> None:
        runner, aps = self.runner, self.aps
        assert runner is not None and aps is not None
        try:
            trigger = make_trigger(job.schedule, job.created_at, self.tz)
        except Exception as exc:
            log.error("job %s has a bad schedule %r: %s", job.name, job.schedule, exc)
            return
        now = runner.clock.now()
        last = runner.write(lambda s: s.last_scheduled(job.id))
        plan = plan_start(trigger, last=last, created_at=job.created_at, now=now,
                          grace_s=job.misfire_grace_s, coalesce=job.coalesce, tz=self.tz)
        for t in plan.missed:
            runner.record_missed(job, t, "missed",
                                 f"missed by {now - t:.0f} s (grace {job.misfire_grace_s:g} s)")
        for t in plan.coalesced:
            runner.record_missed(job, t, "skipped", "coalesced into a later run")
        if catch_up and plan.run_now:
            # Overdue fire times go to APScheduler as the job's first run time: it runs them
            # at once (the first fire time it computes from there is the overdue one).
            first = datetime.fromtimestamp(plan.run_now[0], self.tz)
        elif plan.next_at is not None:
            first = datetime.fromtimestamp(plan.next_at, self.tz)
        else:
            return  # a one-off that already ran
        aps.add_job(_noop, trigger, id=str(job.id), name=job.name, next_run_time=first,
                    misfire_grace_time=max(1, int(job.misfire_grace_s)), coalesce=job.coalesce,
                    max_instances=1, replace_existing=True, kwargs={"sig": _job_sig(job)})

    def _resync(self) -> None:
        runner = self.runner
        if runner is None:
            return
        try:
            if self._sig is None or runner.write(lambda s: s.jobs_signature()) != self._sig:
                self.sync_jobs(catch_up=self._catch_up)
        except Exception:
            log.exception("re-reading the jobs table failed")

    # -- firing -------------------------------------------------------------------------------

    def _fire(self, aj: Any, run_times: list[datetime]) -> list[JobExecutionEvent]:
        """Run one APScheduler submission: each fire time once, the too-late ones missed."""
        runner = self.runner
        if aj.id == WATCHER_ID:
            self._resync()
            return []
        assert runner is not None
        events = []
        try:
            job = runner.job(int(aj.id))
        except Exception as exc:  # removed in the meantime
            log.info("job %s is gone: %s", aj.id, exc)
            return []
        for rt in run_times:
            now = runner.clock.now()
            late = now - rt.timestamp()
            if late > job.misfire_grace_s:
                runner.record_missed(job, rt.timestamp(), "missed",
                                     f"missed by {late:.0f} s (grace {job.misfire_grace_s:g} s)")
                events.append(JobExecutionEvent(EVENT_JOB_MISSED, aj.id, "default", rt))
                continue
            result = runner.run(job, rt.timestamp())
            self.results.append(result)
            del self.results[:-200]
        return events

    def run_now(self, name_or_id: str | int) -> RunResult:
        """A manual run (the TUI's "run now"), on the caller's thread."""
        assert self.runner is not None
        return self.runner.run(self.runner.job(name_or_id))

    # -- what the TUI and `jobs list` show ----------------------------------------------------

    def next_runs(self) -> dict[int, float | None]:
        out: dict[int, float | None] = {}
        if self.aps is None:
            return out
        for aj in self.aps.get_jobs():
            if aj.id != WATCHER_ID:
                nrt = getattr(aj, "next_run_time", None)
                out[int(aj.id)] = nrt.timestamp() if nrt else None
        return out


def _noop(**_: Any) -> None:  # never called: LedgerExecutor runs jobs through the runner
    raise RuntimeError("jobs run through JobScheduler._fire")


def _job_sig(job: Job) -> str:
    return f"{job.schedule}|{job.misfire_grace_s}|{job.coalesce}|{job.kind}|{job.created_at}"


def next_fire(job: Job, *, last: float | None, now: float, tz: tzinfo | None = None
              ) -> float | None:
    """When `job` fires next, seen from the table alone (for `jobs list` without a scheduler)."""
    try:
        trigger = make_trigger(job.schedule, job.created_at, tz)
    except Exception:
        return None
    plan = plan_start(trigger, last=last, created_at=job.created_at, now=now, grace_s=0,
                      coalesce=True, tz=tz)
    return plan.next_at
