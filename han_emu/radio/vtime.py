"""A virtual-time asyncio event loop.

Simulations must run a day of HAN traffic in well under a second, yet the code
under test (zigpy's timeouts, our server's schedules, ``asyncio.sleep``) must
not know.  The loop below reports virtual time from ``loop.time()`` and, when
nothing is ready to run, jumps straight to the next timer instead of sleeping.

Real I/O still works: before every jump the selector is polled with a zero
timeout, and when no timer is pending at all the loop blocks on real I/O as
usual (so ``call_soon_threadsafe`` from executor threads wakes it).  While
callbacks are ready to run the loop turns without waiting anyway, so it polls
real I/O only every few such turns: a system call per turn was a large part of
a simulated day.  Work done
in threads is *not* waited for before a jump, so a simulation should not race
thread results against timeouts.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from han_emu.meter.clock import Clock, WallClock

__all__ = [
    "LoopClock",
    "VirtualTimeLoop",
    "clock_for_loop",
    "run_virtual",
]

_T = TypeVar("_T")

# While callbacks are ready, real I/O is polled on one loop turn in this many.
BUSY_POLL_EVERY = 16


class _JumpingSelector(selectors.BaseSelector):
    """Wraps a real selector: a select that would wait advances virtual time instead."""

    def __init__(self, real: selectors.BaseSelector, loop: VirtualTimeLoop) -> None:
        self._real = real
        self._loop = loop
        self._busy_turns = 0

    def register(
        self, fileobj: Any, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(
        self, fileobj: Any, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(
        self, timeout: float | None = None
    ) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is not None and timeout <= 0:
            self._busy_turns += 1
            if self._busy_turns < BUSY_POLL_EVERY:
                return []
            self._busy_turns = 0
            return self._real.select(0)
        self._busy_turns = 0
        ready = self._real.select(0)
        if ready:
            return ready
        if timeout is None:
            # No timer at all: only real I/O (or another thread) can wake us.
            return self._real.select(None)
        speed = self._loop.speed
        if speed is None:
            self._loop._advance(timeout)
            return []
        # Paced: wait the scaled real time, still waking for real I/O.
        started = time.monotonic()
        ready = self._real.select(timeout / speed)
        if ready:
            self._loop._advance(min(timeout, (time.monotonic() - started) * speed))
        else:
            self._loop._advance(timeout)
        return ready

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose clock is virtual and skips idle time.

    ``loop.time()`` starts at 0; :attr:`clock` maps it onto POSIX time from
    ``start_epoch`` so the meter, the server and asyncio agree on "now".
    """

    def __init__(self, start_epoch: float = 0.0, speed: float | None = None) -> None:
        self._vtime = 0.0
        self.start_epoch = float(start_epoch)
        #: None runs as fast as possible; a number paces virtual time at that
        #: many virtual seconds per wall second (it may be changed while running).
        self.speed = speed
        super().__init__(_JumpingSelector(selectors.DefaultSelector(), self))
        self.clock = LoopClock(self)

    def time(self) -> float:
        return self._vtime

    def _advance(self, seconds: float) -> None:
        self._vtime += seconds


class LoopClock:
    """A :class:`han_emu.meter.clock.Clock` that reads a virtual-time loop."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._loop = loop

    def now(self) -> float:
        return self._loop.start_epoch + self._loop.time()


def clock_for_loop(loop: asyncio.AbstractEventLoop | None = None) -> Clock:
    """The clock matching ``loop`` (the running loop by default): virtual or wall."""
    if loop is None:
        loop = asyncio.get_running_loop()
    if isinstance(loop, VirtualTimeLoop):
        return loop.clock
    return WallClock()


def run_virtual(
    coro: Coroutine[Any, Any, _T], start_epoch: float = 0.0, speed: float | None = None
) -> _T:
    """Run ``coro`` to completion on a fresh :class:`VirtualTimeLoop`.

    Inside, ``clock_for_loop()`` gives the virtual clock starting at
    ``start_epoch`` (POSIX seconds).
    """
    with asyncio.Runner(loop_factory=lambda: VirtualTimeLoop(start_epoch, speed)) as runner:
        return runner.run(coro)
