"""Running one fire time of one job, exactly once, under a run key recorded in the ledger.

    runner = JobRunner(settings=..., paths=..., engine=engine)   # inside the running app
    runner = JobRunner(settings=..., paths=..., store=store)     # `alpha01 jobs run` (no engine)
    runner.run(job, scheduled_at=fire_time)

The run key is `<job id>@<fire time>`. The ledger row is claimed before the job body runs and
closed after it; a key already closed (ok, missed, skipped) is never run again. A run left
open by a crash, or one that failed, runs again under the same key, and every send it makes
has its own key derived from it (`<run key>:c<customer id>`, UNIQUE in the outbox), so a
second attempt only adds what the first did not.

Writes go to the single database writer: through `engine.submit` when an engine is running,
else straight into the runner's own Store inside a transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..clock import Clock
from ..config import Settings
from ..errors import InputError
from ..paths import Paths
from ..storage.queries import Store

log = logging.getLogger("alpha01.jobs")
T = TypeVar("T")
DONE = ("ok", "missed", "skipped")


@dataclass
class Job:
    id: int
    name: str
    kind: str
    schedule: str
    params: dict[str, Any]
    enabled: bool = True
    misfire_grace_s: float = 3600.0
    coalesce: bool = True
    builtin: bool = False
    state: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0

    @classmethod
    def from_row(cls, row: Any) -> Job:
        return cls(id=row["id"], name=row["name"], kind=row["kind"], schedule=row["schedule"],
                   params=json.loads(row["params"] or "{}"), enabled=bool(row["enabled"]),
                   misfire_grace_s=row["misfire_grace_s"], coalesce=bool(row["coalesce"]),
                   builtin=bool(row["builtin"]), state=json.loads(row["state"] or "{}"),
                   created_at=row["created_at"])


@dataclass
class RunResult:
    job: str
    run_key: str
    status: str  # ok | error | skipped | duplicate (the key was already done)
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"job": self.job, "run_key": self.run_key, "status": self.status,
                "result": self.result, "error": self.error}


class Skip(Exception):
    """A job body that had nothing to do says why (recorded as status 'skipped')."""


def run_key(job_id: int, scheduled_at: float) -> str:
    return f"{job_id}@{int(round(scheduled_at))}"


class JobRunner:
    def __init__(self, *, settings: Settings, paths: Paths, store: Store | None = None,
                 engine: Any = None, clock: Clock | None = None, kb: Any = None,
                 http_transport: Any = None, submit_timeout_s: float = 300.0) -> None:
        if store is None and engine is None:
            raise ValueError("JobRunner needs a store or an engine")
        self.settings = settings
        self.paths = paths
        self.engine = engine
        self.store = store if store is not None else engine.store
        self.clock = clock or (engine.clock if engine is not None else Clock())
        self._kb = kb
        self.http_transport = http_transport  # tests: an httpx.MockTransport
        self.submit_timeout_s = submit_timeout_s
        self.heartbeat: Any = None

    # -- the writer ---------------------------------------------------------------------------

    def write(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(store, *args)` in one transaction on the database writer."""
        if self.engine is not None:
            fut = self.engine.submit(self._in_tx, self.engine.store, fn, args)
            return fut.result(timeout=self.submit_timeout_s)
        return self._in_tx(self.store, fn, args)

    @staticmethod
    def _in_tx(store: Store, fn: Callable[..., T], args: tuple) -> T:
        with store.tx():
            return fn(store, *args)

    def knowledge(self) -> Any:
        """The knowledge base answers are drawn from: the running pipeline's own, so an update
        is seen by the very next question; else one opened from the settings."""
        if self._kb is None and self.engine is not None:
            retriever = getattr(self.engine.pipeline, "retriever", None)
            if hasattr(retriever, "upsert_products"):
                self._kb = retriever
        if self._kb is None:
            from ..knowledge import open_kb

            self._kb = open_kb(self.paths, self.settings.knowledge)
        return self._kb

    # -- jobs ---------------------------------------------------------------------------------

    def jobs(self) -> list[Job]:
        return [Job.from_row(r) for r in self.write(lambda s: s.jobs())]

    def job(self, name_or_id: str | int) -> Job:
        row = self.write(lambda s: s.job(name_or_id))
        if row is None:
            raise InputError(f"no job named {name_or_id!r} (see `alpha01 jobs list`)")
        return Job.from_row(row)

    def run(self, job: Job, scheduled_at: float | None = None, *, now: float | None = None,
            key: str | None = None) -> RunResult:
        """Run `job` for the fire time `scheduled_at` (None: a manual run now)."""
        from .tasks import TASKS

        now = self.clock.now() if now is None else now
        if scheduled_at is None:
            scheduled_at = now
            key = key or f"{job.id}@manual-{now:.3f}"
        key = key or run_key(job.id, scheduled_at)
        before = self.write(lambda s: s.begin_run(job_id=job.id, job_name=job.name,
                                                  run_key=key, scheduled_at=scheduled_at,
                                                  now=now))
        if before in DONE:
            return RunResult(job.name, key, "duplicate", {"ledger": before})
        task = TASKS.get(job.kind)
        status, result, error = "ok", {}, None
        try:
            if task is None:
                raise InputError(f"unknown job kind {job.kind!r}")
            result = task(self, job, key, now) or {}
        except Skip as exc:
            status, result = "skipped", {"reason": str(exc)}
        except Exception as exc:  # recorded; the next fire time tries again
            status, error = "error", f"{type(exc).__name__}: {exc}" if not isinstance(
                exc, InputError) else str(exc)
            if not isinstance(exc, InputError):
                log.exception("job %s (%s) failed", job.name, key)
        done = self.clock.now()
        self.write(lambda s: s.finish_run(key, status, done, result=result, error=error))
        return RunResult(job.name, key, status, result, error)

    def record_missed(self, job: Job, scheduled_at: float, status: str, why: str) -> None:
        now = self.clock.now()
        self.write(lambda s: s.record_run(job_id=job.id, job_name=job.name,
                                          run_key=run_key(job.id, scheduled_at),
                                          scheduled_at=scheduled_at, now=now, status=status,
                                          error=why))
