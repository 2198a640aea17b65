"""Daily read log and the day / week / month figures an IHD shows.

At every GB local midnight the meter records each channel's register and the
export TOU registers; every historical consumption figure (current and
previous days, weeks from Monday, calendar months) is a difference of two such
readings, so they all agree with the registers exactly.

A period that began before the meter's first reading is counted from that
first reading (the registers held nothing before it), so a new meter shows a
current week and month at once; periods wholly before it stay invalid.

Local midnight, not UTC: SE 1.4's HistoricalFreezeTime puts the rollover of
the HAN's historical consumption attributes in local time; see
docs/data-fixes.md for why this log is not a separate UTC-midnight SMETS read.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import date, timedelta

from han_emu.meter.gbtime import month_start, week_start

DEFAULT_DAYS = 450  # 13 previous months need about 14 months of day starts
#: Register readings at the head of each row (the four logged channels); the
#: export TOU registers follow them.
CHANNELS = 4


def _months_back(day: date, n: int) -> date:
    month = day.month - 1 - n
    return date(day.year + month // 12, month % 12 + 1, 1)


class DailyLog:
    """Register readings (Wh, per channel, then export tiers) at the start of
    each local day; ``first_day`` is the day of the meter's first reading (its
    row holds that reading, taken when the meter started, not at midnight)."""

    def __init__(self, capacity: int = DEFAULT_DAYS, first_day: date | None = None) -> None:
        self.capacity = capacity
        self.first_day = first_day
        self._days: OrderedDict[date, tuple[int, ...]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._days)

    def record(self, day: date, readings: tuple[int, ...]) -> None:
        self._days[day] = readings
        self._days.move_to_end(day)
        while len(self._days) > self.capacity:
            self._days.popitem(last=False)

    def reading(self, day: date, channel: int) -> int | None:
        row = self._days.get(day)
        return None if row is None else row[channel]

    def export_tiers(self, day: date) -> tuple[int, ...] | None:
        """The export TOU registers at the start of ``day`` (None when not
        recorded: no row, or a row saved before they were logged)."""
        row = self._days.get(day)
        return None if row is None or len(row) <= CHANNELS else row[CHANNELS:]

    def items(self) -> list[tuple[date, tuple[int, ...]]]:
        return list(self._days.items())

    def _start(self, start: date, end: date | None, channel: int) -> int | None:
        """The reading a period from ``start`` (to ``end``, exclusive; None: to
        today) counts from: its first day's, or the meter's first reading
        when the meter started inside the period."""
        value = self.reading(start, channel)
        first = self.first_day
        if value is None and first is not None and start < first and (end is None or first < end):
            value = self.reading(first, channel)
        return value

    def _between(self, start: date, end: date, channel: int) -> int | None:
        a, b = self._start(start, end, channel), self.reading(end, channel)
        return None if a is None or b is None else b - a

    def _since(self, start: date, channel: int, now_value: int) -> int | None:
        a = self._start(start, None, channel)
        return None if a is None else now_value - a

    def day(self, today: date, channel: int, now_value: int, back: int = 0) -> int | None:
        """Consumption of the day ``back`` days before ``today`` (0 = today so far)."""
        if back == 0:
            return self._since(today, channel, now_value)
        return self._between(today - timedelta(days=back), today - timedelta(days=back - 1), channel)

    def week(self, today: date, channel: int, now_value: int, back: int = 0) -> int | None:
        monday = week_start(today)
        if back == 0:
            return self._since(monday, channel, now_value)
        return self._between(monday - timedelta(weeks=back), monday - timedelta(weeks=back - 1), channel)

    def month(self, today: date, channel: int, now_value: int, back: int = 0) -> int | None:
        first = month_start(today)
        if back == 0:
            return self._since(first, channel, now_value)
        return self._between(_months_back(first, back), _months_back(first, back - 1), channel)
