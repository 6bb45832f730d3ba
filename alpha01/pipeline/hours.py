"""Business hours."""

from __future__ import annotations

from datetime import datetime

from ..config import HoursSettings


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def is_open(hours: HoursSettings, when: datetime) -> bool:
    """True when the shop is open at local time `when`. open == close means all day."""
    if when.isoweekday() not in hours.days:
        return False
    start, end = _minutes(hours.open), _minutes(hours.close)
    if start == end:
        return True
    now = when.hour * 60 + when.minute
    if start < end:
        return start <= now < end
    return now >= start or now < end  # e.g. 18:00-02:00, past midnight
