"""Schedules as text (`cron:30 9 * * *`, `every:3600`, `at:2026-02-01T10:00`), their APScheduler
triggers, and the pure question a restart asks: which fire times were missed, and of those,
which still run (within the grace time) and which are recorded as missed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from ..errors import InputError

MAX_CATCH_UP = 1000  # fire times examined after a long downtime (the rest are just missed)


def local_tz() -> tzinfo:
    tz = datetime.now().astimezone().tzinfo
    assert tz is not None
    return tz


def parse_every(text: str) -> float:
    """'90' / '90s' / '15m' / '2h' / '1d' → seconds."""
    text = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    mult = units.get(text[-1:], None)
    number = text[:-1] if mult else text
    try:
        seconds = float(number) * (mult or 1)
    except ValueError:
        raise InputError(f"interval {text!r}: use seconds or 15m / 2h / 1d") from None
    if seconds < 1:
        raise InputError(f"interval {text!r} is too short (at least 1 second)")
    return seconds


def normalise(schedule: str) -> str:
    """Check a schedule string and return its canonical form (raises InputError)."""
    kind, _, value = schedule.partition(":")
    kind, value = kind.strip().lower(), value.strip()
    if kind == "cron":
        make_trigger(f"cron:{value}", 0.0)
        return f"cron:{' '.join(value.split())}"
    if kind == "every":
        return f"every:{parse_every(value):g}"
    if kind == "at":
        return f"at:{_parse_at(value).isoformat(timespec='minutes')}"
    raise InputError(f"schedule {schedule!r}: use cron:<m h dom mon dow>, every:<2h> or "
                     "at:<YYYY-MM-DD HH:MM>")


def _parse_at(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value.replace(" ", "T"))
    except ValueError:
        raise InputError(f"time {value!r}: use YYYY-MM-DD HH:MM") from None
    return when if when.tzinfo else when.replace(tzinfo=local_tz())


def make_trigger(schedule: str, created_at: float, tz: tzinfo | None = None) -> Any:
    """The APScheduler trigger of a schedule. Interval schedules count from the job's creation,
    so their fire times (and run keys) are the same in every process."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    tz = tz or local_tz()
    kind, _, value = schedule.partition(":")
    if kind == "cron":
        try:
            return CronTrigger.from_crontab(value, timezone=tz)
        except ValueError as exc:
            raise InputError(f"cron {value!r}: {exc}") from None
    if kind == "every":
        seconds = parse_every(value)
        return IntervalTrigger(seconds=seconds, timezone=tz,
                               start_date=datetime.fromtimestamp(created_at + seconds, tz))
    if kind == "at":
        return DateTrigger(_parse_at(value), timezone=tz)
    raise InputError(f"unknown schedule {schedule!r}")


@dataclass
class StartPlan:
    """What a (re)start does with one job: fire times to run now, to record as missed (later
    than the grace time), to record as coalesced into a later run, and the next fire time to
    hand to APScheduler (None: nothing left)."""

    run_now: list[float]
    missed: list[float]
    coalesced: list[float]
    next_at: float | None


def plan_start(trigger: Any, *, last: float | None, created_at: float, now: float,
               grace_s: float, coalesce: bool, tz: tzinfo | None = None) -> StartPlan:
    """The fire times after the ledger's last one (or the job's creation) up to `now`.

    Those no older than `grace_s` still run (with `coalesce`, only the latest of them); older
    ones are missed. This is APScheduler's misfire rule, applied across a restart.
    """
    tz = tz or local_tz()
    dt_now = datetime.fromtimestamp(now, tz)
    if last is None:
        nxt = trigger.get_next_fire_time(None, datetime.fromtimestamp(created_at, tz))
    else:
        nxt = trigger.get_next_fire_time(datetime.fromtimestamp(last, tz), dt_now)
    due: list[float] = []
    while nxt is not None and nxt <= dt_now:
        if len(due) < MAX_CATCH_UP:
            due.append(nxt.timestamp())
        else:  # a very long downtime: keep the newest
            due = due[1:] + [nxt.timestamp()]
        nxt = trigger.get_next_fire_time(nxt, dt_now)
    if last is not None:
        due = [t for t in due if t > last]
    in_grace = [t for t in due if now - t <= grace_s]
    missed = [t for t in due if now - t > grace_s]
    coalesced: list[float] = []
    if coalesce and in_grace:
        coalesced, in_grace = in_grace[:-1], in_grace[-1:]
    return StartPlan(in_grace, missed, coalesced, nxt.timestamp() if nxt else None)
