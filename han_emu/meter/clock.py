"""Clocks: one notion of "now" shared by the meter, the server and the simulated devices.

Everything below the radio layer takes time from a :class:`Clock`, so the same
code runs live on the wall clock or on virtual time, where three months of
half-hourly data take seconds.  Times are POSIX seconds (UTC) as floats.
"""

from __future__ import annotations

import math
import time
from typing import Protocol, runtime_checkable

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``15m``, ``24h`` or ``3d``; more than zero.

    The one reading of a duration, for the command line and the configuration
    alike; ValueError says what is wrong in one line."""
    clean = text.strip().lower()
    scale = _UNITS.get(clean[-1:])
    try:
        value = float(clean[:-1] if scale else clean) * (scale or 1)
    except ValueError:
        raise ValueError(f"not a duration: {text!r} (try 90, 90s, 15m, 24h or 3d)") from None
    if not 0 < value < math.inf:
        raise ValueError(f"{text!r}: a duration must be more than zero (and finite)")
    return value


@runtime_checkable
class Clock(Protocol):
    """Anything that can tell the current UTC time in POSIX seconds."""

    def now(self) -> float: ...


class WallClock:
    """The real time of day."""

    def now(self) -> float:
        return time.time()


class VirtualClock:
    """Time that moves only when told to: for simulations and tests."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (never backwards) and return the new time."""
        if seconds < 0:
            raise ValueError("virtual time cannot run backwards")
        self._now += seconds
        return self._now

    def set(self, when: float) -> None:
        """Jump to ``when``; refuses to go back in time."""
        if when < self._now:
            raise ValueError("virtual time cannot run backwards")
        self._now = float(when)


class OffsetClock:
    """Another clock moved by a fixed offset: a meter set to another time of
    year than the wall clock's (a conformance run on a stick that must cross a
    GB clock change).  The offset may be raised later (:meth:`catch_up`),
    never lowered, so the time it tells never runs backwards."""

    def __init__(self, base: Clock, offset: float = 0.0) -> None:
        self.base = base
        self.offset = float(offset)

    def now(self) -> float:
        return self.base.now() + self.offset

    def catch_up(self, when: float) -> float:
        """Jump forward to ``when`` if it is still ahead (else stay); the new time."""
        ahead = when - self.now()
        if ahead > 0:
            self.offset += ahead
        return self.now()
