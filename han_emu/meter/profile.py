"""Half-hourly profile log: a circular buffer of interval values.

Intervals are contiguous, so the log stores only values and the end time of
the newest one; any interval is then found by arithmetic, in O(1), which keeps
GetProfile paging over three months cheap.  Invalid intervals (the meter was
not running) are kept as ``None`` (0xFFFFFF on the HAN).
"""

from __future__ import annotations

from array import array
from typing import Iterator

from han_emu.meter.gbtime import HALF_HOUR

PERIOD = HALF_HOUR
THREE_MONTHS = 4416  # 92 days of half-hours
_INVALID = -1


class ProfileLog:
    """The newest ``capacity`` intervals of one channel, by interval end time."""

    def __init__(self, capacity: int = THREE_MONTHS, period: int = PERIOD) -> None:
        if capacity < 1:
            raise ValueError("profile capacity must be at least 1")
        self.capacity = capacity
        self.period = period
        self._values = array("q", [_INVALID]) * capacity
        self._count = 0
        self._head = -1  # slot of the newest interval
        self.newest_end: int | None = None

    def __len__(self) -> int:
        return self._count

    @property
    def oldest_end(self) -> int | None:
        if self.newest_end is None:
            return None
        return self.newest_end - (self._count - 1) * self.period

    def append(self, end: int, value: int | None) -> None:
        """Add the interval ending at ``end``; skipped intervals become invalid."""
        if end % self.period:
            raise ValueError(f"interval end {end} is not on a {self.period} s boundary")
        if value is not None and value < 0:
            raise ValueError("interval values cannot be negative")
        if self.newest_end is not None:
            if end <= self.newest_end:
                raise ValueError("profile intervals must be appended in time order")
            gap = (end - self.newest_end) // self.period - 1
            for _ in range(min(gap, self.capacity)):
                self._push(_INVALID)
        self._push(_INVALID if value is None else value)
        self.newest_end = end

    def _push(self, raw: int) -> None:
        self._head = (self._head + 1) % self.capacity
        self._values[self._head] = raw
        self._count = min(self._count + 1, self.capacity)

    def get(self, end: int) -> int | None:
        """Value of the interval ending at ``end``; None if invalid or not held."""
        if self.newest_end is None or end % self.period:
            return None
        back = (self.newest_end - end) // self.period
        if not 0 <= back < self._count:
            return None
        raw = self._values[(self._head - back) % self.capacity]
        return None if raw == _INVALID else raw

    def holds(self, end: int) -> bool:
        oldest = self.oldest_end
        return oldest is not None and oldest <= end <= self.newest_end  # type: ignore[operator]

    def newest_first(self, end: int, count: int) -> list[int | None]:
        """Up to ``count`` intervals ending at ``end`` and earlier, newest first,
        stopping at the oldest interval held."""
        out: list[int | None] = []
        t = end
        while len(out) < count and self.holds(t):
            out.append(self.get(t))
            t -= self.period
        return out

    def items(self) -> Iterator[tuple[int, int | None]]:
        """(end, value) pairs, oldest first."""
        oldest = self.oldest_end
        if oldest is None:
            return
        for i in range(self._count):
            end = oldest + i * self.period
            yield end, self.get(end)
