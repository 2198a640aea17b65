"""Daily read log and the day / week / month figures an IHD shows.

At every GB local midnight the meter records each channel's register; every
historical consumption figure (current and previous days, weeks from Monday,
calendar months) is a difference of two such readings, so they all agree with
the registers exactly.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import date, timedelta

from han_emu.meter.gbtime import month_start, week_start

DEFAULT_DAYS = 450  # 13 previous months need about 14 months of day starts


def _months_back(day: date, n: int) -> date:
    month = day.month - 1 - n
    return date(day.year + month // 12, month % 12 + 1, 1)


class DailyLog:
    """Register readings (Wh, per channel) at the start of each local day."""

    def __init__(self, capacity: int = DEFAULT_DAYS) -> None:
        self.capacity = capacity
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

    def items(self) -> list[tuple[date, tuple[int, ...]]]:
        return list(self._days.items())

    def _between(self, start: date, end: date, channel: int) -> int | None:
        a, b = self.reading(start, channel), self.reading(end, channel)
        return None if a is None or b is None else b - a

    def _since(self, start: date, channel: int, now_value: int) -> int | None:
        a = self.reading(start, channel)
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
