"""GB civil time: GMT in winter, BST (UTC+1) from the last Sunday of March to
the last Sunday of October, switching at 01:00 UTC.

TOU switching tables and day/week/month boundaries run on local time, and the
Time cluster publishes the DST window; both come from here.  Written out rather
than taken from the system's time-zone database so the meter stays pure.
"""

from __future__ import annotations

import calendar
from functools import lru_cache
from datetime import date, datetime, timedelta, timezone

BST_SHIFT = 3600
HALF_HOUR = 1800
"""Seconds in a GB settlement period: profile intervals and TOU switches fall on its boundaries."""


def _last_sunday(year: int, month: int) -> int:
    last = calendar.monthrange(year, month)[1]
    weekday = calendar.weekday(year, month, last)  # Monday 0 .. Sunday 6
    return last - (weekday + 1) % 7


@lru_cache(maxsize=64)
def bst_window(year: int) -> tuple[int, int]:
    """POSIX seconds of the start and end of BST in ``year`` (cached: every
    local time asks, and a year of scenario steps asks it a hundred thousand times)."""
    start = datetime(year, 3, _last_sunday(year, 3), 1, tzinfo=timezone.utc)
    end = datetime(year, 10, _last_sunday(year, 10), 1, tzinfo=timezone.utc)
    return int(start.timestamp()), int(end.timestamp())


def utc_offset(ts: float) -> int:
    """Seconds to add to UTC for GB local time at ``ts``."""
    year = datetime.fromtimestamp(ts, timezone.utc).year
    start, end = bst_window(year)
    return BST_SHIFT if start <= ts < end else 0


def local_datetime(ts: float) -> datetime:
    """GB local wall time at ``ts`` as a naive datetime."""
    return datetime.fromtimestamp(ts + utc_offset(ts), timezone.utc).replace(tzinfo=None)


_MINUTES: dict[int, datetime] = {}
#: Seconds into a minute up to which a time cannot round into the next minute
#: (datetime keeps microseconds, rounding half to even): later ones take the long way.
_MINUTE_SAFE_S = 59.999
_MINUTES_KEPT = 4096


def local_minute(ts: float) -> datetime:
    """``local_datetime(ts)`` with its seconds and microseconds zeroed: the GB
    local minute ``ts`` falls in.  Made once per UTC minute, since the meter's
    day and the scenario's hour of the day are asked for every few seconds of
    a simulation (DST switches at 01:00 UTC, never inside a minute)."""
    key = int(ts // 60)
    if ts - key * 60 < _MINUTE_SAFE_S:
        local = _MINUTES.get(key)
        if local is None:
            if len(_MINUTES) >= _MINUTES_KEPT:
                _MINUTES.clear()
            local = _MINUTES[key] = local_datetime(key * 60)
        return local
    return local_datetime(ts).replace(second=0, microsecond=0)


def local_date(ts: float) -> date:
    """``local_datetime(ts).date()``: the GB local day (from :func:`local_minute`)."""
    return local_minute(ts).date()


def iso_utc(ts: float, *, ms: bool = False) -> str:
    """``ts`` as an ISO 8601 date and time in UTC with its zone, e.g.
    ``2026-06-01T10:30:00+00:00``: what people read where an output gives a
    time on the air (a capture's frames, duty-cycle transitions, a ZCL UTCTime)."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds" if ms else "seconds")


def iso_gb(ts: float, *, ms: bool = False) -> str:
    """``ts`` as an ISO 8601 date and time in GB local time with its offset, e.g.
    ``2026-06-01T11:30:00+01:00``: for outputs that speak the meter's local time."""
    zone = timezone(timedelta(seconds=utc_offset(ts)))
    return datetime.fromtimestamp(ts, zone).isoformat(timespec="milliseconds" if ms else "seconds")


@lru_cache(maxsize=1024)
def local_midnight(day: date) -> int:
    """POSIX seconds of 00:00 GB local time on ``day`` (cached: a display asks
    for its day's midnight with every register read)."""
    naive = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())
    # Midnight is never inside a DST switch (those happen at 01:00 UTC).
    return naive - utc_offset(naive)


def week_start(day: date) -> date:
    """The Monday on or before ``day``: GB IHDs count weeks from Monday."""
    return day - timedelta(days=day.weekday())


def month_start(day: date) -> date:
    return day.replace(day=1)
